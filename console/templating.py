"""Server-rendered pages: the Jinja2 environment, the per-request context (user, language, CSRF token).

Every page goes through ``render``: it picks the language (``?lang=`` also sets the cookie), binds ``t``
to it, and passes the phone-masking helper for the viewer's role, so a template cannot show a number the
role may not see unless it bypasses ``phone``.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console.i18n import LANG_COOKIE, LANGS, pick_lang, translate
from console.privacy import phone_for

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["LANGS"] = LANGS


def request_lang(request: Request) -> str:
    """The UI language of this request."""
    st = request.app.state.console
    return pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), st.default_lang)


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in the hospital's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def base_context(request: Request, lang: str | None = None) -> dict[str, Any]:
    """What every template gets: request, user, lang, t, csrf_token, phone(), when()."""
    st = request.app.state.console
    lang = lang or request_lang(request)
    user = getattr(request.state, "user", None)
    role = user.role if user is not None else "quality"  # no user: mask (error pages, login)
    other = "en" if lang == "zh" else "zh"
    return {
        "request": request,
        "user": user,
        "lang": lang,
        "other_lang": other,
        "t": partial(_t, lang=lang),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "phone": partial(phone_for, role),
        "when": lambda value, fmt="%Y-%m-%d %H:%M": local_time(value, st.timezone, fmt),
        "today_year": st.clock().astimezone(ZoneInfo(st.timezone)).year,
    }


def _t(key: str, lang: str, **values: object) -> str:
    return translate(key, lang, **values)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render template ``name`` with the base context plus ``context``."""
    ctx = base_context(request)
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    query_lang = request.query_params.get("lang")
    if query_lang in LANGS:
        response.set_cookie(LANG_COOKIE, query_lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def render_fragment(request: Request, name: str, context: dict[str, Any]) -> str:
    """A template rendered to a string (SSE payloads)."""
    ctx = base_context(request)
    ctx.update(context)
    return templates.get_template(name).render(ctx)
