"""The import job: a large patient file imported by a worker, its progress readable in job.meta while it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer import jobs
from models import CallTask, Patient
from tests.exports.export_helpers import make_campaign

ROWS = 6000
BAD_ROWS = 3


def _patients_csv(path: Path) -> Path:
    lines = ["姓名,手机号,科室,住院号,入院日期,出院日期"]
    for n in range(ROWS):
        lines.append(f"患者{n},138{n:08d},普外科,ZY{n:06d},2026-11-01,2026-11-10")
    lines += [
        "坏号码甲,12345,普外科,ZYX1,2026-11-01,2026-11-10",
        "坏号码乙,,普外科,ZYX2,2026-11-01,2026-11-10",
        "坏号码丙,电话不详,普外科,ZYX3,2026-11-01,2026-11-10",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_job_reports_progress_in_meta(
    env: Callable[..., None], session: Session, redis_conn: Redis, tmp_path: Path
) -> None:
    env(import_batch_rows=500)
    campaign = make_campaign(session, "post_op")
    job = jobs.enqueue_import(_patients_csv(tmp_path / "出院患者.csv"), campaign.id)
    assert jobs.import_status(job.id, connection=redis_conn)["status"] == "queued"

    seen: list[dict] = []
    done = threading.Event()

    def poll() -> None:  # what the console does while the worker runs
        while not done.is_set():
            seen.append(jobs.import_status(job.id, connection=redis_conn))
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:  # the worker in the main thread: rq installs signal handlers
        jobs.SimpleWorker([jobs.queue(jobs.QUEUE_IMPORTS, redis_conn)], connection=redis_conn).work(
            burst=True
        )
    finally:
        done.set()
        poller.join()

    final = jobs.import_status(job.id, connection=redis_conn)
    assert final["status"] == "finished"
    report = final["report"]
    assert (report["rows_read"], report["rows_imported"], report["rows_failed"]) == (
        ROWS + BAD_ROWS,
        ROWS,
        BAD_ROWS,
    )
    assert sorted(e["line"] for e in report["errors"]) == [ROWS + 2, ROWS + 3, ROWS + 4]
    assert final["progress"]["rows_done"] == ROWS + BAD_ROWS
    assert final["progress"]["errors"] == BAD_ROWS
    assert final["progress"]["fraction"] == 1.0
    mid_run = [s["progress"]["rows_done"] for s in seen if s["status"] == "started" and s["progress"]]
    assert any(0 < done < ROWS for done in mid_run), "no progress seen while the import ran"
    assert mid_run == sorted(mid_run)
    assert session.scalar(select(func.count()).select_from(Patient)) == ROWS
    assert (
        session.scalar(select(func.count()).select_from(CallTask).where(CallTask.campaign_id == campaign.id))
        == ROWS
    )


def test_an_unimportable_file_fails_the_job_with_the_reason(
    env: Callable[..., None], session: Session, redis_conn: Redis, tmp_path: Path
) -> None:
    campaign = make_campaign(session, "post_op")
    path = tmp_path / "no_phone.csv"
    path.write_text("姓名,科室\n张三,普外科\n", encoding="utf-8")
    job = jobs.enqueue_import(path, campaign.id)
    jobs.SimpleWorker([jobs.queue(jobs.QUEUE_IMPORTS, redis_conn)], connection=redis_conn).work(burst=True)
    status = jobs.import_status(job.id, connection=redis_conn)
    assert status["status"] == "failed"
    assert "phone" in status["error"]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0
