"""The engine against the real Asterisk (simulated patients), real Whisper base and real databases.

- ``test_mixed_campaign``: one engine in this process on an accelerated clock that starts two minutes
  before the calling window opens: answers, busy → retry, no answer → retry → failed, voicemail →
  retry, a human greeting, a call-back request for "明天下午三点" (the clock is then jumped to the next
  day and the task is dialled at 15:00), an opt-out (its other campaign's task is then skipped), a number
  already on the do-not-call list. Checked in the database *and* on the Asterisk side (its log of every
  dial into the simulated-patient dialplan, ``engine_helpers.asterisk_dials``).
- ``test_sigkill_mid_campaign``: ``followup run`` as a subprocess, SIGKILLed while calls are live,
  restarted: no task lost, no (task, attempt) rung twice by Asterisk, every answer captured before the
  kill still stored.
- ``test_sigterm_drains``: SIGTERM while calls are live: they finish, nothing new is dialled, exit 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine_helpers import REPO, SeedPatient, asterisk_dials, say, seed_campaign, task_rows, wav
from sqlalchemy import select

from dialer import local_asterisk
from models import db, store
from models.calls import Answer, CallAttempt
from models.campaigns import CallTask

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 12, 7, tzinfo=TZ)
CALLBACK = str(Path(__file__).resolve().parent / "data" / "callback-3pm-zh.wav")


def phone(n: int) -> str:
    return f"+99920{os.getpid() % 1000:03d}{n:04d}"


def messages_log() -> Path:
    return Path(local_asterisk.describe()["messages_log"])


def dial_times(log: Path, tag: str, offset: int) -> dict[tuple[int, int], list[datetime]]:
    """Real (UTC) times at which Asterisk logged each dial of ``tag`` (its log is in UTC)."""
    line = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\].*Executing \[sim-" + tag +
                      r"t(\d+)a(\d+)x[0-9a-f]+@patients:1\]")
    out: dict[tuple[int, int], list[datetime]] = {}
    with open(log, "rb") as fh:
        fh.seek(offset)
        for raw in fh:
            m = line.search(raw.decode("utf-8", "replace"))
            if m:
                at = datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC)
                out.setdefault((int(m.group(2)), int(m.group(3))), []).append(at)
    return out


# ------------------------------------------------------------------------------ mixed campaign


def test_mixed_campaign(asterisk: local_asterisk.LocalAsterisk, tmp_path: Path) -> None:
    asyncio.run(_mixed_campaign(asterisk, tmp_path))


async def _mixed_campaign(asterisk: local_asterisk.LocalAsterisk, tmp_path: Path) -> None:
    from asr.models import whisper_model_dir
    from asr.pool import make_decode_pool
    from asr.whisper import WhisperRecognizer
    from dialer.ari import AriClient
    from dialer.clock import ScaledClock
    from dialer.endpoints import SimulatedEndpoints, load_scripts
    from dialer.engine import Engine, EngineOptions
    from dialer.resources import CallResources
    from dialer.session import SessionOptions
    from dialer.simpatient import SimulatedPatients
    from tts.cache import PromptCache
    from tts.factory import build_synthesizer

    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    patients = {
        "answers": SeedPatient(phone(1), [say("zh01"), say("zh07")]),
        "busy": SeedPatient(phone(2), {"attempts": [{"busy": True}, [say("zh01"), say("zh08")]]}),
        "no_answer": SeedPatient(phone(3), {"no_answer": True}),
        "voicemail": SeedPatient(phone(4), {"attempts": [{"voicemail": wav("vm-zh1")}, [say("zh01"), say("zh07")]]}),
        "callback": SeedPatient(phone(5), {"attempts": [[{"say": CALLBACK}], [say("zh01"), say("zh07")]]}),
        "opt_out": SeedPatient(phone(6), [say("zh01"), say("zh20")]),
        "listed": SeedPatient(phone(7), [say("zh01"), say("zh07")]),
        "greeting": SeedPatient(phone(8), [{"wait": 0.6}, say("hello-zh2", now=True), say("zh01"), say("zh07")]),
    }
    policy = {"busy": {"max": 2, "intervals_min": [2]}, "no_answer": {"max": 1, "intervals_min": [3]},
              "voicemail": {"max": 1, "intervals_min": [5]}}
    seeded = seed_campaign(url, tmp_path, list(patients.values()), flow="engine_short", windows="default",
                           retry_policy=policy)
    task = {k: seeded.tasks[p.phone] for k, p in patients.items()}
    # The opted-out patient also has a task in a second campaign, due 40 clock minutes after opening.
    other = seed_campaign(url, tmp_path, [], flow="engine_short", windows="default", name="second")
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s:
        store.add_do_not_call(s, patients["listed"].phone, reason="asked last year")
        t6 = s.get_one(CallTask, task["opt_out"])
        second = CallTask(campaign_id=other.campaign_id, patient_id=t6.patient_id,
                          due_at=MONDAY.replace(hour=9, minute=40).astimezone(UTC))
        s.add(second)
        s.commit()
        second_id = second.id

    log = messages_log()
    offset = log.stat().st_size
    tag = "z" + secrets.token_hex(3)
    speed = 30.0
    clock = ScaledClock(MONDAY.replace(hour=8, minute=58), speed)
    opened_real = datetime.now(UTC) + timedelta(seconds=120 / speed)
    scripts, base = load_scripts(seeded.simulate)
    sim = SimulatedEndpoints(scripts, SimulatedPatients(asterisk.dirs["scripts"], asterisk.dirs["patient_audio"]),
                             base, tag=tag)
    recognizer = WhisperRecognizer(whisper_model_dir(None, os.environ.get("FOLLOWUP_CACHE_DIR")), workers=2)
    resources = CallResources(
        recognizer, await asyncio.to_thread(make_decode_pool, recognizer, max_queue=64),
        build_synthesizer("espeak", "espeak"), PromptCache(tmp_path / "prompts"), asterisk.dirs["recordings"])
    lines: list[str] = []
    options = EngineOptions(owner=f"live-{tag}", max_calls=10, campaign_ids=(seeded.campaign_id, other.campaign_id),
                            tick_real_s=0.5, lease_real_s=60, dial_tag=tag, asterisk_host=asterisk.ari_url,
                            json=True, session=SessionOptions(originate_timeout_s=4, max_call_s=150,
                                                              finish_task=False),
                            hospital={"name": "市第一人民医院", "phone": "010-65123456"})
    try:
        async with AriClient(asterisk.ari_url, asterisk.user, asterisk.password, f"followup-enginetest-{tag}") as ari:
            engine = Engine(sessions, ari, resources, sim, clock, options, emit=lines.append)
            runner = asyncio.create_task(engine.run())

            def settled_except_callback() -> bool:
                rows = task_rows(url, seeded.campaign_id)
                return all(r["status"] in ("done", "failed", "cancelled") for t, r in rows.items()
                           if t != task["callback"]) and rows[task["callback"]]["status"] == "pending" \
                    and rows[task["callback"]]["attempts_made"] == 1
            deadline = time.monotonic() + 240
            while not settled_except_callback():
                assert time.monotonic() < deadline, task_rows(url, seeded.campaign_id)
                assert not runner.done(), runner
                await asyncio.sleep(1)
            rows = task_rows(url, seeded.campaign_id)
            callback_due = rows[task["callback"]]["due_at"]
            tuesday_3pm = (MONDAY + timedelta(days=1)).replace(hour=15).astimezone(UTC)
            assert callback_due == tuesday_3pm, rows[task["callback"]]
            # Jump to two clock minutes before the call-back; it must be dialled at 15:00, not before.
            clock.jump_to(tuesday_3pm - timedelta(minutes=2))
            callback_real = datetime.now(UTC) + timedelta(seconds=120 / speed)
            while task_rows(url, seeded.campaign_id)[task["callback"]]["status"] == "pending":
                assert time.monotonic() < deadline + 120
                await asyncio.sleep(0.5)
            while task_rows(url, seeded.campaign_id)[task["callback"]]["status"] != "done":
                assert time.monotonic() < deadline + 180
                await asyncio.sleep(1)
            engine.request_drain()
            stats = await asyncio.wait_for(runner, 60)
    finally:
        sim.close()
        resources.close()

    rows = task_rows(url, seeded.campaign_id)
    outcomes = {k: [a["outcome"] for a in rows[t]["attempts"]] for k, t in task.items()}
    assert outcomes == {
        "answers": ["completed"],
        "busy": ["busy", "completed"],
        "no_answer": ["no_answer", "no_answer"],
        "voicemail": ["voicemail", "completed"],
        "callback": ["callback_requested", "completed"],
        "opt_out": ["opt_out"],
        "listed": [],
        "greeting": ["completed"],
    }, outcomes
    status = {k: rows[t]["status"] for k, t in task.items()}
    assert status == {"answers": "done", "busy": "done", "no_answer": "failed", "voicemail": "done",
                      "callback": "done", "opt_out": "done", "listed": "cancelled", "greeting": "done"}
    answers = {k: rows[t]["attempts"][-1]["answers"] if rows[t]["attempts"] else {} for k, t in task.items()}
    assert answers["answers"] == {"satisfaction": 5} and answers["busy"] == {"satisfaction": 4}
    assert answers["greeting"] == {"satisfaction": 5}
    with sessions() as s:  # the opt-out is on the list, and its other campaign's task was never dialled
        assert store.is_do_not_call(s, patients["opt_out"].phone)
        assert s.get_one(CallTask, second_id).status == "cancelled"
        assert s.scalars(select(CallAttempt).where(CallAttempt.task_id == second_id)).all() == []
    # retries per policy: busy after 2 min, voicemail after 5, no answer after 3 (clock minutes)
    for key, minutes in (("busy", 2), ("voicemail", 5), ("no_answer", 3)):
        first, again = rows[task[key]]["attempts"]
        assert again["started_at"] - first["started_at"] >= timedelta(minutes=minutes), key
    # nothing dialled outside the window (clock time on the attempts)
    for t, r in rows.items():
        for a in r["attempts"]:
            local = a["started_at"].astimezone(TZ)
            day_ok = local.date() == MONDAY.date() and (9, 0) <= (local.hour, local.minute) < (11, 30)
            cb_ok = t == task["callback"] and local.date() == (MONDAY + timedelta(days=1)).date() and \
                (15, 0) <= (local.hour, local.minute) < (17, 30)
            assert day_ok or cb_ok, (t, local)
    # The Asterisk side: one dial per (task, attempt) recorded in the database, none for the skipped tasks,
    # none before the window opened, the call-back not before 15:00.
    dials = asterisk_dials(log, tag, offset)
    expected = {(t, a["number"]) for t, r in rows.items() for a in r["attempts"]}
    assert set(dials) == expected and all(n == 1 for n in dials.values()), (dials, expected)
    assert all(t not in (task["listed"], second_id) for t, _ in dials)
    times = dial_times(log, tag, offset)
    assert min(min(v) for v in times.values()) >= opened_real - timedelta(seconds=0.5)
    assert times[(task["callback"], 2)][0] >= callback_real - timedelta(seconds=0.5)
    # progress output: JSON lines, masked numbers, no names
    events = [json.loads(x) for x in lines]
    calls = [e for e in events if e["event"] == "call"]
    assert len(calls) == sum(len(r["attempts"]) for r in rows.values())
    assert all(e["phone"].startswith("***") and len(e["phone"]) == 7 for e in calls)
    assert not any("张伟" in x or patients["answers"].phone in x for x in lines)
    assert {e["reason"] for e in events if e["event"] == "skip"} == {"do-not-call"}
    assert stats.calls == len(calls)


# --------------------------------------------------------------------------- subprocess engine


def _engine(url: str, simulate: Path, campaign: int, *extra: str, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_LOG_LEVEL": "INFO"}
    env.pop("FOLLOWUP_ARI_URL", None)
    cmd = [sys.executable, "-m", "followup", "run", "--campaign", str(campaign), "--simulate", str(simulate),
           "--json", "--tick", "0.5", "--summary-every", "5", "--no-jobs", *extra]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(out, "wb"), stderr=subprocess.STDOUT)


def _answers(url: str, campaign_id: int) -> set[tuple[int, str, str]]:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            rows = s.execute(select(Answer.attempt_id, Answer.question_id, Answer.value_text)
                             .join(CallAttempt, CallAttempt.id == Answer.attempt_id)
                             .join(CallTask, CallTask.id == CallAttempt.task_id)
                             .where(CallTask.campaign_id == campaign_id)).all()
            return {(int(a), q, v or "") for a, q, v in rows}
    finally:
        engine.dispose()


def _open_attempts(url: str, campaign_id: int) -> int:
    rows = task_rows(url, campaign_id)
    return sum(1 for r in rows.values() for a in r["attempts"] if a["outcome"] in (None, "answered"))


def test_sigkill_mid_campaign(asterisk: local_asterisk.LocalAsterisk, pg_url: str, tmp_path: Path) -> None:
    from dialer.run import dial_tag

    patients = [SeedPatient(phone(20 + i), [say("zh01"), say("zh07" if i % 2 else "zh08")]) for i in range(6)]
    seeded = seed_campaign(pg_url, tmp_path, patients, flow="engine_short", max_concurrent_calls=6)
    log = messages_log()
    offset = log.stat().st_size
    first = _engine(pg_url, seeded.simulate, seeded.campaign_id, "--lease", "6", out=tmp_path / "run1.log")
    try:
        deadline = time.monotonic() + 150
        # Kill once an answer is stored and calls are still live.
        while not (_answers(pg_url, seeded.campaign_id) and _open_attempts(pg_url, seeded.campaign_id) >= 2):
            assert first.poll() is None, (tmp_path / "run1.log").read_text()[-3000:]
            assert time.monotonic() < deadline, task_rows(pg_url, seeded.campaign_id)
            time.sleep(0.3)
        before = _answers(pg_url, seeded.campaign_id)
        live_at_kill = _open_attempts(pg_url, seeded.campaign_id)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert live_at_kill >= 2
    second = _engine(pg_url, seeded.simulate, seeded.campaign_id, "--lease", "6", "--until-done",
                     out=tmp_path / "run2.log")
    try:
        assert second.wait(240) == 0, (tmp_path / "run2.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    rows = task_rows(pg_url, seeded.campaign_id)
    # no task lost: every task reached a final state, none left leased
    assert {r["status"] for r in rows.values()} == {"done"}, rows
    assert all(r["lease_owner"] is None for r in rows.values())
    lost = [a for r in rows.values() for a in r["attempts"] if a["hangup_cause"] == "engine_lost"]
    # (a call may have ended in the milliseconds between counting and the kill)
    assert len(lost) >= max(1, live_at_kill - 1)
    assert all(a["outcome"] == "failed" for a in lost)
    assert all(a["outcome"] not in (None, "answered") for r in rows.values() for a in r["attempts"])
    # every answer captured before the kill is still there
    after = _answers(pg_url, seeded.campaign_id)
    assert before <= after, before - after
    # Asterisk side: each (task, attempt) rung at most once; every ring is an attempt in the database
    dials = asterisk_dials(log, dial_tag(pg_url), offset)
    assert dials and all(n == 1 for n in dials.values()), dials
    attempts = {(t, a["number"]) for t, r in rows.items() for a in r["attempts"]}
    assert set(dials) <= attempts
    completed = {(t, a["number"]) for t, r in rows.items() for a in r["attempts"] if a["outcome"] == "completed"}
    assert completed <= set(dials)
    run2 = [json.loads(x) for x in (tmp_path / "run2.log").read_text().splitlines() if x.startswith("{")]
    stopped = [e for e in run2 if e["event"] == "stopped"]
    assert stopped and stopped[0]["recovered"] >= len(lost)


def test_sigterm_drains(asterisk: local_asterisk.LocalAsterisk, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drain.db'}"
    patients = [SeedPatient(phone(40 + i), [say("zh01"), say("zh07")]) for i in range(3)]
    seeded = seed_campaign(url, tmp_path, patients, flow="engine_short", max_concurrent_calls=2)
    proc = _engine(url, seeded.simulate, seeded.campaign_id, "--drain-timeout", "90", out=tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 90
        while _open_attempts(url, seeded.campaign_id) < 2:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = task_rows(url, seeded.campaign_id)
    statuses = sorted(r["status"] for r in rows.values())
    assert statuses == ["done", "done", "pending"], rows  # the two live calls finished; the third never started
    assert all(r["lease_owner"] is None for r in rows.values())
    assert [a["outcome"] for r in rows.values() for a in r["attempts"]] == ["completed", "completed"]
    events = [json.loads(x) for x in (tmp_path / "run.log").read_text().splitlines() if x.startswith("{")]
    stopped = [e for e in events if e["event"] == "stopped"]
    assert stopped and stopped[0]["drained"] is True and stopped[0]["hung_up_at_drain"] == 0
