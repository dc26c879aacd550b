"""Log in and out. The login form has its own CSRF token (a double-submit cookie: no session exists yet);
failures are counted per (username, client IP) and answered with 429 once over the limit."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from console import audit, auth, security
from console.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AnyUser,
    CurrentSession,
    SessionDep,
    state_of,
)
from console.i18n import translate
from console.templating import render, request_lang

router = APIRouter()


class LoginForm(BaseModel):
    """The login form's fields; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    csrf_token: str = Field(min_length=1, max_length=128)
    next: str = Field(default="/", max_length=2000)


class CsrfOnlyForm(BaseModel):
    """A form whose only field is the CSRF token."""

    model_config = ConfigDict(extra="forbid")

    csrf_token: str | None = None


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything pointing elsewhere (``//evil``, ``https://…``) is ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def client_ip(request: Request) -> str:
    """The client address as the server sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, status: int = 200, error: str | None = None, nxt: str = "/") -> Response:
    token = security.new_token()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "next": safe_next(nxt)},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
    """The login form."""
    error = translate("login.expired", request_lang(request)) if expired else None
    return _login_page(request, error=error, nxt=next)


@router.post("/login")
def login(request: Request, db: SessionDep, form: Annotated[LoginForm, Form()]) -> Response:
    """Check the password, open a session, set the cookie, go to ``next``."""
    st = state_of(request)
    lang = request_lang(request)
    if not security.tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), form.csrf_token):
        return render(
            request, "error.html", {"status": 403, "message": translate("error.csrf", lang)}, status_code=403
        )
    ip = client_ip(request)
    wait = st.limiter.retry_after(form.username, ip)
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        response = _login_page(request, 429, translate("login.limited", lang, minutes=minutes), form.next)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
        return response
    user = auth.authenticate(db, form.username, form.password)
    if user is None:
        st.limiter.failed(form.username, ip)
        audit.record_now(db, None, "login_failed", "user", None, {"username": form.username[:64], "ip": ip})
        return _login_page(request, 401, translate("login.failed", lang), form.next)
    st.limiter.succeeded(form.username, ip)
    # A session this browser already had ends here: a login always starts a new one (no fixation).
    auth.close_token(db, request.cookies.get(SESSION_COOKIE), secret=st.secret)
    result = auth.open_session(
        db,
        user,
        secret=st.secret,
        now=st.clock(),
        lifetime=st.session_lifetime,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    audit.record_now(db, user, "login", "user", user.id, {"ip": ip})
    response = RedirectResponse(safe_next(form.next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    db: SessionDep,
    row: CurrentSession,
    user: AnyUser,
    form: Annotated[CsrfOnlyForm, Form()],
) -> Response:
    """End the session (server side) and clear the cookie."""
    audit.record(db, user, "logout", "user", user.id)
    auth.close_session(db, row)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
