"""The supervisors' pages in a real browser (Debian's chromium, headless, Playwright): log in as a supervisor,
create a campaign from an uploaded CSV (the mapping page, then the import report with its bad row), start
it, read a flow's preview, see the dashboard's charts drawn (Chart.js on canvases under the strict CSP).
Screenshots go to test-artifacts/console/ (supervisor-*.png)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from console_helpers import Env
from dashboard_data import WEEK, seed
from test_console_browser import ARTIFACTS, WAIT_MS, _login, _wait_until, browser, live_url  # noqa: F401

import models

PATIENTS_CSV = (
    "姓名,手机号,性别,科室,住院号,出院日期\n"
    "张三,13800138001,男,心内科,ZY001,2026-11-20\n"
    "李四,12345,女,心内科,ZY002,2026-11-21\n"
    "王五,13800138003,男,骨科,ZY003,2026-11-22\n"
)


def test_supervisor_creates_a_campaign_and_reads_the_dashboard(
    env: Env,
    live_url: str,  # noqa: F811 - the fixture imported above
    browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    seed(env.sessions)
    upload = tmp_path / "出院患者名单.csv"
    upload.write_text(PATIENTS_CSV, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_url, "supervisor1")

    page.goto(f"{live_url}/campaigns")
    page.click("#new-campaign")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#mapping", timeout=WAIT_MS)
    assert page.locator("#mapping thead th").first.inner_text() == "姓名"
    page.fill("input[name=name]", "出院随访（浏览器测试）")
    page.select_option("select[name=flow_id]", "discharge_general")
    page.fill("input[name=days_after_discharge]", "3,7")
    page.screenshot(path=str(ARTIFACTS / "supervisor-01-mapping.png"), full_page=True)
    page.click("#create-campaign")
    page.wait_for_selector("#import-summary", timeout=WAIT_MS)
    assert page.locator("#rows-imported").inner_text() == "2"
    assert page.locator("#row-errors tbody tr").count() == 1
    assert page.locator("#row-errors tbody td").first.inner_text() == "3"  # the bad row's line
    page.click("#action-start")
    page.wait_for_load_state("load")
    assert page.locator("#campaign-status").inner_text() == "进行中"
    page.screenshot(path=str(ARTIFACTS / "supervisor-02-campaign.png"), full_page=True)
    with env.sessions() as s:
        campaign = s.query(models.Campaign).filter_by(name="出院随访（浏览器测试）").one()
        assert campaign.status == "running"

    page.goto(f"{live_url}/campaigns")
    _wait_until(page, "document.querySelectorAll('#campaign-rows tr').length >= 2")
    page.screenshot(path=str(ARTIFACTS / "supervisor-03-campaigns.png"), full_page=True)

    page.goto(f"{live_url}/flows/post_op")
    assert page.locator("#step-wound").is_visible()
    page.screenshot(path=str(ARTIFACTS / "supervisor-04-flow.png"), full_page=True)

    page.goto(f"{live_url}/dashboard?date_from={WEEK}&date_to={WEEK + timedelta(days=6)}")
    _wait_until(page, "document.body.dataset.chartsReady === '1'")
    assert page.locator("canvas#chart-weekly-rates").count() == 1
    # Chart.js drew something: the canvas has been sized and painted (not the blank default 300×150).
    painted = page.evaluate(
        """(() => { const c = document.getElementById('chart-weekly-rates');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; })()"""
    )
    assert painted
    assert page.locator("#tile-connection").inner_text() == "60.0%"
    page.screenshot(path=str(ARTIFACTS / "supervisor-05-dashboard.png"), full_page=True)

    page.goto(f"{live_url}/do-not-call")
    page.fill("#dnc-add input[name=phone]", "138 0013 8999")
    page.fill("#dnc-add input[name=reason]", "患者要求不再来电")
    page.click("#dnc-add button[type=submit]")
    page.wait_for_selector("#dnc", timeout=WAIT_MS)
    assert "+8613800138999" in page.locator("#dnc").inner_text()
    page.screenshot(path=str(ARTIFACTS / "supervisor-06-do-not-call.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors
