"""The engine's reads and writes around one dial that ``models.leases`` does not cover.

- ``load_dial_facts``: everything the engine needs to decide and place one call, read in one session and
  returned as plain values (no ORM object crosses into the event loop).
- ``skip_task``: a claimed task is not dialled after all — ``cancelled`` (number on the do-not-call list,
  patient deceased) or back to ``pending`` at a later ``due_at`` (the calling window closed between claim
  and dial). Only while this engine still holds the lease and nothing was dialled (status ``leased``).
- ``close_lost_attempts``: an attempt that was *answered* when its engine died still says ``answered``
  (provisional); close it as ``failed``/``engine_lost`` like ``leases.recover_expired`` does for
  attempts without any outcome (run it just before that). Its turns and answers stay.
- ``open_tasks``: how many tasks of running campaigns are not settled yet (``followup run --until-done``).
- ``orphaned_channels``: the channel ids of attempts left open by an engine whose lease expired (it
  crashed mid-call), so the next engine can hang those channels up before the tasks are recovered.

Each write commits before returning (the engine runs them in worker threads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.calls import CallAttempt
from models.campaigns import CallTask, Campaign
from models.patients import Patient, Visit
from models.types import utcnow

# Provisional attempt outcomes: the call was live when its engine went away.
OPEN_OUTCOMES = (None, "answered")


@dataclass(frozen=True)
class PatientFacts:
    """The patient fields a call uses (the phone only to dial and for do-not-call; never logged)."""

    id: int
    name: str
    salutation: str | None
    gender: str
    birth_year: int | None
    phone: str
    language: str
    deceased: bool


@dataclass(frozen=True)
class VisitFacts:
    """The visit fields prompts may mention."""

    kind: str
    department: str | None
    doctor: str | None
    ward: str | None
    diagnosis: str | None
    procedure: str | None
    visit_date: date | None
    discharge_date: date | None


@dataclass(frozen=True)
class DialFacts:
    """A claimed task as the engine sees it just before dialling."""

    task_id: int
    campaign_id: int
    campaign_status: str
    status: str
    lease_owner: str | None
    attempts_made: int
    max_attempts: int
    retries: dict[str, int]
    patient: PatientFacts
    visit: VisitFacts | None


def load_dial_facts(session: Session, task_id: int) -> DialFacts:
    """The task, its campaign's status, patient and visit (LookupError if the task is gone)."""
    task = session.get(CallTask, task_id)
    if task is None:
        raise LookupError(f"task {task_id} does not exist")
    campaign = session.get_one(Campaign, task.campaign_id)
    p: Patient = session.get_one(Patient, task.patient_id)
    v: Visit | None = session.get(Visit, task.visit_id) if task.visit_id is not None else None
    retries: Any = getattr(task, "retries", None) or {}
    return DialFacts(
        task_id=task.id,
        campaign_id=task.campaign_id,
        campaign_status=campaign.status,
        status=task.status,
        lease_owner=task.lease_owner,
        attempts_made=task.attempts_made,
        max_attempts=task.max_attempts,
        retries={str(k): int(n) for k, n in dict(retries).items()},
        patient=PatientFacts(p.id, p.name, p.salutation, p.gender, p.birth_year, p.phone, p.language,
                             bool(p.deceased)),
        visit=VisitFacts(v.kind, v.department, v.doctor, v.ward, v.diagnosis, v.procedure, v.visit_date,
                         v.discharge_date) if v is not None else None,
    )


def skip_task(session: Session, *, owner: str, task_id: int, status: str, due_at: datetime | None = None,
              last_outcome: str | None = None) -> bool:
    """Move a leased, undialled task to ``status`` (``cancelled``, or ``pending`` at ``due_at``) and clear
    its lease. False (nothing written) if this engine no longer holds it."""
    if status not in ("cancelled", "pending"):
        raise ValueError(f"skip_task: status must be cancelled or pending, got {status!r}")
    values: dict[str, Any] = {"status": status, "lease_owner": None, "lease_expires_at": None,
                              "updated_at": utcnow()}
    if due_at is not None:
        values["due_at"] = due_at
    if last_outcome is not None:
        values["last_outcome"] = last_outcome
    moved = session.execute(
        update(CallTask)
        .where(CallTask.id == task_id, CallTask.lease_owner == owner, CallTask.status == "leased")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return moved.rowcount == 1


def orphaned_channels(session: Session, *, now: datetime, asterisk_host: str | None = None) -> list[str]:
    """Channel ids of open attempts whose task lease expired before ``now`` (their engine died mid-call);
    only those placed through ``asterisk_host`` when given."""
    stmt = (
        select(CallAttempt.channel_id)
        .join(CallTask, CallTask.id == CallAttempt.task_id)
        .where(
            CallTask.status.in_(("leased", "in_progress")),
            CallTask.lease_expires_at < now,
            CallAttempt.channel_id.is_not(None),
            (CallAttempt.outcome.is_(None)) | (CallAttempt.outcome == "answered"),
        )
    )
    if asterisk_host is not None:
        stmt = stmt.where(CallAttempt.asterisk_host == asterisk_host)
    return [c for c in session.scalars(stmt) if c]


def close_lost_attempts(session: Session, *, now: datetime) -> int:
    """Close answered-but-unfinished attempts of tasks whose lease expired before ``now`` as ``failed`` with
    hang-up cause ``engine_lost``; returns how many."""
    lost = (
        select(CallTask.id)
        .where(CallTask.status.in_(("leased", "in_progress")), CallTask.lease_expires_at < now)
        .scalar_subquery()
    )
    closed = session.execute(
        update(CallAttempt)
        .where(CallAttempt.task_id.in_(lost), CallAttempt.outcome == "answered")
        .values(outcome="failed", hangup_cause="engine_lost", ended_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(closed.rowcount or 0)


def open_tasks(session: Session, campaign_ids: tuple[int, ...] | list[int] = ()) -> int:
    """Pending, leased or in-progress tasks of *running* campaigns (only ``campaign_ids`` when given): what
    an engine could still dial. A paused or finished campaign's waiting tasks do not count."""
    from sqlalchemy import func

    stmt = (
        select(func.count(CallTask.id))
        .join(Campaign, Campaign.id == CallTask.campaign_id)
        .where(CallTask.status.in_(("pending", "leased", "in_progress")), Campaign.status == "running")
    )
    if campaign_ids:
        stmt = stmt.where(CallTask.campaign_id.in_(list(campaign_ids)))
    n = int(session.scalar(stmt) or 0)
    session.commit()
    return n
