"""dialer.campaigns and ``followup campaign`` on SQLite and PostgreSQL: validation, status changes, status."""

from __future__ import annotations

import argparse
import importlib.util
import io
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import models
from dialer import campaigns
from dialer.retry import RetryPolicy
from dialer.windows import DEFAULT_WINDOWS, PRESETS
from followup.cli import main as cli_main
from models import db, leases, store

# The database fixtures of tests/models (SQLite and PostgreSQL), without a second copy of them.
_spec = importlib.util.spec_from_file_location(
    "_models_db_fixtures", Path(__file__).resolve().parents[1] / "models" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
pg_server = _fixtures.pg_server
database_url = _fixtures.database_url
engine = _fixtures.engine
session = _fixtures.session

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def _create(s: Session, **overrides: object) -> models.Campaign:
    fields: dict[str, object] = {"name": "心内科出院随访", "flow_id": "discharge_general"}
    fields.update(overrides)
    return campaigns.create_campaign(s, **fields)  # type: ignore[arg-type]


def _patient(s: Session) -> models.Patient:
    p = models.Patient(name="王小明", phone="+8613800138000")
    s.add(p)
    s.commit()
    return p


def test_create_stores_a_validated_draft(session: Session) -> None:
    c = _create(
        session,
        language="zh",
        windows="weekdays",
        start_date="2026-12-07",
        end_date=date(2026, 12, 31),
        max_concurrent_calls=20,
        priority=3,
        max_attempts=4,
        caller_id="057188888888",
        retry_policy={"busy": {"max": 1, "intervals_min": [5]}},
        days_after_discharge=[30, 3, 7, 3],
        department="心内科",
        visit_kind="inpatient",
    )
    session.expire_all()
    c = session.get_one(models.Campaign, c.id)
    assert (c.status, c.language, c.start_date, c.end_date) == (
        "draft",
        "zh",
        date(2026, 12, 7),
        date(2026, 12, 31),
    )
    assert c.calling_windows == PRESETS["weekdays"]
    assert c.retry_policy["busy"] == {"max": 1, "intervals_min": [5]}
    assert RetryPolicy.from_json(c.retry_policy).by_outcome["no_answer"].max == 3  # complete policy stored
    assert c.days_after_discharge == [3, 7, 30]
    assert (c.max_concurrent_calls, c.priority, c.max_attempts) == (20, 3, 4)
    assert _create(session).calling_windows == DEFAULT_WINDOWS


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name:"),
        ({"flow_id": "no_such_flow"}, "flow: no flow 'no_such_flow'"),
        ({"flow_id": ""}, "flow:"),
        ({"language": "fr"}, "language:"),
        ({"windows": "nightly"}, "windows: neither a preset"),
        ({"windows": {"mon": [["09:00", "08:00"], ["07:00", "10:00"]]}}, r"calling_windows.mon"),
        ({"windows": {}}, "windows: no calling window"),
        ({"timezone": "Asia/Beijing"}, "timezone: unknown time zone"),
        ({"start_date": "2026-13-01"}, "start: expected a date"),
        ({"start_date": "2026-12-10", "end_date": "2026-12-01"}, "end: 2026-12-01 is before start"),
        ({"max_concurrent_calls": 0}, "concurrency:"),
        ({"max_concurrent_calls": 10_000}, "concurrency:"),
        ({"max_attempts": 0}, "max_attempts:"),
        ({"priority": "high"}, "priority:"),
        ({"retry_policy": {"busy": {"max": 2}}}, r"retry_policy.busy.intervals_min"),
        ({"days_after_discharge": []}, "days_after_discharge:"),
        ({"days_after_discharge": [3, -1]}, "days_after_discharge:"),
        ({"visit_kind": "emergency"}, "visit_kind:"),
        ({"caller_id": "x" * 40}, "caller_id:"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(
    session: Session, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        _create(session, **overrides)
    assert campaigns.list_campaigns(session) == []  # nothing stored


def test_a_language_the_flow_lacks_is_refused(session: Session, tmp_path: Path) -> None:
    library = Path(__file__).resolve().parents[2] / "flows" / "library" / "discharge_general.yaml"
    zh_only = tmp_path / "zh_only.yaml"
    zh_only.write_text(
        library.read_text(encoding="utf-8").replace("languages: [zh, en]", "languages: [zh]"),
        encoding="utf-8",
    )
    assert _create(session, flow_id=str(zh_only), language="zh").language == "zh"
    with pytest.raises(ValueError, match="language: flow .* has no 'en' version"):
        _create(session, flow_id=str(zh_only), language="en")


# operation, from-status, resulting status (None: refused)
TRANSITIONS = [
    ("start", "draft", "running"),
    ("start", "paused", "running"),
    ("start", "running", None),
    ("start", "finished", None),
    ("pause", "running", "paused"),
    ("pause", "paused", "paused"),  # idempotent: the breaker and an operator may both pause
    ("pause", "draft", None),
    ("resume", "paused", "running"),
    ("resume", "running", None),
    ("resume", "draft", None),
    ("finish", "running", "finished"),
    ("finish", "finished", "finished"),
]


@pytest.mark.parametrize(("op", "before", "after"), TRANSITIONS)
def test_status_changes(session: Session, op: str, before: str, after: str | None) -> None:
    c = _create(session)
    session.execute(update(models.Campaign).where(models.Campaign.id == c.id).values(status=before))
    session.commit()
    if after is None:
        with pytest.raises(ValueError, match=f"cannot {op} a {before} campaign"):
            getattr(campaigns, op)(session, c.id)
        assert campaigns.get_campaign(session, c.id).status == before
    else:
        assert getattr(campaigns, op)(session, c.id).status == after


def test_pause_says_why_and_resume_clears_it(session: Session) -> None:
    c = _create(session)
    campaigns.start(session, c.id)
    paused = campaigns.pause(session, c.id, reason="circuit breaker: 8 of 10 calls failed in 300 s")
    assert paused.status_reason == "circuit breaker: 8 of 10 calls failed in 300 s"
    assert campaigns.status(session, c.id).status_reason == paused.status_reason
    assert campaigns.resume(session, c.id).status_reason is None
    with pytest.raises(ValueError, match="no campaign with id 999"):
        campaigns.pause(session, 999)


def test_finish_cancels_waiting_tasks_but_not_live_calls(session: Session) -> None:
    c = _create(session, windows="always")
    campaigns.start(session, c.id)
    p = _patient(session)
    tasks = [models.CallTask(campaign_id=c.id, patient_id=p.id, due_at=NOW) for _ in range(3)]
    session.add_all(tasks)
    session.commit()
    claimed = leases.claim_due(session, owner="e1", now=NOW, limit=2)
    leases.start_attempt(session, owner="e1", task_id=claimed[0].task_id)
    campaigns.finish(session, c.id)
    counts = leases.pending_counts(session, c.id)
    assert (counts["cancelled"], counts["in_progress"], counts["pending"]) == (2, 1, 0)


def test_status_counts(session: Session) -> None:
    c = _create(session, windows="always")
    campaigns.start(session, c.id)
    p = _patient(session)
    session.add_all(
        [
            models.CallTask(campaign_id=c.id, patient_id=p.id, due_at=NOW + timedelta(minutes=i))
            for i in range(5)
        ]
    )
    session.commit()
    claimed = leases.claim_due(session, owner="e1", now=NOW + timedelta(minutes=10), limit=3)
    ids = [t.task_id for t in claimed]
    from dialer.retry import Decision

    a1 = leases.start_attempt(session, owner="e1", task_id=ids[0])
    store.mark_answered(session, a1)
    store.record_escalation(session, patient_id=p.id, attempt_id=a1, kind="complaint", department="心内科")
    leases.finish(
        session, task_id=ids[0], attempt_id=a1, outcome="completed", decision=Decision("done", None, "ok")
    )
    a2 = leases.start_attempt(session, owner="e1", task_id=ids[1])
    leases.finish(
        session,
        task_id=ids[1],
        attempt_id=a2,
        outcome="busy",
        decision=Decision("pending", NOW + timedelta(hours=1), "busy", "busy"),
    )
    a3 = leases.start_attempt(session, owner="e1", task_id=ids[2])  # live
    store.mark_answered(session, a3)
    st = campaigns.status(session, c.id)
    assert st.tasks == 5
    assert st.by_status == {
        "pending": 3,
        "leased": 0,
        "in_progress": 1,
        "done": 1,
        "failed": 0,
        "cancelled": 0,
    }
    assert st.by_last_outcome == {"completed": 1, "busy": 1}
    assert (st.attempts, st.answered_attempts, st.live_calls, st.escalations) == (3, 2, 1, 1)
    assert st.answer_rate == pytest.approx(1 / 2)  # of the 2 finished attempts, 1 was answered
    assert st.completed_tasks == 1 and st.completion_rate == pytest.approx(1 / 5)
    assert st.next_due_at == NOW + timedelta(minutes=3)
    assert not st.settled
    data = st.to_json()
    assert data["next_due_at"] == (NOW + timedelta(minutes=3)).isoformat() and data["settled"] is False


# --- the command line -----------------------------------------------------------------------------------


def _url(database_url: URL) -> str:
    return database_url.render_as_string(hide_password=False)


def test_cli_create_prints_the_id(
    database_url: URL, engine: object, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "campaign",
        "--url",
        _url(database_url),
        "create",
        "--name",
        "术后随访",
        "--flow",
        "post_op",
        "--lang",
        "zh",
        "--windows",
        '{"mon": [["09:00", "11:30"]], "sat": [["09:00", "11:30"]]}',
        "--tz",
        "Asia/Shanghai",
        "--start",
        "2026-12-07",
        "--concurrency",
        "5",
        "--priority",
        "2",
        "--max-attempts",
        "4",
        "--retry",
        '{"no_answer": {"max": 1, "intervals_min": [30]}}',
        "--caller-id",
        "057188888888",
        "--days-after-discharge",
        "3,7,30",
        "--department",
        "普外科",
        "--visit-kind",
        "surgery",
    ]
    assert cli_main(argv) == 0
    new_id = int(capsys.readouterr().out.strip())
    assert cli_main(["campaign", "--url", _url(database_url), "list", "--json"]) == 0
    import json

    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == new_id and listed["days_after_discharge"] == [3, 7, 30]
    assert listed["calling_windows"] == {"mon": [["09:00", "11:30"]], "sat": [["09:00", "11:30"]]}
    assert listed["retry_policy"]["no_answer"] == {"max": 1, "intervals_min": [30]}
    assert (listed["language"], listed["visit_kind"], listed["max_concurrent_calls"]) == ("zh", "surgery", 5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--flow", "nope"], "flow: no flow 'nope'"),
        (["--windows", "[[1]]"], "calling_windows: expected an object"),
        (["--windows", "mornings"], "windows: neither a preset"),
        (["--retry", "{oops"], "retry: not JSON"),
        (["--retry", '{"engaged": {"max": 1, "intervals_min": [1]}}'], "retry_policy: 'engaged'"),
        (["--days-after-discharge", "3,x"], "days-after-discharge: 'x'"),
        (["--start", "tomorrow"], "start: expected a date"),
        (["--concurrency", "many"], "concurrency: expected an integer"),
        (["--lang", "fr"], "invalid choice"),
        (["--tz", "Shanghai"], "timezone: unknown time zone"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_field(
    database_url: URL, engine: object, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = [
        "campaign",
        "--url",
        _url(database_url),
        "create",
        "--name",
        "x",
        "--flow",
        "discharge_general",
        *extra,
    ]
    try:
        code = cli_main(argv)
    except SystemExit as exc:  # argparse's own errors (choices, types)
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_lifecycle(database_url: URL, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    c = _create(session)
    base = ["campaign", "--url", _url(database_url)]
    assert cli_main([*base, "start", str(c.id)]) == 0
    assert cli_main([*base, "pause", str(c.id), "--reason", "夜间维护"]) == 0
    assert "paused (夜间维护)" in capsys.readouterr().out
    assert cli_main([*base, "resume", str(c.id)]) == 0
    assert cli_main([*base, "resume", str(c.id)]) == 2
    assert "cannot resume a running campaign" in capsys.readouterr().err
    assert cli_main([*base, "status", str(c.id)]) == 0
    out = capsys.readouterr().out
    assert f"campaign {c.id}" in out and "running" in out and "tasks" in out
    assert cli_main([*base, "status", "4242"]) == 2


def test_cli_watch_prints_a_line_per_refresh_until_settled(
    database_url: URL, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    c = _create(session)
    campaigns.start(session, c.id)
    p = _patient(session)
    session.add_all([models.CallTask(campaign_id=c.id, patient_id=p.id, due_at=NOW) for _ in range(2)])
    session.commit()

    def settle() -> None:
        time.sleep(0.6)
        eng = db.make_engine(database_url)
        with eng.begin() as conn:
            conn.execute(
                update(models.CallTask).where(models.CallTask.campaign_id == c.id).values(status="done")
            )
        eng.dispose()

    worker = threading.Thread(target=settle)
    worker.start()

    code = cli_main(["campaign", "--url", _url(database_url), "status", str(c.id), "--watch", "0.1"])
    worker.join()
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 3
    assert "pending 2" in lines[0] and "done 2" in lines[-1] and "pending 0" in lines[-1]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_watch_on_a_terminal_redraws_a_table(database_url: URL, session: Session) -> None:
    from dialer import campaign_cli

    c = _create(session)
    campaigns.finish(session, c.id)  # settled: one frame, then the command returns
    args = argparse.Namespace(url=_url(database_url), campaign_cmd="status", id=c.id, watch=0.1, json=False)
    out = _Terminal()
    assert campaign_cli.main(args, out) == 0
    frame = out.getvalue()
    assert frame.startswith("\x1b[H\x1b[2J")  # cursor home + clear: the table is redrawn in place
    assert f"campaign {c.id}" in frame and "finished" in frame and "Ctrl-C" in frame
