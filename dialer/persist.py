"""Writing one call attempt to the database from the call path, without blocking the event loop.

``AttemptLog`` queues every write (turn, answer, escalation, do-not-call, finish) and performs them **in
order** on one writer task, each in a worker thread (a pool of its own) with its own short-lived
Session. The dialog never waits for the database — a slow commit cannot add to the voice-to-voice
latency — yet each write is committed as soon as the writer reaches it (models.store commits before
returning), so a crash mid-call keeps what was said. An answer refers to the turn it came from: it is
queued with the turn's future, which the writer has resolved by then (same queue, earlier position).

``create_adhoc_attempt`` makes the rows a call needs when it does not come from a campaign
(``followup call``, tests, benchmarks): a patient, a visit, the "ad-hoc calls" campaign, a task and the
attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialog.actions import AddDoNotCall, CaptureAnswer, Escalate
from models import store
from models.campaigns import CallTask, Campaign
from models.patients import Patient, Visit

log = logging.getLogger(__name__)

T = TypeVar("T")

ADHOC_CAMPAIGN = "ad-hoc calls"

# Database writes of all calls share these threads (not asyncio's default executor, which the rest of the
# process uses): a database that stalls (SQLite's busy timeout) delays writes, nothing else.
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="attempt-log")


class AttemptLog:
    """Ordered, non-blocking persistence for one attempt (see the module docstring).

    ``phone`` (E.164) is what a do-not-call request stores; ``patient_id`` owns escalations. Write
    failures are logged and counted in ``errors`` — a database hiccup must not drop the live call.
    """

    def __init__(self, sessions: sessionmaker[Session], attempt_id: int, patient_id: int, phone: str | None) -> None:
        self.sessions = sessions
        self.attempt_id = attempt_id
        self.patient_id = patient_id
        self.phone = phone
        self.errors: list[str] = []
        self._queue: asyncio.Queue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def _ensure_writer(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name=f"attempt-{self.attempt_id}-writer")

    async def _writer(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            job, fut = item
            try:
                result = await asyncio.get_running_loop().run_in_executor(_EXECUTOR, job)
            except Exception as exc:  # noqa: BLE001 - recorded, the call goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")
                log.error("attempt %s: database write failed: %s", self.attempt_id, exc)
                if not fut.done():
                    fut.set_result(None)
                continue
            if not fut.done():
                fut.set_result(result)

    def _submit(self, fn: Callable[[Session], T]) -> asyncio.Future[T | None]:
        self._ensure_writer()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def job() -> Any:
            with self.sessions() as s:
                return fn(s)

        self._queue.put_nowait((job, fut))
        return fut

    # --- writes (each returns a future; awaiting it is optional) -------------------------------------

    def answered(self) -> asyncio.Future[Any]:
        return self._submit(lambda s: store.mark_answered(s, self.attempt_id).id)

    def turn(self, speaker: str, text: str, **fields: Any) -> asyncio.Future[int | None]:
        """record_turn; the future gives the turn id."""
        return self._submit(lambda s: store.record_turn(s, self.attempt_id, speaker, text, **fields).id)

    def answer(self, capture: CaptureAnswer, turn: asyncio.Future[int | None] | None = None) -> asyncio.Future[Any]:
        """record_answer for a CaptureAnswer, linked to the turn it came from (``turn``: its future)."""

        def write(s: Session) -> int:
            turn_id = turn.result() if turn is not None and turn.done() else None
            return store.record_answer(
                s, self.attempt_id, capture.question_id, capture.value, raw_text=capture.raw_text,
                confidence=capture.confidence, status=capture.status, source=capture.source,
                respondent=capture.respondent, turn_id=turn_id,
            ).id

        return self._submit(write)

    def escalation(self, esc: Escalate) -> asyncio.Future[Any]:
        return self._submit(lambda s: store.record_escalation(
            s, patient_id=self.patient_id, attempt_id=self.attempt_id, kind=esc.kind,
            department=esc.department, text=esc.text, question_id=esc.question_id).id)

    def do_not_call(self, action: AddDoNotCall) -> asyncio.Future[Any] | None:
        if not self.phone:
            log.warning("attempt %s: do-not-call requested but the patient's number is unknown", self.attempt_id)
            return None
        phone = self.phone
        return self._submit(lambda s: store.add_do_not_call(s, phone, reason=action.reason).id)

    def finish(self, outcome: str, **fields: Any) -> asyncio.Future[Any]:
        """finish_attempt (``hangup_cause``, ``recording_path``, ``callback_at``, ``task_status`` …)."""
        return self._submit(lambda s: store.finish_attempt(s, self.attempt_id, outcome, **fields).id)

    async def close(self, timeout: float = 30.0) -> None:
        """Wait for every queued write, then stop the writer."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self.errors.append(f"writes still pending after {timeout} s")
            log.error("attempt %s: database writes still pending after %s s", self.attempt_id, timeout)


@dataclass(frozen=True)
class AdhocAttempt:
    """The rows made for a call outside any campaign."""

    attempt_id: int
    task_id: int
    patient_id: int
    phone: str


def _parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def create_adhoc_attempt(
    sessions: sessionmaker[Session],
    context: Mapping[str, Any],
    *,
    flow_id: str,
    lang: str,
    phone: str,
    channel_id: str | None = None,
    asterisk_host: str | None = None,
    flow_version: str | None = None,
) -> AdhocAttempt:
    """Create patient, visit, task (in the "ad-hoc calls" campaign) and attempt 1 for one call.

    ``context`` is the dialog context ({"patient": {...}, "visit": {...}}); ``phone`` an E.164 number
    (simulated patients get a number from the unassigned +999 country code).
    """
    patient_ctx = dict(context.get("patient") or {})
    visit_ctx = dict(context.get("visit") or {})
    now = datetime.now(UTC)
    with sessions() as s:
        campaign = s.scalars(select(Campaign).where(Campaign.name == ADHOC_CAMPAIGN,
                                                    Campaign.flow_id == flow_id).limit(1)).first()
        if campaign is None:
            campaign = Campaign(name=ADHOC_CAMPAIGN, flow_id=flow_id, status="running",
                                description="calls placed by `followup call`, tests and benchmarks")
            s.add(campaign)
        gender = patient_ctx.get("gender")
        patient = Patient(
            name=str(patient_ctx.get("name") or "simulated patient"),
            salutation=patient_ctx.get("salutation"),
            gender=gender if gender in ("male", "female") else "unknown",
            phone=phone,
            language=lang,
        )
        s.add(patient)
        s.flush()
        visit = None
        visit_date = _parse_date(visit_ctx.get("visit_date")) or _parse_date(visit_ctx.get("discharge_date"))
        if visit_date is not None:
            visit = Visit(
                patient_id=patient.id,
                kind=str(visit_ctx.get("kind") or "inpatient"),
                department=visit_ctx.get("department"),
                doctor=visit_ctx.get("doctor"),
                ward=visit_ctx.get("ward"),
                diagnosis=visit_ctx.get("diagnosis"),
                procedure=visit_ctx.get("procedure"),
                visit_date=visit_date,
                discharge_date=_parse_date(visit_ctx.get("discharge_date")),
            )
            s.add(visit)
            s.flush()
        task = CallTask(campaign_id=campaign.id, patient_id=patient.id, visit_id=visit.id if visit else None,
                        due_at=now, status="leased")
        s.add(task)
        s.commit()
        attempt = store.create_attempt(s, task, channel_id=channel_id, asterisk_host=asterisk_host,
                                       language=lang, flow_id=flow_id, flow_version=flow_version)
        return AdhocAttempt(attempt.id, task.id, patient.id, phone)
