"""Taking a live call in the console (dialer/handoff.py + POST /escalations/{id}/take-call), without a
telephone: the world fixture's call is made live and its case marked waiting the way the dialer does."""

from __future__ import annotations

from datetime import UTC, datetime

from console_helpers import Env
from sqlalchemy import select

import models
from dialer import handoff
from models.console import EscalationNote
from models.users import AuditLog


def _waiting(env: Env) -> None:
    """The fixture's call is still going and the dialer has put the patient on hold for an agent."""
    with env.sessions() as s:
        attempt = s.get(models.CallAttempt, env.attempt_id)
        attempt.ended_at = None
        attempt.outcome = "answered"  # provisional, as store.mark_answered leaves it
        s.commit()
        handoff.note(s, env.escalation_id, handoff.WAITING, "waiting (test)")


def _state(env: Env) -> str | None:
    with env.sessions() as s:
        return handoff.transfer_state(s, s.get(models.Escalation, env.escalation_id))


def test_take_the_waiting_call(env: Env) -> None:
    _waiting(env)
    agent = env.session_for("agent")
    page = agent.get(f"/escalations/{env.escalation_id}").text
    assert 'id="take-call"' in page and "患者正在线上等待人工接听" in page
    queue = agent.get("/escalations").text
    assert f'action="/escalations/{env.escalation_id}/take-call"' in queue  # the row's button

    taken = agent.post(f"/escalations/{env.escalation_id}/take-call", data={"csrf_token": env.csrf("agent")})
    assert taken.status_code == 303, taken.text
    assert _state(env) == handoff.TAKEN
    with env.sessions() as s:
        e = s.get(models.Escalation, env.escalation_id)
        assert (e.status, e.assignee_id) == ("assigned", env.users["agent"])
        taker = handoff.taken_by(s, env.escalation_id)
        assert taker is not None and taker.sip_endpoint == "PJSIP/agent1"
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "take_call")).all()
        assert [(a.user_id, a.object_id) for a in audit] == [(env.users["agent"], str(env.escalation_id))]
    box = agent.get(f"/escalations/{env.escalation_id}/transfer").text
    assert "正在呼叫您的电话" in box and 'hx-trigger="every 1s"' in box
    assert 'id="take-call"' not in agent.get(f"/escalations/{env.escalation_id}").text

    # A second agent is refused with a clear message, and the case stays with the first.
    with env.sessions() as s:
        s.get(models.User, env.users["supervisor"]).sip_endpoint = "PJSIP/agent2"
        s.commit()
    other = env.session_for("supervisor")
    again = other.post(f"/escalations/{env.escalation_id}/take-call", data={"csrf_token": env.csrf("supervisor")})
    assert again.status_code == 409 and "already taken" in again.text
    assert "已由其他坐席接听" in other.get(f"/escalations/{env.escalation_id}/transfer").text

    # The dialer rings, connects, and the call ends: the box follows.
    with env.sessions() as s:
        handoff.note(s, env.escalation_id, handoff.RINGING, "ringing PJSIP/agent1")
        assert _state(env) == handoff.RINGING
        handoff.note(s, env.escalation_id, handoff.CONNECTED, "connected")
    assert "已接通" in agent.get(f"/escalations/{env.escalation_id}/transfer").text
    with env.sessions() as s:
        ended = s.get(models.CallAttempt, env.attempt_id)
        ended.outcome, ended.ended_at = "transferred", datetime.now(UTC)
        s.commit()
    box = agent.get(f"/escalations/{env.escalation_id}/transfer").text
    assert "通话已结束" in box and "hx-trigger" not in box


def test_take_needs_a_phone(env: Env) -> None:
    _waiting(env)
    supervisor = env.session_for("supervisor")  # no sip_endpoint in the fixture
    response = supervisor.post(f"/escalations/{env.escalation_id}/take-call",
                               data={"csrf_token": env.csrf("supervisor")})
    assert response.status_code == 400 and "sip_endpoint" in response.text
    assert _state(env) == handoff.WAITING  # nothing changed


def test_take_is_refused_when_nothing_waits(env: Env) -> None:
    agent = env.session_for("agent")
    url = f"/escalations/{env.escalation_id}/take-call"
    # No transfer ever: 409.
    assert agent.post(url, data={"csrf_token": env.csrf("agent")}).status_code == 409
    # Waiting, then the call ends before anyone takes it: 409 "ended".
    _waiting(env)
    with env.sessions() as s:
        ended = s.get(models.CallAttempt, env.attempt_id)
        ended.outcome, ended.ended_at = "hung_up", datetime.now(UTC)
        s.commit()
    response = agent.post(url, data={"csrf_token": env.csrf("agent")})
    assert response.status_code == 409 and "no longer waiting" in response.text
    # Without the CSRF token: 403, whatever the state.
    assert agent.post(url, data={}).status_code == 403


def test_missed_transfer_releases_the_case(env: Env) -> None:
    """A taker whose phone did not answer no longer owns the case: it is open again for a call back."""
    _waiting(env)
    agent = env.session_for("agent")
    assert agent.post(f"/escalations/{env.escalation_id}/take-call",
                      data={"csrf_token": env.csrf("agent")}).status_code == 303
    with env.sessions() as s:
        handoff.note(s, env.escalation_id, handoff.MISSED, "PJSIP/agent1 did not answer", release=True)
        e = s.get(models.Escalation, env.escalation_id)
        assert (e.status, e.assignee_id) == ("open", None)
        notes = [n.text for n in s.scalars(select(EscalationNote).where(
            EscalationNote.escalation_id == env.escalation_id).order_by(EscalationNote.id))]
    assert notes[0].startswith("[transfer:waiting]") and notes[-1].startswith("[transfer:missed]")
    assert "已告知患者稍后回电" in agent.get(f"/escalations/{env.escalation_id}/transfer").text
