"""What the web console keeps: login sessions, quality scores and tags on calls, escalation notes.

- ``ConsoleSession``: a server-side login session. The browser holds a random token; the row stores only
  its keyed hash (a copy of the table does not let anyone log in) plus the session's CSRF token. Expiry is
  decided here, on the server: a row past ``expires_at`` is no session, whatever the cookie says.
- ``QaScore``: one reviewer's rubric scores for one call attempt (``{"greeting": 4, ...}``, each 1–5) and
  comments; scoring the same call again updates the reviewer's row.
- ``CallTag``: a free label on a call attempt (``态度问题``, ``asr_error``), unique per attempt.
- ``EscalationNote``: the handler's running notes on an escalation, oldest first (append-only).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, Timestamps
from models.types import BigId

if TYPE_CHECKING:
    from models.users import User


class ConsoleSession(CreatedAt, Base):
    """A logged-in browser. ``token_hash`` is HMAC-SHA256 of the cookie token under the console's secret."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship()


class QaScore(Timestamps, Base):
    """A quality reviewer's rubric scores for one call attempt."""

    __tablename__ = "qa_scores"
    __table_args__ = (UniqueConstraint("attempt_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scores: Mapped[dict[str, Any]]  # rubric item -> 1..5
    total: Mapped[float]  # mean of the items, for sorting and filtering
    comments: Mapped[str] = mapped_column(Text, default="")

    reviewer: Mapped[User | None] = relationship()


class CallTag(CreatedAt, Base):
    """A label on a call attempt."""

    __tablename__ = "call_tags"
    __table_args__ = (UniqueConstraint("attempt_id", "tag"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EscalationNote(CreatedAt, Base):
    """One note an agent wrote on an escalation."""

    __tablename__ = "escalation_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)

    user: Mapped[User | None] = relationship()
