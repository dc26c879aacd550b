"""Agents' pages: the live escalation queue (SSE), the case page, and handling actions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette.sse import EventSourceResponse

from console import audit
from console import escalations as cases
from console.deps import Handler, SessionDep, state_of
from console.live import open_escalations
from console.templating import render, render_fragment
from models.users import User

router = APIRouter(prefix="/escalations")

KEEPALIVE_SECONDS = 15


ALL_DEPARTMENTS = "all"


class QueueQuery(BaseModel):
    """Queue filters (unknown parameters are refused). No ``department`` means the user's own department
    (cases are routed to the responsible department's queue); ``all`` means every department."""

    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(default=None, max_length=100)
    lang: str | None = Field(default=None, max_length=2)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        return {k: (None if v == "" else v) for k, v in data.items()} if isinstance(data, dict) else data

    def for_user(self, user: User) -> str | None:
        """The department to show: the one asked for, else the user's own; None for every department."""
        if self.department == ALL_DEPARTMENTS:
            return None
        return self.department or user.department


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csrf_token: str | None = None


class NoteForm(_Form):
    """A note on a case."""

    text: str = Field(min_length=1, max_length=4000)


class CategoryForm(_Form):
    """The department's classification of a case."""

    category: str = Field(max_length=100)


class ResolveForm(_Form):
    """Closing a case, with an optional last note and category."""

    category: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=4000)


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request, db: SessionDep, user: Handler, q: Annotated[QueueQuery, Query()]
) -> Response:
    """Open escalations, newest first; new ones arrive over SSE."""
    department = q.for_user(user)
    departments = cases.departments(db)
    if department and department not in departments:
        departments.append(department)
    return render(
        request,
        "escalations/queue.html",
        {
            "rows": open_escalations(db, department),
            "department": department or ALL_DEPARTMENTS,
            "departments": departments,
        },
    )


@router.get("/stream")
async def queue_stream(request: Request, user: Handler, q: Annotated[QueueQuery, Query()]) -> Response:
    """Server-sent events: ``escalation`` with ``{"id", "status", "html"}`` for every new or changed case."""
    feed = state_of(request).feed
    department = q.for_user(user)

    async def events() -> AsyncIterator[dict[str, str]]:
        async with feed.subscribe() as queue:
            while True:
                view = await queue.get()
                if department and view.department != department:
                    continue
                html = render_fragment(request, "escalations/_row.html", {"e": view})
                yield {
                    "event": "escalation",
                    "id": f"{view.id}-{view.updated_at.timestamp():.6f}",
                    "data": json.dumps({"id": view.id, "status": view.status, "html": html}),
                }

    return EventSourceResponse(events(), ping=KEEPALIVE_SECONDS, send_timeout=10)


def _case_or_404(db: SessionDep, escalation_id: int) -> cases.Escalation:
    escalation = cases.get_escalation(db, escalation_id)
    if escalation is None:
        raise HTTPException(404)
    return escalation


@router.get("/{escalation_id}", response_class=HTMLResponse)
def case_page(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """The case: patient, visit, transcript so far, answers, notes, and the handling forms."""
    escalation = _case_or_404(db, escalation_id)
    case = cases.load_case(db, escalation)
    audit.record_now(db, user, "view_escalation", "escalation", escalation.id)
    return render(request, "escalations/case.html", {"case": case, "e": escalation})


@router.get("/{escalation_id}/transcript", response_class=HTMLResponse)
def case_transcript(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """The transcript fragment (htmx refreshes it every 2 s while the call is live)."""
    case = cases.load_case(db, _case_or_404(db, escalation_id))
    return render(request, "escalations/_transcript.html", {"case": case, "e": case.escalation})


def _back(escalation_id: int) -> RedirectResponse:
    return RedirectResponse(f"/escalations/{escalation_id}", status_code=303)


def _closed(exc: cases.CaseClosed) -> HTTPException:
    return HTTPException(409, str(exc))


@router.post("/{escalation_id}/assign")
def assign(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """Assign the case to me."""
    try:
        cases.assign(db, _case_or_404(db, escalation_id), user, state_of(request).clock())
    except cases.CaseClosed as exc:
        raise _closed(exc) from None
    return _back(escalation_id)


@router.post("/{escalation_id}/notes")
def add_note(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[NoteForm, Form()]
) -> Response:
    """Add a note."""
    try:
        cases.add_note(db, _case_or_404(db, escalation_id), user, form.text, state_of(request).clock())
    except cases.CaseClosed as exc:
        raise _closed(exc) from None
    return _back(escalation_id)


@router.post("/{escalation_id}/category")
def set_category(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[CategoryForm, Form()]
) -> Response:
    """Set the category."""
    try:
        cases.categorize(db, _case_or_404(db, escalation_id), user, form.category, state_of(request).clock())
    except cases.CaseClosed as exc:
        raise _closed(exc) from None
    return _back(escalation_id)


@router.post("/{escalation_id}/resolve")
def resolve(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[ResolveForm, Form()]
) -> Response:
    """Resolve the case."""
    try:
        cases.resolve(
            db, _case_or_404(db, escalation_id), user, state_of(request).clock(), form.category, form.note
        )
    except cases.CaseClosed as exc:
        raise _closed(exc) from None
    return _back(escalation_id)


@router.post("/{escalation_id}/take-call")
def take_call(db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """NOT BUILT YET: live transfer of the patient's call to this agent's phone.

    Design: if the case's attempt is live (``channel_id`` set, no ``ended_at``), ask the dialer that owns
    the call (``asterisk_host``) to play the hold prompt, originate ``user.sip_endpoint`` through ARI with
    a ring timeout, and bridge both channels on answer; no answer → tell the patient they will be called
    back and create a callback task. Until then this answers 501 and the page says to call back.
    """
    _case_or_404(db, escalation_id)
    return JSONResponse(
        {"detail": "live transfer is not built yet; call the patient back", "escalation": escalation_id},
        status_code=501,
    )
