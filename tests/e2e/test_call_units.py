"""Fast checks of the call path's pure parts (no Asterisk): the first-utterance classifier, the patient
script conversion, the ordered attempt log and the prompt audio resolution."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from dialer.simpatient import PatientScriptError, SimulatedPatients, script_lines
from dialer.voicemail import (
    GREETING,
    SPEECH,
    VOICEMAIL,
    classify_first_utterance,
    has_voicemail_phrase,
    is_greeting,
)

CLASSIFY = [
    # text, speech seconds, verdict
    ("您好，您拨打的电话暂时无人接听，请在提示音后留言", 3.5, VOICEMAIL),
    ("您好，您播打地电话暂时无人接听。", 2.8, VOICEMAIL),  # Whisper's mishearing keeps 无人接听
    ("请在嘀声之后留下您的姓名和电话", 2.5, VOICEMAIL),
    ("The person you are calling is not available.", 2.9, VOICEMAIL),
    ("Hi, you've reached the Smiths, please leave a message after the tone", 3.0, VOICEMAIL),
    ("so sorry I can't come to the phone", 2.0, VOICEMAIL),
    ("随便说点什么很长很长的一段话", 4.2, VOICEMAIL),  # a long monologue right after answering
    ("喂？", 0.4, GREETING),
    ("喂，你好，哪位？", 1.5, GREETING),
    ("Hello?", 0.5, GREETING),
    ("hi, who's calling?", 1.1, GREETING),
    ("是的", 0.6, SPEECH),
    ("嗯", 0.3, SPEECH),  # 嗯 is a yes, not a hello
    ("yes, speaking", 1.0, SPEECH),
    ("对，是我，你哪位", 1.4, SPEECH),
    ("不是，打错了", 1.2, SPEECH),
    ("", 0.5, SPEECH),
]


@pytest.mark.parametrize(("text", "seconds", "verdict"), CLASSIFY)
def test_first_utterance_classification(text: str, seconds: float, verdict: str) -> None:
    assert classify_first_utterance(text, seconds) == verdict


def test_classifier_parts() -> None:
    assert has_voicemail_phrase("PLEASE LEAVE YOUR MESSAGE AFTER THE BEEP")
    assert not has_voicemail_phrase("我在开车，晚点再打")
    assert is_greeting("喂喂，你好") and not is_greeting("喂，我是他女儿")
    assert classify_first_utterance("喂", 4.0, long_speech_s=4.0) == VOICEMAIL  # length alone decides


def _wav(path: Path, rate: int, seconds: float = 0.5, channels: int = 1) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    x = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(x, channels).tobytes())
    return path


def test_script_conversion(tmp_path: Path) -> None:
    scripts, audio = tmp_path / "scripts", tmp_path / "audio"
    scripts.mkdir()
    audio.mkdir()
    src16 = _wav(tmp_path / "a.wav", 16000)
    _wav(tmp_path / "b.wav", 44100, channels=2)
    sim = SimulatedPatients(scripts, audio)
    call = sim.prepare([{"say": str(src16)}, {"say": "b.wav", "barge_in_ms": 800}, {"silence": True},
                        {"dtmf": "12#"}, {"hangup": True}], "t1", base_dir=tmp_path)
    assert call.number == "sim-t1" and call.endpoint == "Local/sim-t1@patients" and call.kind == "conversation"
    assert call.lines == ("say t1-1", "say t1-2 barge=800", "silence", "dtmf 12#", "hangup")
    assert (scripts / "t1.txt").read_text() == "\n".join(call.lines) + "\n"
    for name in ("t1-1", "t1-2"):
        with wave.open(str(audio / f"{name}.wav")) as w:  # Asterisk's .wav is 8 kHz mono 16-bit
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert abs(w.getnframes() - 4000) <= 2
    sim.cleanup()
    assert not list(scripts.iterdir()) and not list(audio.iterdir())


@pytest.mark.parametrize(("script", "lines", "kind"), [
    ({"busy": True}, ["busy"], "busy"),
    ({"no_answer": True}, ["noanswer"], "no_answer"),
    ([{"ring": 2}, {"wait": 0.5}, {"say": "x", "now": True}, {"dtmf": "5", "barge_in_ms": 300},
      {"hangup": True, "barge_in_ms": 1500}],
     ["ring 2", "wait 0.5", "say X now", "dtmf 5 barge=300", "hangup barge=1500"], "conversation"),
])
def test_script_lines(script: object, lines: list[str], kind: str) -> None:
    got, got_kind, _ = script_lines(script, lambda path, i: ("X", Path(str(path))))
    assert (got, got_kind) == (lines, kind)


@pytest.mark.parametrize("script", [
    "say hello", {"nothing": True}, [{"say": ""}], [{"dtmf": "12x"}], [{"shout": "x"}],
    [{"say": "a.wav", "barge_in_ms": "soon"}], [{"silence": True}, {"ring": 1}], [42],
])
def test_bad_scripts_are_refused(tmp_path: Path, script: object) -> None:
    _wav(tmp_path / "a.wav", 8000)
    sim = SimulatedPatients(tmp_path, tmp_path)
    with pytest.raises(PatientScriptError):
        sim.prepare(json.loads(json.dumps(script)), "bad1", base_dir=tmp_path)


def test_missing_audio_file_is_refused(tmp_path: Path) -> None:
    sim = SimulatedPatients(tmp_path, tmp_path)
    with pytest.raises(PatientScriptError, match="no such file"):
        sim.prepare([{"say": "nope.wav"}], "bad2", base_dir=tmp_path)


def test_attempt_log_writes_in_order_and_links_answers(tmp_path: Path) -> None:
    """Turn, answer (linked to that turn), escalation and finish land in order, committed, off the loop."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dialer.persist import AttemptLog, create_adhoc_attempt
    from dialog.actions import CaptureAnswer, Escalate
    from models import db
    from models.calls import Answer, CallAttempt, Turn
    from models.escalations import Escalation

    url = f"sqlite:///{tmp_path / 'x.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    ctx = {"patient": {"name": "张伟", "salutation": "张先生", "gender": "male"},
           "visit": {"department": "心内科", "visit_date": "2026-11-01", "discharge_date": "2026-11-05"}}
    adhoc = create_adhoc_attempt(sessions, ctx, flow_id="f", lang="zh", phone="+99900000042")

    async def main() -> None:
        log = AttemptLog(sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
        log.answered()
        log.turn("bot", "满意吗？", start_ms=0, end_ms=900)
        turn = log.turn("patient", "非常满意", start_ms=1500, end_ms=2300, confidence=0.9, question_id="q")
        log.answer(CaptureAnswer("q", 5, "非常满意", 0.9), turn=turn)
        log.escalation(Escalate("praise", "心内科", "表扬", question_id="q"))
        log.finish("completed", task_status="done", recording_path="/r.wav")
        await log.close()
        assert log.errors == [] and turn.result() is not None

    asyncio.run(main())
    with Session(engine) as s:
        attempt = s.get(CallAttempt, adhoc.attempt_id)
        assert attempt.outcome == "completed" and attempt.recording_path == "/r.wav" and attempt.answered_at
        turns = list(s.scalars(select(Turn).order_by(Turn.seq)))
        assert [(t.seq, t.speaker) for t in turns] == [(1, "bot"), (2, "patient")]
        [answer] = s.scalars(select(Answer)).all()
        assert answer.value == 5 and answer.turn_id == turns[1].id
        [esc] = s.scalars(select(Escalation)).all()
        assert esc.patient_id == adhoc.patient_id and esc.attempt_id == adhoc.attempt_id
        assert attempt.task.status == "done" and attempt.task.visit.department == "心内科"
    engine.dispose()


def test_attempt_log_survives_a_failed_write(tmp_path: Path) -> None:
    """A write the database refuses is logged and counted; later writes still happen."""
    from sqlalchemy import select

    from dialer.persist import AttemptLog, create_adhoc_attempt
    from models import db
    from models.calls import Turn

    url = f"sqlite:///{tmp_path / 'y.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    adhoc = create_adhoc_attempt(sessions, {}, flow_id="f", lang="en", phone="+99900000043")

    async def main() -> AttemptLog:
        log = AttemptLog(sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
        bad = log.turn("robot", "?")  # not a speaker the schema allows
        good = log.turn("bot", "hello")
        await log.close()
        assert await bad is None and await good is not None
        return log

    log = asyncio.run(main())
    assert len(log.errors) == 1 and "speaker" in log.errors[0]
    with sessions() as s:
        assert [t.text for t in s.scalars(select(Turn).where(Turn.attempt_id == adhoc.attempt_id))] == ["hello"]
    engine.dispose()


def test_prompt_audio_resolves_and_caches(tmp_path: Path) -> None:
    """Plays become slin16 PCM through the prompt cache; the second request is a memory hit."""
    from dialer.prompts import PromptAudio, silence
    from dialog.actions import Play
    from tts.audio import Audio
    from tts.cache import PromptCache

    class Tone:
        name = "tone"
        calls = 0

        def voice_id(self, lang: str) -> str:
            return "t"

        def synthesize(self, text: str, lang: str) -> Audio:
            Tone.calls += 1
            return Audio(np.full(1600 * len(text), 1000, "<i2").tobytes(), 16000)

    pa = PromptAudio(PromptCache(tmp_path / "c"), Tone(), "zh")

    async def main() -> tuple[bytes, bytes]:
        return await pa.pcm(Play("你好")), await pa.pcm(Play("你好"))

    first, second = asyncio.run(main())
    assert first == second and len(first) == 2 * 3200 and Tone.calls == 1
    assert silence(20) == bytes(640)


# ------------------------------------------------------------------ speculative decoding (no Asterisk)


class _Counting:
    """A recogniser double: records the audio it was given, answers with its length."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def transcribe(self, audio, lang, expectation=None):  # type: ignore[no-untyped-def]
        from asr.recognizer import Transcript

        self.calls.append(len(audio))
        return Transcript(text=f"heard {len(audio)}", confidence=0.9, duration_s=len(audio) / 16000)


def _session(recognizer: _Counting, speculate_ms: int = 220):  # type: ignore[no-untyped-def]
    from asr.pool import DecodePool
    from dialer.session import CallSession, SessionOptions
    from flows.loader import find_flow

    flow = find_flow(str(Path(__file__).parent / "flows" / "e2e_short.yaml"))
    pool = DecodePool(max_workers=2)
    session = CallSession(object(), endpoint="Local/x@patients", flow=flow, lang="zh", context={},  # type: ignore[arg-type]
                          recognizer=recognizer, prompts=None, pool=pool,  # type: ignore[arg-type]
                          options=SessionOptions(speculate_ms=speculate_ms, voicemail_detection=False))
    return session, pool


def _frames(*parts: np.ndarray) -> list[bytes]:
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).round().astype("<i2").tobytes()
    return [pcm[i:i + 640] for i in range(0, len(pcm) - 639, 640)]


def _reply() -> np.ndarray:
    from asr.audio import load_audio, phone_band

    return phone_band(load_audio(Path(__file__).parents[1] / "fixtures" / "speech" / "zh07.wav"))


async def _feed_and_recognise(session, frames: list[bytes]):  # type: ignore[no-untyped-def]
    from dialog.actions import Listen
    from dialog.nlu.expectation import Expectation

    listen = Listen(Expectation(type="scale"), question_id="satisfaction")
    session._first_listen = False
    session._expect(listen)
    t = 100.0
    for frame in frames:
        t += 0.02
        session._feed(frame, t)
        await asyncio.sleep(0)  # let a speculative decode run, as the event loop would
    items = []
    while not session._inbox.empty():
        items.append(session._inbox.get_nowait())
    end = next(i for i in items if i.kind == "speech_end")
    return await session._recognise(end, listen, False), end


def test_a_reply_decoded_during_the_trailing_silence_is_used_at_the_endpoint() -> None:
    rec = _Counting()
    session, pool = _session(rec)
    try:
        utterance, end = asyncio.run(_feed_and_recognise(session, _frames(_reply(), np.zeros(16000, np.float32))))
    finally:
        pool.shutdown()
    rep = session.report
    assert (rep.speculative_started, rep.speculative_used, rep.speculative_wasted) == (1, 1, 0)
    assert rec.calls == [len(end.speech.audio)], "decoded once, on exactly the utterance's audio"
    assert utterance.text == f"heard {len(end.speech.audio)}"


def test_speech_that_resumes_after_a_pause_drops_the_speculation() -> None:
    rec = _Counting()
    session, pool = _session(rec)
    reply = _reply()
    # zh07's own 0.8 s tail cut to 0.1 s, then 0.3 s of quiet: a pause, not an endpoint; then more speech.
    first = reply[: len(reply) - int(0.7 * 16000)]
    frames = _frames(first, np.zeros(int(0.3 * 16000), np.float32), reply[int(0.25 * 16000):],
                     np.zeros(16000, np.float32))
    try:
        utterance, end = asyncio.run(_feed_and_recognise(session, frames))
    finally:
        pool.shutdown()
    rep = session.report
    assert rep.speculative_started == 2 and rep.speculative_used == 1 and rep.speculative_wasted == 1
    assert rec.calls[-1] == len(end.speech.audio) and len(rec.calls) == 2
    assert rec.calls[0] < rec.calls[-1], "the first speculation covered only the first phrase"
    assert utterance.text == f"heard {len(end.speech.audio)}"


def test_without_speculation_the_reply_is_decoded_at_the_endpoint() -> None:
    rec = _Counting()
    session, pool = _session(rec, speculate_ms=0)
    try:
        utterance, end = asyncio.run(_feed_and_recognise(session, _frames(_reply(), np.zeros(16000, np.float32))))
    finally:
        pool.shutdown()
    assert session.report.speculative_started == 0
    assert rec.calls == [len(end.speech.audio)]
    assert utterance.text == f"heard {len(end.speech.audio)}"
