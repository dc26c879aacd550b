"""Test data for exports and post-call jobs, built through models/store.py like the call path does."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

import models
from models import store

_serial = itertools.count(1)


def make_campaign(session: Session, flow_id: str = "post_op", **fields: Any) -> models.Campaign:
    """A campaign for ``flow_id`` (running unless ``status`` says otherwise)."""
    fields.setdefault("status", "running")
    campaign = models.Campaign(name=f"{flow_id} 随访", flow_id=flow_id, **fields)
    session.add(campaign)
    session.commit()
    return campaign


def make_call(
    session: Session,
    campaign: models.Campaign,
    answers: dict[str, Any],
    *,
    outcome: str = "completed",
    department: str | None = "普外科",
    unsure: tuple[str, ...] = (),
    skipped: tuple[str, ...] = (),
    respondent: str = "patient",
    escalations: tuple[dict[str, Any], ...] = (),
    ended_at: datetime | None = None,
    patient_external_id: str | None = "",
    visit: bool = True,
) -> models.CallAttempt:
    """One finished call: a new patient (+ visit) and task, an attempt with ``answers`` recorded, the
    given escalations, closed with ``outcome``."""
    n = next(_serial)
    ext = f"HIS-P-{n:05d}" if patient_external_id == "" else patient_external_id
    patient = models.Patient(name=f"患者{n}", phone=f"+86138{n:08d}", external_id=ext)
    session.add(patient)
    session.flush()
    visit_row = None
    if visit:
        visit_row = models.Visit(
            patient_id=patient.id,
            kind="inpatient",
            department=department,
            visit_date=date(2026, 11, 1),
            discharge_date=date(2026, 11, 10),
            external_id=f"HIS-V-{n:05d}",
        )
        session.add(visit_row)
        session.flush()
    task = models.CallTask(
        campaign_id=campaign.id,
        patient_id=patient.id,
        visit_id=visit_row.id if visit_row else None,
        due_at=datetime(2026, 11, 13, 1, 0, tzinfo=UTC),
    )
    session.add(task)
    session.commit()
    started = (ended_at or datetime(2026, 11, 13, 2, 0, tzinfo=UTC)) - timedelta(minutes=3)
    attempt = store.create_attempt(session, task, started_at=started, flow_id=campaign.flow_id, language="zh")
    store.mark_answered(session, attempt.id, at=started)
    for qid, value in answers.items():
        store.record_answer(
            session, attempt.id, qid, value, raw_text=str(value), confidence=0.9, respondent=respondent
        )
    for qid in unsure:
        store.record_answer(session, attempt.id, qid, None, status="unsure", confidence=0.9)
    for qid in skipped:
        store.record_answer(session, attempt.id, qid, None, status="skipped", confidence=0.0)
    for esc in escalations:
        store.record_escalation(session, patient_id=patient.id, attempt_id=attempt.id, **esc)
    return store.finish_attempt(
        session,
        attempt.id,
        outcome,
        ended_at=ended_at or datetime(2026, 11, 13, 2, 0, tzinfo=UTC),
        task_status="done",
    )


POST_OP_ANSWERS: dict[str, Any] = {
    "wound": ["pain", "redness"],
    "pain_score": 3,
    "temperature": 37.6,
    "bowel_urine": True,
    "activity": "normal",
    "stitches": "removed",
    "return_visit": "2026-11-20",
}
