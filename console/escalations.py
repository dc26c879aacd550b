"""Handling an escalation: read the case (patient, visit, transcript so far, answers), assign it, write
notes, classify it, resolve it. Each change writes its audit entry in the same commit.

Status moves open → assigned (someone took it) → resolved; a resolved case is final (further changes are
refused with ValueError so a stale page cannot reopen or rewrite it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from console import audit
from models.calls import Answer, CallAttempt, Turn
from models.campaigns import CallTask
from models.console import EscalationNote
from models.escalations import Escalation
from models.patients import Patient, Visit
from models.users import User


class CaseClosed(ValueError):
    """The escalation is already resolved."""


@dataclass
class CaseFile:
    """Everything the escalation page shows."""

    escalation: Escalation
    patient: Patient
    visit: Visit | None
    attempt: CallAttempt | None
    turns: list[Turn]
    answers: list[Answer]
    notes: list[EscalationNote]

    @property
    def live(self) -> bool:
        """True while the call that raised it is still going (its transcript keeps growing)."""
        # While the call runs its outcome is the provisional "answered" (models.store.mark_answered).
        return self.attempt is not None and self.attempt.ended_at is None


def get_escalation(db: Session, escalation_id: int) -> Escalation | None:
    """The escalation with its patient and assignee, or None."""
    return db.scalar(
        select(Escalation)
        .options(joinedload(Escalation.patient), joinedload(Escalation.assignee))
        .where(Escalation.id == escalation_id)
    )


def load_case(db: Session, escalation: Escalation) -> CaseFile:
    """The case file of an escalation."""
    attempt = None
    visit = None
    turns: list[Turn] = []
    answers: list[Answer] = []
    if escalation.attempt_id is not None:
        attempt = db.scalar(
            select(CallAttempt)
            .options(joinedload(CallAttempt.task).joinedload(CallTask.visit))
            .where(CallAttempt.id == escalation.attempt_id)
        )
    if attempt is not None:
        visit = attempt.task.visit
        turns = list(db.scalars(select(Turn).where(Turn.attempt_id == attempt.id).order_by(Turn.seq)))
        answers = list(db.scalars(select(Answer).where(Answer.attempt_id == attempt.id).order_by(Answer.id)))
    if visit is None:
        visit = db.scalar(
            select(Visit)
            .where(Visit.patient_id == escalation.patient_id)
            .order_by(Visit.visit_date.desc(), Visit.id.desc())
            .limit(1)
        )
    notes = list(
        db.scalars(
            select(EscalationNote)
            .options(selectinload(EscalationNote.user))
            .where(EscalationNote.escalation_id == escalation.id)
            .order_by(EscalationNote.id)
        )
    )
    return CaseFile(escalation, escalation.patient, visit, attempt, turns, answers, notes)


def _open(escalation: Escalation) -> None:
    if escalation.status == "resolved":
        raise CaseClosed(f"escalation {escalation.id} is already resolved")


def assign(db: Session, escalation: Escalation, user: User, now: datetime) -> None:
    """Give the case to ``user`` (status assigned)."""
    _open(escalation)
    previous = escalation.assignee_id
    escalation.assignee_id = user.id
    escalation.status = "assigned"
    escalation.updated_at = now
    audit.record(db, user, "assign_escalation", "escalation", escalation.id, {"previous": previous})
    db.commit()


def add_note(db: Session, escalation: Escalation, user: User, text: str, now: datetime) -> EscalationNote:
    """Append a note to the case."""
    _open(escalation)
    note = EscalationNote(escalation_id=escalation.id, user_id=user.id, text=text.strip(), created_at=now)
    db.add(note)
    escalation.updated_at = now
    audit.record(db, user, "note_escalation", "escalation", escalation.id, {"chars": len(text)})
    db.commit()
    return note


def categorize(db: Session, escalation: Escalation, user: User, category: str, now: datetime) -> None:
    """Set the department's own classification of the case."""
    _open(escalation)
    old = escalation.category
    escalation.category = category.strip() or None
    escalation.updated_at = now
    audit.record(
        db, user, "categorize_escalation", "escalation", escalation.id, {"from": old, "to": escalation.category}
    )
    db.commit()


def resolve(
    db: Session, escalation: Escalation, user: User, now: datetime, category: str | None, note: str | None
) -> None:
    """Close the case (optionally with a last note and a category); unassigned cases go to the resolver."""
    _open(escalation)
    if note and note.strip():
        db.add(EscalationNote(escalation_id=escalation.id, user_id=user.id, text=note.strip(), created_at=now))
    if category and category.strip():
        escalation.category = category.strip()
    if escalation.assignee_id is None:
        escalation.assignee_id = user.id
    escalation.status = "resolved"
    escalation.resolved_at = now
    escalation.updated_at = now
    audit.record(db, user, "resolve_escalation", "escalation", escalation.id, {"category": escalation.category})
    db.commit()


def departments(db: Session) -> list[str]:
    """Departments that have escalations, for the queue filter."""
    return [
        d
        for d in db.scalars(
            select(Escalation.department).where(Escalation.department.is_not(None)).distinct().order_by(
                Escalation.department
            )
        )
        if d
    ]
