"""Fixtures for the console tests: a migrated SQLite database per test (copied from one migrated once per
session), a small hospital with one account per role, a call with a recording, an open escalation, and a
controllable clock for session expiry.

``FOLLOWUP_TEST_CONSOLE_BACKEND=postgresql`` runs the same tests on PostgreSQL instead (the server at
``FOLLOWUP_TEST_PG_URL``, as in tests/models; each test gets a copy of a migrated template database).
"""

from __future__ import annotations

import os
import shutil
import struct
import uuid
import wave
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from console_helpers import PASSWORD, PATIENT_PHONE, ROLES, Clock, Env, login, login_csrf  # noqa: F401
from sqlalchemy import create_engine, make_url

import models
from console.app import create_app
from console.security import hash_password
from followup.config import Settings
from models import db

BACKEND = os.environ.get("FOLLOWUP_TEST_CONSOLE_BACKEND", "sqlite")
PG_URL = os.environ.get("FOLLOWUP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to copy: a SQLite file path, or a PostgreSQL template database name."""
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("console_template") / "template.db"
        db.upgrade(f"sqlite:///{path}")
        yield str(path)
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"followup_console_tpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    db.upgrade(make_url(PG_URL).set(database=name))
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def _database_for_test(template: str, tmp_path: Path) -> tuple[str, object]:
    """A fresh copy of the template: (URL, cleanup)."""
    if BACKEND == "sqlite":
        path = tmp_path / "console.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}", lambda: None
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"{template}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


def write_wav(path: Path, seconds: float = 6.0, rate: int = 8000) -> None:
    """A mono 16-bit WAV of a quiet tone (what matters is that it is valid, seekable audio)."""
    import math

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def build_world(env: Env, password_hash: str) -> None:
    """One account per role, a patient with a visit, a campaign, a finished call with a recording, turns
    and answers, and an open complaint raised in that call."""
    now = datetime.now(UTC).replace(microsecond=0)
    with env.sessions() as s:
        users = {
            role: models.User(
                username=f"{role}1",
                display_name={"admin": "管理员", "supervisor": "赵主管", "agent": "李护士", "quality": "陈质检"}[
                    role
                ],
                password_hash=password_hash,
                role=role,
                department="心内科" if role == "agent" else None,
                sip_endpoint="PJSIP/agent1" if role == "agent" else None,
            )
            for role in ROLES
        }
        patient = models.Patient(
            name="王小明", gender="male", birth_year=1956, phone=PATIENT_PHONE, language="zh"
        )
        visit = models.Visit(
            patient=patient,
            kind="inpatient",
            department="心内科",
            doctor="李医生",
            diagnosis="冠心病",
            visit_date=date(2026, 11, 1),
            discharge_date=date(2026, 11, 10),
        )
        campaign = models.Campaign(
            name="心内科出院随访", flow_id="discharge_cardiology", status="running", department="心内科"
        )
        task = models.CallTask(campaign=campaign, patient=patient, visit=visit, due_at=now - timedelta(hours=2))
        attempt = models.CallAttempt(
            task=task,
            number=1,
            started_at=now - timedelta(hours=1),
            answered_at=now - timedelta(hours=1) + timedelta(seconds=5),
            ended_at=now - timedelta(hours=1) + timedelta(seconds=65),
            outcome="escalated",
            recording_path="recordings/call-1.wav",
            language="zh",
            flow_id="discharge_cardiology",
        )
        s.add_all([*users.values(), patient, visit, campaign, task, attempt])
        s.flush()
        lines = [
            ("bot", "您好，这里是市第一人民医院随访中心，请问是王小明先生吗？", 0, 1800),
            ("patient", "是我。", 2000, 2600),
            ("bot", "您出院后恢复得怎么样？", 3000, 4200),
            ("patient", "护士态度太差了，我要投诉。", 4500, 5800),
        ]
        for seq, (speaker, text, start, end) in enumerate(lines, start=1):
            s.add(
                models.Turn(
                    attempt_id=attempt.id,
                    seq=seq,
                    speaker=speaker,
                    text=text,
                    start_ms=start,
                    end_ms=end,
                    source="tts" if speaker == "bot" else "speech",
                    intent="complaint" if seq == 4 else None,
                )
            )
        s.add(
            models.Answer(
                attempt_id=attempt.id, question_id="identity", value=True, value_text="是", raw_text="是我。"
            )
        )
        escalation = models.Escalation(
            attempt_id=attempt.id,
            patient=patient,
            kind="complaint",
            department="心内科",
            text="护士态度太差了，我要投诉。",
        )
        s.add(escalation)
        sample = models.QaSample(attempt_id=attempt.id, department="心内科")  # drawn for second-level review
        s.add(sample)
        s.commit()
        env.sample_id = sample.id
        env.users = {role: u.id for role, u in users.items()}
        env.patient_id = patient.id
        env.attempt_id = attempt.id
        env.escalation_id = escalation.id
        env.campaign_id = campaign.id
    write_wav(env.data_dir / "recordings" / "call-1.wav")


@pytest.fixture
def env(tmp_path: Path, template_db: str, password_hash: str) -> Iterator[Env]:
    url, cleanup = _database_for_test(template_db, tmp_path)
    engine = db.make_engine(url)
    clock = Clock()
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    settings = Settings(data_dir=str(data_dir), console_secret_key="test-secret", console_session_minutes=30)
    app = create_app(settings, engine=engine, clock=clock, feed_interval=0.1)
    environment = Env(app, engine, db.session_factory(engine), clock, data_dir)
    build_world(environment, password_hash)
    yield environment
    engine.dispose()
    cleanup()  # type: ignore[operator]
