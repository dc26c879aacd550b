"""Real calls through Asterisk to simulated patients who speak fixture replies at 8 kHz: the whole path
(originate, chan_websocket/AudioSocket media, VAD, Whisper, dialog, prompt cache, recording, database).

All scenarios run concurrently once per session (conftest ``calls``); each test checks its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import Result, read_wav, turns_of, window_rms
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import db, store
from models.calls import Answer, CallAttempt, Turn
from models.campaigns import CallTask
from models.escalations import Escalation
from models.patients import Patient

BP = {"systolic": 135, "diastolic": 85}
ANSWERED = ["zh_full", "en_full", "complaint_zh", "complaint_en", "no_input", "barge_in", "dtmf", "greeting",
            "transfer_agent",
            "audiosocket", "events_drop", "transfer_failed", "hangup", "opt_out", "callback"]


def ok(calls: dict[str, Result], name: str) -> Result:
    r = calls[name]
    assert not r.error, f"{name}: {r.error}"
    if r.report is not None:
        assert not [e for e in r.report.errors if not e.startswith("asr:")], (name, r.report.errors)
    return r


def rows(r: Result) -> dict[str, Any]:
    """The attempt, its turns, answers and escalations as stored."""
    engine = db.make_engine(r.db_url)
    try:
        with Session(engine) as s:
            attempt = s.get(CallAttempt, r.attempt_id)
            assert attempt is not None
            task = s.get(CallTask, attempt.task_id)
            return {
                "attempt": attempt,
                "task": task,
                "turns": list(s.scalars(select(Turn).where(Turn.attempt_id == r.attempt_id).order_by(Turn.seq))),
                "answers": {a.question_id: a for a in s.scalars(select(Answer).where(Answer.attempt_id == r.attempt_id))},
                "escalations": list(s.scalars(select(Escalation).where(Escalation.attempt_id == r.attempt_id))),
            }
    finally:
        engine.dispose()


def check_stored(r: Result) -> dict[str, Any]:
    """What the report says is what the database holds: outcome, turns in order, answers linked to the
    patient turn they came from."""
    rep = r.report
    assert rep is not None
    got = rows(r)
    assert got["attempt"].outcome == rep.outcome
    assert got["attempt"].recording_path == rep.recording
    assert [(t.speaker, t.text, t.start_ms, t.end_ms) for t in got["turns"]] == [
        (t.speaker, t.text, t.start_ms, t.end_ms) for t in rep.turns]
    by_id = {t.id: t for t in got["turns"]}
    for qid, answer in got["answers"].items():
        assert answer.value == rep.answers[qid], qid
        turn = by_id.get(answer.turn_id)
        assert turn is not None and turn.speaker == "patient" and turn.question_id == qid, qid
    assert set(got["answers"]) == set(rep.answers)
    return got


@pytest.mark.calls("zh_full", "en_full")
@pytest.mark.parametrize("name", ["zh_full", "en_full"])
def test_full_flow_completed_with_structured_answers(calls: dict[str, Result], name: str) -> None:
    """Mandarin on SQLite, English on PostgreSQL: identity, a score and a blood pressure, spoken."""
    r = ok(calls, name)
    rep = r.report
    assert rep.outcome == "completed" and rep.answered and rep.ended_by == "us"
    assert rep.answers == {"satisfaction": 5, "bp": BP}
    got = check_stored(r)
    assert got["answers"]["bp"].value_text == "135/85" and got["answers"]["bp"].source == "speech"
    assert got["task"].status == "done" and got["task"].last_outcome == "completed"
    assert [t.speaker for t in rep.turns] == ["bot", "patient"] * 3 + ["bot"]
    # one voice-to-voice measurement per reply that the bot answered
    assert len(rep.latencies) == 3 and all(s.total_ms > 0 and s.asr_ms > 0 for s in rep.latencies)
    assert len(rep.asr) == 3 and all(dur > 0 and dec > 0 for dur, dec in rep.asr)


@pytest.mark.calls("complaint_zh", "complaint_en")
@pytest.mark.parametrize(("name", "score"), [("complaint_zh", 1), ("complaint_en", 5)])
def test_complaint_is_escalated(calls: dict[str, Result], name: str, score: int) -> None:
    """"我要投诉，护士态度太差了" both complains and scores 1; "I want to make a complaint" is
    acknowledged and the question asked again. Either way an escalation row is written at once."""
    r = ok(calls, name)
    assert r.report.outcome == "completed"
    assert r.report.answers == {"satisfaction": score}
    got = check_stored(r)
    [esc] = got["escalations"]
    assert esc.kind == "complaint" and esc.department == "护理部" and esc.question_id == "satisfaction"
    assert esc.patient_id == r.patient_id and esc.status == "open"
    assert ("投诉" in esc.text) if name.endswith("zh") else ("complain" in esc.text.lower())


@pytest.mark.calls("no_input")
def test_no_input_reprompts(calls: dict[str, Result]) -> None:
    """Silence after a question: after the listen timeout the bot says it heard nothing and asks again."""
    r = ok(calls, "no_input")
    rep = r.report
    assert rep.outcome == "completed" and rep.answers == {"satisfaction": 5, "bp": BP}
    bots = turns_of(rep, "bot")
    asked = [t for t in bots if t.question_id == "satisfaction"]
    assert len(asked) == 2 and "msg.no_input" in (asked[1].prompt_key or "")
    # nothing was said between the first asking and the reprompt
    i = rep.turns.index(asked[0])
    assert rep.turns[i + 1] is asked[1]
    assert asked[1].start_ms - asked[0].end_ms >= 5500  # the 6 s listen timeout (minus scheduling slack)
    check_stored(r)


@pytest.mark.calls("barge_in")
def test_barge_in_cuts_the_prompt_and_the_reply_counts(calls: dict[str, Result]) -> None:
    """The patient talks 0.8 s into the satisfaction question: the prompt stops (fewer bytes sent than
    the prompt holds) and "非常满意" is the answer."""
    r = ok(calls, "barge_in")
    rep = r.report
    assert rep.outcome == "completed" and rep.answers == {"satisfaction": 5, "bp": BP}
    [asked] = [t for t in turns_of(rep, "bot") if t.question_id == "satisfaction"]
    assert asked.interrupted and rep.barge_ins == 1
    assert asked.prompt_bytes > 0 and asked.sent_bytes < asked.prompt_bytes
    played_ms = asked.end_ms - asked.start_ms
    assert played_ms < asked.prompt_bytes / 32  # 32 bytes per ms of slin16
    reply = rep.turns[rep.turns.index(asked) + 1]
    assert reply.speaker == "patient" and reply.start_ms < asked.end_ms  # it started during the prompt
    others = [t for t in turns_of(rep, "bot") if t is not asked]
    assert not any(t.interrupted for t in others)
    check_stored(r)


@pytest.mark.calls("dtmf")
def test_dtmf_answers(calls: dict[str, Result]) -> None:
    """Keys answer closed questions: 1 confirms the identity, 5 is the score; the blood pressure is spoken."""
    r = ok(calls, "dtmf")
    rep = r.report
    assert rep.outcome == "completed" and rep.answers == {"satisfaction": 5, "bp": BP}
    keys = [t for t in turns_of(rep, "patient") if t.source == "dtmf"]
    assert [t.text for t in keys] == ["1", "5"]
    got = check_stored(r)
    assert got["answers"]["satisfaction"].source == "dtmf" and got["answers"]["satisfaction"].confidence == 1.0
    assert got["answers"]["bp"].source == "speech"


@pytest.mark.calls("transfer_failed")
def test_transfer_without_agents_becomes_a_callback(calls: dict[str, Result]) -> None:
    """"转人工" with no agent console (issue #5): TransferFailed at once, a request_human escalation,
    outcome callback_requested — the transfer message and the apology are one bot turn."""
    r = ok(calls, "transfer_failed")
    rep = r.report
    assert rep.outcome == "callback_requested"
    got = check_stored(r)
    assert [e.kind for e in got["escalations"]] == ["request_human"]
    last = rep.turns[-1]
    assert last.speaker == "bot" and "正在为您转接" in last.text and "回电" in last.text


@pytest.mark.calls("transfer_agent")
def test_transfer_to_a_configured_agent(calls: dict[str, Result]) -> None:
    """With an agent endpoint configured (here an echo line standing in for a nurse's phone) the request
    for a person is a live transfer: the agent is bridged in, the bot leaves, outcome transferred."""
    r = ok(calls, "transfer_agent")
    rep = r.report
    assert rep.outcome == "transferred" and rep.ended_by == "patient"
    last = rep.turns[-1]
    assert last.speaker == "bot" and "正在为您转接" in last.text and "回电" not in last.text
    got = check_stored(r)
    assert got["escalations"] == [] and got["attempt"].outcome == "transferred"


@pytest.mark.calls("opt_out")
def test_opt_out_goes_on_the_do_not_call_list(calls: dict[str, Result]) -> None:
    """"以后别给我打电话了": outcome opt_out and the patient's number on the do-not-call list at once."""
    r = ok(calls, "opt_out")
    assert r.report.outcome == "opt_out" and r.report.do_not_call
    check_stored(r)
    engine = db.make_engine(r.db_url)
    try:
        with Session(engine) as s:
            phone = s.get(Patient, r.patient_id).phone
            assert store.is_do_not_call(s, phone)
    finally:
        engine.dispose()


@pytest.mark.calls("callback")
def test_call_back_later(calls: dict[str, Result]) -> None:
    """"I'm driving, call me back later": outcome callback_requested (no time named: the campaign's next
    slot, so no callback time on the task)."""
    r = ok(calls, "callback")
    assert r.report.outcome == "callback_requested" and r.report.callback_at is None
    got = check_stored(r)
    assert got["task"].last_outcome == "callback_requested" and got["task"].callback_at is None


@pytest.mark.calls("busy", "no_answer")
@pytest.mark.parametrize(("name", "outcome"), [("busy", "busy"), ("no_answer", "no_answer")])
def test_unreached_outcomes(calls: dict[str, Result], name: str, outcome: str) -> None:
    r = ok(calls, name)
    rep = r.report
    assert rep.outcome == outcome and not rep.answered
    assert rep.turns == [] and rep.recording is None
    got = rows(r)
    assert got["attempt"].outcome == outcome and got["attempt"].answered_at is None
    assert got["task"].status == "failed" and got["task"].last_outcome == outcome


@pytest.mark.calls("hangup")
def test_patient_hangs_up_mid_call(calls: dict[str, Result]) -> None:
    """The patient hangs up after the second question: outcome partial (questions left), ended by them."""
    r = ok(calls, "hangup")
    rep = r.report
    assert rep.outcome == "partial" and rep.ended_by == "patient"
    assert rep.answers == {}
    got = check_stored(r)
    assert got["attempt"].ended_at is not None and got["attempt"].hangup_cause == "16"


@pytest.mark.calls(*ANSWERED)
@pytest.mark.parametrize("name", ANSWERED)
def test_recording_has_both_parties(calls: dict[str, Result], name: str) -> None:
    """Every answered call leaves a bridge recording whose turn offsets line up with what was said:
    bot audio inside the bot turns, patient speech inside the patient turns."""
    r = ok(calls, name)
    rep = r.report
    path = Path(rep.recording)
    assert path.is_file() and path.name == f"{rep.recording_name}.wav"
    x, rate = read_wav(path)
    spoken = [t for t in rep.turns if t.source != "dtmf" and t.start_ms is not None and t.text]
    last_end = max(t.end_ms for t in spoken)
    assert len(x) / rate * 1000 >= last_end - 500
    for t in spoken:
        level = window_rms(x, rate, t.start_ms, t.end_ms)
        assert level > 300, f"{t.speaker} turn {t.text!r} at {t.start_ms}-{t.end_ms} ms: rms {level:.0f}"
    assert turns_of(rep, "bot") and turns_of(rep, "patient")


@pytest.mark.calls("events_drop")
def test_events_websocket_dropped_mid_call(calls: dict[str, Result]) -> None:
    """The ARI events websocket is killed (3 s outage) after the first answer; media keeps flowing on its
    own socket, the client reconnects, and the call completes with the right answers."""
    r = ok(calls, "events_drop")
    rep = r.report
    assert "reconnects_before" in r.notes, "the outage was never triggered"
    assert rep.events_reconnects >= 1 and r.notes["connected_at_end"]
    assert rep.outcome == "completed" and rep.answers == {"satisfaction": 5, "bp": BP}
    check_stored(r)


@pytest.mark.calls("events_drop_hangup")
def test_hangup_during_events_outage_is_noticed(calls: dict[str, Result]) -> None:
    """The patient hangs up while the events websocket is down (40 s outage): the session notices by
    polling the channel and ends the call before the websocket is back."""
    r = ok(calls, "events_drop_hangup")
    rep = r.report
    assert "dropped_at" in r.notes
    assert r.notes["connected_at_end"] is False  # finished while still disconnected
    assert rep.outcome == "partial" and rep.ended_by == "patient"
    check_stored(r)


@pytest.mark.calls("voicemail_zh", "voicemail_en")
@pytest.mark.parametrize("name", ["voicemail_zh", "voicemail_en"])
def test_voicemail_detected(calls: dict[str, Result], name: str) -> None:
    """An answering machine's greeting (a long monologue, or its wording) ends the call as voicemail."""
    r = ok(calls, name)
    rep = r.report
    assert rep.answered and rep.voicemail and rep.outcome == "voicemail"
    assert rep.answers == {} and len(turns_of(rep, "patient")) <= 1
    assert rows(r)["attempt"].outcome == "voicemail"


@pytest.mark.calls("greeting")
def test_human_greeting_is_not_voicemail(calls: dict[str, Result]) -> None:
    """A person who says "喂，你好，哪位？" over the first prompt is not a machine: the bot starts its
    first prompt again and the call goes on normally."""
    r = ok(calls, "greeting")
    rep = r.report
    assert not rep.voicemail and rep.greetings == 1
    assert rep.outcome == "completed" and rep.answers == {"satisfaction": 5, "bp": BP}
    first, second = turns_of(rep, "bot")[:2]
    assert first.text == second.text and first.interrupted and not second.interrupted


@pytest.mark.calls("audiosocket")
def test_audiosocket_transport(calls: dict[str, Result]) -> None:
    """The same call over AudioSocket instead of chan_websocket."""
    r = ok(calls, "audiosocket")
    assert r.report.outcome == "completed" and r.report.answers == {"satisfaction": 5, "bp": BP}
    check_stored(r)
