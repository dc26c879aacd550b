"""Export tests run on SQLite and PostgreSQL (a throw-away UTF-8 database on FOLLOWUP_TEST_PG_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import models
from models import db

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """A migrated database of each backend for this test session."""
    if request.param == "sqlite":
        url = make_url(f"sqlite:///{tmp_path_factory.mktemp('db') / 'exports.db'}")
        db.upgrade(url)
        yield url
        return
    base = make_url(os.environ.get("FOLLOWUP_TEST_PG_URL", DEFAULT_PG_URL))
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"followup_test_exports_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text("SELECT 1"))  # fails the test (not skips) when PostgreSQL is down
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    url = base.set(database=name)
    try:
        db.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def session(database_url: URL) -> Iterator[Session]:
    """A session on the shared database; every row is deleted after the test."""
    engine = db.make_engine(database_url)
    with db.session_factory(engine)() as s:
        yield s
    with engine.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            conn.execute(delete(table))
    engine.dispose()


@pytest.fixture
def tmp_out(tmp_path: Path) -> Path:
    return tmp_path
