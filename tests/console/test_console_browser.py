"""The console in a real browser: Debian's chromium, headless, driven by Playwright (never a downloaded
browser). An agent sees a new escalation arrive on the open queue page over SSE, opens and resolves it;
a quality reviewer searches the transcripts for a Chinese word, opens the call, plays and seeks the recording from the transcript, and scores it; an
admin reads the audit log. Screenshots of the main pages go to test-artifacts/console/.

Today the escalation is inserted into the database the way the call path does it (models.store); the
next step is to raise it from a real simulated call through Asterisk.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from console_helpers import PASSWORD, Env
from sqlalchemy import select

import models
from models.console import QaScore
from models.store import record_escalation
from models.users import AuditLog

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
WAIT_MS = 15_000  # upper bound for a wait, so a broken page fails instead of hanging; not a latency goal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_url(env: Env) -> Iterator[str]:
    """The env's console served by uvicorn on a free port, in a thread."""
    port = _free_port()
    config = uvicorn.Config(
        env.app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing: deploy/bootstrap.sh installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _wait_until(page, expression: str, timeout_ms: int = WAIT_MS) -> None:
    """Poll a JS expression from Python (page.evaluate goes through the DevTools protocol: Playwright's own
    wait_for_function compiles its predicate with eval, which the console's CSP rightly forbids)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {expression}")
        time.sleep(0.05)


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def test_agent_sees_a_new_escalation_live_and_resolves_it(env: Env, live_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page.goto(f"{live_url}/login")
    page.screenshot(path=str(ARTIFACTS / "01-login.png"))
    _login(page, live_url, "agent1")
    assert page.url.endswith("/escalations")
    page.wait_for_selector("#live-status.on", timeout=WAIT_MS)  # the EventSource is connected
    page.screenshot(path=str(ARTIFACTS / "02-queue.png"))

    with env.sessions() as s:  # a call in progress: the patient reports an alarming answer
        task = s.get(models.CallAttempt, env.attempt_id).task
        live = models.CallAttempt(task=task, number=2, answered_at=env.clock(), language="zh")
        s.add(live)
        s.flush()
        s.add(models.Turn(attempt_id=live.id, seq=1, speaker="bot", text="您最近量的血压是多少？", source="tts"))
        s.add(models.Turn(attempt_id=live.id, seq=2, speaker="patient", text="185 110，头晕", source="speech"))
        s.commit()
        live_id = live.id
    with env.sessions() as s:
        started = time.monotonic()
        new_id = record_escalation(
            s,
            patient_id=env.patient_id,
            attempt_id=live_id,
            kind="alarm",
            department="心内科",
            text="血压 185/110，头晕得厉害",
        ).id
    page.wait_for_selector(f"#esc-{new_id}", timeout=WAIT_MS)
    arrival_s = time.monotonic() - started
    print(f"escalation creation -> on the agent's open page: {arrival_s * 1000:.0f} ms")
    first_row = page.locator("#queue-rows tr").first
    assert first_row.get_attribute("id") == f"esc-{new_id}"  # newest first
    assert "血压 185/110" in first_row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "03-queue-new-escalation.png"))

    page.click(f"#esc-{new_id} a")
    page.wait_for_selector("#assign-me")
    assert "王小明" in page.inner_text("body") and "冠心病" in page.inner_text("body")
    # The call is still going: the transcript so far grows on the page (htmx refresh, under the CSP).
    assert "185 110，头晕" in page.inner_text("#case-transcript")
    with env.sessions() as s:
        s.add(models.Turn(attempt_id=live_id, seq=3, speaker="bot", text="我马上为您转接护士。", source="tts"))
        s.commit()
    page.wait_for_selector("#case-transcript >> text=我马上为您转接护士", timeout=WAIT_MS)
    page.click("#assign-me")
    page.wait_for_selector("#case-assignee:has-text('李护士')")
    page.fill("form[action$='/notes'] textarea[name=text]", "已电话联系患者，建议急诊就诊")
    page.click("form[action$='/notes'] button")
    page.wait_for_selector("text=已电话联系患者")
    page.screenshot(path=str(ARTIFACTS / "04-escalation.png"), full_page=True)
    page.click("#resolve")
    page.wait_for_selector("#case-status:has-text('已处理')")
    with env.sessions() as s:
        e = s.get(models.Escalation, new_id)
        assert e is not None and e.status == "resolved" and e.assignee_id == env.users["agent"]

    # Other open queue pages drop the resolved case live.
    page.goto(f"{live_url}/escalations")
    page.wait_for_selector("#live-status.on", timeout=WAIT_MS)
    assert page.locator(f"#esc-{new_id}").count() == 0
    with env.sessions() as s:
        e = s.get(models.Escalation, env.escalation_id)
        assert e is not None
        e.status = "resolved"
        s.commit()
    page.wait_for_selector(f"#esc-{env.escalation_id}", state="detached", timeout=WAIT_MS)
    page.close()


def test_quality_plays_seeks_and_scores_a_call(env: Env, live_url: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    _login(page, live_url, "quality1")
    assert page.url.endswith("/calls")
    row = page.locator(f"#call-{env.attempt_id}")
    assert "**********8000" in row.inner_text() and "13800138000" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "05-calls.png"))

    page.fill("input[name=q]", "骨折")  # no call mentions it
    page.click(".filters button[type=submit]")
    page.wait_for_selector("text=没有符合条件的通话")
    page.fill("input[name=q]", "态度")  # inside 护士态度太差了
    page.click(".filters button[type=submit]")
    page.wait_for_selector(f"#call-{env.attempt_id}")
    assert page.locator("#calls tbody tr").count() == 1
    page.screenshot(path=str(ARTIFACTS / "05b-calls-search.png"))

    page.click(f"#call-{env.attempt_id} a")
    page.wait_for_selector("#recording")
    _wait_until(page, "document.getElementById('recording').readyState >= 1")
    duration = page.evaluate("document.getElementById('recording').duration")
    assert duration == pytest.approx(6.0, abs=0.1)
    assert page.inner_text("#patient-phone") == "**********8000"

    page.click("#turn-4")  # 护士态度太差了 at 4.5 s
    _wait_until(
        page,
        "(() => { const a = document.getElementById('recording'); return !a.paused && a.currentTime >= 4.5; })()",
    )
    page.wait_for_selector("#turn-4.playing", timeout=WAIT_MS)
    page.evaluate("document.getElementById('recording').pause()")
    page.screenshot(path=str(ARTIFACTS / "06-call.png"), full_page=True)

    for item, value in (("recognition", 4), ("answers", 5), ("flow", 4), ("courtesy", 5), ("escalation", 5)):
        page.check(f"input[name={item}][value='{value}']")
    page.fill("textarea[name=comments]", "投诉识别及时，已上报")
    page.click("#score-form button[type=submit]")
    page.wait_for_selector("text=评分已保存")
    page.screenshot(path=str(ARTIFACTS / "07-call-scored.png"), full_page=True)
    with env.sessions() as s:
        score = s.scalars(select(QaScore)).one()
        plays = s.scalars(select(AuditLog).where(AuditLog.action == "play_recording")).all()
    assert score.scores == {"recognition": 4, "answers": 5, "flow": 4, "courtesy": 5, "escalation": 5}
    assert score.comments == "投诉识别及时，已上报"
    assert len(plays) >= 1 and all(p.user_id == env.users["quality"] for p in plays)
    page.close()

    admin = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    _login(admin, live_url, "admin1")
    admin.goto(f"{live_url}/audit?username=quality1")
    text = admin.inner_text("#audit")
    assert "play_recording" in text and "score_call" in text and "view_call" in text
    admin.screenshot(path=str(ARTIFACTS / "08-audit.png"), full_page=True)
    admin.goto(f"{live_url}/calls?lang=en")
    assert "Calls" in admin.inner_text("h1")
    admin.screenshot(path=str(ARTIFACTS / "09-calls-en.png"))
    admin.close()
