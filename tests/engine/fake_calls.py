"""Stand-ins for the scheduling tests: an ARI client that only records hang-ups, and a call that plays a
scripted outcome instead of dialling (same constructor and ``run()`` as ``CallSession``).

A behaviour is looked up by the dialled endpoint (``Local/<digits>@fake``) and the attempt number (from the
call id ``call-<tag>t<task>a<n>x…``); the last behaviour repeats.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from dialer.resources import CallResources
from dialer.session import CallReport
from dialog.actions import AddDoNotCall, CaptureAnswer

_IDENT = re.compile(r"t(\d+)a(\d+)x")


@dataclass
class Behaviour:
    """What one fake call does: its outcome, answers to store, a call-back time (local ISO), and whether
    it stays up until hung up (``hold``)."""

    outcome: str
    answers: dict[str, Any] = field(default_factory=dict)
    callback_at: str | None = None
    hold: bool = False


@dataclass
class Dialled:
    endpoint: str
    call_id: str
    task: int
    attempt: int
    local_now: Any


class FakeClient:
    """Records dials and hang-ups; a hang-up ends a holding fake call."""

    def __init__(self) -> None:
        self.dials: list[Dialled] = []
        self.hangups: list[str] = []
        self.live: dict[str, asyncio.Event] = {}

    async def hangup(self, channel_id: str, reason: str = "normal", *, missing_ok: bool = True) -> bool:
        self.hangups.append(channel_id)
        ev = self.live.get(channel_id)
        if ev is not None:
            ev.set()
        return ev is not None


class FakeCalls:
    """A ``call_factory`` for ``Engine``: ``FakeCalls({"Local/99910000001@fake": [Behaviour("busy"), …]})``."""

    def __init__(self, script: dict[str, list[Behaviour]]) -> None:
        self.script = script

    def __call__(self, client: FakeClient, **kw: Any) -> FakeCall:
        return FakeCall(self, client, **kw)


class FakeCall:
    def __init__(self, calls: FakeCalls, client: FakeClient, *, endpoint: str, call_id: str, log: Any, now: Any,
                 **_: Any) -> None:
        self.calls = calls
        self.client = client
        self.endpoint = endpoint
        self.call_id = call_id
        self.log = log
        self.now = now

    async def run(self) -> CallReport:
        m = _IDENT.search(self.call_id)
        assert m, self.call_id
        task, attempt = int(m.group(1)), int(m.group(2))
        self.client.dials.append(Dialled(self.endpoint, self.call_id, task, attempt, self.now))
        seq = self.calls.script.get(self.endpoint) or [Behaviour("failed")]
        b = seq[min(attempt, len(seq)) - 1]
        report = CallReport(call_id=self.call_id, outcome=b.outcome)
        answered = b.outcome not in ("busy", "no_answer", "failed")
        report.answered = answered
        if answered:
            self.log.answered()
        if b.hold:
            ended = asyncio.Event()
            self.client.live[self.call_id] = ended
            await ended.wait()
            report.outcome = "partial"
        for qid, value in b.answers.items():
            self.log.answer(CaptureAnswer(question_id=qid, value=value, raw_text=str(value), confidence=0.9))
            report.answers[qid] = value
        if b.outcome == "opt_out":
            self.log.do_not_call(AddDoNotCall(reason="patient asked"))
        report.callback_at = b.callback_at
        self.log.finish(report.outcome)
        await self.log.close()
        return report


def fake_resources(pool: Any = None) -> CallResources:
    """Resources without speech: flows load for real; prompts are never rendered."""

    class _NoPrompts(CallResources):
        async def prompts(self, flow: Any, lang: str, context: Any) -> Any:  # type: ignore[override]
            return None

    return _NoPrompts(recognizer=None, pool=pool, synthesizer=None, cache=None)  # type: ignore[arg-type]
