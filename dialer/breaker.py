"""Circuit breaker: pause a campaign when too many recent calls failed. Pure (no I/O, no clock).

Only *failures of the line* count against it (outcome ``failed``: trunk down, Asterisk refusing, network)
— a busy or unanswered patient is normal and says nothing about the trunk. The caller feeds outcomes with
a monotonic time and asks ``tripped(now)``; when it answers a reason, the runtime pauses the campaign
with that reason (``dialer.campaigns.pause``) and ``reset()``s the breaker.
"""

from __future__ import annotations

from collections import deque

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Trips when, among at least ``min_calls`` calls in the last ``window_s`` seconds, the share that
    failed is ≥ ``threshold``."""

    def __init__(self, *, threshold: float = 0.5, min_calls: int = 10, window_s: float = 300.0) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold: expected a share in (0, 1], got {threshold!r}")
        if min_calls < 1:
            raise ValueError(f"min_calls: expected ≥ 1, got {min_calls!r}")
        if window_s <= 0:
            raise ValueError(f"window_s: expected > 0 seconds, got {window_s!r}")
        self.threshold = threshold
        self.min_calls = min_calls
        self.window_s = window_s
        self._events: deque[tuple[float, bool]] = deque()
        self._failures = 0

    def record(self, ok: bool, at: float) -> None:
        """One finished call at time ``at`` (seconds, monotonic); ``ok=False`` for a line failure."""
        self._events.append((at, ok))
        if not ok:
            self._failures += 1
        self._prune(at)

    def tripped(self, at: float) -> str | None:
        """Why the campaign should pause now (``"8 of 10 calls failed in 300 s"``), or None."""
        self._prune(at)
        calls = len(self._events)
        if calls < self.min_calls or self._failures < self.threshold * calls:
            return None
        return f"{self._failures} of {calls} calls failed in {self.window_s:g} s"

    def reset(self) -> None:
        """Forget every call (after the campaign was paused, or resumed by an operator)."""
        self._events.clear()
        self._failures = 0

    def _prune(self, at: float) -> None:
        horizon = at - self.window_s
        while self._events and self._events[0][0] <= horizon:
            _, ok = self._events.popleft()
            if not ok:
                self._failures -= 1
