"""Fixtures for the end-to-end call tests.

``asterisk`` (session): the project's Asterisk through ``deploy/asterisk.sh start``; left running if it
was running before, stopped after otherwise. Needs root; with FOLLOWUP_ARI_URL (an external Asterisk,
no scriptable patients) the tests are skipped with that reason.
``calls`` (session): runs every scenario the selected tests name in ``@pytest.mark.calls(...)``,
concurrently, once, and maps scenario name → ``e2e_helpers.Result``.
Databases: a fresh SQLite file and a fresh PostgreSQL database (on the server at FOLLOWUP_TEST_PG_URL,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; unreachable → the tests fail).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import Env, Result, run_all
from sqlalchemy import create_engine, make_url

from dialer import local_asterisk
from models import db

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "calls(*names): end-to-end call scenarios the test inspects")


@pytest.fixture(scope="session")
def asterisk() -> Iterator[local_asterisk.LocalAsterisk]:
    info = local_asterisk.describe()
    if info.get("external"):
        pytest.skip("FOLLOWUP_ARI_URL points at an external Asterisk: the e2e tests need the project's "
                    "simulated patients (deploy/asterisk.sh)")
    if os.geteuid() != 0:
        pytest.skip("deploy/asterisk.sh needs root (debootstrap, chroot)")
    was_running = local_asterisk.is_running()
    ast = local_asterisk.ensure_started()
    yield ast
    if not was_running:
        local_asterisk.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    base = make_url(os.environ.get("FOLLOWUP_TEST_PG_URL", DEFAULT_PG_URL))
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"followup_e2e_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    except Exception as exc:  # noqa: BLE001 - fail with the reason, not a traceback
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}: {exc}. "
                    "Start it (the Makefile does) or set FOLLOWUP_TEST_PG_URL.", pytrace=False)
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def calls(request: pytest.FixtureRequest, asterisk: local_asterisk.LocalAsterisk, pg_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    names: list[str] = []
    for item in request.session.items:
        for mark in item.iter_markers("calls"):
            names.extend(n for n in mark.args if n not in names)
    if not names:
        return {}
    from asr.models import whisper_model_dir
    from asr.pool import ProcessDecodePool
    from asr.whisper import WhisperRecognizer
    from tts.factory import build_synthesizer

    tmp = tmp_path_factory.mktemp("e2e")
    sqlite_url = f"sqlite:///{tmp / 'e2e.db'}"
    for url in (sqlite_url, pg_url):
        db.upgrade(url)
    recognizer = WhisperRecognizer(whisper_model_dir(None, os.environ.get("FOLLOWUP_CACHE_DIR")), workers=2)
    # The live-call default: decoding in worker processes (models loaded in the workers).
    pool = ProcessDecodePool(2, 64, spec=recognizer.worker_spec(), nice=10)
    pool.start()
    synth = build_synthesizer("espeak", "espeak")
    env = Env(asterisk=asterisk, recognizer=recognizer, pool=pool, synthesizer=synth,
              prompt_dir=Path(tmp / "prompts"), tmp=tmp, db_urls={"sqlite": sqlite_url, "postgresql": pg_url})
    try:
        return asyncio.run(run_all(env, names))
    finally:
        pool.shutdown(wait=False)
