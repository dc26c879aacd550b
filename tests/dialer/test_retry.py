"""dialer.retry: per-outcome retry policy and the next state of a task (pure, table-driven)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.retry import RETRYABLE_OUTCOMES, Decision, Retry, RetryPolicy, decide, retry_key
from dialer.windows import DEFAULT_WINDOWS, PRESETS, CallingWindows
from dialog.actions import OUTCOMES as DIALOG_OUTCOMES
from models.vocab import ATTEMPT_OUTCOMES

SH = ZoneInfo("Asia/Shanghai")
ALWAYS = CallingWindows.from_json(PRESETS["always"])
DEFAULT = CallingWindows.from_json(DEFAULT_WINDOWS)
MON_10 = datetime(2026, 12, 7, 10, 0, tzinfo=SH)  # a Monday, inside the morning window
POLICY = RetryPolicy.default()


def run(
    outcome: str,
    *,
    made: int = 1,
    cap: int = 5,
    used: int = 0,
    now: datetime = MON_10,
    callback_at: datetime | None = None,
    windows: CallingWindows = ALWAYS,
    policy: RetryPolicy = POLICY,
) -> Decision:
    return decide(
        policy,
        outcome,
        attempts_made=made,
        max_attempts=cap,
        retries_for_outcome=used,
        now=now,
        callback_at=callback_at,
        windows=windows,
    )


def test_retry_intervals_repeat_the_last() -> None:
    r = Retry(3, (10, 30))
    assert [r.interval_for(n) for n in (1, 2, 3, 4)] == [10, 30, 30, 30]
    with pytest.raises(ValueError):
        r.interval_for(0)


def test_default_policy() -> None:
    assert POLICY.to_json() == {
        "busy": {"max": 3, "intervals_min": [10, 30, 120]},
        "no_answer": {"max": 3, "intervals_min": [60, 240, 1440]},
        "failed": {"max": 2, "intervals_min": [15, 60]},
        "voicemail": {"max": 2, "intervals_min": [120, 1440]},
        "hung_up": {"max": 1, "intervals_min": [30]},
        "max_callbacks": 3,
    }
    assert RetryPolicy.from_json(POLICY.to_json()) == POLICY
    assert RetryPolicy.from_json(None) == POLICY


def test_from_json_overrides_only_what_it_names() -> None:
    p = RetryPolicy.from_json({"busy": {"max": 1, "intervals_min": [5]}, "voicemail": {"max": 0}})
    assert p.by_outcome["busy"] == Retry(1, (5,))
    assert p.by_outcome["voicemail"].max == 0
    assert p.by_outcome["no_answer"] == POLICY.by_outcome["no_answer"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"engaged": {"max": 1, "intervals_min": [5]}}, "'engaged' is not a retryable outcome"),
        ({"completed": {"max": 1, "intervals_min": [5]}}, "'completed' is not a retryable outcome"),
        ({"busy": {"intervals_min": [5]}}, r"retry_policy.busy.max: missing"),
        ({"busy": {"max": -1, "intervals_min": [5]}}, r"retry_policy.busy.max: expected an integer"),
        ({"busy": {"max": 2}}, r"retry_policy.busy.intervals_min: at least one"),
        (
            {"busy": {"max": 2, "intervals_min": [5, "x"]}},
            r"retry_policy.busy.intervals_min: expected integers",
        ),
        ({"busy": {"max": 2, "intervals_min": 5}}, r"retry_policy.busy.intervals_min: expected a list"),
        (
            {"busy": {"max": 2, "intervals_min": [5], "every": 3}},
            r"retry_policy.busy: unknown field\(s\) every",
        ),
        ({"busy": 3}, r"retry_policy.busy: expected"),
        ({"max_callbacks": -1}, r"retry_policy.max_callbacks"),
        ([1, 2], "retry_policy: expected an object"),
    ],
)
def test_bad_policy_names_the_field(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy.from_json(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", ["completed", "escalated", "transferred", "wrong_person", "opt_out"])
def test_final_outcomes_are_done_and_never_retried(outcome: str) -> None:
    d = run(outcome, made=1, used=0)
    assert (d.status, d.due_at, d.retry_key) == ("done", None, None)


# outcome, retries used, expected status, expected wait (minutes) or None
RETRY_TABLE = [
    ("busy", 0, "pending", 10),
    ("busy", 1, "pending", 30),
    ("busy", 2, "pending", 120),
    ("busy", 3, "failed", None),  # 3 retries used up
    ("no_answer", 0, "pending", 60),
    ("no_answer", 2, "pending", 1440),
    ("no_answer", 3, "failed", None),
    ("failed", 1, "pending", 60),
    ("failed", 2, "failed", None),
    ("voicemail", 0, "pending", 120),
    ("voicemail", 2, "failed", None),
    ("hung_up", 0, "pending", 30),
    ("hung_up", 1, "failed", None),
    ("partial", 0, "pending", 30),  # retried as hung_up
    ("partial", 1, "failed", None),
    ("answered", 0, "pending", 30),  # ended without a dialog outcome: as hung_up
]


@pytest.mark.parametrize(("outcome", "used", "status", "wait"), RETRY_TABLE)
def test_retry_exhaustion_per_outcome(outcome: str, used: int, status: str, wait: int | None) -> None:
    d = run(outcome, made=used + 1, cap=10, used=used)
    assert d.status == status, d.reason
    if wait is None:
        assert d.due_at is None and "retries used up" in d.reason
    else:
        assert d.due_at == MON_10 + timedelta(minutes=wait)
        assert d.retry_key == retry_key(outcome)


@pytest.mark.parametrize("outcome", RETRYABLE_OUTCOMES)
def test_max_attempts_caps_every_outcome(outcome: str) -> None:
    assert run(outcome, made=2, cap=3, used=0).status == "pending"
    d = run(outcome, made=3, cap=3, used=0)
    assert d.status == "failed" and "max attempts (3)" in d.reason


def test_retry_lands_inside_the_window() -> None:
    # Busy at 11:25 Monday; +10 min = 11:35 is the noon rest → 14:00.
    d = run("busy", now=datetime(2026, 12, 7, 11, 25, tzinfo=SH), windows=DEFAULT)
    assert d.due_at == datetime(2026, 12, 7, 14, 0, tzinfo=SH)
    # No answer Saturday 11:00; +60 min is Saturday noon → Monday 09:00 (Sunday has no window).
    d = run("no_answer", now=datetime(2026, 12, 12, 11, 0, tzinfo=SH), windows=DEFAULT)
    assert d.due_at == datetime(2026, 12, 14, 9, 0, tzinfo=SH)


CALLBACK_TABLE = [
    # asked for (Shanghai)                          lands at
    (datetime(2026, 12, 8, 15, 0, tzinfo=SH), datetime(2026, 12, 8, 15, 0, tzinfo=SH)),  # inside
    (datetime(2026, 12, 8, 12, 30, tzinfo=SH), datetime(2026, 12, 8, 14, 0, tzinfo=SH)),  # noon rest
    (datetime(2026, 12, 8, 19, 0, tzinfo=SH), datetime(2026, 12, 9, 9, 0, tzinfo=SH)),  # evening
    (datetime(2026, 12, 13, 10, 0, tzinfo=SH), datetime(2026, 12, 14, 9, 0, tzinfo=SH)),  # Sunday
    (datetime(2026, 12, 1, 10, 0, tzinfo=SH), MON_10),  # in the past: now (which is open)
    (None, datetime(2026, 12, 8, 10, 0, tzinfo=SH)),  # no time given: +1 day
]


@pytest.mark.parametrize(("asked", "lands"), CALLBACK_TABLE)
def test_callback_is_clamped_into_the_window(asked: datetime | None, lands: datetime) -> None:
    d = run("callback_requested", made=3, cap=3, callback_at=asked, windows=DEFAULT)
    assert d.status == "pending" and d.due_at == lands and d.retry_key == "callback_requested"
    assert ("moved into the calling window" in d.reason) == (
        asked is not None and lands != asked and asked > MON_10
    )


def test_callbacks_are_limited() -> None:
    assert run("callback_requested", used=2).status == "pending"
    d = run("callback_requested", used=3)
    assert d.status == "failed" and "max 3" in d.reason


def test_no_window_fails_instead_of_waiting_forever() -> None:
    empty = CallingWindows.from_json({})
    assert run("busy", windows=empty).status == "failed"
    assert run("callback_requested", windows=empty).status == "failed"


def test_every_storable_outcome_has_a_decision() -> None:
    for outcome in ATTEMPT_OUTCOMES:
        assert run(outcome).status in ("pending", "done", "failed")
    assert set(DIALOG_OUTCOMES) <= set(ATTEMPT_OUTCOMES)
    with pytest.raises(ValueError, match="not a known attempt outcome"):
        run("exploded")


@settings(max_examples=200, deadline=None)
@given(
    outcome=st.sampled_from(ATTEMPT_OUTCOMES),
    made=st.integers(1, 12),
    cap=st.integers(1, 12),
    used=st.integers(0, 5),
    minutes=st.integers(0, 60 * 24 * 14),
)
def test_pending_is_always_inside_the_window_and_later(
    outcome: str, made: int, cap: int, used: int, minutes: int
) -> None:
    now = datetime(2026, 12, 7, tzinfo=SH) + timedelta(minutes=minutes)
    d = run(outcome, made=made, cap=cap, used=used, now=now, windows=DEFAULT)
    if d.status == "pending":
        assert d.due_at is not None and d.due_at >= now and DEFAULT.is_open(d.due_at)
        if outcome != "callback_requested":
            assert made < cap
    else:
        assert d.due_at is None
