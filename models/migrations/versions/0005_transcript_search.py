"""Transcript full-text search for Chinese: SQLite FTS5 and PostgreSQL (issue #5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Placeholder reserved for this change set; it is filled in by the work it names (each reserved file is
owned by one piece of work, so parallel work never forks the migration chain).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
