"""Engines, sessions and the alembic command line (models.db, models/alembic.ini)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import URL

import models
from models import db


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = db.make_engine(
        f"sqlite:///{tmp_path / 'nested' / 'dir' / 'followup.db'}", sqlite_busy_timeout_ms=1234
    )
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 1234
        assert (tmp_path / "nested" / "dir" / "followup.db").exists()  # parent directories were created
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    engine = db.make_engine("sqlite://")
    try:
        models.Base.metadata.create_all(engine)
        with db.session_factory(engine)() as session:
            session.add(models.DoNotCall(phone="+8613800138000", reason="测试"))
            session.commit()
            assert session.scalars(select(models.DoNotCall)).one().reason == "测试"
    finally:
        engine.dispose()


def test_sqlite_writer_waits_for_a_busy_database_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    db.upgrade(url)
    holder, waiter = db.make_engine(url), db.make_engine(url, sqlite_busy_timeout_ms=10_000)
    locked, release = threading.Event(), threading.Event()

    def hold_write_lock() -> None:
        with holder.begin() as conn:
            conn.execute(
                text("INSERT INTO do_not_call (phone, reason, source) VALUES ('+8613800000001', '', 'x')")
            )
            locked.set()
            release.wait(10)

    thread = threading.Thread(target=hold_write_lock)
    thread.start()
    try:
        assert locked.wait(10)
        threading.Timer(0.3, release.set).start()  # the holder commits while the waiter is blocked
        with waiter.begin() as conn:  # without busy_timeout this raises "database is locked" at once
            conn.execute(
                text("INSERT INTO do_not_call (phone, reason, source) VALUES ('+8613800000002', '', 'x')")
            )
        with waiter.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM do_not_call")).scalar_one() == 2
    finally:
        release.set()
        thread.join()
        holder.dispose()
        waiter.dispose()


def test_objects_stay_usable_after_commit(engine: Engine) -> None:
    with db.session_factory(engine)() as session:
        entry = models.DoNotCall(phone="+8613800138000", reason="不要再打")
        session.add(entry)
        session.commit()
        session.close()  # detached: no lazy reload possible, and none is needed
        assert (entry.phone, entry.reason) == ("+8613800138000", "不要再打")
        assert entry.created_at is not None


def test_alembic_command_line_from_another_directory(database_url: URL, tmp_path: Path) -> None:
    ini = Path(db.__file__).parent / "alembic.ini"
    alembic = Path(sys.executable).parent / "alembic"
    url = database_url.render_as_string(hide_password=False)
    result = subprocess.run(
        [str(alembic), "-c", str(ini), "-x", f"url={url}", "check"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_alembic_command_line_needs_a_url(tmp_path: Path) -> None:
    ini = Path(db.__file__).parent / "alembic.ini"
    alembic = Path(sys.executable).parent / "alembic"
    result = subprocess.run(
        [str(alembic), "-c", str(ini), "current"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "-x url=" in result.stdout + result.stderr


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_memory_urls_create_no_directories(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db.make_engine(url).dispose()
    assert list(tmp_path.iterdir()) == []
