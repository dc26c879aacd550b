"""Dashboard benchmark: how long the supervisors' dashboard takes to compute its figures (``console.stats``:
one 30-day period with departments, doctors and questions, plus 8 weekly and 6 monthly trend periods) over
a database of generated calls.

    .venv/bin/python bench/console_dashboard.py                          # SQLite, 100,000 attempts
    .venv/bin/python bench/console_dashboard.py --attempts 300000 --backend postgresql

The data (seeded, so every build is the same): attempts spread over the last 180 days, 8 departments,
40 doctors, 70 % answered, 60 % of those completed with a satisfaction (1–5) and a fever (yes/no) answer,
3 % with a complaint or praise. The database is built in a temporary place and dropped afterwards; the
build time is printed apart. Each run computes the whole dashboard once; the figures are p50 and max of
``--runs`` runs after one warm-up. Nothing here asserts: it reports.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert, make_url

import models
from console import stats
from models import db

TZ = "Asia/Shanghai"
DEPARTMENTS = ["心内科", "骨科", "普外科", "神经内科", "呼吸科", "内分泌科", "妇产科", "儿科"]


def build(url: str, attempts: int, today: date) -> float:
    """Fill the database at ``url`` (migrated) with ``attempts`` generated calls; returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(7)
    engine = db.make_engine(url)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(models.Campaign)
            .values(
                name="bench",
                flow_id="discharge_general",
                status="running",
                calling_windows={},
                retry_policy={},
            )
            .returning(models.Campaign.id)
        ).scalar_one()
        chunk = 5000
        for base in range(0, attempts, chunk):
            n = min(chunk, attempts - base)
            patients = [
                {"name": f"患者{base + i}", "phone": f"+86139{base + i:08d}", "language": "zh"}
                for i in range(n)
            ]
            pids = conn.execute(insert(models.Patient).returning(models.Patient.id), patients).scalars().all()
            visits = []
            for pid in pids:
                dept = rng.randrange(len(DEPARTMENTS))
                day = today - timedelta(days=rng.randrange(180))
                visits.append(
                    {
                        "patient_id": pid,
                        "kind": "inpatient",
                        "department": DEPARTMENTS[dept],
                        "doctor": f"医生{dept}-{rng.randrange(5)}",
                        "visit_date": day,
                        "discharge_date": day,
                    }
                )
            vids = conn.execute(insert(models.Visit).returning(models.Visit.id), visits).scalars().all()
            tasks = [
                {"campaign_id": campaign_id, "patient_id": p, "visit_id": v, "due_at": now}
                for p, v in zip(pids, vids, strict=True)
            ]
            tids = conn.execute(insert(models.CallTask).returning(models.CallTask.id), tasks).scalars().all()
            rows, kinds = [], []
            for tid in tids:
                start = now - timedelta(minutes=rng.randrange(180 * 24 * 60))
                answered = rng.random() < 0.7
                completed = answered and rng.random() < 0.6
                outcome = "completed" if completed else ("partial" if answered else "no_answer")
                rows.append(
                    {
                        "task_id": tid,
                        "number": 1,
                        "started_at": start,
                        "ended_at": start + timedelta(minutes=2),
                        "answered_at": start + timedelta(seconds=8) if answered else None,
                        "outcome": outcome,
                        "flow_id": "discharge_general",
                        "language": "zh",
                    }
                )
                kinds.append((completed, rng.random()))
            aids = (
                conn.execute(insert(models.CallAttempt).returning(models.CallAttempt.id), rows)
                .scalars()
                .all()
            )
            answers, escalations = [], []
            for aid, (completed, roll), row, pid, visit in zip(aids, kinds, rows, pids, visits, strict=True):
                if completed:
                    score = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
                    answers.append(
                        {
                            "attempt_id": aid,
                            "question_id": "satisfaction",
                            "value": score,
                            "value_text": str(score),
                            "raw_text": "",
                        }
                    )
                    fever = rng.random() < 0.1
                    answers.append(
                        {
                            "attempt_id": aid,
                            "question_id": "fever",
                            "value": fever,
                            "value_text": str(fever).lower(),
                            "raw_text": "",
                        }
                    )
                if roll < 0.03:
                    escalations.append(
                        {
                            "attempt_id": aid,
                            "patient_id": pid,
                            "kind": "complaint" if roll < 0.02 else "praise",
                            "department": visit["department"],
                            "text": "",
                            "created_at": row["started_at"],
                            "updated_at": row["started_at"],
                        }
                    )
            if answers:
                conn.execute(insert(models.Answer), answers)
            if escalations:
                conn.execute(insert(models.Escalation), escalations)
    engine.dispose()
    return time.perf_counter() - started


def dashboard(url: str, today: date) -> float:
    """Compute the whole dashboard once; returns seconds."""
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    started = time.perf_counter()
    with sessions() as s:
        stats.figures(s, stats.day_range(today - timedelta(days=29), today, TZ))
        stats.trend(s, stats.weeks(today, 8, TZ))
        stats.trend(s, stats.months(today, 6, TZ))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    cleanup = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'dashboard.db'}"
        else:
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            name = f"followup_bench_dash_{uuid.uuid4().hex[:6]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)

            def cleanup() -> None:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.dispose()

        try:
            db.upgrade(url)
            built = build(url, args.attempts, today)
            print(f"{args.backend}: built {args.attempts:,} attempts in {built:.1f} s")
            dashboard(url, today)  # warm-up
            times = [dashboard(url, today) for _ in range(args.runs)]
            print(
                f"{args.backend}: dashboard (30 days + 8 weeks + 6 months) over {args.attempts:,} attempts: "
                f"p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms ({args.runs} runs)"
            )
        finally:
            if cleanup is not None:
                cleanup()


if __name__ == "__main__":
    main()
