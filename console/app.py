"""The console's FastAPI application: ``create_app()`` wires settings, database, routes and safety nets.

Safety nets applied to every request, whatever the route:
- ``GuardMiddleware``: request bodies over ``max_body_bytes`` are refused with 413 before the app reads
  them (by Content-Length, or by counting a chunked body); security headers on every response (a strict
  Content-Security-Policy: scripts, styles and media only from this origin; no framing).
- exception handlers turning NotAuthenticated/CsrfFailed/Forbidden/validation errors into the right
  status with a page (or, for htmx, a redirect header) that names the problem.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import security
from console.deps import ConsoleState, CsrfFailed, Forbidden, NotAuthenticated
from console.i18n import translate
from console.live import EscalationFeed
from console.templating import render, request_lang
from followup.config import Settings, get_settings
from models.db import make_engine, session_factory
from models.types import utcnow

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 1024 * 1024

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        (
            b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class GuardMiddleware:
    """Body size limit and security headers (a plain ASGI middleware: SSE streams pass through)."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, body_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = body_limits or {}  # path -> a larger limit (file uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await _plain(send_with_headers, 400, "malformed Content-Length")
                return
            if too_big:
                await _plain(send_with_headers, 413, _too_large(limit))
                return
            await self.app(scope, receive, send_with_headers)
            return
        if headers.get(b"transfer-encoding", b"").lower() != b"chunked":
            await self.app(scope, receive, send_with_headers)
            return
        # Chunked body: read it here (bounded), then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _plain(send_with_headers, 413, _too_large(limit))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)


def _too_large(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"request body over {limit // (1024 * 1024)} MB ({limit} bytes): too large"
    return f"request body over {limit} bytes"


async def _plain(send: Send, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and "hx-request" not in request.headers


def _error_page(request: Request, status: int, message: str) -> Response:
    if not _wants_html(request):
        return JSONResponse({"detail": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _on_not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    target = "/login" + ("?expired=1" if exc.expired else "")
    if _wants_html(request):  # a browser page or form: to the login page (back here afterwards, for GETs)
        if request.method != "GET":
            return RedirectResponse(target, status_code=303)
        nxt = request.url.path + (("?" + request.url.query) if request.url.query else "")
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}next={quote(nxt)}", status_code=303)
    response = JSONResponse({"detail": "not authenticated", "login": target}, status_code=401)
    if "hx-request" in request.headers:
        response.headers["HX-Redirect"] = target  # htmx follows it: the whole page goes to the login
    return response


def _on_csrf(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, translate("error.csrf", request_lang(request)))


def _on_forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, translate("error.forbidden", request_lang(request)))


def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body", "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    if not _wants_html(request):
        return JSONResponse({"detail": errors}, status_code=422)
    lines = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    message = translate("error.invalid", request_lang(request)) + " " + lines
    return render(request, "error.html", {"status": 422, "message": message}, status_code=422)


def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = translate("error.not_found", request_lang(request))
    else:
        message = str(exc.detail)
    response = _error_page(request, exc.status_code, message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
    feed_interval: float = 0.5,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The console app. ``engine`` defaults to the configured database; ``clock`` is injectable for tests."""
    from console.routes import (
        audit_log,
        auth,
        calls,
        campaigns,
        dashboards,
        do_not_call,
        escalations,
        flows,
        home,
        samples,
    )

    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or make_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    secret = settings.console_secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning("FOLLOWUP_CONSOLE_SECRET_KEY is not set: sessions end when the console restarts")
    state = ConsoleState(
        sessions=sessions,
        secret=secret,
        session_lifetime=timedelta(minutes=settings.console_session_minutes),
        clock=clock,
        limiter=security.LoginLimiter(clock),
        feed=EscalationFeed(sessions, interval=feed_interval, redis_url=settings.redis_url or None,
                           channel=settings.escalation_channel),
        default_lang=settings.default_lang,
        timezone=settings.timezone,
        data_dir=settings.data_dir,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await state.feed.stop()
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="followup console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.console = state
    upload_bytes = settings.console_max_upload_mb * 1024 * 1024
    state.extra.update(max_upload_bytes=upload_bytes, redis_url=settings.redis_url)
    app.add_middleware(
        GuardMiddleware, max_body_bytes=max_body_bytes, body_limits={campaigns.UPLOAD_PATH: upload_bytes}
    )
    handlers: dict[Any, Callable[[Request, Exception], Response]] = {
        NotAuthenticated: _on_not_authenticated,
        CsrfFailed: _on_csrf,
        Forbidden: _on_forbidden,
        RequestValidationError: _on_validation,
        StarletteHTTPException: _on_http,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in (
        auth,
        home,
        escalations,
        calls,
        samples,
        campaigns,
        flows,
        do_not_call,
        dashboards,
        audit_log,
    ):
        app.include_router(module.router)
    return app
