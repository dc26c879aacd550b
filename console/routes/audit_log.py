"""Admins read the audit log: filter by user, action, object and date range; newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from console.audit import ACTIONS
from console.deps import Admin, SessionDep, state_of
from console.templating import render
from models.users import AuditLog, User

router = APIRouter()

PAGE_SIZE = 100


class AuditFilters(BaseModel):
    """The audit page's filters."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=64)
    object_type: str | None = Field(default=None, max_length=64)
    object_id: str | None = Field(default=None, max_length=64)
    date_from: date | None = None
    date_to: date | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    lang: str | None = Field(default=None, max_length=2)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        return {k: (None if v == "" else v) for k, v in data.items()} if isinstance(data, dict) else data

    def query_string(self, **overrides: object) -> str:
        """These filters as a query string, with ``overrides``."""
        values = self.model_dump(exclude_none=True) | overrides
        values.pop("lang", None)
        return urlencode(values)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, db: SessionDep, user: Admin, f: Annotated[AuditFilters, Query()]
) -> Response:
    """The audit log."""
    zone = ZoneInfo(state_of(request).timezone)
    q = select(AuditLog).options(joinedload(AuditLog.user)).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if f.username:
        q = q.join(User, User.id == AuditLog.user_id).where(User.username == f.username)
    if f.action:
        q = q.where(AuditLog.action == f.action)
    if f.object_type:
        q = q.where(AuditLog.object_type == f.object_type)
    if f.object_id:
        q = q.where(AuditLog.object_id == f.object_id)
    if f.date_from:
        q = q.where(AuditLog.at >= datetime.combine(f.date_from, time(), zone))
    if f.date_to:
        q = q.where(AuditLog.at < datetime.combine(f.date_to + timedelta(days=1), time(), zone))
    rows = list(db.scalars(q.offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return render(
        request,
        "audit.html",
        {"rows": rows[:PAGE_SIZE], "has_next": len(rows) > PAGE_SIZE, "f": f, "actions": ACTIONS},
    )
