"""Retry policy: what happens to a call task after each attempt's outcome. Pure (no I/O, no asyncio).

``Retry(max, intervals_min)`` is rq's ``Retry(max, interval=[...])`` in minutes, one per unreached outcome
(busy, no answer, failed, voicemail, hung up early). ``decide`` turns an outcome into the task's next state:

==========================================================  =========================================
outcome                                                      next
==========================================================  =========================================
completed, escalated, transferred, wrong_person, opt_out     done (wrong person / opt-out: never again)
callback_requested                                           pending at the requested time, moved into
                                                             the calling window (+1 day if none given)
busy, no_answer, failed, voicemail, hung_up                  pending at now + interval (into the window)
                                                             while the outcome's retries remain and
                                                             attempts_made < max_attempts; else failed
partial, answered (call ended without a dialog outcome)      as hung_up
==========================================================  =========================================

Retries are counted per outcome (``CallTask.retries``: ``{"busy": 2}``) under the key ``retry_key(outcome)``;
``Decision.retry_key`` names the counter the caller must advance when it stores a pending decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialer.windows import CallingWindows

__all__ = [
    "CALLBACK_KEY",
    "DONE_OUTCOMES",
    "RETRYABLE_OUTCOMES",
    "Decision",
    "Retry",
    "RetryPolicy",
    "decide",
    "retry_key",
]

DONE_OUTCOMES: frozenset[str] = frozenset(
    {"completed", "escalated", "transferred", "wrong_person", "opt_out"}
)
RETRYABLE_OUTCOMES: tuple[str, ...] = ("busy", "no_answer", "failed", "voicemail", "hung_up")
# Counted like a retry so a patient who says "call me later" on every call cannot keep a task alive forever.
CALLBACK_KEY = "callback_requested"
DEFAULT_MAX_CALLBACKS = 3
DEFAULT_CALLBACK_DELAY = timedelta(days=1)
_AS_HUNG_UP = frozenset({"partial", "answered"})


def retry_key(outcome: str) -> str | None:
    """The per-outcome retry counter an outcome advances (``partial`` → ``hung_up``); None for final ones."""
    if outcome in _AS_HUNG_UP:
        return "hung_up"
    if outcome in RETRYABLE_OUTCOMES or outcome == CALLBACK_KEY:
        return outcome
    return None


@dataclass(frozen=True)
class Retry:
    """Up to ``max`` further attempts after this outcome, waiting ``intervals_min[n-1]`` minutes before the
    n-th (the last interval repeats)."""

    max: int
    intervals_min: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.max, int) or isinstance(self.max, bool) or self.max < 0:
            raise ValueError(f"max: expected an integer ≥ 0, got {self.max!r}")
        object.__setattr__(self, "intervals_min", tuple(self.intervals_min))
        for v in self.intervals_min:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"intervals_min: expected integers ≥ 0 (minutes), got {v!r}")
        if self.max > 0 and not self.intervals_min:
            raise ValueError("intervals_min: at least one interval is needed when max > 0")

    def interval_for(self, n: int) -> int:
        """Minutes to wait before the n-th retry (1-based); the last interval repeats."""
        if n < 1:
            raise ValueError(f"retry number starts at 1, got {n}")
        if not self.intervals_min:
            return 0
        return self.intervals_min[min(n, len(self.intervals_min)) - 1]

    def to_json(self) -> dict[str, Any]:
        return {"max": self.max, "intervals_min": list(self.intervals_min)}


_DEFAULTS: dict[str, Retry] = {
    "busy": Retry(3, (10, 30, 120)),
    "no_answer": Retry(3, (60, 240, 1440)),
    "failed": Retry(2, (15, 60)),
    "voicemail": Retry(2, (120, 1440)),
    "hung_up": Retry(1, (30,)),
}


@dataclass(frozen=True)
class RetryPolicy:
    """One ``Retry`` per unreached outcome; an outcome without one is not retried."""

    by_outcome: Mapping[str, Retry]
    max_callbacks: int = DEFAULT_MAX_CALLBACKS

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_outcome", MappingProxyType(dict(self.by_outcome)))

    @classmethod
    def default(cls) -> RetryPolicy:
        """busy 3×[10,30,120]; no_answer 3×[60,240,1440]; failed 2×[15,60]; voicemail 2×[120,1440];
        hung_up 1×[30] (minutes)."""
        return cls(dict(_DEFAULTS))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RetryPolicy:
        """Parse ``{"busy": {"max": 3, "intervals_min": [10, 30, 120]}, ...}``. Outcomes left out keep the
        default policy (``{"max": 0}`` turns one off); ``"max_callbacks": n`` limits call-backs.
        ValueError names the outcome and field (``retry_policy.busy.intervals_min``)."""
        if data is None:
            return cls.default()
        if not isinstance(data, Mapping):
            raise ValueError(  # noqa: TRY004 - the contract is ValueError naming the field
                f"retry_policy: expected an object of outcome → {{max, intervals_min}}, got {data!r}"
            )
        by_outcome = dict(_DEFAULTS)
        max_callbacks = DEFAULT_MAX_CALLBACKS
        for outcome, spec in data.items():
            if outcome == "max_callbacks":
                if not isinstance(spec, int) or isinstance(spec, bool) or spec < 0:
                    raise ValueError(f"retry_policy.max_callbacks: expected an integer ≥ 0, got {spec!r}")
                max_callbacks = spec
                continue
            if outcome not in RETRYABLE_OUTCOMES:
                raise ValueError(
                    f"retry_policy: {outcome!r} is not a retryable outcome "
                    f"(expected {', '.join(RETRYABLE_OUTCOMES)} or max_callbacks)"
                )
            if not isinstance(spec, Mapping):
                raise ValueError(f'retry_policy.{outcome}: expected {{"max": n, "intervals_min": [...]}}')  # noqa: TRY004 - the contract is ValueError naming the field
            unknown = set(spec) - {"max", "intervals_min"}
            if unknown:
                raise ValueError(f"retry_policy.{outcome}: unknown field(s) {', '.join(sorted(unknown))}")
            if "max" not in spec:
                raise ValueError(f"retry_policy.{outcome}.max: missing")
            intervals = spec.get("intervals_min", [])
            if not isinstance(intervals, list | tuple):
                raise ValueError(f"retry_policy.{outcome}.intervals_min: expected a list of minutes")  # noqa: TRY004 - the contract is ValueError naming the field
            try:
                by_outcome[outcome] = Retry(spec["max"], tuple(intervals))
            except ValueError as exc:
                raise ValueError(f"retry_policy.{outcome}.{exc}") from None
        return cls(by_outcome, max_callbacks)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON shape (every outcome written out, so the campaign row says what applies)."""
        out: dict[str, Any] = {
            k: self.by_outcome[k].to_json() for k in RETRYABLE_OUTCOMES if k in self.by_outcome
        }
        out["max_callbacks"] = self.max_callbacks
        return out


@dataclass(frozen=True)
class Decision:
    """The task's next state after an attempt. ``retry_key``: the per-outcome counter to advance (set only
    when ``status`` is pending)."""

    status: str  # pending | done | failed | cancelled
    due_at: datetime | None
    reason: str
    retry_key: str | None = field(default=None)


def decide(
    policy: RetryPolicy,
    outcome: str,
    *,
    attempts_made: int,
    max_attempts: int,
    retries_for_outcome: int,
    now: datetime,
    callback_at: datetime | None,
    windows: CallingWindows,
) -> Decision:
    """The next state of a task whose latest attempt (number ``attempts_made``) ended with ``outcome``.

    ``retries_for_outcome``: retries already scheduled under ``retry_key(outcome)`` before this one.
    """
    if outcome in DONE_OUTCOMES:
        return Decision("done", None, outcome)
    key = retry_key(outcome)
    if key is None:
        raise ValueError(f"outcome {outcome!r} is not a known attempt outcome")
    if key == CALLBACK_KEY:
        if retries_for_outcome >= policy.max_callbacks:
            return Decision(
                "failed",
                None,
                f"call-back asked {retries_for_outcome + 1} times (max {policy.max_callbacks})",
            )
        wanted = callback_at if callback_at is not None else now + DEFAULT_CALLBACK_DELAY
        due = windows.clamp(max(wanted, now))
        if due is None:
            return Decision("failed", None, "call-back requested but the campaign has no calling window")
        moved = "" if due == max(wanted, now) else " (moved into the calling window)"
        return Decision("pending", due, f"call-back requested{moved}", CALLBACK_KEY)
    retry = policy.by_outcome.get(key)
    label = outcome if key == outcome else f"{outcome} (as {key})"
    if retry is None or retries_for_outcome >= retry.max:
        allowed = 0 if retry is None else retry.max
        return Decision("failed", None, f"{label}: {allowed} retries used up")
    if attempts_made >= max_attempts:
        return Decision("failed", None, f"{label}: max attempts ({max_attempts}) reached")
    wait = retry.interval_for(retries_for_outcome + 1)
    due = windows.clamp(now + timedelta(minutes=wait))
    if due is None:
        return Decision("failed", None, f"{label}: the campaign has no calling window")
    return Decision(
        "pending", due, f"{label}: retry {retries_for_outcome + 1} of {retry.max} after {wait} min", key
    )
