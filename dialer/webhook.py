"""Delivering a call's answers to the hospital's HTTP endpoint (HIS): the payload, its signature, the POST.

The receiver checks authenticity and freshness like this (the secret is ``FOLLOWUP_WEBHOOK_SECRET``)::

    expected = "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Followup-Signature"])
         and abs(now - int(request.headers["X-Followup-Timestamp"])) < 300

``X-Followup-Delivery`` is the same for every retry of one delivery: a receiver that has already stored
it answers 2xx again and ignores the duplicate. Any 2xx is success; anything else (or no answer within
the timeout) is a failed try, retried by the job (dialer/jobs.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Followup-Signature"
TIMESTAMP_HEADER = "X-Followup-Timestamp"
DELIVERY_HEADER = "X-Followup-Delivery"
EVENT_HEADER = "X-Followup-Event"
EVENT = "call.finished"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is within ``tolerance_s``."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def encode(payload: dict[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON, Chinese kept as is."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class TryResult:
    """The outcome of one POST: ``ok`` on 2xx; ``http_status`` None when no response came."""

    ok: bool
    http_status: int | None
    error: str | None
    ms: int


def post(
    url: str,
    body: bytes,
    *,
    delivery_id: int | str,
    secret: str = "",
    timeout_s: float = 10.0,
    now: float | None = None,
) -> TryResult:
    """POST ``body`` to ``url`` once, signed when ``secret`` is set. Never raises for HTTP/network
    failures: they come back as a failed TryResult with the reason."""
    timestamp = int(time.time() if now is None else now)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "followup-webhook/1",
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: EVENT,
        TIMESTAMP_HEADER: str(timestamp),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
            response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        return TryResult(
            False, exc.code, f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else ""), elapsed()
        )
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return TryResult(False, None, f"{type(exc).__name__}: {reason}", elapsed())
    if 200 <= status < 300:
        return TryResult(True, status, None, elapsed())
    return TryResult(False, status, f"HTTP {status}", elapsed())
