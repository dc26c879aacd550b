"""Fixtures for the engine tests.

``pg_url``: a fresh UTF-8 PostgreSQL database per test on the server at FOLLOWUP_TEST_PG_URL (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), dropped afterwards; unreachable → the test
fails with the reason. ``asterisk`` (session): the project's Asterisk (``deploy/asterisk.sh start``; left
running). Async tests run on asyncio through anyio's pytest plugin.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = make_url(os.environ.get("FOLLOWUP_TEST_PG_URL", DEFAULT_PG_URL))
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"followup_engine_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    except Exception as exc:  # noqa: BLE001 - fail with the reason, not a traceback
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {base.render_as_string(hide_password=True)}: {exc}",
                    pytrace=False)
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def asterisk():  # type: ignore[no-untyped-def]
    from dialer import local_asterisk

    info = local_asterisk.describe()
    if info.get("external"):
        pytest.skip("FOLLOWUP_ARI_URL points at an external Asterisk: the engine's live tests need the "
                    "project's simulated patients (deploy/asterisk.sh)")
    if os.geteuid() != 0:
        pytest.skip("deploy/asterisk.sh needs root (debootstrap, chroot)")
    return local_asterisk.ensure_started()
