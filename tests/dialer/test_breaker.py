"""dialer.breaker: the circuit breaker that pauses a campaign when the line keeps failing (pure)."""

from __future__ import annotations

import pytest

from dialer.breaker import CircuitBreaker

# (threshold, min_calls, window_s, [(at, ok), ...], ask_at, tripped reason or None)
CASES = [
    (0.5, 10, 300.0, [(i, i % 2 == 0) for i in range(9)], 9, None),  # 9 calls: below min_calls
    (0.5, 10, 300.0, [(i, i % 2 == 0) for i in range(10)], 10, "5 of 10 calls failed in 300 s"),
    (0.5, 10, 300.0, [(i, i % 3 == 0) for i in range(10)], 10, "6 of 10 calls failed in 300 s"),
    (0.5, 10, 300.0, [(i, i % 3 != 0) for i in range(10)], 10, None),  # 4 of 10: below threshold
    (0.8, 10, 300.0, [(i, i >= 8) for i in range(10)], 10, "8 of 10 calls failed in 300 s"),
    (0.8, 10, 300.0, [(i, i >= 7) for i in range(10)], 10, None),
    # Old failures age out of the window.
    (0.5, 10, 300.0, [(i, False) for i in range(10)], 400, None),
    (0.5, 4, 60.0, [(0, False), (1, False), (100, True), (101, False), (102, True), (103, True)], 103, None),
    (
        0.5,
        4,
        60.0,
        [(0, True), (100, False), (101, False), (102, True), (103, True)],
        103,
        "2 of 4 calls failed in 60 s",
    ),
]


@pytest.mark.parametrize(("threshold", "min_calls", "window", "events", "ask", "reason"), CASES)
def test_thresholds(
    threshold: float,
    min_calls: int,
    window: float,
    events: list[tuple[float, bool]],
    ask: float,
    reason: str | None,
) -> None:
    b = CircuitBreaker(threshold=threshold, min_calls=min_calls, window_s=window)
    for at, ok in events:
        b.record(ok, at)
    assert b.tripped(ask) == reason


def test_reset_forgets() -> None:
    b = CircuitBreaker(min_calls=2)
    b.record(False, 1.0)
    b.record(False, 2.0)
    assert b.tripped(2.0)
    b.reset()
    assert b.tripped(2.0) is None
    b.record(False, 3.0)
    assert b.tripped(3.0) is None  # one call is below min_calls again


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"min_calls": 0}, "min_calls"),
        ({"window_s": 0}, "window_s"),
    ],
)
def test_bad_settings(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
