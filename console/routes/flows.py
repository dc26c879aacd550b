"""The flow library pages: every flow with its validation status, and a readable preview of each."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from console import flow_preview
from console.deps import Reviewer
from console.templating import render, templates

router = APIRouter(prefix="/flows")

templates.env.globals["step_kind_key"] = lambda kind: f"flowp.kind_{kind}"


@router.get("", response_class=HTMLResponse)
def flow_list(request: Request, user: Reviewer) -> Response:
    """The library: id, title, languages, questions, valid or its errors (file:line)."""
    return render(request, "flows/list.html", {"entries": flow_preview.library()})


@router.get("/{flow_id}", response_class=HTMLResponse)
def flow_page(request: Request, user: Reviewer, flow_id: str) -> Response:
    """One flow: its questions, choices and DTMF keys, branches and escalations (or its errors)."""
    entry = next((e for e in flow_preview.library() if flow_id in (e.id, e.file)), None)
    if entry is None:
        raise HTTPException(404)
    views = flow_preview.steps(entry.flow) if entry.flow is not None else []
    return render(request, "flows/flow.html", {"e": entry, "steps": views})
