"""Scheduled campaign starts: rq's enqueue_at, run by a worker with the scheduler (in-process and the real
`followup worker` command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs_helpers import work
from redis import Redis
from sqlalchemy.orm import Session

from dialer import jobs
from models import Campaign
from tests.exports.export_helpers import make_campaign

FOLLOWUP = [sys.executable, "-m", "followup"]


def _status(session: Session, campaign_id: int) -> str:
    session.expire_all()
    return session.get(Campaign, campaign_id).status


def test_a_scheduled_start_runs_at_its_time(
    env: Callable[..., None], session: Session, redis_conn: Redis
) -> None:
    campaign = make_campaign(session, "post_op", status="draft")
    moved = make_campaign(session, "post_op", status="paused")
    dropped = make_campaign(session, "post_op", status="draft")
    at = datetime.now(UTC) + timedelta(seconds=2)
    job = jobs.schedule_campaign_start(campaign.id, at)
    assert job.id == f"campaign-start-{campaign.id}"
    jobs.schedule_campaign_start(moved.id, at + timedelta(hours=1))
    jobs.schedule_campaign_start(moved.id, at)  # rescheduled earlier: replaces the first time
    jobs.schedule_campaign_start(dropped.id, at)
    assert jobs.cancel_campaign_start(dropped.id) is True
    assert jobs.cancel_campaign_start(dropped.id) is False

    work(redis_conn, lambda: True)  # a worker pass before the time starts nothing
    assert _status(session, campaign.id) == "draft"

    work(
        redis_conn,
        lambda: _status(session, campaign.id) == "running" and _status(session, moved.id) == "running",
    )
    assert datetime.now(UTC) >= at
    assert _status(session, dropped.id) == "draft"
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == {"campaign_id": campaign.id, "status": "running"}


def test_starting_a_running_campaign_is_not_an_error(env: Callable[..., None], session: Session) -> None:
    campaign = make_campaign(session, "post_op", status="running")
    assert jobs.start_campaign(campaign.id)["note"] == "already running"


def test_naive_times_are_refused(env: Callable[..., None]) -> None:
    try:
        jobs.schedule_campaign_start(1, datetime(2026, 12, 7, 9, 0))
    except ValueError as exc:
        assert "timezone-aware" in str(exc)
    else:
        raise AssertionError("a naive start time was accepted")


def test_followup_worker_command_runs_a_scheduled_start(
    env: Callable[..., None], session: Session, redis_conn: Redis, tmp_path: Path
) -> None:
    campaign = make_campaign(session, "post_op", status="draft")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    environ.update(
        {k: v for k, v in os.environ.items() if k in ("FOLLOWUP_DATABASE_URL", "FOLLOWUP_REDIS_URL")}
    )
    environ["PYTHONFAULTHANDLER"] = "1"
    at = (datetime.now(UTC) + timedelta(seconds=2)).astimezone()  # the CLI takes any offset
    out = subprocess.run(
        [*FOLLOWUP, "jobs", "schedule-start", "--campaign", str(campaign.id), "--at", at.isoformat()],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"campaign {campaign.id} starts at" in out.stdout
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below, after the process
    worker = subprocess.Popen([*FOLLOWUP, "worker"], env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while _status(session, campaign.id) != "running":
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker did not start the campaign"
            time.sleep(0.3)
        assert datetime.now(UTC) >= at
    finally:
        worker.send_signal(signal.SIGTERM)  # rq's warm shutdown
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGABRT)  # faulthandler: the stacks go to the log
            worker.wait()
        log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
