"""Agents' pages: the live escalation queue (SSE), the case page, and handling actions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette.sse import EventSourceResponse

from console import audit
from console import escalations as cases
from console.deps import Handler, SessionDep, state_of
from console.live import open_escalations
from console.templating import render, render_fragment
from dialer import handoff
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
    rows = open_escalations(db, department)
    return render(
        request,
        "escalations/queue.html",
        {
            "rows": rows,
            "waiting": handoff.waiting_ids(db, [r.id for r in rows]),
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
                html = render_fragment(request, "escalations/_row.html", {"e": view, "waiting": _waiting(request, [view.id])})
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
    transfer = handoff.transfer_state(db, escalation)
    return render(request, "escalations/case.html", {"case": case, "e": escalation, "transfer": transfer})


@router.get("/{escalation_id}/transcript", response_class=HTMLResponse)
def case_transcript(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """The transcript fragment (htmx refreshes it every 2 s while the call is live)."""
    case = cases.load_case(db, _case_or_404(db, escalation_id))
    return render(request, "escalations/_transcript.html", {"case": case, "e": case.escalation})


def _back(escalation_id: int) -> RedirectResponse:
    return RedirectResponse(f"/escalations/{escalation_id}", status_code=303)


@contextmanager
def _case_open() -> Iterator[None]:
    """Turn a change refused because the case is resolved into 409 with its reason."""
    try:
        yield
    except cases.CaseClosed as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/{escalation_id}/assign")
def assign(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """Assign the case to me."""
    with _case_open():
        cases.assign(db, _case_or_404(db, escalation_id), user, state_of(request).clock())
    return _back(escalation_id)


@router.post("/{escalation_id}/notes")
def add_note(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[NoteForm, Form()]
) -> Response:
    """Add a note."""
    with _case_open():
        cases.add_note(db, _case_or_404(db, escalation_id), user, form.text, state_of(request).clock())
    return _back(escalation_id)


@router.post("/{escalation_id}/category")
def set_category(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[CategoryForm, Form()]
) -> Response:
    """Set the category."""
    with _case_open():
        cases.categorize(db, _case_or_404(db, escalation_id), user, form.category, state_of(request).clock())
    return _back(escalation_id)


@router.post("/{escalation_id}/resolve")
def resolve(
    request: Request, db: SessionDep, user: Handler, escalation_id: int, form: Annotated[ResolveForm, Form()]
) -> Response:
    """Resolve the case."""
    with _case_open():
        cases.resolve(
            db, _case_or_404(db, escalation_id), user, state_of(request).clock(), form.category, form.note
        )
    return _back(escalation_id)


def _waiting(request: Request, ids: list[int]) -> set[int]:
    """Which of these cases have a patient on hold for an agent right now (for the queue's button)."""
    with state_of(request).sessions() as db:
        return handoff.waiting_ids(db, ids)


def _transfer_fragment(request: Request, db: SessionDep, escalation: cases.Escalation, status: int = 200) -> Response:
    db.refresh(escalation)
    """The live-transfer box of the case page (htmx swaps it; it polls itself while the call is live)."""
    context = {"e": escalation, "transfer": handoff.transfer_state(db, escalation)}
    return HTMLResponse(render_fragment(request, "escalations/_transfer.html", context), status_code=status)


@router.get("/{escalation_id}/transfer", response_class=HTMLResponse)
def transfer_status(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """The live-transfer box: waiting (take it), ringing your phone, connected, ended, callback due."""
    return _transfer_fragment(request, db, _case_or_404(db, escalation_id))


@router.post("/{escalation_id}/take-call")
def take_call(request: Request, db: SessionDep, user: Handler, escalation_id: int) -> Response:
    """Take the live call: the case is assigned to me and the dialer, polling it, rings my phone
    (``user.sip_endpoint``) and bridges the patient in (``dialer.transfer``). 400 without a phone, 409
    when the call is not waiting (taken by someone else, ended, callback due)."""
    escalation = _case_or_404(db, escalation_id)
    try:
        handoff.take(db, escalation, user)
    except handoff.CannotTake as exc:
        raise HTTPException(exc.status, str(exc)) from None
    audit.record(db, user, "take_call", "escalation", escalation.id, {"sip_endpoint": user.sip_endpoint})
    db.commit()
    if request.headers.get("hx-request"):
        return _transfer_fragment(request, db, escalation)
    return _back(escalation_id)
