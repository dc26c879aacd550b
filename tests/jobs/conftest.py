"""Job tests: the real Redis at 127.0.0.1:6379 (database 9, flushed around every test), real rq workers,
and a SQLite database per test (copied from one migrated template, so each test starts empty)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
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


def work(connection: Redis, until: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    """Run burst rq workers (with the scheduler, in this process) until ``until()`` holds."""
    deadline = time.monotonic() + timeout_s
    queues = [jobs.queue(q, connection) for q in jobs.QUEUES]
    while True:
        jobs.SimpleWorker(queues, connection=connection).work(burst=True, with_scheduler=True)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("the jobs did not reach the expected state in time")
        time.sleep(0.2)


class Endpoint:
    """A local HTTP server standing in for the hospital's HIS: answers with ``statuses`` in turn (the last
    repeats) and keeps every request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                n = len(endpoint.requests)
                endpoint.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = endpoint.statuses[min(n, len(endpoint.statuses) - 1)]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"HIS unavailable")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/his/followup"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
