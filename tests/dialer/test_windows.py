"""dialer.windows: calling windows per weekday in the campaign's time zone (pure, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.windows import DEFAULT_WINDOWS, PRESETS, CallingWindows

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def ny(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NY)


DEFAULT = CallingWindows.from_json(DEFAULT_WINDOWS, "Asia/Shanghai")

# 2026-12-07 is a Monday.
DEFAULT_CASES = [
    # at (Shanghai local)          is_open  next_open                closes_at
    (sh(2026, 12, 7, 8, 59), False, sh(2026, 12, 7, 9, 0), None),
    (sh(2026, 12, 7, 9, 0), True, sh(2026, 12, 7, 9, 0), sh(2026, 12, 7, 11, 30)),
    (sh(2026, 12, 7, 11, 29), True, sh(2026, 12, 7, 11, 29), sh(2026, 12, 7, 11, 30)),
    (sh(2026, 12, 7, 11, 30), False, sh(2026, 12, 7, 14, 0), None),  # end is exclusive; noon rest
    (sh(2026, 12, 7, 12, 30), False, sh(2026, 12, 7, 14, 0), None),
    (sh(2026, 12, 7, 17, 30), False, sh(2026, 12, 8, 9, 0), None),  # evening → next morning
    (sh(2026, 12, 11, 18, 0), False, sh(2026, 12, 12, 9, 0), None),  # Friday evening → Saturday
    (sh(2026, 12, 12, 10, 0), True, sh(2026, 12, 12, 10, 0), sh(2026, 12, 12, 11, 30)),  # Saturday morning
    (sh(2026, 12, 12, 14, 0), False, sh(2026, 12, 14, 9, 0), None),  # Saturday afternoon → Monday (gap)
    (sh(2026, 12, 13, 10, 0), False, sh(2026, 12, 14, 9, 0), None),  # Sunday: no calls
]


@pytest.mark.parametrize(("at", "open_", "next_", "closes"), DEFAULT_CASES)
def test_default_windows_in_shanghai(
    at: datetime, open_: bool, next_: datetime, closes: datetime | None
) -> None:
    assert DEFAULT.is_open(at) is open_
    assert DEFAULT.next_open(at) == next_
    assert DEFAULT.clamp(at) == next_
    assert DEFAULT.closes_at(at) == closes


def test_answers_are_utc_and_accept_any_zone() -> None:
    at_utc = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert DEFAULT.is_open(at_utc)
    assert DEFAULT.next_open(at_utc) == at_utc
    assert DEFAULT.next_open(at_utc).tzinfo == UTC  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="naive"):
        DEFAULT.is_open(datetime(2026, 12, 7, 9, 0))


# America/New_York: DST ends 2026-11-01 (02:00 EDT → 01:00 EST), starts 2026-03-08 (02:00 EST → 03:00 EDT).
NY_WINDOWS = CallingWindows.from_json(
    {"sun": [["01:30", "02:30"], ["09:00", "12:00"]], "mon": [["09:00", "17:00"]]}, "America/New_York"
)


@pytest.mark.parametrize(
    ("at", "expected_next"),
    [
        # Ordinary Monday: 09:00 local is 14:00 UTC in winter, 13:00 UTC in summer.
        (ny(2026, 12, 7, 8, 0), datetime(2026, 12, 7, 14, 0, tzinfo=UTC)),
        (ny(2026, 7, 6, 8, 0), datetime(2026, 7, 6, 13, 0, tzinfo=UTC)),
        # The Sunday DST starts: 09:00 EDT is 13:00 UTC (the day began on EST).
        (ny(2026, 3, 8, 0, 0), datetime(2026, 3, 8, 6, 30, tzinfo=UTC)),  # 01:30 EST
        (ny(2026, 3, 8, 4, 0), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        # The Sunday DST ends: 09:00 EST is 14:00 UTC.
        (ny(2026, 11, 1, 3, 0), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
    ],
)
def test_dst_zone(at: datetime, expected_next: datetime) -> None:
    assert NY_WINDOWS.next_open(at) == expected_next


def test_window_in_a_dst_gap_opens_at_the_shifted_time() -> None:
    # 2026-03-08 01:30–02:30 local: 02:00–03:00 does not exist; the window ends at 02:30 "EST" = 03:30 EDT.
    start = NY_WINDOWS.next_open(ny(2026, 3, 8, 0, 0))
    assert start == datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    assert NY_WINDOWS.closes_at(start) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # type: ignore[arg-type]


def test_repeated_hour_on_dst_end_is_counted_once() -> None:
    # 2026-11-01 01:30–02:30 local: 01:30 happens twice; the window starts at the first (EDT) 01:30.
    start = NY_WINDOWS.next_open(ny(2026, 11, 1, 0, 0))
    assert start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    closes = NY_WINDOWS.closes_at(start)  # type: ignore[arg-type]
    assert closes == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # 02:30 EST


def test_overnight_window_crosses_midnight_and_the_week() -> None:
    w = CallingWindows.from_json({"sun": [["22:00", "02:00"]]}, "Asia/Shanghai")
    assert w.is_open(sh(2026, 12, 13, 23, 0))
    assert w.is_open(sh(2026, 12, 14, 1, 59))  # Monday early morning still in Sunday's window
    assert not w.is_open(sh(2026, 12, 14, 2, 0))
    assert w.closes_at(sh(2026, 12, 13, 23, 0)) == sh(2026, 12, 14, 2, 0)
    assert w.next_open(sh(2026, 12, 14, 2, 0)) == sh(2026, 12, 20, 22, 0)  # next Sunday


def test_adjacent_windows_merge() -> None:
    w = CallingWindows.from_json(
        {"mon": [["09:00", "12:00"], ["12:00", "13:00"]], "sun": [["20:00", "24:00"]], "tue": []},
        "Asia/Shanghai",
    )
    assert w.closes_at(sh(2026, 12, 7, 10, 0)) == sh(2026, 12, 7, 13, 0)
    assert w.is_open(sh(2026, 12, 13, 23, 59))
    assert not w.is_open(sh(2026, 12, 14, 0, 0))
    assert w.closes_at(sh(2026, 12, 13, 21, 0)) == sh(2026, 12, 14, 0, 0)


def test_no_window_at_all() -> None:
    w = CallingWindows.from_json({}, "Asia/Shanghai")
    assert w.empty
    assert not w.is_open(sh(2026, 12, 7, 10, 0))
    assert w.next_open(sh(2026, 12, 7, 10, 0)) is None
    assert w.clamp(sh(2026, 12, 7, 10, 0)) is None


def test_always_preset_is_always_open() -> None:
    w = CallingWindows.from_json(PRESETS["always"], "Asia/Shanghai")
    for h in range(0, 24 * 7, 5):
        at = sh(2026, 12, 7) + timedelta(hours=h, minutes=17)
        assert w.is_open(at) and w.next_open(at) == at


def test_round_trip_json() -> None:
    for preset in PRESETS.values():
        assert CallingWindows.from_json(preset).to_json() == preset


@pytest.mark.parametrize(
    ("data", "tz", "message"),
    [
        ({"monday": [["09:00", "10:00"]]}, "Asia/Shanghai", "unknown weekday 'monday'"),
        ({"mon": [["9:00", "10:00"]]}, "Asia/Shanghai", r"calling_windows.mon\[0\]: expected a time"),
        ({"mon": [["09:00", "25:00"]]}, "Asia/Shanghai", r"mon\[0\]"),
        ({"mon": [["09:00"]]}, "Asia/Shanghai", r"mon\[0\]: expected"),
        ({"mon": [["09:00", "09:00"]]}, "Asia/Shanghai", "empty window"),
        ({"mon": [["24:00", "09:00"]]}, "Asia/Shanghai", "cannot start at 24:00"),
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "Asia/Shanghai", r"\[0\] and \[1\] overlap"),
        ({"mon": "09:00-10:00"}, "Asia/Shanghai", "calling_windows.mon: expected a list"),
        ([["09:00", "10:00"]], "Asia/Shanghai", "calling_windows: expected an object"),
        ({"mon": [["09:00", "10:00"]]}, "Mars/Olympus", "timezone: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_windows_name_the_field(data: object, tz: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallingWindows.from_json(data, tz)  # type: ignore[arg-type]


# --- properties -----------------------------------------------------------------------------------------

_times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
_hhmm = st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45])).map(
    lambda t: f"{t[0]:02d}:{t[1]:02d}"
)


@st.composite
def _windows(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    data: dict[str, list[list[str]]] = {}
    for day in draw(
        st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), unique=True)
    ):
        start, end = draw(_hhmm), draw(_hhmm)
        if start != end:
            data[day] = [[start, end]]
    return data


@settings(max_examples=150, deadline=None)
@given(data=_windows(), tz=st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London"]), at=_times)
def test_next_open_is_open_and_not_before(data: dict[str, list[list[str]]], tz: str, at: datetime) -> None:
    w = CallingWindows.from_json(data, tz)
    nxt = w.next_open(at)
    if not data:
        assert nxt is None
        return
    assert nxt is not None and nxt >= at
    assert w.is_open(nxt)
    assert nxt - at <= timedelta(days=8)
    closes = w.closes_at(nxt)
    assert closes is not None and closes > nxt
    # Nothing open strictly between `at` and `nxt` (checked on a coarse grid).
    if nxt > at:
        assert not w.is_open(at)
        step = (nxt - at) / 7
        assert not any(w.is_open(at + step * i) for i in range(7))
