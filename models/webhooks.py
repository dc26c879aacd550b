"""Webhook deliveries: the answers of one call pushed to the hospital's HIS endpoint, with every try kept.

One row per (attempt, url). The post-call job creates it ``pending``; each HTTP try bumps ``tries`` and
appends ``{"at", "http_status", "error", "ms"}`` to ``history``; the row ends ``delivered``
(``delivered_at`` set) or, when rq has no retries left, ``failed`` with ``last_error``. ``retrying``
means a try failed and another is scheduled. Re-running the post-call job for the same attempt reuses
the row, and a delivered row is never sent again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, one_of
from models.types import BigId
from models.vocab import WEBHOOK_STATUSES

if TYPE_CHECKING:
    from models.calls import CallAttempt


class WebhookDelivery(Timestamps, Base):
    """The delivery of one attempt's answers to ``url``: pending → retrying → delivered | failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("attempt_id", "url"),
        one_of("status", WEBHOOK_STATUSES),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    http_status: Mapped[int | None]  # of the last try
    tries: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[Any]] = mapped_column(default=list)  # one entry per HTTP try
    delivered_at: Mapped[datetime | None]

    attempt: Mapped[CallAttempt] = relationship()
