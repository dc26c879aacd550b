"""Console: sessions, escalation handling, QA scores and tags (issue #5).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Adds the web console's tables (see models.console): ``console_sessions`` (server-side login sessions),
``qa_scores`` and ``call_tags`` (quality review of call attempts), ``escalation_notes`` (the handler's
notes), and an index on ``escalations.updated_at`` for the live queue's polling. Same conventions as 0001
(named constraints, portable types).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.Text().with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False)


def _updated_at() -> sa.Column:
    return sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_console_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_sessions_token_hash")),
    )
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"])
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])

    op.create_table(
        "qa_scores",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_qa_scores_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_scores_reviewer_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scores")),
        sa.UniqueConstraint("attempt_id", "reviewer_id", name=op.f("uq_qa_scores_attempt_id_reviewer_id")),
    )
    op.create_index(op.f("ix_qa_scores_attempt_id"), "qa_scores", ["attempt_id"])

    op.create_table(
        "call_tags",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_call_tags_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_tags_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_tags")),
        sa.UniqueConstraint("attempt_id", "tag", name=op.f("uq_call_tags_attempt_id_tag")),
    )
    op.create_index(op.f("ix_call_tags_attempt_id"), "call_tags", ["attempt_id"])
    op.create_index(op.f("ix_call_tags_tag"), "call_tags", ["tag"])

    op.create_table(
        "escalation_notes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_notes_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_escalation_notes_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_notes")),
    )
    op.create_index(op.f("ix_escalation_notes_escalation_id"), "escalation_notes", ["escalation_id"])

    op.create_index(op.f("ix_escalations_updated_at"), "escalations", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_escalations_updated_at"), table_name="escalations")
    op.drop_table("escalation_notes")
    op.drop_table("call_tags")
    op.drop_table("qa_scores")
    op.drop_table("console_sessions")
