"""Post-call jobs and exports at volume: prints figures, asserts nothing.

    .venv/bin/python bench/jobs_bench.py [--calls 2000] [--jobs 300] [--redis redis://127.0.0.1:6379/10]

1. Exports: a campaign of ``--calls`` completed post_op calls (7 answers each) → CSV and FHIR NDJSON
   (seconds, calls per second, file size).
2. Post-call jobs: ``--jobs`` attempts, each with one escalation, through a forking rq worker
   (``dialer.jobs.Worker``, burst; then the same without forking) with the webhook pointed at a local HTTP server answering 200:
   post-call and webhook jobs per second, end to end. Uses (and flushes) the given Redis database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ANSWERS = {
    "wound": ["pain", "redness"],
    "pain_score": 3,
    "temperature": 37.6,
    "bowel_urine": True,
    "activity": "normal",
    "stitches": "removed",
    "return_visit": "2026-11-20",
}


def make_calls(url: str, n: int, *, escalate: bool = False, offset: int = 0) -> tuple[int, list[int]]:
    """A campaign with ``n`` completed calls, inserted in bulk (bench data, not the call path)."""
    import models
    from models import db, store

    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        campaign = models.Campaign(name="bench", flow_id="post_op", status="running")
        s.add(campaign)
        s.flush()
        attempts = []
        ended = datetime(2026, 11, 13, 2, 0, tzinfo=UTC)
        for i in range(offset, offset + n):
            p = models.Patient(name=f"患者{i}", phone=f"+86139{i:08d}", external_id=f"HIS-P-{i}")
            v = models.Visit(
                patient=p,
                kind="inpatient",
                department="普外科" if i % 2 else "心内科",
                visit_date=date(2026, 11, 1),
                external_id=f"HIS-V-{i}",
            )
            t = models.CallTask(
                campaign=campaign, patient=p, visit=v, due_at=ended, status="done", attempts_made=1
            )
            a = models.CallAttempt(
                task=t,
                number=1,
                started_at=ended - timedelta(minutes=3),
                answered_at=ended - timedelta(minutes=3),
                ended_at=ended,
                outcome="completed",
                flow_id="post_op",
                language="zh",
            )
            a.answers = [
                models.Answer(
                    question_id=q, value=v_, value_text=store.render_value(v_), raw_text="", confidence=0.9
                )
                for q, v_ in ANSWERS.items()
            ]
            s.add_all([p, v, t, a])
            attempts.append(a)
            if escalate:
                s.add(
                    models.Escalation(
                        patient=p, attempt=a, kind="complaint", department=None, text="收费太贵"
                    )
                )
        s.commit()
        ids = [a.id for a in attempts]
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id, ids


def bench_exports(url: str, n: int, folder: Path) -> None:
    from dialer import exports
    from models import db

    campaign_id, _ = make_calls(url, n)
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        for fmt, path in (("csv", folder / "answers.csv"), ("fhir", folder / "answers.ndjson")):
            started = time.perf_counter()
            rows = (exports.export_csv if fmt == "csv" else exports.export_fhir)(s, campaign_id, path)
            took = time.perf_counter() - started
            print(
                f"export {fmt:4}: {rows} calls in {took:.2f} s = {rows / took:,.0f} calls/s, "
                f"{path.stat().st_size / 1e6:.1f} MB"
            )
    engine.dispose()


def bench_jobs(url: str, n: int, redis_url: str) -> None:
    from redis import Redis

    from dialer import jobs
    from followup.config import get_settings

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(
        FOLLOWUP_DATABASE_URL=url,
        FOLLOWUP_REDIS_URL=redis_url,
        FOLLOWUP_QA_SEED="bench",
        FOLLOWUP_WEBHOOK_URL=f"http://127.0.0.1:{server.server_address[1]}/his",
        FOLLOWUP_WEBHOOK_SECRET="bench",
    )
    get_settings.cache_clear()
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    for fork in (True, False):
        _, ids = make_calls(url, n, escalate=True, offset=0 if fork else n)
        started = time.perf_counter()
        for attempt_id in ids:
            jobs.enqueue_post_call(attempt_id, connection=conn)
        enqueued = time.perf_counter() - started
        started = time.perf_counter()
        jobs.run_worker(burst=True, connection=conn, fork=fork)
        took = time.perf_counter() - started
        if fork:
            print(
                f"enqueue_post_call: {n} in {enqueued:.2f} s = {enqueued / n * 1000:.2f} ms each (on the call path)"
            )
        kind = "forking (default)" if fork else "--no-fork"
        print(
            f"worker, 1 process, {kind}: {n} post-call + {n} webhook jobs in {took:.1f} s = "
            f"{2 * n / took:.1f} jobs/s"
        )
    conn.flushdb()
    server.shutdown()


def main() -> int:
    import logging

    logging.disable(logging.INFO)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--jobs", type=int, default=300)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = p.parse_args()
    from models import db

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'exports.db'}"
        db.upgrade(url)
        bench_exports(url, args.calls, folder)
        url = f"sqlite:///{folder / 'jobs.db'}"
        db.upgrade(url)
        bench_jobs(url, args.jobs, args.redis)
    return 0


if __name__ == "__main__":
    sys.exit(main())
