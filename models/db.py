"""Engines, sessions and schema upgrades.

``make_engine(url)`` works for ``sqlite:///path`` and ``postgresql+psycopg://...``. SQLite connections get
WAL (readers don't block the writer), ``foreign_keys=ON`` (off by default in SQLite, and ON DELETE
CASCADE/SET NULL depend on it) and a busy timeout so concurrent writers wait instead of failing.

``upgrade(url)`` runs ``alembic upgrade head`` with the migrations shipped in this package, from any
working directory and from an installed wheel. ``models/alembic.ini`` is for the alembic command line
(``alembic -c models/alembic.ini -x url=... check``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"

DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000


class DatabaseEncodingError(RuntimeError):
    """The PostgreSQL database does not store UTF-8, so Chinese text would be rejected or mangled."""


def make_engine(
    url: str | URL, *, sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> Engine:
    """An Engine for ``url``; extra keyword arguments go to ``sqlalchemy.create_engine``.

    For a file-backed SQLite URL the parent directory is created if missing (``sqlite:///var/followup.db``
    works in a fresh checkout).
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, sqlite_busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a PostgreSQL restart between calls
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode=WAL")  # persistent in the file; a no-op for :memory:
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster commits
        finally:
            cursor.close()
        # The transcript-search triggers on turns call it (migration 0005): every connection needs it.
        from models.search import register_sqlite_functions

        register_sqlite_functions(dbapi_connection)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker bound to ``engine``. Objects stay usable after commit (``expire_on_commit=False``):
    the call path commits after every write and keeps using the rows it wrote."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | URL | None = None, *, engine: Engine | None = None) -> Config:
    """An Alembic Config for the packaged migrations, targeting ``engine`` or else ``url``.

    The URL travels in ``config.attributes`` rather than the ini options, so a password containing ``%``
    is not taken for ini interpolation.
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False  # a library must not reconfigure the app's logging
    if engine is not None:
        config.attributes["engine"] = engine
    elif url is not None:
        config.attributes["url"] = make_url(url)
    return config


def check_encoding(engine: Engine) -> None:
    """Raise DatabaseEncodingError unless a PostgreSQL database stores UTF-8 (SQLite always does)."""
    if engine.dialect.name != "postgresql":
        return
    # A raw DBAPI connection: SQLAlchemy's first-connect setup already fails on a SQL_ASCII database
    # (the driver returns bytes), which would hide the real problem behind a TypeError.
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    raw = engine.dialect.connect(*cargs, **cparams)
    try:
        cursor = raw.cursor()
        cursor.execute("SHOW server_encoding")
        encoding = cursor.fetchone()[0]
    finally:
        raw.close()
    if isinstance(encoding, bytes):
        encoding = encoding.decode("ascii", "replace")
    if str(encoding).upper() not in ("UTF8", "UTF-8"):
        raise DatabaseEncodingError(
            f"database {engine.url.database!r} uses encoding {encoding}; create it with "
            "ENCODING 'UTF8' TEMPLATE template0 so Chinese text is stored correctly"
        )


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Bring the schema at ``url`` (or an Engine) up to ``revision`` (default: the newest migration)."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        check_encoding(engine)
        command.upgrade(alembic_config(engine=engine), revision)
    finally:
        if engine is not url:
            engine.dispose()


def downgrade(url: str | URL | Engine, revision: str) -> None:
    """Take the schema at ``url`` back to ``revision`` (``base`` drops every table)."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        command.downgrade(alembic_config(engine=engine), revision)
    finally:
        if engine is not url:
            engine.dispose()


def current_revision(url: str | URL | Engine) -> str | None:
    """The migration revision the database at ``url`` is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if engine is not url:
            engine.dispose()
