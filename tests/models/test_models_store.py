"""The call path's persistence API (models.store) on both backends."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import models
from dialog.actions import OUTCOMES, CaptureAnswer, Escalate
from models import store, vocab

if TYPE_CHECKING:
    from conftest import World

MakeTask = Callable[..., models.CallTask]


# --- attempts -------------------------------------------------------------------------------------------


def test_attempts_are_numbered_per_task(world: World, session: Session, make_task: MakeTask) -> None:
    first = store.create_attempt(session, world.task, flow_id="discharge_cardiology", language="zh")
    second = store.create_attempt(session, world.task)
    other = store.create_attempt(session, make_task())
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert world.task.attempts_made == 2 and world.task.status == "in_progress"
    assert first.started_at.tzinfo is not None and first.flow_id == "discharge_cardiology"


def test_a_stale_view_of_the_task_cannot_dial_again(
    world: World, session: Session, other_session: Session
) -> None:
    stale = other_session.get_one(models.CallTask, world.task.id)  # another dialer read attempts_made == 0
    store.create_attempt(session, world.task)
    with pytest.raises(store.AttemptConflict):
        store.create_attempt(other_session, stale)
    numbers = session.scalars(
        select(models.CallAttempt.number).where(models.CallAttempt.task_id == world.task.id)
    )
    assert list(numbers) == [1]


def test_only_the_lease_holder_may_dial(world: World, session: Session) -> None:
    world.task.status, world.task.lease_owner = "leased", "dialer-1"
    world.task.lease_expires_at = datetime.now(UTC) + timedelta(minutes=2)
    session.commit()
    with pytest.raises(store.AttemptConflict):
        store.create_attempt(session, world.task, lease_owner="dialer-2")
    assert store.create_attempt(session, world.task, lease_owner="dialer-1").number == 1


def test_an_attempt_number_is_never_recorded_twice(world: World, session: Session) -> None:
    store.create_attempt(session, world.task)
    # Even if the counter is wrongly reset (a bad manual fix, a restored backup), attempt 1 is not redone...
    session.execute(
        update(models.CallTask).where(models.CallTask.id == world.task.id).values(attempts_made=0)
    )
    session.commit()
    session.refresh(world.task)
    with pytest.raises(store.AttemptConflict, match="already recorded"):
        store.create_attempt(session, world.task)
    session.refresh(world.task)
    assert world.task.attempts_made == 0  # ...and the failed try changed nothing
    # ...and the constraint holds for any writer, not just create_attempt.
    session.add(models.CallAttempt(task_id=world.task.id, number=1))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_finish_attempt_updates_task_and_releases_lease(world: World, session: Session) -> None:
    world.task.status, world.task.lease_owner = "leased", "dialer-1"
    world.task.lease_expires_at = datetime.now(UTC) + timedelta(minutes=2)
    session.commit()
    attempt = store.create_attempt(session, world.task, lease_owner="dialer-1")
    store.mark_answered(session, attempt.id)
    assert attempt.outcome == "answered" and attempt.answered_at is not None
    later = datetime(2026, 11, 14, 2, 0, tzinfo=UTC)
    store.finish_attempt(
        session, attempt.id, "callback_requested", hangup_cause="16", task_status="pending", due_at=later,
        callback_at=later, recording_path="/rec/1.wav",
    )  # fmt: skip
    session.expire_all()
    task = session.get_one(models.CallTask, world.task.id)
    assert (task.status, task.last_outcome, task.lease_owner, task.lease_expires_at) == (
        "pending", "callback_requested", None, None,
    )  # fmt: skip
    assert task.due_at == later and task.callback_at == later
    finished = session.get_one(models.CallAttempt, attempt.id)
    assert finished.outcome == "callback_requested" and finished.ended_at is not None
    assert finished.ended_at >= finished.answered_at  # type: ignore[operator]
    assert finished.recording_path == "/rec/1.wav"


def test_finish_attempt_without_task_status_keeps_the_task_state(world: World, session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    store.finish_attempt(session, attempt.id, "busy")
    assert (world.task.status, world.task.last_outcome) == ("in_progress", "busy")
    with pytest.raises(ValueError, match="outcome"):
        store.finish_attempt(session, attempt.id, "exploded")


# --- turns and answers ----------------------------------------------------------------------------------


def test_turns_are_sequenced(world: World, session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    store.record_turn(session, attempt.id, "bot", "您好，这里是市第一医院随访中心。", prompt_key="greeting")
    store.record_turn(
        session, attempt.id, "patient", "嗯，你说。", confidence=0.93, start_ms=4100, end_ms=5200
    )
    store.record_turn(session, attempt.id, "patient", "1", source="dtmf", question_id="satisfaction")
    turns = session.scalars(
        select(models.Turn).where(models.Turn.attempt_id == attempt.id).order_by(models.Turn.seq)
    )
    assert [(t.seq, t.speaker, t.source, t.text) for t in turns] == [
        (1, "bot", "tts", "您好，这里是市第一医院随访中心。"),
        (2, "patient", "speech", "嗯，你说。"),
        (3, "patient", "dtmf", "1"),
    ]
    with pytest.raises(IntegrityError):
        store.record_turn(session, attempt.id, "bot", "重复", seq=2)
    with pytest.raises(ValueError, match="speaker"):
        store.record_turn(session, attempt.id, "robot", "?")


TYPED_VALUES: list[tuple[str, Any, Any, str]] = [
    # (question_id, value given, value read back, value_text)
    ("recovered", True, True, "true"),
    ("fever", False, False, "false"),
    ("pain_score", 3, 3, "3"),
    ("temperature", 37.5, 37.5, "37.5"),
    ("blood_pressure", {"systolic": 135, "diastolic": 85}, {"systolic": 135, "diastolic": 85}, "135/85"),
    ("symptoms", ["头晕", "乏力"], ["头晕", "乏力"], "头晕, 乏力"),
    ("next_visit", date(2026, 12, 1), "2026-12-01", "2026-12-01"),
    ("comment", "医生很耐心，谢谢", "医生很耐心，谢谢", "医生很耐心，谢谢"),
    ("weight", 65.0, 65.0, "65.0"),
    ("zero", 0, 0, "0"),
    ("big", 12345678901234567890, 12345678901234567890, "12345678901234567890"),
    ("nested", {"t": 38.0, "ok": [1, 2.5]}, {"t": 38.0, "ok": [1, 2.5]}, '{"ok":[1,2.5],"t":38.0}'),
]


def test_typed_answer_values_round_trip(world: World, session: Session, other_session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    for question_id, value, _, _ in TYPED_VALUES:
        store.record_answer(session, attempt.id, question_id, value, raw_text="原话", confidence=0.8)
    got = store.answers_of(other_session, attempt.id)
    assert list(got) == [q for q, _, _, _ in TYPED_VALUES]  # capture order
    for question_id, _, expected, text in TYPED_VALUES:
        assert got[question_id] == expected and type(got[question_id]) is type(expected), question_id
        row = other_session.scalars(
            select(models.Answer).where(models.Answer.question_id == question_id)
        ).one()
        assert row.value_text == text and row.raw_text == "原话"


def test_answer_fields_can_be_queried(world: World, session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    store.record_answer(session, attempt.id, "bp_morning", {"systolic": 128, "diastolic": 80})
    store.record_answer(session, attempt.id, "bp_evening", {"systolic": 165, "diastolic": 95})
    high = select(models.Answer.question_id).where(models.Answer.value["systolic"].as_integer() >= 140)
    assert session.scalars(high).all() == ["bp_evening"]


def test_unanswered_questions_store_sql_null(world: World, session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    store.record_answer(session, attempt.id, "pain_score", None, raw_text="不知道", status="unsure")
    store.record_answer(session, attempt.id, "fever", None, status="skipped")
    assert store.answers_of(session, attempt.id) == {"pain_score": None, "fever": None}
    nulls = session.scalar(
        select(func.count()).select_from(models.Answer).where(models.Answer.value.is_(None))
    )
    assert nulls == 2  # SQL NULL, not the JSON literal null


def test_answering_again_updates_the_answer(world: World, session: Session, other_session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    turn = store.record_turn(session, attempt.id, "patient", "八分吧")
    first = store.record_answer(session, attempt.id, "satisfaction", 8, raw_text="八分吧", turn_id=turn.id)
    correction = store.record_turn(session, attempt.id, "patient", "不对，九分", source="speech")
    second = store.record_answer(
        session, attempt.id, "satisfaction", 9, raw_text="不对，九分", confidence=0.95, source="speech",
        turn_id=correction.id,
    )  # fmt: skip
    assert second.id == first.id
    rows = other_session.scalars(select(models.Answer).where(models.Answer.attempt_id == attempt.id)).all()
    assert len(rows) == 1
    [row] = rows
    assert (row.value, row.raw_text, row.confidence, row.turn_id) == (9, "不对，九分", 0.95, correction.id)
    assert row.updated_at > row.created_at
    assert row.created_at == first.created_at
    # The returned object reflects the stored row, not a stale copy from the session.
    assert second.value == 9 and second.raw_text == "不对，九分"


def test_answers_are_committed_as_they_are_captured(
    world: World, session: Session, other_session: Session
) -> None:
    attempt = store.create_attempt(session, world.task)
    store.record_answer(session, attempt.id, "recovered", True)
    # The call is still live (no outcome, no end): another connection already sees the answer.
    assert store.answers_of(other_session, attempt.id) == {"recovered": True}
    live = other_session.get_one(models.CallAttempt, attempt.id)
    assert live.outcome is None and live.ended_at is None
    # A crash now (the session dies without any further commit) loses nothing already captured.
    session.rollback()
    session.close()
    other_session.expire_all()
    assert store.answers_of(other_session, attempt.id) == {"recovered": True}


def test_answers_of_is_per_attempt(world: World, session: Session) -> None:
    first = store.create_attempt(session, world.task)
    store.record_answer(session, first.id, "recovered", False)
    second = store.create_attempt(session, world.task)
    store.record_answer(session, second.id, "recovered", True)
    assert store.answers_of(session, first.id) == {"recovered": False}
    assert store.answers_of(session, second.id) == {"recovered": True}
    assert store.answers_of(session, 987_654) == {}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"a"}, object()])
def test_values_json_cannot_hold_are_refused(world: World, session: Session, bad: Any) -> None:
    attempt = store.create_attempt(session, world.task)
    with pytest.raises((TypeError, ValueError)):
        store.record_answer(session, attempt.id, "q", bad)
    assert store.answers_of(session, attempt.id) == {}


def test_capture_answer_action_maps_onto_record_answer(world: World, session: Session) -> None:
    attempt = store.create_attempt(session, world.task)
    capture = CaptureAnswer(
        question_id="recovered",
        value=True,
        raw_text="他好多了",
        confidence=0.9,
        source="dtmf",
        respondent="family",
    )
    store.record_answer(session, attempt.id, **dataclasses.asdict(capture))
    answer = session.scalars(select(models.Answer)).one()
    assert (answer.value, answer.source, answer.status, answer.respondent) == (
        True,
        "dtmf",
        "answered",
        "family",
    )
    # Every CaptureAnswer field is a record_answer parameter: a field added to the action must be stored.
    params = inspect.signature(store.record_answer).parameters
    assert {f.name for f in dataclasses.fields(CaptureAnswer)} <= set(params)
    with pytest.raises(ValueError, match="respondent"):
        store.record_answer(session, attempt.id, "q2", 1, respondent="neighbour")


# --- escalations and do-not-call ------------------------------------------------------------------------


def test_escalate_action_maps_onto_record_escalation(
    world: World, session: Session, other_session: Session
) -> None:
    attempt = store.create_attempt(session, world.task)
    action = Escalate(kind="complaint", department="心内科", text="病房太吵睡不着", question_id="ward_env")
    made = store.record_escalation(
        session, patient_id=world.patient.id, attempt_id=attempt.id, **dataclasses.asdict(action)
    )
    got = other_session.get_one(models.Escalation, made.id)
    assert (got.kind, got.department, got.text, got.status) == (
        "complaint",
        "心内科",
        "病房太吵睡不着",
        "open",
    )
    with pytest.raises(ValueError, match="kind"):
        store.record_escalation(session, patient_id=world.patient.id, kind="gossip", department=None)


def test_do_not_call(session: Session, other_session: Session) -> None:
    assert not store.is_do_not_call(session, "+8613800138000")
    entry = store.add_do_not_call(session, "+8613800138000", reason="患者要求", source="patient")
    assert store.is_do_not_call(other_session, "+8613800138000")
    assert not store.is_do_not_call(other_session, "+8613800138001")
    again = store.add_do_not_call(session, "+8613800138000", reason="second time", source="agent")
    assert again.id == entry.id and again.reason == "患者要求"
    assert session.scalar(select(func.count()).select_from(models.DoNotCall)) == 1
    for bad in ("13800138000", "+86 138 0013 8000", ""):
        with pytest.raises(ValueError, match="E.164"):
            store.is_do_not_call(session, bad)
        with pytest.raises(ValueError, match="E.164"):
            store.add_do_not_call(session, bad)


# --- agreement with the dialog vocabulary ---------------------------------------------------------------


def test_every_dialog_outcome_is_storable() -> None:
    assert set(OUTCOMES) <= set(vocab.ATTEMPT_OUTCOMES)


def test_escalation_kinds_match_the_dialog() -> None:
    documented = inspect.getdoc(Escalate) or ""
    assert all(kind in documented for kind in vocab.ESCALATION_KINDS)


def test_render_value() -> None:
    assert store.render_value(None) is None
    assert store.render_value({"b": 1, "a": "中"}) == '{"a":"中","b":1}'
    assert store.render_value([True, 2]) == "true, 2"
