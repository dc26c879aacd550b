"""Fixtures for the data-model tests: every database test runs on SQLite *and* PostgreSQL.

PostgreSQL: the server at ``FOLLOWUP_TEST_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/
postgres``, trust auth) is used only to create uniquely named UTF-8 databases for this test session; they
are dropped at the end. If the server is unreachable the PostgreSQL tests FAIL (the Makefile starts it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import models
from models import db

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgresql"]


class PgServer:
    """Creates and drops throw-away databases on the test PostgreSQL server."""

    def __init__(self, base: URL) -> None:
        self.base = base
        self.admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        self.prefix = f"followup_test_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create_database(self, suffix: str, encoding: str = "UTF8") -> URL:
        """A new empty database named after this session; ``encoding`` other than UTF8 uses C collation."""
        name = f"{self.prefix}_{suffix}"
        locale = "" if encoding == "UTF8" else " LC_COLLATE 'C' LC_CTYPE 'C'"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING '{encoding}'{locale} TEMPLATE template0")
        self.created.append(name)
        return self.base.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database} WITH (FORCE)")
        if url.database in self.created:
            self.created.remove(url.database)

    def close(self) -> None:
        for name in list(self.created):
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    base = make_url(os.environ.get("FOLLOWUP_TEST_PG_URL", DEFAULT_PG_URL))
    server = PgServer(base)
    problem = None
    try:
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        problem = str(exc.orig).strip()
        server.admin.dispose()
    if problem is not None:  # fail outside the except block: the message alone, no chained traceback
        pytest.fail(
            f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}: {problem}. "
            "Start it (the Makefile does) or point FOLLOWUP_TEST_PG_URL at a server.",
            pytrace=False,
        )
    yield server
    server.close()


def _new_database(backend: str, request: pytest.FixtureRequest, directory: Path, suffix: str) -> URL:
    if backend == "sqlite":
        return make_url(f"sqlite:///{directory / (suffix + '.db')}")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(suffix)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> URL:
    """A database of each backend, migrated to head once per test session and shared by the tests."""
    url = _new_database(request.param, request, tmp_path_factory.mktemp("db"), "shared")
    db.upgrade(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """A brand-new empty database of each backend for one test (migration tests)."""
    url = _new_database(request.param, request, tmp_path, f"empty_{uuid.uuid4().hex[:6]}")
    yield url
    if request.param == "postgresql":
        request.getfixturevalue("pg_server").drop_database(url)


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    """An engine on the shared database; every row is deleted after the test."""
    eng = db.make_engine(database_url)
    yield eng
    with eng.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            conn.execute(delete(table))
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with db.session_factory(engine)() as s:
        yield s


@pytest.fixture
def other_session(database_url: URL) -> Iterator[Session]:
    """A session on a separate engine (own connection pool), as another process would see the data."""
    eng = db.make_engine(database_url)
    with db.session_factory(eng)() as s:
        yield s
    eng.dispose()


@dataclass
class World:
    """A small hospital: one agent, one discharged inpatient with a visit, a running campaign, one task."""

    user: models.User
    patient: models.Patient
    visit: models.Visit
    campaign: models.Campaign
    task: models.CallTask


@pytest.fixture
def world(session: Session) -> World:
    user = models.User(
        username="zhang.agent",
        display_name="张护士",
        password_hash="argon2$fake",
        role="agent",
        sip_endpoint="PJSIP/agent101",
    )
    patient = models.Patient(
        name="王小明",
        salutation="王先生",
        gender="male",
        birth_year=1956,
        phone="+8613800138000",
        language="zh",
        external_id="HIS-P-0001",
    )
    visit = models.Visit(
        patient=patient,
        kind="inpatient",
        department="心内科",
        doctor="李医生",
        ward="5病区",
        diagnosis="冠心病",
        procedure="PCI",
        visit_date=date(2026, 11, 1),
        discharge_date=date(2026, 11, 10),
        external_id="HIS-V-0001",
    )
    campaign = models.Campaign(
        name="心内科出院随访",
        flow_id="discharge_cardiology",
        status="running",
        calling_windows={"mon": [["09:00", "11:30"], ["14:00", "17:30"]]},
        retry_policy={"busy": {"max": 3, "intervals_min": [10, 30, 120]}},
        days_after_discharge=[3, 30],
        created_by=user,
    )
    task = models.CallTask(
        campaign=campaign, patient=patient, visit=visit, due_at=datetime(2026, 11, 13, 1, 30, tzinfo=UTC)
    )
    session.add_all([user, patient, visit, campaign, task])
    session.commit()
    return World(user, patient, visit, campaign, task)


@pytest.fixture
def make_task(session: Session, world: World) -> Callable[..., models.CallTask]:
    """More tasks for the world's patient and campaign."""

    def make(**overrides: object) -> models.CallTask:
        fields: dict[str, object] = {
            "campaign": world.campaign,
            "patient": world.patient,
            "due_at": datetime.now(UTC) - timedelta(minutes=1),
        }
        fields.update(overrides)
        task = models.CallTask(**fields)
        session.add(task)
        session.commit()
        return task

    return make
