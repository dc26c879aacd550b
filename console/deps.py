"""Typed dependencies of the route modules (the full-stack-fastapi-template way):

- ``SessionDep``: a database session for the request.
- ``CurrentUser``: the logged-in user. Resolving it also enforces the server-side session expiry and, for
  every state-changing method (POST/PUT/PATCH/DELETE), the session's CSRF token (hidden ``csrf_token``
  field or ``X-CSRF-Token`` header). A route cannot get a user without these checks.
- ``require_role("agent", ...)``: the user, if their role is one of those; 403 otherwise. Every route
  declares one (``tests/console/test_console_roles.py`` checks all of them against a table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from console import auth, security
from console.live import EscalationFeed
from models.console import ConsoleSession
from models.users import User
from models.vocab import USER_ROLES

SESSION_COOKIE = "followup_session"
LOGIN_CSRF_COOKIE = "followup_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES: tuple[str, ...] = USER_ROLES


@dataclass
class ConsoleState:
    """Everything the routes share in one process: the database, the settings they need, the clock."""

    sessions: sessionmaker[Session]
    secret: str
    session_lifetime: timedelta
    clock: Callable[[], datetime]
    limiter: security.LoginLimiter
    feed: EscalationFeed
    default_lang: str = "zh"
    timezone: str = "Asia/Shanghai"
    data_dir: str = "var"
    extra: dict[str, Any] = field(default_factory=dict)


class NotAuthenticated(Exception):
    """No live session: the login page (for pages), 401 (for htmx, SSE and API requests)."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("not authenticated")
        self.expired = expired


class CsrfFailed(Exception):
    """A state-changing request without the session's CSRF token: 403."""


class Forbidden(Exception):
    """The user's role may not use this route: 403."""

    def __init__(self, role: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"role {role} not in {allowed}")
        self.role = role
        self.allowed = allowed


def state_of(request: Request) -> ConsoleState:
    """The ConsoleState of the app serving ``request``."""
    return request.app.state.console


def get_db(request: Request) -> Iterator[Session]:
    """A session for this request, closed afterwards."""
    with state_of(request).sessions() as db:
        yield db


SessionDep = Annotated[Session, Depends(get_db)]


async def submitted_csrf_token(request: Request) -> str | None:
    """The CSRF token sent with a state-changing request: the htmx header, else the form field."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it: the route's Form parameters read the same
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def current_session(
    request: Request, db: SessionDep, csrf: Annotated[str | None, Depends(submitted_csrf_token)]
) -> ConsoleSession:
    """The request's live session; NotAuthenticated / CsrfFailed otherwise."""
    st = state_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    row = auth.find_session(db, token, secret=st.secret, now=st.clock(), lifetime=st.session_lifetime)
    if row is None:
        raise NotAuthenticated(expired=bool(token))
    if request.method not in SAFE_METHODS and not security.tokens_match(row.csrf_token, csrf):
        raise CsrfFailed
    request.state.user = row.user
    request.state.csrf_token = row.csrf_token
    # End the read transaction: the connection goes back to the pool now, not when the response ends
    # (an SSE stream lasts hours and must not hold one). Loaded rows stay usable (expire_on_commit=False).
    db.commit()
    return row


CurrentSession = Annotated[ConsoleSession, Depends(current_session)]


def current_user(row: CurrentSession) -> User:
    """The logged-in user."""
    return row.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: str) -> Callable[[User], User]:
    """A dependency giving the current user if their role is one of ``roles``; Forbidden otherwise."""
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(user.role, roles)
        return user

    check.roles = roles  # type: ignore[attr-defined]  # read by the docs and the role-matrix test
    return check


# The role groups the routes use.
AnyUser = Annotated[User, Depends(require_role(*ALL_ROLES))]
Handler = Annotated[User, Depends(require_role("agent", "supervisor", "admin"))]
Reviewer = Annotated[User, Depends(require_role("quality", "supervisor", "admin"))]
Admin = Annotated[User, Depends(require_role("admin"))]
