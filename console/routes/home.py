"""The start page (each role's main page) and a health check."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from console.deps import AnyUser

router = APIRouter()

START_PAGE: dict[str, str] = {
    "agent": "/escalations",
    "supervisor": "/escalations",
    "quality": "/calls",
    "admin": "/audit",
}


@router.get("/")
def home(user: AnyUser) -> RedirectResponse:
    """Go to the user's main page."""
    return RedirectResponse(START_PAGE[user.role], status_code=303)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness for a process supervisor; public, reveals nothing."""
    return {"status": "ok"}
