"""The second-level review queue (二级回访抽检): calls the post-call job sampled (``models.qa.QaSample``).

Open samples are those not reviewed yet, per department. A reviewer takes one (assigned to them), opens
the call, and saving their score on it closes the sample (``close_on_score``). Each step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from console import audit
from models.calls import CallAttempt
from models.campaigns import CallTask
from models.qa import QaSample
from models.users import User

PAGE_SIZE = 100


class SampleClosed(ValueError):
    """The sample was already reviewed."""


@dataclass(frozen=True)
class SampleRow:
    """One line of the review queue."""

    id: int
    attempt_id: int
    department: str | None
    reason: str
    created_at: datetime
    started_at: datetime
    outcome: str | None
    patient_name: str
    phone: str
    assigned_to: str | None
    assigned_to_id: int | None


def open_samples(db: Session, department: str | None = None) -> list[SampleRow]:
    """Samples waiting for review, oldest first (first sampled, first reviewed), optionally one department."""
    q = (
        select(QaSample)
        .options(
            joinedload(QaSample.attempt).joinedload(CallAttempt.task).joinedload(CallTask.patient),
            joinedload(QaSample.assigned_to),
        )
        .where(QaSample.reviewed_at.is_(None))
        .order_by(QaSample.id)
        .limit(PAGE_SIZE)
    )
    if department:
        q = q.where(QaSample.department == department)
    rows = []
    for s in db.scalars(q):
        patient = s.attempt.task.patient
        rows.append(
            SampleRow(
                id=s.id,
                attempt_id=s.attempt_id,
                department=s.department,
                reason=s.reason,
                created_at=s.created_at,
                started_at=s.attempt.started_at,
                outcome=s.attempt.outcome,
                patient_name=patient.name,
                phone=patient.phone,
                assigned_to=(s.assigned_to.display_name or s.assigned_to.username) if s.assigned_to else None,
                assigned_to_id=s.assigned_to_id,
            )
        )
    return rows


def departments(db: Session) -> list[str]:
    """Departments with open samples."""
    return [
        d
        for d in db.scalars(
            select(QaSample.department).where(QaSample.reviewed_at.is_(None)).distinct().order_by(QaSample.department)
        )
        if d
    ]


def sample_of(db: Session, attempt_id: int) -> QaSample | None:
    """The sample of a call, if it was sampled."""
    return db.scalar(select(QaSample).where(QaSample.attempt_id == attempt_id))


def take(db: Session, sample_id: int, user: User) -> QaSample | None:
    """Assign an open sample to ``user``; None if there is no such sample; SampleClosed if reviewed."""
    sample = db.get(QaSample, sample_id)
    if sample is None:
        return None
    if sample.reviewed_at is not None:
        raise SampleClosed(f"sample {sample_id} was already reviewed")
    previous = sample.assigned_to_id
    sample.assigned_to_id = user.id
    audit.record(db, user, "take_sample", "call", sample.attempt_id, {"sample": sample.id, "previous": previous})
    db.commit()
    return sample


def close_on_score(db: Session, attempt_id: int, user: User, now: datetime) -> bool:
    """Close the call's open sample because ``user`` scored the call (not committed); True if closed."""
    sample = sample_of(db, attempt_id)
    if sample is None or sample.reviewed_at is not None:
        return False
    sample.reviewed_at = now
    if sample.assigned_to_id is None:
        sample.assigned_to_id = user.id
    audit.record(db, user, "review_sample", "call", attempt_id, {"sample": sample.id})
    return True
