"""Quality staff's second-level review queue: sampled calls waiting for a score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from console import samples
from console.deps import Reviewer, SessionDep
from console.templating import render

router = APIRouter(prefix="/review")


class ReviewQuery(BaseModel):
    """Review-queue filters."""

    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(default=None, max_length=100)
    lang: str | None = Field(default=None, max_length=2)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        return {k: (None if v == "" else v) for k, v in data.items()} if isinstance(data, dict) else data


@router.get("", response_class=HTMLResponse)
def review_queue(
    request: Request, db: SessionDep, user: Reviewer, q: Annotated[ReviewQuery, Query()]
) -> Response:
    """Sampled calls not reviewed yet, oldest first."""
    return render(
        request,
        "review.html",
        {
            "rows": samples.open_samples(db, q.department),
            "department": q.department or "",
            "departments": samples.departments(db),
        },
    )


@router.post("/{sample_id}/take")
def take(db: SessionDep, user: Reviewer, sample_id: int) -> Response:
    """Assign the sample to me and open its call."""
    try:
        sample = samples.take(db, sample_id, user)
    except samples.SampleClosed as exc:
        raise HTTPException(409, str(exc)) from None
    if sample is None:
        raise HTTPException(404)
    return RedirectResponse(f"/calls/{sample.attempt_id}", status_code=303)
