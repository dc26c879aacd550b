"""The supervisors' pages: campaign creation from an upload (happy path with a bad row, malformed and
oversized uploads, wrong field values), status changes, exports, flows, do-not-call list, dashboards."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from console_helpers import Env
from dashboard_data import WEEK, seed
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

import models
from console import flow_preview
from console.app import create_app
from followup.config import Settings
from models.do_not_call import DoNotCall
from models.users import AuditLog

PATIENTS_CSV = (
    "姓名,手机号,性别,科室,住院号,出院日期\n"
    "张三,13800138001,男,心内科,ZY001,2026-11-20\n"
    "李四,12345,女,心内科,ZY002,2026-11-21\n"  # line 3: not a phone number
    "王五,13800138003,男,骨科,ZY003,2026-11-22\n"
)


def _actions(env: Env, action: str) -> list[AuditLog]:
    with env.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _upload(client: TestClient, env: Env, name: str, data: bytes, **extra: str):
    fields = {"csrf_token": env.csrf("supervisor"), **extra}
    return client.post("/campaigns/upload", data=fields, files={"file": (name, data, "text/csv")})


def _upload_id(response) -> str:
    assert response.status_code == 303, response.text[:500]
    match = re.fullmatch(r"/campaigns/new/([0-9a-f]{32})", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def _create_form(env: Env, page: str, **overrides: str) -> dict[str, str]:
    """The create form as the browser would submit it: every input of the page with its value."""
    values: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        values[name] = value
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, flags=re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(
            r'<option value="([^"]*)"', body
        )
        values[name] = chosen.group(1) if chosen else ""
    values.update(name="心内科出院随访（测试）", flow_id="discharge_general", days_after_discharge="3,7")
    values["csrf_token"] = env.csrf("supervisor")
    values.update(overrides)
    return values


def test_create_campaign_from_upload(env: Env) -> None:
    client = env.session_for("supervisor")
    upload_id = _upload_id(_upload(client, env, "patients.csv", PATIENTS_CSV.encode("gb18030")))
    page = client.get(f"/campaigns/new/{upload_id}")
    assert page.status_code == 200
    assert "姓名" in page.text and "手机号" in page.text  # headers found
    assert '<option value="phone" selected' in page.text  # guessed mapping
    assert "*******8001" in page.text and "13800138001" not in page.text  # first rows, phone masked
    response = client.post(f"/campaigns/new/{upload_id}", data=_create_form(env, page.text))
    assert response.status_code == 303, response.text[:800]
    campaign_id = int(response.headers["location"].split("/")[2].split("#")[0])
    report = client.get(f"/campaigns/{campaign_id}")
    assert report.status_code == 200
    assert re.search(r'id="rows-imported">2<', report.text)
    assert re.search(r'id="rows-failed">1<', report.text)
    rows = re.search(r'<table class="grid compact" id="row-errors">(.*?)</table>', report.text, re.DOTALL)
    assert rows and "<td>3</td><td>phone</td>" in rows.group(1)
    with env.sessions() as s:
        campaign = s.get(models.Campaign, campaign_id)
        assert campaign is not None and campaign.status == "draft" and campaign.days_after_discharge == [3, 7]
        names = set(
            s.scalars(
                select(models.Patient.name)
                .join(models.CallTask, models.CallTask.patient_id == models.Patient.id)
                .where(models.CallTask.campaign_id == campaign_id)
            )
        )
    assert names == {"张三", "王五"}
    created = _actions(env, "change_campaign")
    assert created[-1].object_id == str(campaign_id) and created[-1].detail["action"] == "create"

    # start / pause / resume, each audited
    for action, status in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        r = client.post(
            f"/campaigns/{campaign_id}/status", data={"action": action, "csrf_token": env.csrf("supervisor")}
        )
        assert r.status_code == 303
        with env.sessions() as s:
            assert s.get(models.Campaign, campaign_id).status == status
    assert [a.detail["action"] for a in _actions(env, "change_campaign")][-3:] == ["start", "pause", "resume"]
    wrong = client.post(
        f"/campaigns/{campaign_id}/status", data={"action": "resume", "csrf_token": env.csrf("supervisor")}
    )
    assert wrong.status_code == 409 and "cannot resume a running campaign" in wrong.text
    progress = client.get(f"/campaigns/{campaign_id}/progress")
    # discharged 2 weeks ago: of days 3 and 7 only the latest past offset is queued, one task per visit
    assert progress.status_code == 200 and 'id="campaign-tasks">2<' in progress.text
    listing = client.get("/campaigns/progress")
    assert f'id="campaign-{campaign_id}"' in listing.text


def test_xlsx_upload(env: Env) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["患者姓名", "联系电话", "出院日期"])
    sheet.append(["赵六", "13900139000", "2026-11-30"])
    buffer = io.BytesIO()
    book.save(buffer)
    client = env.session_for("supervisor")
    upload_id = _upload_id(_upload(client, env, "名单.xlsx", buffer.getvalue()))
    page = client.get(f"/campaigns/new/{upload_id}")
    assert "患者姓名" in page.text and '<option value="name" selected' in page.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("patients.txt", b"a,b\n1,2\n", "only .csv or .xlsx"),
        ("patients.xlsx", b"this is not a workbook", "not an XLSX workbook"),
        ("patients.csv", b"", "empty"),
        ("patients.csv", b"\x00\x01\x02binary\x00", "binary"),
        ("patients.xlsx", b"PK\x03\x04broken zip", "cannot read"),
    ],
)
def test_malformed_uploads(env: Env, name: str, data: bytes, reason: str) -> None:
    client = env.session_for("supervisor")
    response = _upload(client, env, name, data)
    assert response.status_code == 422
    assert "file:" in response.text and reason in response.text
    api = client.post(
        "/campaigns/upload",
        data={"csrf_token": env.csrf("supervisor")},
        files={"file": (name, data, "application/octet-stream")},
        headers={"accept": "application/json"},
    )
    assert api.json()["detail"][0]["field"] == "file"
    assert not list((env.data_dir / "uploads").glob("*.csv")) and not list(
        (env.data_dir / "uploads").glob("*.xlsx")
    )


def test_upload_unknown_field_and_no_file(env: Env) -> None:
    client = env.session_for("supervisor")
    response = _upload(client, env, "p.csv", PATIENTS_CSV.encode(), sneaky="1")
    assert response.status_code == 422 and "sneaky" in response.text
    form = client.get("/campaigns/new").text
    assert 'data-max-bytes="52428800"' in form and "50 MB" in form  # the browser refuses bigger files early
    no_file = client.post("/campaigns/upload", data={"csrf_token": env.csrf("supervisor")})
    assert no_file.status_code == 422 and "file:" in no_file.text


def test_oversized_upload_is_413(env: Env) -> None:
    settings = Settings(data_dir=str(env.data_dir), console_secret_key="test-secret", console_max_upload_mb=1)
    env.app = create_app(settings, engine=env.engine, clock=env.clock)
    client = env.session_for("supervisor")
    big = PATIENTS_CSV.encode() + b"x" * (1024 * 1024)
    response = _upload(client, env, "big.csv", big)
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    small = _upload(client, env, "small.csv", PATIENTS_CSV.encode())
    assert small.status_code == 303
    form = client.post(  # other forms keep the small general limit
        "/do-not-call",
        data={
            "phone": "13800138000",
            "reason": "x" * (1024 * 1024 + 10),
            "csrf_token": env.csrf("supervisor"),
        },
    )
    assert form.status_code == 413


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"concurrency": "0"}, "concurrency"),
        ({"concurrency": "many"}, "concurrency"),
        ({"priority": "5000"}, "priority"),
        ({"windows_preset": "custom", "win_mon": "9 to 5"}, "win_mon"),
        ({"windows_preset": "custom", "win_mon": "25:00-26:00"}, "calling_windows.mon"),
        ({"windows_preset": "nights"}, "windows_preset"),
        ({"retry_busy_max": "2", "retry_busy_intervals": ""}, "retry_policy.busy.intervals_min"),
        ({"retry_busy_intervals": "10,soon"}, "retry_busy_intervals"),
        ({"start_date": "2026-12-10", "end_date": "2026-12-01"}, "end"),
        ({"start_date": "next week"}, "start"),
        ({"flow_id": "no_such_flow"}, "flow"),
        ({"language": "fr"}, "language"),
        ({"name": ""}, "name"),
        ({"days_after_discharge": "3,-1"}, "days_after_discharge"),
        ({"map_0": "favourite_colour"}, "map_0"),
        ({"map_99": "name"}, "map_99"),
        ({"surprise": "1"}, "surprise"),
        ({"map_1": ""}, "mapping"),  # the phone column unmapped
    ],
)
def test_wrong_field_values(env: Env, overrides: dict[str, str], field: str) -> None:
    client = env.session_for("supervisor")
    upload_id = _upload_id(_upload(client, env, "patients.csv", PATIENTS_CSV.encode()))
    page = client.get(f"/campaigns/new/{upload_id}")
    response = client.post(f"/campaigns/new/{upload_id}", data=_create_form(env, page.text, **overrides))
    assert 400 <= response.status_code < 500
    assert f"{field}" in response.text, response.text[:1000]
    api = client.post(
        f"/campaigns/new/{upload_id}",
        data=_create_form(env, page.text, **overrides),
        headers={"accept": "application/json"},
    )
    assert api.json()["detail"][0]["field"].startswith(field)
    with env.sessions() as s:  # nothing was created
        assert (
            s.scalar(select(models.Campaign).where(models.Campaign.name == "心内科出院随访（测试）")) is None
        )


def test_unknown_upload_ids_are_404(env: Env) -> None:
    client = env.session_for("supervisor")
    assert client.get("/campaigns/new/../../etc/passwd").status_code == 404
    assert client.get("/campaigns/new/" + "a" * 32).status_code == 404
    assert client.get("/campaigns/new/not-hex").status_code == 404


def test_answer_exports_are_audited(env: Env) -> None:
    campaign_id = seed(env.sessions)
    client = env.session_for("supervisor")
    response = client.get(f"/campaigns/{campaign_id}/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 1 + 3  # the header and the three completed calls
    fhir = client.get(f"/campaigns/{campaign_id}/export.ndjson")
    resources = [json.loads(line) for line in fhir.text.splitlines()]
    assert resources[0]["resourceType"] == "Questionnaire"
    assert [r["resourceType"] for r in resources[1:]] == ["QuestionnaireResponse"] * 3
    audits = _actions(env, "export_answers")
    assert [(a.object_id, a.detail["format"]) for a in audits] == [
        (str(campaign_id), "csv"),
        (str(campaign_id), "fhir"),
    ]


# --- flows ----------------------------------------------------------------------------------------------


def test_flow_list_and_preview(env: Env) -> None:
    client = env.session_for("quality")
    listing = client.get("/flows")
    assert listing.status_code == 200 and 'id="flow-post_op"' in listing.text and "校验通过" in listing.text
    page = client.get("/flows/post_op")
    assert page.status_code == 200
    assert "伤口现在有没有疼、发红、肿" in page.text  # the question, in Mandarin
    assert "Is it painful, red, swollen" in page.text  # and in English
    assert "<td>1</td><td><code>pain</code></td>" in page.text  # choice with its DTMF key
    assert "multi_choice" in page.text
    branches = client.get("/flows/discharge_general")
    assert "fever = true" in branches.text or "fever" in branches.text
    assert client.get("/flows/no_such_flow").status_code == 404


def test_flow_library_shows_errors_with_lines(tmp_path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "id: broken\ntitle: {zh: 坏}\nlanguages: [zh]\nsteps: []\n", "utf-8"
    )
    (entry,) = flow_preview.library(tmp_path)
    assert not entry.ok and entry.id == "broken"
    assert any(str(issue).startswith(f"{tmp_path / 'broken.yaml'}:") for issue in entry.errors)


# --- do-not-call ----------------------------------------------------------------------------------------


def test_do_not_call_add_remove_audited(env: Env) -> None:
    agent = env.session_for("agent")
    added = agent.post(
        "/do-not-call",
        data={"phone": "138 0013 8111", "reason": "患者要求不再来电", "csrf_token": env.csrf("agent")},
    )
    assert added.status_code == 303
    with env.sessions() as s:
        entry = s.scalars(select(DoNotCall)).one()
        assert (
            entry.phone == "+8613800138111" and entry.reason == "患者要求不再来电" and entry.source == "agent"
        )
    listing = agent.get("/do-not-call")
    assert "*********8111" in listing.text
    assert "+8613800138111" not in listing.text and "13800138111" not in listing.text  # masked for agents
    assert "/do-not-call/delete" not in listing.text
    supervisor = env.session_for("supervisor")
    assert "+8613800138111" in supervisor.get("/do-not-call").text
    assert len(re.findall(r'id="dnc-\d+"', supervisor.get("/do-not-call?q=8111").text)) == 1
    denied = agent.post(
        "/do-not-call/delete", data={"phone": "+8613800138111", "csrf_token": env.csrf("agent")}
    )
    assert denied.status_code == 403
    admin = env.session_for("admin")
    removed = admin.post(
        "/do-not-call/delete", data={"phone": "13800138111", "csrf_token": env.csrf("admin")}
    )
    assert removed.status_code == 303 and removed.headers["location"].endswith("removed=1")
    assert "已从名单移除" in admin.get(removed.headers["location"]).text
    assert "已加入免打扰名单" in agent.get(added.headers["location"]).text
    with env.sessions() as s:
        assert s.scalars(select(DoNotCall)).first() is None
    add_log, remove_log = _actions(env, "add_do_not_call"), _actions(env, "remove_do_not_call")
    assert len(add_log) == 1 and add_log[0].detail["phone"] == "*********8111"
    assert len(remove_log) == 1 and remove_log[0].user_id == env.users["admin"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "12345", "reason": "x"}, "phone"),
        ({"phone": "13800138000", "reason": ""}, "reason"),
        ({"phone": "13800138000", "reason": "x", "extra": "1"}, "extra"),
        ({"phone": "'; DROP TABLE do_not_call; --", "reason": "x"}, "phone"),
    ],
)
def test_do_not_call_bad_input(env: Env, data: dict[str, str], field: str) -> None:
    client = env.session_for("supervisor")
    response = client.post(
        "/do-not-call",
        data={**data, "csrf_token": env.csrf("supervisor")},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 422
    assert any(e["field"] == field for e in response.json()["detail"]), response.json()
    with env.sessions() as s:
        assert s.scalars(select(DoNotCall)).first() is None


# --- dashboards -----------------------------------------------------------------------------------------


def _week_query() -> str:
    return f"date_from={WEEK}&date_to={WEEK + timedelta(days=6)}"


def test_dashboard_figures_on_seeded_data(env: Env) -> None:
    seed(env.sessions)
    client = env.session_for("quality")
    page = client.get(f"/dashboard?{_week_query()}")
    assert page.status_code == 200
    assert re.search(r'id="tile-connection">60\.0%<', page.text)
    assert re.search(r'id="tile-completion">66\.7%<', page.text)
    assert re.search(r'id="tile-satisfaction">50\.0<', page.text)
    assert re.search(r'id="tile-complaints">2<', page.text) and re.search(r'id="tile-praise">1<', page.text)
    assert '<canvas id="chart-weekly-rates"' in page.text and "/static/vendor/chart-4.6.2.umd.js" in page.text
    data = json.loads(
        re.search(
            r'<script type="application/json" id="dashboard-data">(.*?)</script>', page.text, re.DOTALL
        ).group(1)
    )
    assert data["data"]["weekly"]["labels"][-1] == str(WEEK)
    assert data["data"]["weekly"]["connection_rate"][-2:] == [100.0, 60.0]
    assert "李医生 (心内科)" in page.text and "discharge_general.fever" in page.text
    only = client.get(f"/dashboard?{_week_query()}&department=骨科")
    assert re.search(r'id="tile-connection">50\.0%<', only.text)
    bad = client.get(
        "/dashboard?date_from=2026-12-10&date_to=2026-12-01", headers={"accept": "application/json"}
    )
    assert bad.status_code == 422
    unknown = client.get("/dashboard?colour=red", headers={"accept": "application/json"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "colour"


def test_dashboard_exports(env: Env) -> None:
    seed(env.sessions)
    client = env.session_for("supervisor")
    as_csv = client.get(f"/dashboard/export.csv?{_week_query()}")
    assert as_csv.status_code == 200
    rows = list(csv.reader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["level", "name", "ended"] and rows[1][:5] == ["total", "total", "5", "3", "60.0"]
    as_xlsx = client.get(f"/dashboard/export.xlsx?{_week_query()}")
    assert as_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "level" and values[1][:5] == ["total", "total", 5, 3, 60.0]
    assert any(r[0] == "department" and r[1] == "骨科" for r in values)
    audits = _actions(env, "export_dashboard")
    assert [a.detail["format"] for a in audits] == ["csv", "xlsx"]


def test_every_vocabulary_value_has_its_message() -> None:
    """The key functions the supervisor templates use (status_key, field_key, …) name existing messages."""
    from console.i18n import MESSAGES
    from console.routes.campaigns import ACTIONS
    from dialer.windows import PRESETS, WEEKDAYS
    from flows.schema import Step
    from models.imports import FIELDS
    from models.vocab import CAMPAIGN_STATUSES

    expected = [
        *(f"camp.status_{v}" for v in CAMPAIGN_STATUSES),
        *(f"camp.action_{v}" for v in ACTIONS),
        *(f"camp.preset_{v}" for v in (*PRESETS, "custom")),
        *(f"camp.day_{v}" for v in WEEKDAYS),
        *(f"camp.field_{v}" for v in FIELDS),
        *(f"flowp.kind_{v}" for v in Step.KINDS),
        *(
            f"dash.{v}"
            for v in ("connection_rate", "completion_rate", "satisfaction", "complaints", "praise")
        ),
    ]
    assert [k for k in expected if k not in MESSAGES] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_render_in_both_languages(env: Env, lang: str) -> None:
    campaign_id = seed(env.sessions)
    client = env.session_for("admin")
    upload_id = _upload_id(_upload_as(client, env, "admin"))
    expected = {"zh": ("随访任务", "统计看板"), "en": ("Campaigns", "Dashboard")}[lang]
    for path in (
        "/campaigns",
        "/campaigns/new",
        f"/campaigns/new/{upload_id}",
        f"/campaigns/{campaign_id}",
        "/flows",
        "/flows/discharge_general",
        "/do-not-call",
        "/dashboard",
    ):
        page = client.get(f"{path}?lang={lang}")
        assert page.status_code == 200, (path, page.text[:300])
        assert all(word in page.text for word in expected), path


def _upload_as(client: TestClient, env: Env, role: str):
    return client.post(
        "/campaigns/upload",
        data={"csrf_token": env.csrf(role)},
        files={"file": ("p.csv", PATIENTS_CSV.encode(), "text/csv")},
    )


def test_big_files_import_as_a_background_job(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over BACKGROUND_IMPORT_BYTES the import is queued (dialer.jobs.enqueue_import) and the campaign page
    shows the job's progress, then its report. The queue is faked here: a real rq job would run in a worker
    against the configured database, not this test's."""
    import dialer.jobs
    from console import campaign_forms
    from models.imports import import_file

    queued: list[tuple[str, int]] = []

    class FakeJob:
        id = "job-1"

    def fake_enqueue(path, campaign_id, mapping, **_kw):
        queued.append((str(path), campaign_id))
        return FakeJob()

    state = {"status": "started"}

    def fake_status(job_id, **_kw):
        if state["status"] == "started":
            return {"job_id": job_id, "status": "started", "progress": {"rows_done": 1}}
        path, campaign_id = queued[0]
        report = import_file(env.sessions, path, campaign_id=campaign_id, now=env.clock())
        return {"job_id": job_id, "status": "finished", "progress": {}, "report": report.to_dict()}

    monkeypatch.setattr(campaign_forms, "BACKGROUND_IMPORT_BYTES", 10)
    monkeypatch.setattr(dialer.jobs, "enqueue_import", fake_enqueue)
    monkeypatch.setattr(dialer.jobs, "import_status", fake_status)
    client = env.session_for("supervisor")
    upload_id = _upload_id(_upload(client, env, "patients.csv", PATIENTS_CSV.encode()))
    page = client.get(f"/campaigns/new/{upload_id}")
    response = client.post(f"/campaigns/new/{upload_id}", data=_create_form(env, page.text))
    assert response.status_code == 303
    campaign_id = int(response.headers["location"].split("/")[2].split("#")[0])
    assert queued and queued[0][1] == campaign_id
    running = client.get(f"/campaigns/{campaign_id}/progress")
    assert 'id="import-job"' in running.text and "started" in running.text
    state["status"] = "finished"
    done = client.get(f"/campaigns/{campaign_id}")
    assert re.search(r'id="rows-imported">2<', done.text) and "<td>3</td><td>phone</td>" in done.text


def test_a_file_that_cannot_be_imported_leaves_no_campaign(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.routes import campaigns as routes
    from models.imports import ImportFileError

    def broken(*_args: object, **_kw: object) -> None:
        raise ImportFileError("the file changed under us: no header row")

    monkeypatch.setattr(routes, "import_file", broken)
    client = env.session_for("supervisor")
    upload_id = _upload_id(_upload(client, env, "patients.csv", PATIENTS_CSV.encode()))
    page = client.get(f"/campaigns/new/{upload_id}")
    response = client.post(f"/campaigns/new/{upload_id}", data=_create_form(env, page.text))
    assert response.status_code == 422 and "file: the file changed under us" in response.text
    with env.sessions() as s:
        assert (
            s.scalar(select(models.Campaign).where(models.Campaign.name == "心内科出院随访（测试）")) is None
        )
    assert [a.detail["action"] for a in _actions(env, "change_campaign")] == ["create", "delete"]
