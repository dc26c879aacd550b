"""Round-trips of every table on both backends: Chinese text, JSON, dates, tz-aware timestamps, constraints,
and what deleting a row does to the rows that point at it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, TypeVar

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

import models
from models import db

if TYPE_CHECKING:
    from conftest import World

T = TypeVar("T")
MakeTask = Callable[..., models.CallTask]
SHANGHAI = timezone(timedelta(hours=8))


def fresh(other_session: Session, entity: type[T], ident: int) -> T:
    """Read a row through a different engine, so nothing comes from the first session's identity map."""
    other_session.expire_all()
    return other_session.get_one(entity, ident)


def test_patient_and_visit_round_trip_chinese(world: World, other_session: Session) -> None:
    patient = fresh(other_session, models.Patient, world.patient.id)
    assert (patient.name, patient.salutation, patient.gender) == ("王小明", "王先生", "male")
    assert (patient.phone, patient.language, patient.external_id) == ("+8613800138000", "zh", "HIS-P-0001")
    assert patient.deceased is False
    assert patient.age(date(2026, 11, 25)) == 70
    [visit] = patient.visits
    assert (visit.kind, visit.department, visit.doctor, visit.ward) == (
        "inpatient",
        "心内科",
        "李医生",
        "5病区",
    )
    assert (visit.diagnosis, visit.procedure) == ("冠心病", "PCI")
    assert (visit.visit_date, visit.discharge_date) == (date(2026, 11, 1), date(2026, 11, 10))


def test_campaign_round_trip_with_json_settings(world: World, other_session: Session) -> None:
    campaign = fresh(other_session, models.Campaign, world.campaign.id)
    assert campaign.name == "心内科出院随访"
    assert campaign.calling_windows == {"mon": [["09:00", "11:30"], ["14:00", "17:30"]]}
    assert campaign.retry_policy == {"busy": {"max": 3, "intervals_min": [10, 30, 120]}}
    assert campaign.days_after_discharge == [3, 30]
    assert (campaign.timezone, campaign.status, campaign.language) == ("Asia/Shanghai", "running", None)
    assert campaign.created_by is not None and campaign.created_by.display_name == "张护士"


def test_call_task_defaults_and_times(world: World, other_session: Session) -> None:
    task = fresh(other_session, models.CallTask, world.task.id)
    assert (task.status, task.attempts_made, task.max_attempts, task.priority) == ("pending", 0, 3, 0)
    assert task.due_at == datetime(2026, 11, 13, 1, 30, tzinfo=UTC)
    assert task.visit is not None and task.visit.external_id == "HIS-V-0001"


def test_attempt_turn_answer_escalation_round_trip(
    world: World, session: Session, other_session: Session
) -> None:
    start = datetime(2026, 11, 13, 9, 30, 5, 123456, tzinfo=SHANGHAI)
    attempt = models.CallAttempt(
        task_id=world.task.id,
        number=1,
        started_at=start,
        answered_at=start + timedelta(seconds=7),
        ended_at=start + timedelta(minutes=3),
        outcome="completed",
        hangup_cause="16 normal clearing",
        channel_id="1732520000.42",
        recording_path="/var/spool/followup/2026/11/13/42.wav",
        asterisk_host="pbx1",
        language="zh",
        flow_id="discharge_cardiology",
        flow_version="3",
    )
    session.add(attempt)
    session.flush()
    turn = models.Turn(
        attempt_id=attempt.id,
        seq=1,
        speaker="patient",
        text="胸口不疼了，就是有点累",
        confidence=0.87,
        start_ms=12_340,
        end_ms=15_020,
        source="speech",
        question_id="chest_pain",
        intent=None,
    )
    session.add(turn)
    session.flush()
    session.add(
        models.Answer(
            attempt_id=attempt.id,
            question_id="chest_pain",
            value=False,
            value_text="false",
            raw_text="胸口不疼了",
            confidence=0.87,
            turn_id=turn.id,
        )
    )
    session.add(
        models.Escalation(
            attempt_id=attempt.id,
            patient_id=world.patient.id,
            kind="complaint",
            department="心内科",
            text="护士态度不好",
            question_id="nursing",
            category="服务态度",
        )
    )
    session.commit()

    got = fresh(other_session, models.CallAttempt, attempt.id)
    assert got.started_at == start and got.started_at.tzinfo == UTC
    assert got.started_at.astimezone(SHANGHAI).hour == 9  # same instant, shown in UTC
    assert (got.outcome, got.hangup_cause, got.channel_id) == (
        "completed",
        "16 normal clearing",
        "1732520000.42",
    )
    [t] = got.turns
    assert (t.text, t.speaker, t.confidence, t.start_ms, t.end_ms) == (
        "胸口不疼了，就是有点累",
        "patient",
        0.87,
        12_340,
        15_020,
    )
    [a] = got.answers
    assert a.value is False and a.turn is not None and a.turn.id == t.id
    escalation = other_session.scalars(select(models.Escalation)).one()
    assert (escalation.text, escalation.category, escalation.status) == ("护士态度不好", "服务态度", "open")
    assert escalation.resolved_at is None


def test_user_do_not_call_and_audit_round_trip(
    world: World, session: Session, other_session: Session
) -> None:
    session.add(models.DoNotCall(phone="+8613900139000", reason="患者要求不再来电", source="agent"))
    session.add(
        models.AuditLog(
            user_id=world.user.id,
            action="export",
            object_type="campaign",
            object_id=str(world.campaign.id),
            detail={"rows": 3400, "格式": "csv", "filters": {"department": "心内科"}},
        )
    )
    session.commit()
    user = fresh(other_session, models.User, world.user.id)
    assert (user.username, user.role, user.active, user.sip_endpoint) == (
        "zhang.agent",
        "agent",
        True,
        "PJSIP/agent101",
    )
    entry = other_session.scalars(select(models.DoNotCall)).one()
    assert (entry.phone, entry.reason, entry.source) == ("+8613900139000", "患者要求不再来电", "agent")
    log = other_session.scalars(select(models.AuditLog)).one()
    assert log.detail == {"rows": 3400, "格式": "csv", "filters": {"department": "心内科"}}
    assert log.user is not None and log.user.username == "zhang.agent"


def test_timestamps_are_utc_aware_on_read(world: World, session: Session, other_session: Session) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    task = fresh(other_session, models.CallTask, world.task.id)
    for value in (task.created_at, task.updated_at, task.due_at):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert task.created_at >= before
    # Rows inserted by plain SQL get their created_at from the database's own clock, also read back as UTC.
    session.execute(
        text("INSERT INTO do_not_call (phone, reason, source) VALUES ('+8613700137000', '', 'import')")
    )
    session.commit()
    entry = other_session.scalars(select(models.DoNotCall)).one()
    assert entry.created_at.tzinfo is not None and entry.created_at.utcoffset() == timedelta(0)
    assert abs(entry.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_updated_at_moves_on_update(world: World, session: Session) -> None:
    created = world.task.created_at
    world.task.status = "cancelled"
    session.commit()
    assert world.task.updated_at > created
    assert world.task.created_at == created


def test_naive_datetimes_are_refused(world: World, session: Session) -> None:
    world.task.due_at = datetime(2026, 11, 13, 9, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
    session.rollback()


def test_phone_numbers_must_be_e164(world: World) -> None:
    with pytest.raises(ValueError, match="E.164"):
        models.Patient(name="李四", phone="13800138000")
    with pytest.raises(ValueError, match="E.164"):
        models.DoNotCall(phone="+86 138 0013 8000")


@pytest.mark.parametrize(
    ("entity", "field", "bad"),
    [
        (models.CallTask, "status", "sleeping"),
        (models.Patient, "language", "fr"),
        (models.CallTask, "last_outcome", "exploded"),
    ],
)
def test_check_constraints_refuse_unknown_values(
    world: World, session: Session, entity: type, field: str, bad: str
) -> None:
    row = world.task if entity is models.CallTask else world.patient
    setattr(row, field, bad)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_unique_keys(world: World, session: Session) -> None:
    session.add(models.Patient(name="重名", phone="+8613800138001", external_id="HIS-P-0001"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add(models.User(username="zhang.agent", password_hash="x", role="quality"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_dedupe_key_is_unique_within_a_campaign(
    world: World, make_task: Callable[..., models.CallTask]
) -> None:
    make_task(dedupe_key="visit:HIS-V-0001:day3")
    make_task(dedupe_key=None)
    make_task(dedupe_key=None)  # NULL keys are not deduplicated
    with pytest.raises(IntegrityError):
        make_task(dedupe_key="visit:HIS-V-0001:day3")


def test_foreign_keys_are_enforced(session: Session) -> None:
    # On SQLite this only holds because make_engine turns PRAGMA foreign_keys on.
    session.add(models.Visit(patient_id=999_999, kind="outpatient", visit_date=date(2026, 1, 1)))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def _count(engine: Engine, entity: type) -> int:
    with db.session_factory(engine)() as s:
        return s.scalar(select(func.count()).select_from(entity)) or 0


def _call_with_everything(session: Session, world: World) -> models.CallAttempt:
    attempt = models.CallAttempt(task_id=world.task.id, number=1)
    session.add(attempt)
    session.flush()
    turn = models.Turn(attempt_id=attempt.id, seq=1, speaker="patient", text="有意见", source="speech")
    session.add(turn)
    session.flush()
    session.add(models.Answer(attempt_id=attempt.id, question_id="q1", value=3, turn_id=turn.id))
    session.add(
        models.Escalation(
            attempt_id=attempt.id, patient_id=world.patient.id, kind="complaint", assignee_id=world.user.id
        )
    )
    session.commit()
    return attempt


def test_deleting_a_patient_deletes_everything_about_them(
    world: World, session: Session, engine: Engine
) -> None:
    _call_with_everything(session, world)
    # Delete with plain SQL: the database's ON DELETE rules must do the work, not the ORM.
    session.execute(text("DELETE FROM patients WHERE id = :id"), {"id": world.patient.id})
    session.commit()
    for entity in (
        models.Visit,
        models.CallTask,
        models.CallAttempt,
        models.Turn,
        models.Answer,
        models.Escalation,
    ):
        assert _count(engine, entity) == 0, entity.__name__
    assert _count(engine, models.Campaign) == 1
    assert _count(engine, models.User) == 1


def test_deleting_an_attempt_keeps_its_escalation(
    world: World, session: Session, other_session: Session
) -> None:
    attempt = _call_with_everything(session, world)
    session.execute(text("DELETE FROM call_attempts WHERE id = :id"), {"id": attempt.id})
    session.commit()
    escalation = other_session.scalars(select(models.Escalation)).one()
    assert escalation.attempt_id is None and escalation.patient_id == world.patient.id
    assert other_session.scalar(select(func.count()).select_from(models.Answer)) == 0


def test_set_null_references(world: World, session: Session, other_session: Session) -> None:
    attempt = _call_with_everything(session, world)
    session.execute(text("DELETE FROM turns WHERE attempt_id = :id"), {"id": attempt.id})
    session.execute(text("DELETE FROM visits WHERE id = :id"), {"id": world.visit.id})
    session.execute(text("DELETE FROM users WHERE id = :id"), {"id": world.user.id})
    session.commit()
    answer = other_session.scalars(select(models.Answer)).one()
    assert answer.turn_id is None and answer.value == 3
    task = other_session.get_one(models.CallTask, world.task.id)
    assert task.visit_id is None
    escalation = other_session.scalars(select(models.Escalation)).one()
    assert escalation.assignee_id is None
    assert other_session.get_one(models.Campaign, world.campaign.id).created_by_id is None


def test_orm_delete_of_a_campaign_cascades_to_tasks_and_attempts(
    world: World, session: Session, engine: Engine
) -> None:
    _call_with_everything(session, world)
    session.delete(world.campaign)
    session.commit()
    assert _count(engine, models.CallTask) == 0
    assert _count(engine, models.CallAttempt) == 0
    assert _count(engine, models.Escalation) == 1  # the complaint outlives the campaign
    assert _count(engine, models.Patient) == 1


def test_due_tasks_are_found_and_ordered_by_instant(
    world: World, session: Session, make_task: MakeTask
) -> None:
    """The claim query compares instants, whatever zone the times were written in (SQLite stores text)."""
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    session.delete(world.task)
    session.commit()
    at_0930_shanghai = make_task(due_at=datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI))  # 01:30Z
    at_0100_utc = make_task(due_at=datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    later = make_task(due_at=datetime(2026, 11, 25, 10, 30, tzinfo=SHANGHAI))  # 02:30Z: not yet due
    make_task(due_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC), status="done")
    due = select(models.CallTask.id).where(models.CallTask.status == "pending", models.CallTask.due_at <= now)
    assert session.scalars(due.order_by(models.CallTask.due_at)).all() == [
        at_0100_utc.id,
        at_0930_shanghai.id,
    ]
    assert later.id not in session.scalars(due).all()
