"""Escalations: things a human must see — complaints (投诉), praise (表扬), suggestions, alarming answers,
requests for a human (转人工), clinical questions, and questions nobody could get an answer to.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, one_of
from models.vocab import ESCALATION_KINDS, ESCALATION_STATUSES

if TYPE_CHECKING:
    from models.calls import CallAttempt
    from models.patients import Patient
    from models.users import User


class Escalation(Timestamps, Base):
    """A case routed to ``department``: open → assigned (``assignee``) → resolved (``resolved_at``).

    ``attempt_id`` is NULL for cases raised outside a call (e.g. entered by an agent) and survives the
    attempt's deletion; deleting the patient deletes their escalations.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        one_of("kind", ESCALATION_KINDS),
        one_of("status", ESCALATION_STATUSES),
        Index(None, "status", "department"),
        Index(None, "updated_at"),  # the console's live queue polls for rows changed since its last look
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    category: Mapped[str | None] = mapped_column(String(100))  # the department's own classification
    text: Mapped[str] = mapped_column(Text, default="")  # what the patient said
    question_id: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)  # the handler's notes
    resolved_at: Mapped[datetime | None]

    attempt: Mapped[CallAttempt | None] = relationship()
    patient: Mapped[Patient] = relationship(back_populates="escalations")
    assignee: Mapped[User | None] = relationship()
