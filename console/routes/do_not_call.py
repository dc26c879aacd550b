"""The do-not-call list: numbers that must never be dialled. Agents, supervisors and admins list it and add
numbers (with a reason); only admins remove one. Numbers are shown whole to admins and supervisors only.
Every change is audited."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select

from console import audit
from console.deps import Admin, Handler, SessionDep
from console.templating import render
from models.do_not_call import DoNotCall
from models.phones import PhoneError, mask_phone, normalize_phone
from models.store import add_do_not_call

router = APIRouter(prefix="/do-not-call")

FULL_NUMBER_ROLES = frozenset({"admin", "supervisor"})
PAGE_SIZE = 200


class ListFilters(BaseModel):
    """``q``: a number (any common format) or its last digits."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=32)
    lang: str | None = Field(default=None, max_length=2)
    added: Literal["1"] | None = None  # set by the redirect after a change, for its notice
    removed: Literal["0", "1"] | None = None


class AddForm(BaseModel):
    """A number to block and why."""

    model_config = ConfigDict(extra="forbid")

    csrf_token: str | None = None
    phone: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)


class RemoveForm(BaseModel):
    """A number to unblock."""

    model_config = ConfigDict(extra="forbid")

    csrf_token: str | None = None
    phone: str = Field(min_length=1, max_length=40)


def _normalised(raw: str) -> str:
    """The E.164 form of ``raw``; a 422 naming ``phone`` when it is not a dialable number."""
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "phone"),
                    "msg": f"not a valid number: {exc}",
                    "input": None,
                }
            ]
        ) from None


@router.get("", response_class=HTMLResponse)
def dnc_list(
    request: Request, db: SessionDep, user: Handler, filters: Annotated[ListFilters, Query()]
) -> Response:
    """The newest entries (or those matching ``q``)."""
    stmt = select(DoNotCall).order_by(DoNotCall.id.desc()).limit(PAGE_SIZE)
    q = (filters.q or "").strip()
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        try:
            stmt = stmt.where(DoNotCall.phone == normalize_phone(q))
        except PhoneError:  # a partial number: its last digits
            stmt = stmt.where(DoNotCall.phone.endswith(digits or "\x00"))
    rows = list(db.scalars(stmt))
    total = db.scalar(select(func.count(DoNotCall.id))) or 0
    full = user.role in FULL_NUMBER_ROLES
    shown = [(r, r.phone if full else mask_phone(r.phone)) for r in rows]
    return render(
        request,
        "do_not_call/list.html",
        {"rows": shown, "total": total, "q": q, "can_remove": user.role == "admin", "f": filters},
    )


@router.post("")
def dnc_add(db: SessionDep, user: Handler, form: Annotated[AddForm, Form()]) -> Response:
    """Block a number (normalised to E.164; already listed: kept as it was)."""
    phone = _normalised(form.phone)
    entry = add_do_not_call(db, phone, reason=form.reason.strip(), source=user.role)
    detail = {"phone": mask_phone(phone), "reason": form.reason.strip()[:200]}
    audit.record_now(db, user, "add_do_not_call", "do_not_call", entry.id, detail)
    return RedirectResponse("/do-not-call?added=1", status_code=303)


@router.post("/delete")
def dnc_remove(db: SessionDep, user: Admin, form: Annotated[RemoveForm, Form()]) -> Response:
    """Unblock a number (admins only). A number not on the list is not an error: nothing changes."""
    phone = _normalised(form.phone)
    entry = db.scalars(select(DoNotCall).where(DoNotCall.phone == phone)).first()
    if entry is None:
        return RedirectResponse("/do-not-call?removed=0", status_code=303)
    entry_id = entry.id
    db.execute(delete(DoNotCall).where(DoNotCall.id == entry_id))
    audit.record(db, user, "remove_do_not_call", "do_not_call", entry_id, {"phone": mask_phone(phone)})
    db.commit()  # the removal and its audit entry together
    return RedirectResponse("/do-not-call?removed=1", status_code=303)
