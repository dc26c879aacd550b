"""Calling windows: when a campaign may place calls, per weekday, in the campaign's local time.

Pure (no I/O, no asyncio): every question is answered from the window table and an aware datetime.

Shape (``models.campaigns`` docstring): weekday → list of ``["HH:MM", "HH:MM"]`` local windows; a missing
weekday means no calls that day; ``"24:00"`` may end a window. A window whose end is not after its start
crosses midnight (``["20:00", "01:00"]`` on Friday is Friday 20:00 to Saturday 01:00).

Theory of operation: for the days around ``at`` the windows are turned into absolute UTC intervals
(through ``zoneinfo``, so DST is right in zones that have it), sorted and merged (adjacent or overlapping
windows — 11:30–12:00 and 12:00–13:00, or an overnight window meeting the next morning's — are one), and
every question is a scan of those intervals. Local times skipped by a DST change are taken as the same
wall time on the old offset (02:30 on a spring-forward night opens at 03:30); ambiguous ones as the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_WINDOWS", "PRESETS", "WEEKDAYS", "CallingWindows"]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Hospital practice: no calls during the noon rest (午休) or in the evening; Saturday morning only.
DEFAULT_WINDOWS: dict[str, list[list[str]]] = {
    **{day: [["09:00", "11:30"], ["14:00", "17:30"]] for day in WEEKDAYS[:5]},
    "sat": [["09:00", "11:30"]],
}

PRESETS: dict[str, dict[str, list[list[str]]]] = {
    "default": DEFAULT_WINDOWS,
    "weekdays": {day: [["09:00", "11:30"], ["14:00", "17:30"]] for day in WEEKDAYS[:5]},
    # Patients at work during the day: early evening too, every day.
    "extended": {day: [["09:00", "11:30"], ["14:00", "20:00"]] for day in WEEKDAYS},
    # Round the clock (tests, demos, simulated patients).
    "always": {day: [["00:00", "24:00"]] for day in WEEKDAYS},
}

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DAY_SPAN = 9  # days scanned around `at`: the day before (overnight windows) + a full week + slack


def _parse_time(value: Any, where: str) -> tuple[int, int]:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"calling_windows.{where}: expected a time 'HH:MM' (00:00–24:00), got {value!r}")
    hh, mm = value.split(":")
    return int(hh), int(mm)


@dataclass(frozen=True)
class _Window:
    start: tuple[int, int]  # (hour, minute) local
    end: tuple[int, int]  # (24, 0) allowed; end <= start crosses midnight


class CallingWindows:
    """Per-weekday local-time windows in one IANA time zone."""

    def __init__(self, windows: Mapping[int, list[_Window]], tz: str) -> None:
        self._by_weekday = {d: list(ws) for d, ws in windows.items() if ws}
        self.tz_name = tz
        self._tz = ZoneInfo(tz)

    # --- construction -----------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Mapping[str, Any], tz: str = "Asia/Shanghai") -> CallingWindows:
        """Parse the stored JSON shape; ValueError naming the bad key or value (``calling_windows.mon[1]``)."""
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(
                f"timezone: unknown time zone {tz!r} (expected an IANA name like Asia/Shanghai)"
            ) from None
        if not isinstance(data, Mapping):
            raise ValueError(  # noqa: TRY004 - the contract is ValueError naming the field
                f"calling_windows: expected an object of weekday → windows, got {type(data).__name__}"
            )
        by_day: dict[int, list[_Window]] = {}
        for key, windows in data.items():
            if key not in WEEKDAYS:
                raise ValueError(
                    f"calling_windows: unknown weekday {key!r} (expected one of {', '.join(WEEKDAYS)})"
                )
            if not isinstance(windows, list):
                raise ValueError(f"calling_windows.{key}: expected a list of [start, end] pairs")  # noqa: TRY004 - the contract is ValueError naming the field
            parsed: list[_Window] = []
            for i, pair in enumerate(windows):
                where = f"{key}[{i}]"
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise ValueError(f'calling_windows.{where}: expected ["HH:MM", "HH:MM"], got {pair!r}')
                start, end = _parse_time(pair[0], where), _parse_time(pair[1], where)
                if start == (24, 0):
                    raise ValueError(f"calling_windows.{where}: a window cannot start at 24:00")
                if start == end:
                    raise ValueError(f"calling_windows.{where}: empty window {pair[0]}–{pair[1]}")
                parsed.append(_Window(start, end))
            # Overlaps within one day are almost certainly a typo; refuse them rather than guess.
            spans = sorted((w.start, w.end if w.end > w.start else (24, 0), i) for i, w in enumerate(parsed))
            for (_s1, e1, i1), (s2, _e2, i2) in pairwise(spans):
                if s2 < e1:
                    raise ValueError(f"calling_windows.{key}: windows [{i1}] and [{i2}] overlap")
            by_day[WEEKDAYS.index(key)] = parsed
        return cls(by_day, tz)

    def to_json(self) -> dict[str, list[list[str]]]:
        """The JSON shape back (weekdays in order; only days with windows)."""

        def fmt(t: tuple[int, int]) -> str:
            return f"{t[0]:02d}:{t[1]:02d}"

        return {
            WEEKDAYS[d]: [[fmt(w.start), fmt(w.end)] for w in ws]
            for d, ws in sorted(self._by_weekday.items())
        }

    @property
    def empty(self) -> bool:
        """No window on any day: nothing can ever be dialled."""
        return not self._by_weekday

    # --- questions --------------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether a call may be placed at ``at`` (aware)."""
        at = _utc(at)
        return any(s <= at < e for s, e in self._intervals(at))

    def next_open(self, at: datetime) -> datetime | None:
        """``at`` itself (in UTC) if open, else the start of the next window; None if there is no window."""
        at = _utc(at)
        for s, e in self._intervals(at):
            if e <= at:
                continue
            return max(at, s)
        return None

    def clamp(self, at: datetime) -> datetime | None:
        """The earliest time at or after ``at`` inside a window (a call-back asked for 12:30 → 14:00)."""
        return self.next_open(at)

    def closes_at(self, at: datetime) -> datetime | None:
        """The end of the (merged) window containing ``at``; None when ``at`` is outside every window."""
        at = _utc(at)
        for s, e in self._intervals(at):
            if s <= at < e:
                return e
        return None

    # --- internals --------------------------------------------------------------------------------------

    def _intervals(self, at: datetime) -> list[tuple[datetime, datetime]]:
        """Merged UTC intervals covering the day before ``at``'s local date to a week and more after."""
        if not self._by_weekday:
            return []
        first = at.astimezone(self._tz).date() - timedelta(days=1)
        raw: list[tuple[datetime, datetime]] = []
        for offset in range(_DAY_SPAN):
            day = first + timedelta(days=offset)
            for w in self._by_weekday.get(day.weekday(), ()):
                start = self._local(day, w.start)
                end_day = day if w.end > w.start else day + timedelta(days=1)
                end = self._local(end_day, w.end)
                if end > start:  # a DST gap can swallow a tiny window entirely
                    raw.append((start, end))
        raw.sort()
        merged: list[tuple[datetime, datetime]] = []
        for s, e in raw:
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return merged

    def _local(self, day: date, hm: tuple[int, int]) -> datetime:
        if hm == (24, 0):
            day, hm = day + timedelta(days=1), (0, 0)
        return datetime.combine(day, time(*hm), tzinfo=self._tz).astimezone(UTC)

    def __repr__(self) -> str:
        return f"CallingWindows({self.to_json()!r}, tz={self.tz_name!r})"


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware datetime")
    return at.astimezone(UTC)
