"""QA samples: completed calls picked for second-level review (二级回访 / 质控抽查).

The post-call job samples a share of each department's completed calls (``FOLLOWUP_QA_SAMPLE_RATE``)
and writes one row per sampled attempt. The console's review queue is simply the rows with
``reviewed_at IS NULL``, per ``department``; a reviewer takes one (``assigned_to_id``), listens to the
recording / reads the transcript, scores it (``models.console.QaScore``) and closes the sample
(``reviewed_at``). ``reason``: why the call
was sampled — ``random`` for the random share (the only reason the post-call job writes today), other
values (e.g. ``manual``) for samples added by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt

if TYPE_CHECKING:
    from models.calls import CallAttempt
    from models.users import User


class QaSample(CreatedAt, Base):
    """One attempt picked for review; at most one row per attempt."""

    __tablename__ = "qa_samples"
    __table_args__ = (Index(None, "department", "reviewed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"), unique=True)
    department: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(32), default="random", server_default="random")
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reviewed_at: Mapped[datetime | None]

    attempt: Mapped[CallAttempt] = relationship()
    assigned_to: Mapped[User | None] = relationship()
