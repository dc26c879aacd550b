"""What the engine prints while it runs: one line per finished call, a periodic summary. Pure formatting.

Lines never carry a full phone number or a patient's name: a number is shown as its last four digits
(``***0012``). ``--json`` prints the same facts as JSON lines (``{"event": "call", …}``,
``{"event": "summary", …}``, ``{"event": "skip", …}``, ``{"event": "paused", …}``) for scripts and tests.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def mask_phone(phone: str | None) -> str:
    """``+8613800001234`` → ``***1234``."""
    if not phone:
        return "***"
    return "***" + phone[-4:]


@dataclass(frozen=True)
class CallLine:
    """One finished call as the progress output shows it."""

    at: str  # clock time, ISO
    campaign: int
    task: int
    attempt: int
    phone: str  # masked
    outcome: str
    answers: int
    next_status: str
    due_at: str | None
    reason: str
    call_id: str
    duration_s: float = 0.0


@dataclass
class Tally:
    """Running totals for the summary line."""

    started_at: float  # monotonic, real
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    calls: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, outcome: str, answered: bool, latencies_ms: list[float]) -> None:
        self.calls += 1
        self.outcomes[outcome] += 1
        self.answered += int(answered)
        self.latencies_ms.extend(latencies_ms)


def call_text(line: CallLine) -> str:
    """``09:12:03 campaign 3 task 17 #2 ***0012 busy answers 0 → pending 09:22 (busy: retry 1 of 3 …)``."""
    when = line.at[11:19]
    nxt = line.next_status + (f" {line.due_at[:16].replace('T', ' ')}" if line.due_at else "")
    return (f"{when} campaign {line.campaign} task {line.task} #{line.attempt} {line.phone} {line.outcome} "
            f"answers {line.answers} → {nxt} ({line.reason}) [{line.call_id}]")


def summary(tally: Tally, *, live: int, max_calls: int, now_real: float, clock_now: datetime,
            pending: dict[str, int] | None = None) -> dict[str, Any]:
    """The facts of a summary line."""
    elapsed = max(1e-9, now_real - tally.started_at)
    lat = sorted(tally.latencies_ms)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None
    return {
        "clock": clock_now.isoformat(timespec="seconds"),
        "live": live,
        "max_calls": max_calls,
        "calls": tally.calls,
        "answered": tally.answered,
        "answer_rate": round(tally.answered / tally.calls, 3) if tally.calls else None,
        "calls_per_hour": round(tally.calls * 3600 / elapsed, 1),
        "latency_p95_ms": round(p95) if p95 is not None else None,
        "outcomes": dict(sorted(tally.outcomes.items())),
        "skipped": dict(sorted(tally.skipped.items())),
        "tasks": dict(sorted((pending or {}).items())),
    }


def summary_text(facts: dict[str, Any]) -> str:
    """``summary 09:30:00 live 4/10 calls 37 (completed 20, busy 6, …) answered 62% 140 calls/h p95 2.1 s``."""
    outcomes = ", ".join(f"{k} {v}" for k, v in facts["outcomes"].items()) or "none"
    rate = f"{facts['answer_rate'] * 100:.0f}%" if facts["answer_rate"] is not None else "–"
    p95 = f"{facts['latency_p95_ms'] / 1000:.1f} s" if facts["latency_p95_ms"] is not None else "–"
    tasks = ", ".join(f"{k} {v}" for k, v in facts["tasks"].items())
    skipped = ", ".join(f"{k} {v}" for k, v in facts["skipped"].items())
    return (f"summary {facts['clock'][11:19]} live {facts['live']}/{facts['max_calls']} calls {facts['calls']} "
            f"({outcomes}) answered {rate} {facts['calls_per_hour']:g} calls/h v2v p95 {p95}"
            + (f" skipped ({skipped})" if skipped else "") + (f" tasks ({tasks})" if tasks else ""))


def as_json(event: str, payload: Any) -> str:
    """A JSON line for ``--json``."""
    body = asdict(payload) if hasattr(payload, "__dataclass_fields__") else dict(payload)
    return json.dumps({"event": event, **body}, ensure_ascii=False)
