"""End-to-end call scenarios: real Asterisk, simulated patients speaking fixture replies at 8 kHz, real
Whisper base, real SQLite and PostgreSQL writes.

Every scenario is one call. The session fixture ``calls`` (conftest.py) runs the scenarios the selected
tests need **concurrently** (asyncio.gather) and hands each test its ``Result``; the tests then check the
report and the database. Scenario names are what ``@pytest.mark.calls(...)`` lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dialer.ari import AriClient
from dialer.local_asterisk import LocalAsterisk
from dialer.media import AudioSocketServer
from dialer.persist import AttemptLog, create_adhoc_attempt
from dialer.prompts import PromptAudio
from dialer.session import CallReport, CallSession, SessionOptions, TurnLog
from dialer.simpatient import SimulatedPatients
from dialog.nlu.understand import local_now
from flows.loader import find_flow
from followup.simulate import demo_context
from models import db

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FLOWS = HERE / "flows"
DATA = HERE / "data"
FIXTURES = REPO / "tests" / "fixtures" / "speech"
APP = "followup-e2e"


def fx(ident: str) -> str:
    """A speech fixture (16 kHz WAV; converted to 8 kHz for the patient) or a greeting from data/."""
    path = FIXTURES / f"{ident}.wav"
    return str(path if path.is_file() else DATA / f"{ident}.wav")


def say(ident: str, **extra: Any) -> dict[str, Any]:
    return {"say": fx(ident), **extra}


@dataclass
class Scenario:
    """One call: flow, language, the patient's JSON script, which database, session options."""

    flow: str
    lang: str
    script: Any
    db: str = "sqlite"
    options: dict[str, Any] = field(default_factory=dict)
    own_client: bool = False  # an AriClient of its own (tests that break the events websocket)
    during: Callable[[AriClient, CallSession, Result], Awaitable[None]] | None = None
    cli: bool = False  # run through `followup call --json` in a subprocess instead


@dataclass
class Result:
    """What a scenario produced: the report (or the CLI's JSON), where it was written, and notes."""

    name: str
    scenario: Scenario
    report: CallReport | None = None
    cli_json: dict[str, Any] | None = None
    cli_stderr: str = ""
    cli_returncode: int | None = None
    db_url: str = ""
    attempt_id: int | None = None
    patient_id: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    error: str = ""


async def _drop_events_after_first_answer(client: AriClient, session: CallSession, result: Result) -> None:
    """Kill the ARI events websocket (3 s outage) once the patient has answered the first question."""
    while not any(t.speaker == "patient" for t in session.report.turns):
        await asyncio.sleep(0.05)
    result.notes["reconnects_before"] = client.reconnects
    client._debug_drop_events(hold_s=3.0)
    result.notes["dropped_at_turns"] = len(session.report.turns)


async def _drop_events_before_hangup(client: AriClient, session: CallSession, result: Result) -> None:
    """A long outage (40 s) starting once the patient has answered the identity question; the patient
    then hangs up after the next prompt, during the outage."""
    while not any(t.speaker == "patient" for t in session.report.turns):
        await asyncio.sleep(0.05)
    client._debug_drop_events(hold_s=40.0)
    result.notes["dropped_at"] = time.monotonic()


SCENARIOS: dict[str, Scenario] = {
    "zh_full": Scenario("e2e_short", "zh", [say("zh01"), say("zh07"), say("zh13")]),
    "en_full": Scenario("e2e_short", "en", [say("en01"), say("en07"), say("en13")], db="postgresql"),
    "complaint_zh": Scenario("e2e_feedback", "zh", [say("zh01"), say("zh16")], db="postgresql"),
    "complaint_en": Scenario("e2e_feedback", "en", [say("en01"), say("en10"), say("en07")]),
    "no_input": Scenario("e2e_short", "zh", [say("zh01"), {"silence": True}, say("zh07"), say("zh13")]),
    "barge_in": Scenario("e2e_short", "zh", [say("zh01"), say("zh07", barge_in_ms=800), say("zh13")],
                         db="postgresql"),
    "dtmf": Scenario("e2e_short", "zh", [{"dtmf": "1"}, {"dtmf": "5"}, say("zh13")]),
    "transfer_failed": Scenario("e2e_feedback", "zh", [say("zh01"), say("zh17")]),
    "transfer_agent": Scenario("e2e_feedback", "zh", [say("zh01"), say("zh17"), {"wait": 25}, {"hangup": True, "now": True}],
                               options={"agent_endpoint": "Local/echo@patients"}),
    "opt_out": Scenario("e2e_short", "zh", [say("zh01"), say("zh20")], db="postgresql"),
    "callback": Scenario("e2e_short", "en", [say("en01"), say("en12")]),
    "busy": Scenario("e2e_short", "zh", {"busy": True}),
    "no_answer": Scenario("e2e_short", "zh", {"no_answer": True}, options={"originate_timeout_s": 3}),
    "hangup": Scenario("e2e_short", "zh", [say("zh01"), {"hangup": True}]),
    "voicemail_zh": Scenario("e2e_short", "zh", {"voicemail": fx("vm-zh1")}),
    "voicemail_en": Scenario("e2e_short", "en", {"voicemail": fx("vm-en2")}),
    "greeting": Scenario("e2e_short", "zh", [{"wait": 0.6}, say("hello-zh2", now=True), say("zh01"), say("zh07"),
                                             say("zh13")]),
    "audiosocket": Scenario("e2e_short", "en", [say("en01"), say("en07"), say("en13")],
                            options={"transport": "audiosocket"}),
    "events_drop": Scenario("e2e_short", "zh", [say("zh01"), say("zh07"), say("zh13")], own_client=True,
                            during=_drop_events_after_first_answer),
    "events_drop_hangup": Scenario("e2e_short", "zh", [say("zh01"), {"hangup": True}], own_client=True,
                                   during=_drop_events_before_hangup),
    "cli": Scenario("e2e_short", "zh", [say("zh01"), say("zh07"), say("zh13")], cli=True),
}


@dataclass
class Env:
    """Shared resources of the e2e session (built by conftest)."""

    asterisk: LocalAsterisk
    recognizer: Any
    pool: Any
    synthesizer: Any
    prompt_dir: Path
    tmp: Path
    db_urls: dict[str, str]
    prompts: dict[tuple[str, str], PromptAudio] = field(default_factory=dict)


def _phone(n: int) -> str:
    return f"+9990{n:010d}"


async def _prompts(env: Env, flow: Any, lang: str, context: dict[str, Any]) -> PromptAudio:
    from tts.cache import PromptCache

    key = (flow.id, lang)
    if key not in env.prompts:
        pa = PromptAudio(PromptCache(env.prompt_dir), env.synthesizer, lang, flow.path.parent)
        await pa.prerender(flow, context)
        env.prompts[key] = pa
    return env.prompts[key]


async def run_scenario(env: Env, name: str, client: AriClient, audiosocket: AudioSocketServer,
                       index: int) -> Result:
    sc = SCENARIOS[name]
    result = Result(name, sc)
    if sc.cli:
        return await _run_cli(env, name, result)
    flow = find_flow(str(FLOWS / f"{sc.flow}.yaml"))
    now = local_now().replace(second=0, microsecond=0)
    context = demo_context(sc.lang, now)
    prompts = await _prompts(env, flow, sc.lang, context)
    patients = SimulatedPatients(env.asterisk.dirs["scripts"], env.asterisk.dirs["patient_audio"])
    ident = f"e2e{name.replace('_', '')}{os.getpid() % 10000}{index}"
    patient = await asyncio.to_thread(patients.prepare, sc.script, ident)
    result.db_url = env.db_urls[sc.db]
    engine = db.make_engine(result.db_url)
    sessions = db.session_factory(engine)
    own: AriClient | None = None
    try:
        adhoc = await asyncio.to_thread(create_adhoc_attempt, sessions, context, flow_id=flow.id, lang=sc.lang,
                                        phone=_phone(index), channel_id=f"call-{ident}")
        result.attempt_id, result.patient_id = adhoc.attempt_id, adhoc.patient_id
        attempt_log = AttemptLog(sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
        if sc.own_client:
            own = AriClient(env.asterisk.ari_url, env.asterisk.user, env.asterisk.password, f"{APP}-{name}",
                            reconnect_initial=0.2, reconnect_max=1.0)
            await own.start()
        use = own or client
        options = SessionOptions(**{"originate_timeout_s": 15, "max_call_s": 170, **sc.options})
        session = CallSession(use, endpoint=patient.endpoint, flow=flow, lang=sc.lang, context=context,
                              recognizer=env.recognizer, prompts=prompts, now=now, log=attempt_log,
                              options=options, pool=env.pool, call_id=f"call-{ident}",
                              recordings_dir=env.asterisk.dirs["recordings"], audiosocket=audiosocket)
        side = asyncio.create_task(sc.during(use, session, result)) if sc.during else None
        result.report = await session.run()
        result.notes["connected_at_end"] = use.connected
        result.notes["reconnects"] = use.reconnects
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await side
    except Exception as exc:  # noqa: BLE001 - reported by the scenario's test
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if own is not None:
            await own.close()
        patients.cleanup()
        engine.dispose()
    return result


async def _run_cli(env: Env, name: str, result: Result) -> Result:
    """``followup call --json`` in a subprocess, on its own SQLite database and data directory."""
    sc = result.scenario
    work = env.tmp / f"cli-{name}"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "patient.json"
    script.write_text(json.dumps(sc.script), encoding="utf-8")
    db_path = work / "followup.db"
    result.db_url = f"sqlite:///{db_path}"
    envvars = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_") or k in (
        "FOLLOWUP_CACHE_DIR", "FOLLOWUP_ARI_PORT", "FOLLOWUP_ARI_USER", "FOLLOWUP_ARI_PASSWORD")}
    envvars.update({"FOLLOWUP_DATA_DIR": str(work), "FOLLOWUP_DATABASE_URL": result.db_url,
                    "FOLLOWUP_ASR_WORKERS": "1", "FOLLOWUP_LOG_LEVEL": "WARNING"})
    proc = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "followup"), "call", "--flow", str(FLOWS / f"{sc.flow}.yaml"),
        "--lang", sc.lang, "--patient-script", str(script), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=envvars, cwd=str(work))
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 200)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        result.error = "followup call did not finish within 200 s"
    result.cli_returncode = proc.returncode
    result.cli_stderr = err.decode("utf-8", "replace")[-3000:]
    try:
        result.cli_json = json.loads(out.decode("utf-8"))
    except ValueError:
        result.error = result.error or f"stdout is not JSON: {out[:500]!r}"
    return result


async def run_all(env: Env, names: list[str], timeout: float = 280.0) -> dict[str, Result]:
    """Run the scenarios concurrently on one shared ARI client (plus own clients where asked)."""
    async with AriClient(env.asterisk.ari_url, env.asterisk.user, env.asterisk.password, APP) as client, \
            AudioSocketServer("127.0.0.1", 0) as audiosocket:
        async with asyncio.timeout(timeout):
            # CLI first: its subprocess needs a few seconds to load its model.
            ordered = sorted(names, key=lambda n: not SCENARIOS[n].cli)
            results = await asyncio.gather(*(run_scenario(env, n, client, audiosocket, i)
                                             for i, n in enumerate(ordered)))
    return {r.name: r for r in results}


# ------------------------------------------------------------------------------------- checks

def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64), w.getframerate()


def window_rms(x: np.ndarray, rate: int, start_ms: int, end_ms: int) -> float:
    seg = x[int(start_ms * rate / 1000):int(end_ms * rate / 1000)]
    return float(np.sqrt(np.mean(seg * seg))) if seg.size else 0.0


def turns_of(report: CallReport, speaker: str) -> list[TurnLog]:
    return [t for t in report.turns if t.speaker == speaker]
