"""Job tests: the real Redis at 127.0.0.1:6379 (database 9, flushed around every test), real rq workers,
and a SQLite database per test (copied from one migrated template, so each test starts empty)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobs_helpers import Endpoint
from redis import Redis
from sqlalchemy.orm import Session

from dialer import jobs
from followup.config import get_settings
from models import db

REDIS_URL = os.environ.get("FOLLOWUP_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "followup.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def redis_conn() -> Iterator[Redis]:
    conn = Redis.from_url(REDIS_URL)
    conn.ping()  # fails (not skips) when Redis is down: the Makefile starts it
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, template_db: Path, redis_conn: Redis
) -> Iterator[Callable[..., None]]:
    """Point the settings at this test's database and Redis; call ``env(NAME=value, ...)`` for more
    FOLLOWUP_ settings. Yields the setter."""
    database = tmp_path / "followup.db"
    shutil.copy(template_db, database)
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("FOLLOWUP_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("FOLLOWUP_QA_SEED", "test-seed")
    for name in ("WEBHOOK_URL", "WEBHOOK_SECRET", "ESCALATION_ROUTES", "QA_SAMPLE_RATE"):
        monkeypatch.delenv(f"FOLLOWUP_{name}", raising=False)

    def setter(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"FOLLOWUP_{key.upper()}", str(value))
        get_settings.cache_clear()

    get_settings.cache_clear()
    yield setter
    get_settings.cache_clear()


@pytest.fixture
def session(env: Callable[..., None]) -> Iterator[Session]:
    with jobs.sessions()() as s:
        yield s


@pytest.fixture
def endpoint() -> Iterator[Callable[[list[int]], Endpoint]]:
    made: list[Endpoint] = []

    def make(statuses: list[int]) -> Endpoint:
        e = Endpoint(statuses)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()
