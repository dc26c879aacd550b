"""The role × route matrix, generated from the app's own route table: every route, every role and an
anonymous visitor, against the expected allow/deny table below. A route added to the app without an entry
here fails ``test_every_route_has_an_expectation``; an entry for a route that is gone fails too."""

from __future__ import annotations

import pytest
from console_helpers import ROLES, Env

import models
from console.app import create_app
from followup.config import Settings
from models.db import make_engine

PUBLIC = "public"
ALL = frozenset(ROLES)
HANDLERS = frozenset({"agent", "supervisor", "admin"})
REVIEWERS = frozenset({"quality", "supervisor", "admin"})
ADMINS = frozenset({"admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})

# "METHOD path" -> (who may use it, the status an allowed request gets, form data for POSTs).
# {escalation_id} and {call_id} are filled with the world fixture's ids.
EXPECTED: dict[str, tuple[object, int, dict[str, str] | None]] = {
    "GET /login": (PUBLIC, 200, None),
    "POST /login": (PUBLIC, 403, {"username": "x", "password": "y", "csrf_token": "no-cookie"}),
    "GET /healthz": (PUBLIC, 200, None),
    "POST /logout": (ALL, 303, {}),
    "GET /": (ALL, 303, None),
    "GET /escalations": (HANDLERS, 200, None),
    "GET /escalations/stream": (HANDLERS, 200, None),
    "GET /escalations/{escalation_id}": (HANDLERS, 200, None),
    "GET /escalations/{escalation_id}/transcript": (HANDLERS, 200, None),
    "POST /escalations/{escalation_id}/assign": (HANDLERS, 303, {}),
    "POST /escalations/{escalation_id}/notes": (HANDLERS, 303, {"text": "已电话联系患者"}),
    "POST /escalations/{escalation_id}/category": (HANDLERS, 303, {"category": "服务态度"}),
    "POST /escalations/{escalation_id}/resolve": (HANDLERS, 303, {"note": "已处理"}),
    "GET /escalations/{escalation_id}/transfer": (HANDLERS, 200, None),
    "POST /escalations/{escalation_id}/take-call": (HANDLERS, 409, {}),  # the fixture's call is over
    "GET /calls": (REVIEWERS, 200, None),
    "GET /calls/export.csv": (REVIEWERS, 200, None),
    "GET /calls/{call_id}": (REVIEWERS, 200, None),
    "GET /calls/{call_id}/recording": (REVIEWERS, 200, None),
    "POST /calls/{call_id}/score": (
        REVIEWERS,
        303,
        {"recognition": "4", "answers": "5", "flow": "4", "courtesy": "5", "escalation": "3", "comments": "好"},
    ),
    "POST /calls/{call_id}/tags": (REVIEWERS, 303, {"tag": "态度问题"}),
    "POST /calls/{call_id}/tags/delete": (REVIEWERS, 303, {"tag": "态度问题"}),
    "GET /review": (REVIEWERS, 200, None),
    "POST /review/{sample_id}/take": (REVIEWERS, 303, {}),
    "GET /audit": (ADMINS, 200, None),
    "GET /campaigns": (SUPERVISORS, 200, None),
    "GET /campaigns/progress": (SUPERVISORS, 200, None),
    "GET /campaigns/new": (SUPERVISORS, 200, None),
    "POST /campaigns/upload": (SUPERVISORS, 422, {}),  # allowed, but no file: 422 naming "file"
    "GET /campaigns/new/{upload_id}": (SUPERVISORS, 404, None),  # allowed; no such upload
    "POST /campaigns/new/{upload_id}": (SUPERVISORS, 404, {}),
    "GET /campaigns/{campaign_id}": (SUPERVISORS, 200, None),
    "GET /campaigns/{campaign_id}/progress": (SUPERVISORS, 200, None),
    "POST /campaigns/{campaign_id}/status": (SUPERVISORS, 303, {"action": "pause"}),
    "GET /campaigns/{campaign_id}/export.csv": (SUPERVISORS, 200, None),
    "GET /campaigns/{campaign_id}/export.ndjson": (SUPERVISORS, 200, None),
    "GET /flows": (REVIEWERS, 200, None),
    "GET /flows/{flow_id}": (REVIEWERS, 200, None),
    "GET /do-not-call": (HANDLERS, 200, None),
    "POST /do-not-call": (HANDLERS, 303, {"phone": "139 0000 0000", "reason": "患者要求"}),
    "POST /do-not-call/delete": (ADMINS, 303, {"phone": "+8613900000000"}),
    "GET /dashboard": (REVIEWERS, 200, None),
    "GET /dashboard/export.csv": (REVIEWERS, 200, None),
    "GET /dashboard/export.xlsx": (REVIEWERS, 200, None),
}


def route_table() -> set[str]:
    """Every "METHOD path" the app serves (its OpenAPI view of the route table)."""
    app = create_app(Settings(console_secret_key="x"), engine=make_engine("sqlite://"))
    return {
        f"{method.upper()} {path}" for path, operations in app.openapi()["paths"].items() for method in operations
    }


def test_every_route_has_an_expectation() -> None:
    assert route_table() == set(EXPECTED)


def test_only_static_files_are_mounted_outside_the_table() -> None:
    from starlette.routing import Mount

    app = create_app(Settings(console_secret_key="x"), engine=make_engine("sqlite://"))
    assert [r.path for r in app.routes if isinstance(r, Mount)] == ["/static"]


def _fill(path: str, env: Env) -> str:
    return (
        path.replace("{escalation_id}", str(env.escalation_id))
        .replace("{call_id}", str(env.attempt_id))
        .replace("{sample_id}", str(env.sample_id))
        .replace("{campaign_id}", str(env.campaign_id))
        .replace("{upload_id}", "0" * 32)
        .replace("{flow_id}", "post_op")
    )


CASES = [(key, who) for key in EXPECTED for who in (*ROLES, "anonymous")]


@pytest.mark.parametrize(("route", "who"), CASES, ids=[f"{k}-{w}" for k, w in CASES])
def test_role_matrix(env: Env, route: str, who: str) -> None:
    allowed, ok_status, form = EXPECTED[route]
    method, template = route.split(" ", 1)
    path = _fill(template, env)
    client = env.client() if who == "anonymous" else env.session_for(who)
    data = None
    if form is not None:
        data = dict(form)
        if who != "anonymous":
            data["csrf_token"] = data.get("csrf_token") or env.csrf(who)
    if route == "POST /calls/{call_id}/tags/delete" and who in REVIEWERS:
        client.post(_fill("/calls/{call_id}/tags", env), data={"tag": "态度问题", "csrf_token": env.csrf(who)})

    if "{campaign_id}" in template:  # the answer exports need a flow from the library
        with env.sessions() as s:
            s.get(models.Campaign, env.campaign_id).flow_id = "discharge_general"
            s.commit()

    if template == "/escalations/stream" and (allowed == PUBLIC or who in allowed):
        with client.stream("GET", path) as response:  # an endless stream: look at the head only
            assert response.status_code == ok_status
            assert response.headers["content-type"].startswith("text/event-stream")
        return

    response = client.request(method, path, data=data)
    if allowed == PUBLIC or who in allowed:
        assert response.status_code == ok_status, response.text[:500]
    elif who == "anonymous":  # a browser goes to the login page; htmx and API callers get 401
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        api = env.client()
        assert api.request(method, path, data=data, headers={"accept": "application/json"}).status_code == 401
    else:
        assert response.status_code == 403, response.text[:300]


def test_docs_list_every_route() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "console.md").read_text(encoding="utf-8")
    for key in EXPECTED:
        method, path = key.split(" ", 1)
        documented = path.replace("{escalation_id}", "{id}").replace("{call_id}", "{id}").replace("{sample_id}", "{id}")
        documented = documented.replace("{campaign_id}", "{id}")
        assert f"| {method} | `{documented}` |" in docs, key
