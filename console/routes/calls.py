"""Quality staff's pages: the call list (filters, CSV export), the call page (transcript beside the
recording), the recording itself (Range requests, audited), scoring and tags."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from console import audit
from console import calls as review
from console.deps import Reviewer, SessionDep, state_of
from console.templating import render

router = APIRouter(prefix="/calls")

T = TypeVar("T")

# Tags: letters (any script), digits, _ - . and spaces inside; no markup or control characters.
TAG_PATTERN = re.compile(r"^[\w][\w .\-]{0,63}$")


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csrf_token: str | None = None


class ScoreForm(_Form):
    """The rubric (each item 1–5) and comments."""

    recognition: int = Field(ge=1, le=5)
    answers: int = Field(ge=1, le=5)
    flow: int = Field(ge=1, le=5)
    courtesy: int = Field(ge=1, le=5)
    escalation: int = Field(ge=1, le=5)
    comments: str = Field(default="", max_length=4000)


class TagForm(_Form):
    """One or more tags, comma separated (，or ,)."""

    tag: str = Field(min_length=1, max_length=300)

    @field_validator("tag")
    @classmethod
    def _valid_tags(cls, value: str) -> str:
        for tag in split_tags(value):
            if not TAG_PATTERN.match(tag):
                raise ValueError(
                    f"tag {tag[:64]!r}: letters, digits, _ - . and spaces only, up to 64 characters"
                )
        if not split_tags(value):
            raise ValueError("no tag given")
        return value


def split_tags(value: str) -> list[str]:
    """``"态度, asr_error，噪音"`` → ``["态度", "asr_error", "噪音"]``."""
    return [t.strip() for t in re.split(r"[,，]", value) if t.strip()]


def _or_422(run: Callable[[], T]) -> T:
    """Run a call-list query; a search query the index cannot take is the client's error, named ``q``."""
    try:
        return run()
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "q"), "msg": str(exc), "input": None}]
        ) from None


def _record_or_404(db: SessionDep, call_id: int) -> review.CallRecord:
    record = review.load_call(db, call_id)
    if record is None:
        raise HTTPException(404)
    return record


@router.get("", response_class=HTMLResponse)
def call_list(
    request: Request, db: SessionDep, user: Reviewer, filters: Annotated[review.CallFilters, Query()]
) -> Response:
    """Calls, newest first, with filters (``q``: transcript search)."""
    rows, has_next = _or_422(lambda: review.list_calls(db, filters, state_of(request).timezone))
    return render(
        request,
        "calls/list.html",
        {"rows": rows, "has_next": has_next, "f": filters, **review.filter_choices(db)},
    )


@router.get("/export.csv")
def export(
    request: Request, db: SessionDep, user: Reviewer, filters: Annotated[review.CallFilters, Query()]
) -> Response:
    """The filtered list as CSV (UTF-8 with BOM so spreadsheet programs read the Chinese right)."""
    text, _count = _or_422(lambda: review.export_csv(db, filters, state_of(request).timezone, user))
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


@router.get("/{call_id}", response_class=HTMLResponse)
def call_page(request: Request, db: SessionDep, user: Reviewer, call_id: int) -> Response:
    """The call: transcript beside the recording, answers, escalations, scores, tags."""
    record = _record_or_404(db, call_id)
    audit.record_now(db, user, "view_call", "call", call_id)
    has_audio = review.recording_file(record.attempt, state_of(request).data_dir) is not None
    mine = next((s for s in record.scores if s.reviewer_id == user.id), None)
    return render(
        request,
        "calls/call.html",
        {"r": record, "has_audio": has_audio, "rubric": review.RUBRIC, "mine": mine},
    )


@router.get("/{call_id}/recording")
def recording(request: Request, db: SessionDep, user: Reviewer, call_id: int) -> Response:
    """The recording, with HTTP Range support (the audio element seeks by range requests).

    Audited as "play_recording" once per playback: on the first request (no Range, or a range from byte 0),
    not on every seek.
    """
    record = _record_or_404(db, call_id)
    path = review.recording_file(record.attempt, state_of(request).data_dir)
    if path is None:
        raise HTTPException(404)
    range_header = request.headers.get("range", "")
    if not range_header or re.match(r"^bytes=0-", range_header):
        audit.record_now(db, user, "play_recording", "call", call_id)
    media_type = "audio/wav" if path.suffix.lower() == ".wav" else None
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.post("/{call_id}/score")
def score(
    request: Request, db: SessionDep, user: Reviewer, call_id: int, form: Annotated[ScoreForm, Form()]
) -> Response:
    """Save my score for this call."""
    _record_or_404(db, call_id)
    items = {item: getattr(form, item) for item in review.RUBRIC}
    review.save_score(db, call_id, user, items, form.comments, state_of(request).clock())
    return RedirectResponse(f"/calls/{call_id}?saved=1#score", status_code=303)


@router.post("/{call_id}/tags")
def add_tags(db: SessionDep, user: Reviewer, call_id: int, form: Annotated[TagForm, Form()]) -> Response:
    """Add tags."""
    _record_or_404(db, call_id)
    review.add_tags(db, call_id, user, split_tags(form.tag))
    return RedirectResponse(f"/calls/{call_id}#tags", status_code=303)


@router.post("/{call_id}/tags/delete")
def remove_tag(db: SessionDep, user: Reviewer, call_id: int, form: Annotated[TagForm, Form()]) -> Response:
    """Remove a tag."""
    _record_or_404(db, call_id)
    review.remove_tag(db, call_id, user, form.tag.strip())
    return RedirectResponse(f"/calls/{call_id}#tags", status_code=303)
