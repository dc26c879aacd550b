"""Take the call in a real browser (Debian's chromium, headless, Playwright): a patient put on hold by the
dialer shows up on the agent's open queue over SSE with a Take-the-call button; the agent clicks it and the
case page says their phone is ringing, then — as the dialer notes the progress — connected.

The dialer's side is played here through the same hand-off functions it uses (dialer/handoff.py); the
real call with a SIP phone is tests/e2e/test_transfer_live.py.
"""

from __future__ import annotations

from console_helpers import Env
from sqlalchemy import select
from test_console_browser import ARTIFACTS, WAIT_MS, _login, _wait_until, browser, live_url  # noqa: F401

import models
from dialer import handoff
from models.users import AuditLog


def test_agent_takes_a_waiting_call_from_the_live_queue(env: Env, live_url: str, browser) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    _login(page, live_url, "agent1")
    assert page.url.endswith("/escalations")
    page.wait_for_selector("#live-status.on", timeout=WAIT_MS)

    with env.sessions() as s:  # a call in progress; the patient asks for a person and is put on hold
        task = s.get(models.CallAttempt, env.attempt_id).task
        live = models.CallAttempt(task=task, number=2, answered_at=env.clock(), outcome="answered", language="zh")
        s.add(live)
        s.flush()
        s.add(models.Turn(attempt_id=live.id, seq=1, speaker="patient", text="我要转人工", source="speech"))
        s.commit()
        case_id = handoff.open_waiting(s, escalation_id=None, patient_id=env.patient_id, attempt_id=live.id,
                                       kind="request_human", department="心内科", text="我要转人工",
                                       question_id=None, wait_s=60)

    button = f"#esc-{case_id} form.take-call button"
    page.wait_for_selector(button, timeout=WAIT_MS)  # arrived over SSE, with the button
    page.screenshot(path=str(ARTIFACTS / "10-queue-waiting-call.png"))
    page.click(button)
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/escalations/{case_id}")
    page.wait_for_selector("#transfer-status[data-state=taken]", timeout=WAIT_MS)
    assert "正在呼叫您的电话" in page.inner_text("#transfer-status")
    page.screenshot(path=str(ARTIFACTS / "11-case-ringing.png"))
    with env.sessions() as s:
        e = s.get(models.Escalation, case_id)
        assert (e.status, e.assignee_id) == ("assigned", env.users["agent"])
        taker = handoff.taken_by(s, case_id)
        assert taker is not None and taker.sip_endpoint == "PJSIP/agent1"  # what the dialer would ring
        assert s.scalars(select(AuditLog).where(AuditLog.action == "take_call")).all()

    with env.sessions() as s:  # the dialer: ringing, then the agent answered and is bridged in
        handoff.note(s, case_id, handoff.RINGING, "ringing PJSIP/agent1")
        handoff.note(s, case_id, handoff.CONNECTED, "connected to PJSIP/agent1")
    _wait_until(page, "document.querySelector('#transfer-status').dataset.state === 'connected'")
    assert "已接通" in page.inner_text("#transfer-status")
    page.screenshot(path=str(ARTIFACTS / "12-case-connected.png"))
    page.close()
