"""The engine's clock: what time it is for scheduling, and how to wait.

The engine never reads the wall clock itself. Calling windows, due times, leases, retry intervals and the
dialog's "tomorrow at three" all use ``Clock.now()``; every scheduling wait goes through
``Clock.sleep()``. Three clocks:

- ``SystemClock``: real time (production).
- ``ScaledClock``: starts at a chosen instant and runs ``speed`` times faster than real time, and can be
  jumped forward. A campaign with retry intervals in minutes runs in seconds (speed 60: a clock minute
  is a real second), and a test can start it just before a calling window opens. The calls themselves
  run in real time; only scheduling is accelerated.
- ``FakeClock``: stands still until told (``advance``/``set``); ``sleep`` returns after a real yield.
  For unit tests of the scheduling decisions.

All times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the engine needs from time."""

    def now(self) -> datetime:
        """The current instant (aware, UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    def clock_seconds(self, real_s: float) -> float:
        """How much of this clock's time passes in ``real_s`` real seconds (leases must outlast real
        stalls, so they are set in real seconds and converted)."""
        ...


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()}: a clock time needs a time zone")
    return at.astimezone(UTC)


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def clock_seconds(self, real_s: float) -> float:
        return real_s


class ScaledClock:
    """Starts at ``start`` and runs ``speed`` times as fast as real time (``jump_to`` moves it forward)."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = float(speed)
        self._origin = _aware(start)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def clock_seconds(self, real_s: float) -> float:
        return real_s * self.speed

    def jump_to(self, at: datetime) -> None:
        """Continue from ``at`` (never backwards: leases and due times assume time only grows)."""
        at = _aware(at)
        if at < self.now():
            raise ValueError(f"the clock only moves forward ({at.isoformat()} < {self.now().isoformat()})")
        self._origin = at
        self._t0 = time.monotonic()


class FakeClock:
    """Stands still until ``advance``/``set``; ``sleep`` only yields to the loop (briefly, in real time)."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.01 if seconds > 0 else 0)

    def clock_seconds(self, real_s: float) -> float:
        return real_s

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, at: datetime) -> None:
        at = _aware(at)
        if at < self._now:
            raise ValueError("the clock only moves forward")
        self._now = at
