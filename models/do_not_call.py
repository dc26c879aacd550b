"""The do-not-call list: E.164 numbers that must never be dialled, whoever the patient record says."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from models.base import Base, CreatedAt
from models.patients import check_e164


class DoNotCall(CreatedAt, Base):
    """One blocked number. ``source``: who added it — ``patient`` (asked on a call), ``agent``, ``import``."""

    __tablename__ = "do_not_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="patient", server_default="patient")

    @validates("phone")
    def _check_phone(self, _key: str, phone: str) -> str:
        return check_e164(phone)
