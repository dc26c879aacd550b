"""Alembic environment for the followup data model (used by models.db and by the alembic CLI).

The target database comes from, in order: an Engine in ``config.attributes["engine"]``, a URL in
``config.attributes["url"]`` (both set by ``models.db.alembic_config``), or ``-x url=...`` on the command
line. SQLite runs in batch mode so later ALTERs (which SQLite mostly lacks) become table rebuilds.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

import models
from models.db import make_engine
from models.search import is_search_structure

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

# Tests may pass another MetaData to prove the drift check notices a difference.
target_metadata = config.attributes.get("target_metadata", models.Base.metadata)


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Transcript search (migration 0005) adds an FTS5 table on SQLite and a generated column and GIN index
    # on PostgreSQL in raw SQL; they are not in the models, so they are not drift.
    table_name = getattr(getattr(obj, "table", None), "name", None)
    return not (reflected and compare_to is None and is_search_structure(name, type_, table_name))


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "include_object": _include_object,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "compare_server_default": True,
    }


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    engine = config.attributes.get("engine")
    if isinstance(engine, Engine):
        with engine.connect() as connection:
            _run(connection)
        return
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("no database: pass -x url=... (or use models.db.upgrade(url))")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (``alembic upgrade head --sql``)."""
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("no database dialect: pass -x url=...")
    from sqlalchemy import make_url

    context.configure(url=url, literal_binds=True, **_options(make_url(url).get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
