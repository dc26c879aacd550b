"""Column types that behave the same on SQLite and PostgreSQL.

- ``UTCDateTime``: every timestamp is stored in UTC and comes back timezone-aware (UTC) on both backends.
  PostgreSQL stores ``timestamp with time zone``; SQLite has no such type, so SQLAlchemy stores the UTC
  wall time as ISO text and this decorator puts the UTC zone back on read. Naive datetimes are refused
  on write: a naive value on the call path is a bug (local or UTC?), not something to guess about.
- ``JSONValue``: JSONB on PostgreSQL (indexable, compares by value), JSON text in a TEXT column on
  SQLite (see the class for why not SQLite's JSON). Python ``None`` is stored as SQL NULL, not the JSON
  literal ``null``; NaN and infinities are refused (not JSON).
- ``BigId``: 64-bit primary keys for high-volume tables on PostgreSQL; on SQLite it must be ``INTEGER``
  to be the auto-incrementing rowid (SQLite integers are 64-bit anyway).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

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


class JSONValue(TypeDecorator[Any]):
    """JSON values: JSONB on PostgreSQL, JSON text in a ``TEXT`` column on SQLite.

    Not SQLite's ``JSON`` type name: that gives the column NUMERIC affinity, and SQLite then turns the
    stored text ``65.0`` into the integer 65 (and long integers into lossy floats), so an answer value
    would not come back with its type. With TEXT affinity the JSON text is kept exactly as written;
    SQLite's json_* functions work on it all the same.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite" and value is not None:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite" and value is not None:
            return json.loads(value)
        return value


BigId: Any = BigInteger().with_variant(Integer(), "sqlite")
