"""Passwords, session tokens, CSRF tokens and the login rate limiter. No HTTP and no database here.

- Passwords: argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile); a hash made with older
  parameters is re-hashed at the next successful login (``needs_rehash``).
- Session tokens: 32 random bytes (URL-safe base64) in the cookie; the database keeps only
  HMAC-SHA256(secret, token), so reading the sessions table does not give anyone a live session.
- CSRF: one random token per session, sent back in a hidden form field or the ``X-CSRF-Token`` header
  (htmx) and compared in constant time.
- Login rate limiting: at most ``max_failures`` failed logins per (username, client IP) within
  ``window``; further attempts are refused until the oldest failure leaves the window. In memory, per
  process: run the console as one process (the default), or put the limiter behind Redis before scaling
  out to several workers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8

# Verified against when the username does not exist, so an unknown user costs the same time as a wrong
# password (no user enumeration by timing). Made on first use.
_dummy_hash: str | None = None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; ValueError if it is shorter than MIN_PASSWORD_LENGTH."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``password_hash``; None (no such user) still spends the hashing time."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(secret: str, token: str) -> str:
    """The keyed hash of a session token as stored in the database (64 hex characters)."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False if either is missing or empty."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class LoginLimiter:
    """Failed-login counter per (username, ip) over a sliding window; thread-safe (routes run in threads)."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=5),
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, username: str, ip: str) -> timedelta | None:
        """How long until another attempt is allowed, or None if one is allowed now."""
        key = (username.casefold(), ip)
        now = self.clock()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                if not times:
                    self._failures.pop(key, None)
                return None
            return times[0] + self.window - now

    def failed(self, username: str, ip: str) -> None:
        """Count one failed attempt."""
        key = (username.casefold(), ip)
        now = self.clock()
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, username: str, ip: str) -> None:
        """Forget the failures of a (username, ip) that just logged in."""
        with self._lock:
            self._failures.pop((username.casefold(), ip), None)
