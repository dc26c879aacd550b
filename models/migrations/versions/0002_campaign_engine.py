"""Campaign engine: leases, retry bookkeeping, callbacks (issue #4).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

- ``campaigns.status_reason`` / ``status_changed_at``: why a campaign was paused (the circuit breaker
  says why) or finished, and when;
- ``call_tasks.retries``: retries used per outcome as JSON (``{"busy": 2}``), read by the retry policy;
- ``ix_call_tasks_campaign_id_status_priority_due_at``: serves the engine's per-campaign claim query
  (``campaign_id = ? AND status = 'pending' AND priority = ? AND due_at <= now ORDER BY due_at``, see
  models.leases._claim_campaign) and the per-campaign status counts.

Conventions of 0001: JSON is TEXT on SQLite and JSONB on PostgreSQL; timestamps ``DateTime(timezone=True)``;
every index named. SQLite's ALTER TABLE ADD COLUMN is enough here (nullable columns, no constraint).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.Text().with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("campaigns", sa.Column("status_changed_at", TZ, nullable=True))
    op.add_column("call_tasks", sa.Column("retries", JSON, nullable=True))
    op.create_index(
        op.f("ix_call_tasks_campaign_id_status_priority_due_at"),
        "call_tasks",
        ["campaign_id", "status", "priority", "due_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_call_tasks_campaign_id_status_priority_due_at"), table_name="call_tasks")
    with op.batch_alter_table("call_tasks") as batch:
        batch.drop_column("retries")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("status_reason")
