"""Console users (admins, supervisors, agents who take transfers, quality reviewers) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, one_of
from models.types import BigId, utcnow
from models.vocab import USER_ROLES


class User(Timestamps, Base):
    """A console account. ``password_hash`` is produced and checked by console/ (never a plain password);
    ``sip_endpoint`` is where transfers to this agent ring (e.g. ``PJSIP/agent101``)."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", USER_ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    sip_endpoint: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(100))  # escalations routed here by default
    last_login_at: Mapped[datetime | None]


class AuditLog(Base):
    """Who did what to which object, e.g. ``("export", "campaign", "12", {"rows": 3400})``. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None]
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now(), index=True)

    user: Mapped[User | None] = relationship()
