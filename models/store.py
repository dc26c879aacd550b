"""Persistence functions of the call path. Each takes a Session, writes, and **commits before returning**:
an answer, a turn or a do-not-call request is durable the moment it is captured, not when the call ends,
so a crash or a dropped line mid-call loses nothing already said. (Anything else pending in the session is
committed with it: give the call path its own session.)

The functions are synchronous; from asyncio, run them in a worker thread (``asyncio.to_thread``).

Typical order for one call::

    attempt = create_attempt(s, task, lease_owner="dialer-1", flow_id=..., language="zh")  # before dialling
    mark_answered(s, attempt.id)
    record_turn(s, attempt.id, "bot", "您好，这里是…医院随访中心")
    record_turn(s, attempt.id, "patient", "好多了", confidence=0.91, question_id="recovery")
    record_answer(s, attempt.id, "recovery", "better", raw_text="好多了", confidence=0.91)
    record_escalation(s, patient_id=..., attempt_id=attempt.id, kind="complaint", department=..., text=...)
    finish_attempt(s, attempt.id, "completed", task_status="done")
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.calls import Answer, CallAttempt, Turn
from models.campaigns import CallTask
from models.do_not_call import DoNotCall
from models.escalations import Escalation
from models.patients import check_e164
from models.types import utcnow
from models.vocab import (
    ANSWER_SOURCES,
    ANSWER_STATUSES,
    ATTEMPT_OUTCOMES,
    ESCALATION_KINDS,
    RESPONDENTS,
    SPEAKERS,
    TASK_STATUSES,
    TURN_SOURCES,
)

__all__ = [
    "AttemptConflict",
    "add_do_not_call",
    "answers_of",
    "create_attempt",
    "finish_attempt",
    "is_do_not_call",
    "mark_answered",
    "record_answer",
    "record_escalation",
    "record_turn",
    "render_value",
    "to_json_value",
]


class AttemptConflict(Exception):
    """The task moved on since the caller read it (another attempt was recorded, or the lease changed
    hands): do not dial."""


def _require(name: str, value: str, allowed: tuple[str, ...]) -> None:
    # The CHECK constraints would refuse it too, but later and with a less helpful message.
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _insert(session: Session, entity: type[Any]) -> Any:
    """INSERT … ON CONFLICT for the session's backend (both SQLite ≥ 3.24 and PostgreSQL have it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"upsert not implemented for {dialect}")


# --- attempts -------------------------------------------------------------------------------------------


def create_attempt(
    session: Session,
    task: CallTask,
    *,
    lease_owner: str | None = None,
    started_at: datetime | None = None,
    channel_id: str | None = None,
    asterisk_host: str | None = None,
    language: str | None = None,
    flow_id: str | None = None,
    flow_version: str | None = None,
) -> CallAttempt:
    """Record attempt number ``task.attempts_made + 1`` and mark the task ``in_progress``; call it *before*
    originating the call.

    ``task`` is the caller's view of the task (it may be detached or stale — that is the point): the
    counter is advanced only if the database still holds the ``attempts_made`` the caller saw, and, when
    ``lease_owner`` is given, only if that dialer still holds the lease. Otherwise, or if the attempt
    number already exists, nothing is written and AttemptConflict is raised.
    """
    seen = task.attempts_made
    number = seen + 1
    conditions = [CallTask.id == task.id, CallTask.attempts_made == seen]
    if lease_owner is not None:
        conditions.append(CallTask.lease_owner == lease_owner)
    try:
        moved = session.execute(
            update(CallTask)
            .where(*conditions)
            .values(attempts_made=number, status="in_progress", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            raise AttemptConflict(
                f"task {task.id}: attempt {number} no longer due (changed since it was read)"
            )
        attempt = CallAttempt(
            task_id=task.id,
            number=number,
            started_at=started_at or utcnow(),
            channel_id=channel_id,
            asterisk_host=asterisk_host,
            language=language,
            flow_id=flow_id,
            flow_version=flow_version,
        )
        session.add(attempt)
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise AttemptConflict(f"task {task.id}: attempt {number} was already recorded") from exc
    except BaseException:
        session.rollback()
        raise
    session.commit()
    # Keep the caller's object in step when it belongs to this session (it may be detached).
    if task in session:
        session.refresh(task)
    return attempt


def mark_answered(session: Session, attempt_id: int, *, at: datetime | None = None) -> CallAttempt:
    """The patient picked up: set ``answered_at`` and the provisional outcome ``answered``."""
    attempt = session.get_one(CallAttempt, attempt_id)
    attempt.answered_at = at or utcnow()
    if attempt.outcome is None:
        attempt.outcome = "answered"
    session.commit()
    return attempt


def finish_attempt(
    session: Session,
    attempt_id: int,
    outcome: str,
    *,
    ended_at: datetime | None = None,
    hangup_cause: str | None = None,
    recording_path: str | None = None,
    task_status: str | None = None,
    due_at: datetime | None = None,
    callback_at: datetime | None = None,
) -> CallAttempt:
    """Close an attempt with ``outcome`` and copy it to the task's ``last_outcome``, in one transaction.

    What happens to the task next is the dialer's decision (retry policy): pass ``task_status``
    (``pending`` to retry at ``due_at``, or ``done``/``failed``/``cancelled``) to release its lease in the
    same commit. ``callback_at``: when the patient asked to be called back.
    """
    _require("outcome", outcome, ATTEMPT_OUTCOMES)
    if task_status is not None:
        _require("task status", task_status, TASK_STATUSES)
    attempt = session.get_one(CallAttempt, attempt_id)
    attempt.outcome = outcome
    attempt.ended_at = ended_at or utcnow()
    if hangup_cause is not None:
        attempt.hangup_cause = hangup_cause
    if recording_path is not None:
        attempt.recording_path = recording_path
    task = attempt.task
    task.last_outcome = outcome
    if callback_at is not None:
        task.callback_at = callback_at
    if due_at is not None:
        task.due_at = due_at
    if task_status is not None:
        task.status = task_status
        task.lease_owner = None
        task.lease_expires_at = None
    session.commit()
    return attempt


# --- turns and answers ----------------------------------------------------------------------------------


def record_turn(
    session: Session,
    attempt_id: int,
    speaker: str,
    text: str,
    *,
    source: str | None = None,
    seq: int | None = None,
    confidence: float | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    question_id: str | None = None,
    intent: str | None = None,
    prompt_key: str | None = None,
) -> Turn:
    """Append one turn. ``seq`` defaults to the next number in the attempt; ``source`` to ``tts`` for the
    bot and ``speech`` otherwise. ``start_ms``/``end_ms``: offsets into the attempt's recording."""
    _require("speaker", speaker, SPEAKERS)
    source = source or ("tts" if speaker == "bot" else "speech")
    _require("source", source, TURN_SOURCES)
    if seq is None:
        last = session.scalar(select(func.max(Turn.seq)).where(Turn.attempt_id == attempt_id))
        seq = (last or 0) + 1
    turn = Turn(
        attempt_id=attempt_id,
        seq=seq,
        speaker=speaker,
        text=text,
        source=source,
        confidence=confidence,
        start_ms=start_ms,
        end_ms=end_ms,
        question_id=question_id,
        intent=intent,
        prompt_key=prompt_key,
    )
    session.add(turn)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return turn


def to_json_value(value: Any) -> Any:
    """The JSON form of an answer value: dates become ISO ``YYYY-MM-DD`` (datetimes full ISO), tuples
    become lists; anything JSON cannot hold exactly (NaN, sets, objects) raises TypeError/ValueError."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("answer dict keys must be strings")
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"answer value {value!r} is not representable in JSON")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"answer value of type {type(value).__name__} is not JSON")


def render_value(value: Any) -> str | None:
    """A flat text rendering of a JSON answer value for search and CSV export: ``true``, ``37.5``,
    ``130/85`` for a blood pressure, ``a, b`` for a multiple choice, compact JSON for other dicts."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return ", ".join(render_value(v) or "" for v in value)
    if isinstance(value, dict) and set(value) == {"systolic", "diastolic"}:
        return f"{render_value(value['systolic'])}/{render_value(value['diastolic'])}"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def record_answer(
    session: Session,
    attempt_id: int,
    question_id: str,
    value: Any,
    *,
    raw_text: str = "",
    confidence: float | None = None,
    status: str = "answered",
    source: str = "speech",
    respondent: str = "patient",
    turn_id: int | None = None,
    value_text: str | None = None,
) -> Answer:
    """Store the answer to ``question_id`` now; answering the same question again in the same attempt
    replaces the earlier answer (one atomic INSERT … ON CONFLICT DO UPDATE).

    The keyword names match ``dialog.actions.CaptureAnswer``, so ``record_answer(s, attempt_id,
    **dataclasses.asdict(capture))`` works. ``value_text`` defaults to ``render_value(value)``.
    """
    _require("answer status", status, ANSWER_STATUSES)
    _require("answer source", source, ANSWER_SOURCES)
    _require("respondent", respondent, RESPONDENTS)
    value = to_json_value(value)
    text = value_text if value_text is not None else render_value(value)
    now = utcnow()
    row = {
        "value": value,
        "value_text": text,
        "raw_text": raw_text,
        "confidence": confidence,
        "status": status,
        "source": source,
        "respondent": respondent,
        "turn_id": turn_id,
    }
    stmt = _insert(session, Answer).values(
        attempt_id=attempt_id, question_id=question_id, created_at=now, updated_at=now, **row
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Answer.attempt_id, Answer.question_id],
        # "value" through excluded keeps the SQL NULL/JSON distinction of none_as_null.
        set_={**{k: stmt.excluded[k] for k in row}, "updated_at": now},
    ).returning(Answer)
    try:
        answer = session.scalars(stmt, execution_options={"populate_existing": True}).one()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return answer


def answers_of(session: Session, attempt_id: int) -> dict[str, Any]:
    """The answers of an attempt as ``{question_id: value}`` in capture order (value None when the status
    is unsure/skipped)."""
    rows = session.execute(
        select(Answer.question_id, Answer.value).where(Answer.attempt_id == attempt_id).order_by(Answer.id)
    )
    return {question_id: value for question_id, value in rows}


# --- escalations and do-not-call ------------------------------------------------------------------------


def record_escalation(
    session: Session,
    *,
    patient_id: int,
    kind: str,
    department: str | None,
    text: str = "",
    question_id: str | None = None,
    attempt_id: int | None = None,
    category: str | None = None,
) -> Escalation:
    """Open an escalation (status ``open``) for the console; fields as in ``dialog.actions.Escalate``."""
    _require("escalation kind", kind, ESCALATION_KINDS)
    escalation = Escalation(
        patient_id=patient_id,
        attempt_id=attempt_id,
        kind=kind,
        department=department,
        text=text,
        question_id=question_id,
        category=category,
    )
    session.add(escalation)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return escalation


def add_do_not_call(session: Session, phone: str, *, reason: str = "", source: str = "patient") -> DoNotCall:
    """Put an E.164 number on the do-not-call list. Adding a listed number again changes nothing and
    returns the existing entry (its first reason is kept)."""
    check_e164(phone)
    stmt = (
        _insert(session, DoNotCall)
        .values(phone=phone, reason=reason, source=source, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[DoNotCall.phone])
    )
    try:
        session.execute(stmt)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return session.scalars(select(DoNotCall).where(DoNotCall.phone == phone)).one()


def is_do_not_call(session: Session, phone: str) -> bool:
    """Whether the E.164 number ``phone`` is on the do-not-call list. A number not in E.164 raises
    ValueError rather than answering False: an unnormalised number would slip past the list."""
    check_e164(phone)
    return session.scalar(select(DoNotCall.id).where(DoNotCall.phone == phone).limit(1)) is not None
