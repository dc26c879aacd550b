"""The declarative base: one MetaData with a constraint naming convention, shared column helpers.

Every constraint and index gets a deterministic name from ``NAMING_CONVENTION``. Alembic needs names to
drop or alter a constraint later, and SQLite's batch mode (table rebuilds) can only recreate constraints
that have them, so the same migration runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.types import JSONValue, UTCDateTime, utcnow

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every table. ``Mapped[datetime]`` is UTC-aware; ``Mapped[dict]``/``list`` is JSON."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONValue(),
        list[Any]: JSONValue(),
        Any: JSONValue(),
    }


def one_of(column: str, values: Iterable[str]) -> CheckConstraint:
    """A CHECK constraint named ``ck_<table>_<column>`` limiting ``column`` to ``values`` (or NULL)."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=column)


class CreatedAt:
    """Mixin: ``created_at`` set by Python on ORM inserts and by the database for raw SQL inserts."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Timestamps(CreatedAt):
    """Mixin: ``created_at`` plus ``updated_at``, refreshed by the ORM on every UPDATE it issues."""

    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, server_default=func.now())
