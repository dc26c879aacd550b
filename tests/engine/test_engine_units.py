"""The engine's small pure parts: clocks, what is dialled, the call context, progress lines, and the
command line's argument errors. No services (the last test uses a throw-away SQLite file)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from engine_helpers import REPO, wav

from dialer.clock import FakeClock, ScaledClock, SystemClock
from dialer.endpoints import SimulatedEndpoints, TrunkEndpoints, load_scripts, script_for
from dialer.patient_context import build_context, call_language
from dialer.progress import CallLine, Tally, call_text, mask_phone, summary, summary_text
from dialer.run import dial_tag
from dialer.simpatient import PatientScriptError, SimulatedPatients

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_scaled_clock_runs_fast_and_only_jumps_forward() -> None:
    clock = ScaledClock(T0, speed=600)
    time.sleep(0.05)
    assert timedelta(seconds=20) <= clock.now() - T0 < timedelta(seconds=120)
    assert clock.clock_seconds(2) == 1200
    clock.jump_to(T0 + timedelta(days=1))
    assert clock.now() - (T0 + timedelta(days=1)) < timedelta(seconds=60)
    with pytest.raises(ValueError, match="forward"):
        clock.jump_to(T0)
    with pytest.raises(ValueError, match="time zone"):
        ScaledClock(datetime(2026, 1, 1))
    asyncio.run(clock.sleep(60))  # 60 clock seconds = 0.1 s


def test_fake_and_system_clocks() -> None:
    fake = FakeClock(T0)
    fake.advance(90)
    assert fake.now() == T0 + timedelta(seconds=90)
    with pytest.raises(ValueError):
        fake.set(T0)
    assert abs(SystemClock().now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert SystemClock().now().tzinfo is not None


def test_trunk_template() -> None:
    assert TrunkEndpoints("PJSIP/{number}@trunk").prepare("+8613800001234", "x1", 1).endpoint == \
        "PJSIP/+8613800001234@trunk"
    assert TrunkEndpoints("PJSIP/0{national}@gw").prepare("+8613800001234", "x1", 1).endpoint == \
        "PJSIP/013800001234@gw"
    assert TrunkEndpoints("SIP/{digits}").prepare("+8613800001234", "x1", 1).endpoint == "SIP/8613800001234"
    with pytest.raises(ValueError, match="FOLLOWUP_DIAL_TEMPLATE"):
        TrunkEndpoints("PJSIP/{phone}@trunk")
    with pytest.raises(ValueError, match="number"):
        TrunkEndpoints("PJSIP/fixed")


def test_simulated_scripts_per_attempt(tmp_path: Path) -> None:
    scripts_dir, audio_dir = tmp_path / "scripts", tmp_path / "audio"
    scripts_dir.mkdir()
    audio_dir.mkdir()
    mapping = {"+99900000001": {"attempts": [{"busy": True}, [{"say": wav("zh01")}, {"dtmf": "5"}]]},
               "99900000002": {"no_answer": True}}
    f = tmp_path / "patients.json"
    f.write_text(json.dumps(mapping), encoding="utf-8")
    scripts, base = load_scripts(f)
    assert set(scripts) == {"+99900000001", "+99900000002"} and base == tmp_path
    assert script_for(scripts["+99900000001"], 1) == {"busy": True}
    assert script_for(scripts["+99900000001"], 7)[1] == {"dtmf": "5"}  # the last one repeats
    sim = SimulatedEndpoints(scripts, SimulatedPatients(scripts_dir, audio_dir), base, tag="t")
    sim.check()
    first = sim.prepare("+99900000001", "abt1a1x00", 1)
    assert first.endpoint == "Local/sim-abt1a1x00@patients" and first.simulated == "busy"
    assert (scripts_dir / "abt1a1x00.txt").read_text() == "busy\n"
    second = sim.prepare("+99900000001", "abt1a2x00", 2)
    lines = (scripts_dir / "abt1a2x00.txt").read_text().split("\n")
    assert lines[0].startswith("say engt-") and lines[1] == "dtmf 5"
    assert len(list(audio_dir.iterdir())) == 1  # converted once, shared
    sim.done(first)
    assert not (scripts_dir / "abt1a1x00.txt").exists()
    unknown = sim.prepare("+99900000009", "abt9a1x00", 1)
    assert unknown.endpoint == "Local/sim-abt9a1x00@patients" and unknown.files == ()
    sim.close()
    assert list(audio_dir.iterdir()) == [] and not (scripts_dir / "abt1a2x00.txt").exists()
    _ = second


def test_bad_simulated_scripts_are_named(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "+99900000001.json").write_text("[{\"sing\": 1}]")
    scripts, base = load_scripts(tmp_path / "d")
    sim = SimulatedEndpoints(scripts, SimulatedPatients(tmp_path, tmp_path), base)
    with pytest.raises(PatientScriptError, match=r"\+99900000001: attempt 1: action 1: unknown action"):
        sim.check()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(PatientScriptError, match="bad.json"):
        load_scripts(tmp_path / "bad.json")


def test_context_from_rows_and_language() -> None:
    patient = SimpleNamespace(name="欧阳娜娜", salutation=None, gender="female", birth_year=1960, phone="+8613800001234",
                              language="zh")
    visit = SimpleNamespace(kind="inpatient", department="心内科", doctor="李明", ward=None, diagnosis="冠心病",
                            procedure=None, visit_date=date(2026, 11, 20), discharge_date=date(2026, 11, 28))
    ctx = build_context(patient, visit, lang="zh", today=date(2026, 12, 7), hospital_name="市第一人民医院",
                        hospital_phone="010-1")
    assert ctx["patient"] == {"name": "欧阳娜娜", "gender": "female", "age": 66}
    assert ctx["visit"]["discharge_date"] == "2026-11-28" and "ward" not in ctx["visit"]
    assert ctx["hospital"] == {"name": "市第一人民医院", "phone": "010-1"}
    assert "+8613800001234" not in json.dumps(ctx)
    assert build_context(patient, None, lang="en", today=date(2026, 12, 7), hospital_name="市",
                         hospital_name_en="City")["hospital"]["name"] == "City"
    assert call_language("en", "zh", ("zh", "en")) == "en"
    assert call_language(None, "en", ("zh", "en")) == "en"
    assert call_language(None, "en", ("zh",)) == "zh"
    assert call_language("en", None, ("zh",)) == "zh"


def test_progress_lines_mask_numbers() -> None:
    assert mask_phone("+8613800001234") == "***1234"
    assert mask_phone(None) == "***"
    line = CallLine(at="2026-12-07T01:12:03+00:00", campaign=3, task=17, attempt=2, phone=mask_phone("+8613800001234"),
                    outcome="busy", answers=0, next_status="pending", due_at="2026-12-07T01:22:03+00:00",
                    reason="busy: retry 1 of 3 after 10 min", call_id="call-dabt17a2x1")
    text = call_text(line)
    assert "***1234" in text and "13800001234" not in text and "task 17 #2" in text
    tally = Tally(started_at=0.0)
    tally.add("completed", True, [900.0, 1100.0])
    tally.add("busy", False, [])
    facts = summary(tally, live=3, max_calls=10, now_real=3600.0, clock_now=datetime(2026, 12, 7, tzinfo=UTC),
                    pending={"pending": 5})
    assert facts["calls_per_hour"] == 2.0 and facts["answer_rate"] == 0.5 and facts["latency_p95_ms"] == 1100
    assert "live 3/10" in summary_text(facts) and "pending 5" in summary_text(facts)


def test_dial_tag_is_stable_per_database() -> None:
    a = dial_tag("sqlite:////tmp/a.db")
    assert a == dial_tag("sqlite:////tmp/a.db") != dial_tag("sqlite:////tmp/b.db")
    assert a.isalnum() and len(a) == 6


def test_run_rejects_an_unknown_campaign(tmp_path: Path) -> None:
    env = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin",
           "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-m", "followup", "run", "--campaign", "42", "--once"], check=False,
                         cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "--campaign 42: no such campaign" in out.stderr
    bad = subprocess.run([sys.executable, "-m", "followup", "run", "--clock-speed", "0"], check=False,
                         cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "positive" in bad.stderr
