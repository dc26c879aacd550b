"""Accounts and safety: login, cookies, CSRF, session expiry, login rate limiting, bad input, headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from console_helpers import PASSWORD, Env, login, login_csrf
from sqlalchemy import func, select, update

from console.deps import SESSION_COOKIE
from console.routes.auth import safe_next
from models.console import ConsoleSession
from models.users import AuditLog, User


def _post_note(client, env: Env, token: str | None, header: bool = False):
    data = {"text": "回访已完成"}
    headers = {}
    if token is not None and header:
        headers["X-CSRF-Token"] = token
    elif token is not None:
        data["csrf_token"] = token
    return client.post(f"/escalations/{env.escalation_id}/notes", data=data, headers=headers)


# --- login and cookies -------------------------------------------------------------------------------


def test_login_sets_a_secure_session_cookie_and_stores_only_a_hash(env: Env) -> None:
    client = env.client(https=True)
    response = login(client, "agent1", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    with env.sessions() as s:
        stored = s.scalars(select(ConsoleSession.token_hash)).all()
        user = s.get(User, env.users["agent"])
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64
    assert user is not None and user.password_hash.startswith("$argon2id$")


def test_logging_in_again_replaces_the_browsers_session(env: Env) -> None:
    client = env.login("agent")
    first = client.cookies.get(SESSION_COOKIE)
    env.login("agent", client)
    assert client.cookies.get(SESSION_COOKIE) != first
    with env.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 1
    stale = env.client()
    stale.cookies.set(SESSION_COOKIE, first)
    assert stale.get("/escalations").status_code == 303


def test_cookie_is_not_marked_secure_over_plain_http(env: Env) -> None:
    response = login(env.client(), "agent1", PASSWORD)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_wrong_password_and_unknown_user_are_refused_alike_and_audited(env: Env) -> None:
    client = env.client()
    wrong = login(client, "agent1", "not-the-password")
    unknown = login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    with env.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0
        actions = s.scalars(select(AuditLog.action)).all()
    assert actions.count("login_failed") == 2


def test_inactive_user_cannot_log_in(env: Env) -> None:
    with env.sessions() as s:
        s.execute(update(User).where(User.username == "agent1").values(active=False))
        s.commit()
    assert login(env.client(), "agent1", PASSWORD).status_code == 401


def test_login_form_needs_its_csrf_cookie(env: Env) -> None:
    client = env.client()
    token = login_csrf(client)
    client.cookies.clear()  # a cross-site form post carries no cookie of ours
    response = client.post("/login", data={"username": "agent1", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 403


def test_login_redirects_only_to_local_paths(env: Env) -> None:
    response = login(env.client(), "agent1", PASSWORD, next="//evil.example/x")
    assert response.headers["location"] == "/"
    assert safe_next("/calls?page=2") == "/calls?page=2"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", "", None, "javascript:alert(1)"):
        assert safe_next(bad) == "/"


def test_logout_ends_the_session_on_the_server(env: Env) -> None:
    client = env.login("agent")
    token = client.cookies.get(SESSION_COOKIE)
    response = client.post("/logout", data={"csrf_token": env.csrf("agent")})
    assert response.status_code == 303
    again = env.client()
    again.cookies.set(SESSION_COOKIE, token)  # the old cookie, replayed
    assert again.get("/escalations").status_code == 303
    with env.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0
        assert "logout" in s.scalars(select(AuditLog.action)).all()


# --- CSRF ----------------------------------------------------------------------------------------------


def test_state_changing_requests_need_the_session_csrf_token(env: Env) -> None:
    client = env.login("agent")
    token = env.csrf("agent")
    assert _post_note(client, env, None).status_code == 403
    assert _post_note(client, env, "wrong-token").status_code == 403
    assert _post_note(client, env, "wrong-token", header=True).status_code == 403
    assert "安全令牌" in _post_note(client, env, None).text
    assert _post_note(client, env, token).status_code == 303
    assert _post_note(client, env, token, header=True).status_code == 303  # htmx sends the header


def test_csrf_token_of_another_session_is_refused(env: Env) -> None:
    agent = env.login("agent")
    env.login("supervisor")
    assert _post_note(agent, env, env.csrf("supervisor")).status_code == 403


def test_logout_needs_csrf_too(env: Env) -> None:
    client = env.login("agent")
    assert client.post("/logout").status_code == 403
    assert client.get("/escalations").status_code == 200  # still logged in


def test_pages_carry_the_csrf_token_for_forms_and_htmx(env: Env) -> None:
    client = env.login("agent")
    page = client.get(f"/escalations/{env.escalation_id}").text
    token = env.csrf("agent")
    assert f'name="csrf_token" value="{token}"' in page
    assert f'"X-CSRF-Token": "{token}"' in page


# --- session expiry ------------------------------------------------------------------------------------


def test_idle_session_expires_on_the_server(env: Env) -> None:
    client = env.login("agent")
    env.clock.advance(minutes=29)
    assert client.get("/escalations").status_code == 200  # activity extends the session
    env.clock.advance(minutes=29)
    assert client.get("/escalations").status_code == 200
    env.clock.advance(minutes=31)
    response = client.get("/escalations")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?expired=1")
    assert "登录已过期" in client.get(response.headers["location"]).text
    with env.sessions() as s:  # the expired row is gone
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_session_has_an_absolute_limit(env: Env) -> None:
    client = env.login("agent")
    elapsed = timedelta()
    for _ in range(26):  # active every 29 minutes for 12.5 hours
        env.clock.advance(minutes=29)
        elapsed += timedelta(minutes=29)
        if client.get("/escalations").status_code != 200:
            break
    else:
        pytest.fail("session outlived 12 hours")
    assert timedelta(hours=12) <= elapsed < timedelta(hours=12, minutes=29)


def test_expired_row_is_refused_even_with_a_valid_cookie(env: Env) -> None:
    client = env.login("agent")
    with env.sessions() as s:
        s.execute(update(ConsoleSession).values(expires_at=env.clock() - timedelta(seconds=1)))
        s.commit()
    assert client.get("/escalations").status_code == 303
    htmx = client.post(
        f"/escalations/{env.escalation_id}/assign", headers={"HX-Request": "true", "X-CSRF-Token": "x"}
    )
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


# --- login rate limiting -------------------------------------------------------------------------------


def test_five_failures_lock_the_username_from_that_address(env: Env) -> None:
    client = env.client()
    for _ in range(5):
        assert login(client, "agent1", "wrong-password").status_code == 401
    limited = login(client, "agent1", PASSWORD)  # even the right password
    assert limited.status_code == 429
    assert "登录失败次数过多" in limited.text and "5 分钟" in limited.text
    assert int(limited.headers["Retry-After"]) == 300
    assert login(client, "quality1", PASSWORD).status_code == 303  # another user is not affected
    env.clock.advance(minutes=5, seconds=1)
    assert login(client, "agent1", PASSWORD).status_code == 303


def test_rate_limit_message_in_english(env: Env) -> None:
    client = env.client()
    client.cookies.set("followup_lang", "en")
    for _ in range(5):
        login(client, "agent1", "wrong-password")
    limited = login(client, "agent1", PASSWORD)
    assert limited.status_code == 429 and "Too many failed logins" in limited.text


# --- bad input -----------------------------------------------------------------------------------------


def test_unknown_form_field_is_refused_and_named(env: Env) -> None:
    client = env.login("agent")
    response = client.post(
        f"/escalations/{env.escalation_id}/notes",
        data={"text": "ok", "csrf_token": env.csrf("agent"), "status": "resolved"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["status"]


def test_out_of_range_score_names_the_field(env: Env) -> None:
    client = env.login("quality")
    form = {"recognition": "9", "answers": "5", "flow": "4", "courtesy": "5", "escalation": "3"}
    response = client.post(f"/calls/{env.attempt_id}/score", data={**form, "csrf_token": env.csrf("quality")})
    assert response.status_code == 422
    assert "recognition" in response.text
    missing = client.post(
        f"/calls/{env.attempt_id}/score",
        data={"recognition": "3", "csrf_token": env.csrf("quality")},
        headers={"accept": "application/json"},
    )
    assert {e["field"] for e in missing.json()["detail"]} == {"answers", "flow", "courtesy", "escalation"}


def test_bad_query_parameters_are_refused(env: Env) -> None:
    client = env.login("quality")
    assert client.get("/calls?outcome=exploded").status_code == 422
    assert client.get("/calls?sort=1;drop table").status_code == 422  # unknown parameter
    assert client.get("/calls?date_from=2026-12-05&date_to=2026-12-01").status_code == 422
    assert client.get("/calls?campaign=&outcome=&page=1").status_code == 200  # blank means any


def test_markup_in_input_is_escaped(env: Env) -> None:
    client = env.login("agent")
    client.post(
        f"/escalations/{env.escalation_id}/notes",
        data={"text": "<script>alert(1)</script>", "csrf_token": env.csrf("agent")},
    )
    page = client.get(f"/escalations/{env.escalation_id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_tag_with_markup_is_refused(env: Env) -> None:
    client = env.login("quality")
    response = client.post(
        f"/calls/{env.attempt_id}/tags", data={"tag": "<b>x</b>", "csrf_token": env.csrf("quality")}
    )
    assert response.status_code == 422 and "tag" in response.text


def test_oversized_body_is_refused_before_reading(env: Env) -> None:
    client = env.login("agent")
    big = "长" * 400_000  # 1.2 MB of UTF-8
    response = client.post(
        f"/escalations/{env.escalation_id}/notes", data={"text": big, "csrf_token": env.csrf("agent")}
    )
    assert response.status_code == 413
    with env.sessions() as s:
        assert "note_escalation" not in s.scalars(select(AuditLog.action)).all()


def test_chunked_oversized_body_is_refused(env: Env) -> None:
    client = env.login("agent")

    def chunks():
        for _ in range(300):
            yield b"x" * 4096

    response = client.post(
        f"/escalations/{env.escalation_id}/notes",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_security_headers_on_every_response(env: Env) -> None:
    for response in (env.client().get("/login"), env.client().get("/static/console.css")):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
