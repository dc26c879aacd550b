"""Post-call jobs: webhook deliveries and QA samples (issue #4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Conventions as in 0001 (named constraints, portable types, CHECK vocabularies written out literally).
- ``webhook_deliveries``: one row per (attempt, url); every HTTP try is appended to ``history``.
- ``qa_samples``: completed calls picked for second-level review, at most one row per attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.Text().with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("history", JSON, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'retrying', 'delivered', 'failed')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_webhook_deliveries_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("attempt_id", "url", name=op.f("uq_webhook_deliveries_attempt_id_url")),
    )
    op.create_index(op.f("ix_webhook_deliveries_status"), "webhook_deliveries", ["status"])

    op.create_table(
        "qa_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("reason", sa.String(32), server_default="random", nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_qa_samples_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"], ["users.id"], name=op.f("fk_qa_samples_assigned_to_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_samples")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_qa_samples_attempt_id")),
    )
    op.create_index(op.f("ix_qa_samples_assigned_to_id"), "qa_samples", ["assigned_to_id"])
    op.create_index(op.f("ix_qa_samples_department_reviewed_at"), "qa_samples", ["department", "reviewed_at"])


def downgrade() -> None:
    op.drop_table("qa_samples")
    op.drop_table("webhook_deliveries")
