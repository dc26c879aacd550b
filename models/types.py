"""Column types that behave the same on SQLite and PostgreSQL.

- ``UTCDateTime``: every timestamp is stored in UTC and comes back timezone-aware (UTC) on both backends.
  PostgreSQL stores ``timestamp with time zone``; SQLite has no such type, so SQLAlchemy stores the UTC
  wall time as ISO text and this decorator puts the UTC zone back on read. Naive datetimes are refused
  on write: a naive value on the call path is a bug (local or UTC?), not something to guess about.
- ``JSONValue``: JSON on SQLite, JSONB on PostgreSQL (indexable, compares by value). Python ``None``
  is stored as SQL NULL, not the JSON literal ``null``.
- ``BigId``: 64-bit primary keys for high-volume tables on PostgreSQL; on SQLite it must be ``INTEGER``
  to be the auto-incrementing rowid (SQLite integers are 64-bit anyway).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

__all__ = ["BigId", "JSONValue", "UTCDateTime", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns aware UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime (UTC preferred)")
        value = value.astimezone(UTC)
        # SQLite's DATETIME storage is naive text: store the UTC wall time, read it back as UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


JSONValue: Any = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

BigId: Any = BigInteger().with_variant(Integer(), "sqlite")
