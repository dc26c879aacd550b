"""Login sessions on the server: open one on a good password, find it from the cookie, end it.

Expiry is the server's decision: a session lives ``lifetime`` after its last use (sliding, refreshed at
most once a minute so reading pages does not write on every request) and never longer than
``MAX_SESSION_AGE`` after login. An expired row is deleted when it is presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from console import security
from models.console import ConsoleSession
from models.users import User

MAX_SESSION_AGE = timedelta(hours=12)
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class LoginResult:
    """A successful login: the cookie token (shown once, never stored) and the session row."""

    token: str
    session: ConsoleSession
    user: User


def authenticate(db: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (same cost either way)."""
    user = db.scalar(select(User).where(User.username == username))
    ok = security.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    return user


def open_session(
    db: Session,
    user: User,
    *,
    secret: str,
    now: datetime,
    lifetime: timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> LoginResult:
    """A new session for ``user`` (committed); also sweeps sessions that expired long ago."""
    token = security.new_token()
    row = ConsoleSession(
        token_hash=security.token_hash(secret, token),
        user_id=user.id,
        csrf_token=security.new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=min(now + lifetime, now + MAX_SESSION_AGE),
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    user.last_login_at = now
    db.add(row)
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now - timedelta(days=1)))
    db.commit()
    return LoginResult(token, row, user)


def find_session(
    db: Session, token: str | None, *, secret: str, now: datetime, lifetime: timedelta
) -> ConsoleSession | None:
    """The live session for a cookie token, its expiry extended; None if unknown, expired or user inactive."""
    if not token:
        return None
    row = db.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == security.token_hash(secret, token)))
    if row is None:
        return None
    if row.expires_at <= now or not row.user.active:
        db.delete(row)
        db.commit()
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        row.expires_at = min(now + lifetime, row.created_at + MAX_SESSION_AGE)
        db.commit()
    return row


def close_session(db: Session, row: ConsoleSession) -> None:
    """End a session (logout); committed."""
    db.delete(row)
    db.commit()


def close_token(db: Session, token: str | None, *, secret: str) -> None:
    """End the session of a cookie token, if there is one (not committed)."""
    if token:
        db.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == security.token_hash(secret, token)))
