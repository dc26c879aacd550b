"""Live transfer end to end: a simulated patient asks for a person (fixture zh17 "转人工"), is put on hold,
an agent takes the call in the console (FastAPI TestClient, logged in), the agent's phone — a real SIP
phone, Debian's ``baresip``, registered as PJSIP ``agent2`` and auto-answering with a 1 kHz tone as its
voice — rings and answers, and ARI shows patient and agent in one bridge; the recording carries the
agent's tone. A second call that nobody takes becomes a callback (the escalation stays open).

Real Asterisk (the project's, never restarted here), real Whisper, SQLite. The two calls run at once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e_helpers import APP, FLOWS, Env, _prompts, read_wav, say
from sqlalchemy import select

import models
from console.app import create_app
from console.security import hash_password
from dialer import handoff
from dialer.ari import AriClient, AriError
from dialer.local_asterisk import LocalAsterisk
from dialer.persist import AttemptLog, create_adhoc_attempt
from dialer.session import CallReport, CallSession, SessionOptions
from dialer.simpatient import SimulatedPatients
from dialog.nlu.understand import local_now
from flows.loader import find_flow
from followup.config import Settings
from followup.simulate import demo_context
from models import db
from models.console import EscalationNote
from models.users import AuditLog

AGENT = "agent2"  # agent1 is left to people trying the console by hand
PASSWORD = "agent-pass-1"
TONE_HZ = 1000


# ------------------------------------------------------------------------------------ the agent phone

def _tone(path: Path, seconds: float = 120.0, rate: int = 16000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (8000 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)  # baresip's aufile source wants 16 kHz
        w.writeframes(pcm.tobytes())


@pytest.fixture(scope="module")
def agent_phone(asterisk: LocalAsterisk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """baresip registered as PJSIP agent2 with auto-answer; its microphone is a 1 kHz tone. Yields the
    endpoint the dialer rings."""
    if shutil.which("baresip") is None:
        pytest.fail("baresip is not installed (apt-get install baresip; deploy/bootstrap.sh does it)", pytrace=False)
    home = tmp_path_factory.mktemp("baresip")
    _tone(home / "tone.wav")
    sip = "127.0.0.1:5060"
    password = os.environ.get("FOLLOWUP_SIP_AGENT_PASSWORD", "followup")
    (home / "accounts").write_text(f"<sip:{AGENT}@{sip};transport=udp>;auth_pass={password};answermode=auto;"
                                   "regint=60\n", encoding="utf-8")
    # Loopback only (the notes: `net_interface lo` fails, an explicit 127.0.0.1 works). What the agent
    # hears goes to an unused aubridge device: this phone has no speaker.
    (home / "config").write_text(f"""poll_method epoll
sip_listen 127.0.0.1:{5090 + os.getpid() % 500}
audio_player aubridge,agent-ear
audio_alert aubridge,agent-ring
audio_source aufile,{home / 'tone.wav'}
module_path /usr/lib/baresip/modules
module g711.so
module g722.so
module aufile.so
module aubridge.so
module_app account.so
module_app menu.so
rtp_ports 30000-30999
""", encoding="utf-8")
    log_path = home / "baresip.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(["baresip", "-f", str(home), "-v"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while b"200 OK" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"baresip did not register as {AGENT}:\n{log_path.read_text(errors='replace')[-2000:]}",
                            pytrace=False)
            time.sleep(0.1)
        yield f"PJSIP/{AGENT}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


# ----------------------------------------------------------------------------------------- the calls

@dataclass
class Call:
    """One call of this module and what the test saw while it ran."""

    name: str
    report: CallReport | None = None
    attempt_id: int = 0
    session: CallSession | None = None
    escalation_id: int | None = None
    take_status: int | None = None
    take_again_status: int | None = None
    take_again_text: str = ""
    box_after_take: str = ""
    bridge_channels: list[str] = field(default_factory=list)
    connected_ms: int | None = None  # offset into the recording when ARI showed the agent bridged
    error: str = ""
    seen: list[str] = field(default_factory=list)


@dataclass
class World:
    calls: dict[str, Call]
    sessions: Any
    agent_id: int
    console: Any


def _console_client(app: Any) -> tuple[Any, str]:
    """A TestClient logged in as the agent through the login form; its CSRF token."""
    import re

    from fastapi.testclient import TestClient

    client = TestClient(app, follow_redirects=False, headers={"accept": "text/html"})
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"username": "nurse", "password": PASSWORD, "csrf_token": token}
                       ).status_code == 303
    case = client.get("/escalations")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', case.text)
    assert csrf, case.text[:500]
    return client, csrf.group(1)


async def _take_when_waiting(call: Call, world: World, client: Any, csrf: str, ari: AriClient) -> None:
    """The agent's side: wait for the case to show the patient on hold, take it in the console, then
    watch ARI until the agent's channel is in the call's bridge."""
    assert call.session is not None
    deadline = time.monotonic() + 90
    case_id = None
    while case_id is None and time.monotonic() < deadline:
        def find() -> int | None:
            with world.sessions() as s:
                for e in s.scalars(select(models.Escalation).where(models.Escalation.attempt_id == call.attempt_id)):
                    state = handoff.transfer_state(s, e)
                    call.seen.append(f"{e.id}:{state}")
                    if state == handoff.WAITING:
                        return e.id
            return None
        case_id = await asyncio.to_thread(find)
        if case_id is None:
            await asyncio.sleep(0.2)
    if case_id is None:
        call.error = "the case never showed a waiting call"
        return
    call.escalation_id = case_id
    page = await asyncio.to_thread(client.get, f"/escalations/{case_id}")
    assert 'id="take-call"' in page.text
    taken = await asyncio.to_thread(client.post, f"/escalations/{case_id}/take-call", data={"csrf_token": csrf})
    call.take_status = taken.status_code
    again = await asyncio.to_thread(client.post, f"/escalations/{case_id}/take-call", data={"csrf_token": csrf})
    call.take_again_status, call.take_again_text = again.status_code, again.text
    call.box_after_take = (await asyncio.to_thread(client.get, f"/escalations/{case_id}/transfer")).text
    if not await watch_bridge(call, ari, deadline=deadline, interval=0.1):
        call.error = "the agent never joined the bridge"


async def watch_bridge(call: Call, ari: AriClient, *, deadline: float | None = None,
                       interval: float = 0.2) -> bool:
    """Poll ARI until the agent's channel is in the call's bridge (noting the bridge's channels and the
    offset into the recording then); False when ``deadline`` (monotonic) passes first."""
    session = call.session
    assert session is not None
    while deadline is None or time.monotonic() < deadline:
        try:
            bridge = await ari.get_bridge(session.bridge_id)
        except AriError:
            bridge = {}
        channels = list(bridge.get("channels") or [])
        if session.agent_chan in channels:
            call.bridge_channels = channels
            if session._rec_t0 is not None:
                call.connected_ms = round((time.monotonic() - session._rec_t0) * 1000)
            return True
        await asyncio.sleep(interval)
    return False


async def _run(env: Env, world: World, name: str, script: list[Any], options: SessionOptions, index: int,
               agent: bool) -> Call:
    call = Call(name)
    flow = find_flow(str(FLOWS / "e2e_feedback.yaml"))
    now = local_now().replace(second=0, microsecond=0)
    context = demo_context("zh", now)
    prompts = await _prompts(env, flow, "zh", context)
    patients = SimulatedPatients(env.asterisk.dirs["scripts"], env.asterisk.dirs["patient_audio"])
    ident = f"e2exfer{name}{os.getpid() % 10000}{index}"
    patient = await asyncio.to_thread(patients.prepare, script, ident)
    side: asyncio.Task[None] | None = None
    try:
        async with AriClient(env.asterisk.ari_url, env.asterisk.user, env.asterisk.password,
                             f"{APP}-xfer-{name}-{os.getpid()}") as ari:
            adhoc = await asyncio.to_thread(create_adhoc_attempt, world.sessions, context, flow_id=flow.id, lang="zh",
                                            phone=f"+99900000077{index:02d}", channel_id=f"call-{ident}")
            call.attempt_id = adhoc.attempt_id
            log = AttemptLog(world.sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
            session = CallSession(ari, endpoint=patient.endpoint, flow=flow, lang="zh", context=context,
                                  recognizer=env.recognizer, prompts=prompts, now=now, log=log, options=options,
                                  pool=env.pool, call_id=f"call-{ident}",
                                  recordings_dir=env.asterisk.dirs["recordings"])
            call.session = session
            if agent:
                client, csrf = await asyncio.to_thread(_console_client, world.console)
                side = asyncio.create_task(_take_when_waiting(call, world, client, csrf, ari))
            call.report = await session.run()
            if side is not None:
                await asyncio.wait_for(side, 30)
    except Exception as exc:  # noqa: BLE001 - reported by the tests
        call.error = call.error or f"{type(exc).__name__}: {exc}"
    finally:
        if side is not None and not side.done():
            side.cancel()
        patients.cleanup()
    return call


@pytest.fixture(scope="module")
def world(asterisk: LocalAsterisk, agent_phone: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from asr.models import whisper_model_dir
    from asr.pool import ProcessDecodePool
    from asr.whisper import WhisperRecognizer
    from tts.factory import build_synthesizer

    tmp = tmp_path_factory.mktemp("xfer")
    url = f"sqlite:///{tmp / 'xfer.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with sessions() as s:
        nurse = models.User(username="nurse", display_name="李护士", password_hash=hash_password(PASSWORD),
                            role="agent", sip_endpoint=agent_phone)
        s.add(nurse)
        s.commit()
        agent_id = nurse.id
    console = create_app(Settings(data_dir=str(tmp), console_secret_key="xfer-test"), engine=engine,
                         feed_interval=0.2)
    recognizer = WhisperRecognizer(whisper_model_dir(None, os.environ.get("FOLLOWUP_CACHE_DIR")), workers=1)
    pool = ProcessDecodePool(1, 16, spec=recognizer.worker_spec())
    pool.start()
    env = Env(asterisk=asterisk, recognizer=recognizer, pool=pool, synthesizer=build_synthesizer("espeak", "espeak"),
              prompt_dir=tmp / "prompts", tmp=tmp, db_urls={"sqlite": url})
    w = World({}, sessions, agent_id, console)
    base = {"originate_timeout_s": 15, "max_call_s": 150}
    try:
        async def both() -> list[Call]:
            return await asyncio.gather(
                # On hold ≈ until taken; then 20 s with the agent; then the patient hangs up.
                _run(env, w, "taken", [say("zh01"), say("zh17"), {"wait": 26}, {"hangup": True, "now": True}],
                     SessionOptions(**base, agent_wait_s=40, agent_timeout_s=15), 0, agent=True),
                # Nobody takes it within 4 s: the patient is promised a call back.
                _run(env, w, "nobody", [say("zh01"), say("zh17"), {"wait": 40}],
                     SessionOptions(**base, agent_wait_s=4, agent_timeout_s=15), 1, agent=False),
            )

        for call in asyncio.run(both()):
            w.calls[call.name] = call
        yield w
    finally:
        pool.shutdown(wait=False)
        engine.dispose()


def _tone_share(samples: np.ndarray, rate: int, start_ms: int, end_ms: int) -> float:
    """Share of the window's energy within ±50 Hz of the agent's tone."""
    seg = samples[int(start_ms * rate / 1000):int(end_ms * rate / 1000)]
    if seg.size < rate // 10:
        return 0.0
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
    freqs = np.fft.rfftfreq(seg.size, 1 / rate)
    band = (freqs > TONE_HZ - 50) & (freqs < TONE_HZ + 50)
    return float(spectrum[band].sum() / max(spectrum.sum(), 1e-9))


def _notes(world: World, case_id: int) -> list[str]:
    with world.sessions() as s:
        return [n.text for n in s.scalars(select(EscalationNote).where(EscalationNote.escalation_id == case_id)
                                          .order_by(EscalationNote.id))]


# ------------------------------------------------------------------------------------------- tests

def test_agent_takes_the_call_and_is_bridged(world: World) -> None:
    call = world.calls["taken"]
    assert not call.error, (call.error, call.seen[-5:], len(call.seen))
    rep = call.report
    assert rep is not None and not rep.errors, rep.errors if rep else None
    assert rep.outcome == "transferred" and rep.dialog_outcome == "transferred"
    # The console: taken once (303), a second take is refused, the box says the phone is ringing.
    assert call.take_status == 303
    assert call.take_again_status == 409 and "already taken" in call.take_again_text
    assert "正在呼叫您的电话" in call.box_after_take or "已接通" in call.box_after_take
    # ARI: patient and agent in the call's bridge, the bot's media channel gone from it.
    session = call.session
    assert session is not None
    assert session.call_id in call.bridge_channels and session.agent_chan in call.bridge_channels
    assert session.media_id not in call.bridge_channels
    # The database: one request_human case, assigned to the agent, its timeline, the audit entry.
    with world.sessions() as s:
        attempt = s.get(models.CallAttempt, call.attempt_id)
        assert attempt is not None and attempt.outcome == "transferred"
        cases = s.scalars(select(models.Escalation).where(models.Escalation.attempt_id == call.attempt_id)).all()
        assert [(e.kind, e.status, e.assignee_id) for e in cases] == [("request_human", "assigned", world.agent_id)]
        assert cases[0].text  # what the patient said when asking for a person
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "take_call")).all()
        assert [a.object_id for a in audit] == [str(cases[0].id)]
    tags = [n.split("]")[0] + "]" for n in _notes(world, cases[0].id) if n.startswith("[transfer:")]
    assert tags == ["[transfer:waiting]", "[transfer:ringing]", "[transfer:connected]"]
    with world.sessions() as s:  # the timeline, for the record (not a limit)
        rows = s.execute(select(EscalationNote.created_at, EscalationNote.text).where(
            EscalationNote.escalation_id == cases[0].id).order_by(EscalationNote.id)).all()
    t0 = rows[0].created_at
    print("transfer timeline (ms after waiting):",
          [(text.split("]")[0].strip("["), round((at - t0).total_seconds() * 1000)) for at, text in rows])


def test_the_recording_has_the_agents_voice(world: World) -> None:
    """After the bridge the agent's 1 kHz tone dominates the recording; before it (the bot's greeting)
    it does not."""
    call = world.calls["taken"]
    assert call.report is not None and call.report.recording and call.connected_ms is not None
    samples, rate = read_wav(call.report.recording)
    duration_ms = samples.size * 1000 // rate
    assert duration_ms > call.connected_ms + 5000, (duration_ms, call.connected_ms)
    after = _tone_share(samples, rate, call.connected_ms + 1000, call.connected_ms + 5000)
    before = _tone_share(samples, rate, 0, 3000)
    assert after > 0.5, after
    assert before < 0.2, before


def test_nobody_takes_it_so_a_callback_is_due(world: World) -> None:
    call = world.calls["nobody"]
    assert not call.error, call.error
    rep = call.report
    assert rep is not None and not rep.errors, rep.errors
    assert rep.outcome == "callback_requested"
    bot = [t.text for t in rep.turns if t.speaker == "bot"]
    assert any("回电" in text for text in bot), bot  # the flow's no_agent message was said
    with world.sessions() as s:
        attempt = s.get(models.CallAttempt, call.attempt_id)
        assert attempt is not None and attempt.outcome == "callback_requested"
        cases = s.scalars(select(models.Escalation).where(models.Escalation.attempt_id == call.attempt_id)).all()
        # One case (the dialog's own request_human escalation was folded into the waiting one), open.
        assert [(e.kind, e.status, e.assignee_id) for e in cases] == [("request_human", "open", None)]
        assert handoff.transfer_state(s, cases[0]) == handoff.MISSED
    tags = [n.split("]")[0] + "]" for n in _notes(world, cases[0].id) if n.startswith("[transfer:")]
    assert tags == ["[transfer:waiting]", "[transfer:missed]"]
    # Too late to take it now.
    client, csrf = _console_client(world.console)
    late = client.post(f"/escalations/{cases[0].id}/take-call", data={"csrf_token": csrf})
    assert late.status_code == 409

