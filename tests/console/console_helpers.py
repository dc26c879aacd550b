"""Shared pieces of the console tests (a module of its own: test files import these by name, and the
name ``conftest`` is ambiguous when several test folders run in one pytest session)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import models
from models.console import ConsoleSession

PASSWORD = "correct-horse-1"
ROLES = ("admin", "supervisor", "agent", "quality")
PATIENT_PHONE = "+8613800138000"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Env:
    """One console app over its own database, and the ids of what the world fixture made."""

    app: FastAPI
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    data_dir: Path
    users: dict[str, int] = field(default_factory=dict)
    patient_id: int = 0
    attempt_id: int = 0
    escalation_id: int = 0
    campaign_id: int = 0
    sample_id: int = 0

    def client(self, https: bool = False) -> TestClient:
        """A browser-like client (follows no redirects, asks for HTML)."""
        return TestClient(
            self.app,
            base_url="https://testserver" if https else "http://testserver",
            follow_redirects=False,
            headers={"accept": "text/html"},
        )

    def login(self, role: str, client: TestClient | None = None) -> TestClient:
        """A client logged in as the ``role`` account."""
        client = client or self.client()
        response = login(client, f"{role}1", PASSWORD)
        assert response.status_code == 303, response.text
        return client

    def session_for(self, role: str) -> TestClient:
        """A client with a session opened directly (no password check: fast, for authorization tests)."""
        from console import auth
        from console.deps import SESSION_COOKIE

        st = self.app.state.console
        with self.sessions() as s:
            user = s.get(models.User, self.users[role])
            assert user is not None
            result = auth.open_session(s, user, secret=st.secret, now=self.clock(), lifetime=st.session_lifetime)
        client = self.client()
        client.cookies.set(SESSION_COOKIE, result.token)
        return client

    def csrf(self, role: str) -> str:
        """The CSRF token of the newest session of the ``role`` account."""
        with self.sessions() as s:
            row = s.scalars(
                select(ConsoleSession)
                .where(ConsoleSession.user_id == self.users[role])
                .order_by(ConsoleSession.id.desc())
            ).first()
            assert row is not None
            return row.csrf_token


def login_csrf(client: TestClient) -> str:
    """GET the login page and return its CSRF token (the cookie and the hidden field)."""
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login(client: TestClient, username: str, password: str, **extra: str):
    """Submit the login form (with a fresh login CSRF token)."""
    token = login_csrf(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, **extra}
    )
