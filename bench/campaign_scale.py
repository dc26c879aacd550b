"""Campaign scale: patient import, the engine's scheduling tick, a 200-call campaign — SQLite and PostgreSQL.

    .venv/bin/python bench/campaign_scale.py                       # every section
    .venv/bin/python bench/campaign_scale.py --sections tick       # one section (import, tick, campaign)
    .venv/bin/python bench/campaign_scale.py --tasks 100000 --ticks 50 --no-pg --json

Sections (each prints its own figures; nothing here asserts):

- **import** — a generated 100,000-patient HIS export into a fresh database (``bench/import_scale.py``'s
  ``bench_import(n, url)``; skipped with a note if that module is missing). Goal ≤ 10 s.
- **scheduling tick** — 100,000 pending call tasks over several running campaigns (30 % not yet due, one
  paused campaign, 200 calls live on another engine); one tick is what ``followup run`` does each time
  round: ``recover_expired`` + ``capacity`` + ``claim_due`` of up to 50 tasks + ``release`` of them (so
  every tick sees the same backlog). p50/p95/max over ``--ticks`` ticks, and per step. Goal ≤ 100 ms.
- **campaign** — a 200-call campaign at concurrency 50 against simulated patients (calls per hour, answer
  rate, latency p95, engine CPU and RSS): ``bench/campaign_run.py`` runs ``followup run`` on the project's
  Asterisk with simulated patients.

PostgreSQL: a throw-away database is created on ``--pg-url`` and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, make_url, select, text, update

from dialer.windows import PRESETS
from models import db, leases
from models.campaigns import CallTask, Campaign
from models.patients import Patient

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECTIONS = ("import", "tick", "campaign")
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday morning in Shanghai
TICK_GOAL_MS = 100.0


# --- databases ------------------------------------------------------------------------------------------


@contextmanager
def fresh_databases(pg_url: str | None) -> Iterator[list[str]]:
    """A fresh SQLite file and (unless ``pg_url`` is None) a fresh PostgreSQL database, dropped after."""
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        urls = [f"sqlite:///{tmp}/bench_{uuid.uuid4().hex[:6]}.db"]
        admin = None
        name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        if pg_url:
            base = make_url(pg_url)
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
            urls.append(base.set(database=name).render_as_string(hide_password=False))
        try:
            yield urls
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.dispose()


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


# --- section: import ------------------------------------------------------------------------------------


def section_import(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Import time for a generated ``--import-n``-patient CSV, per backend (bench/import_scale.py)."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from import_scale import bench_import  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"import: not measured (bench/import_scale.py not importable: {exc})")
        return []
    results = []
    with fresh_databases(args.pg_url) as urls:
        for url in urls:
            r = bench_import(args.import_n, url)
            results.append({"section": "import", **r})
            if not args.json:
                goal = "meets" if r["seconds"] <= 10 else "MISSES"
                print(
                    f"import   {r['backend']:<10} {r['rows']:>7} rows in {r['seconds']:6.2f} s = "
                    f"{r['rows_per_s']:>7} rows/s ({goal} the 10 s goal); tasks {r['tasks_created']}, "
                    f"errors {r['errors']}"
                )
    return results


# --- section: scheduling tick ---------------------------------------------------------------------------


def seed(
    url: str, *, tasks: int, campaigns: int, live_elsewhere: int = 200, future_share: float = 0.3
) -> dict[str, Any]:
    """Migrate ``url`` and fill it: ``campaigns`` running campaigns (+1 paused) sharing ``tasks`` pending
    tasks (``future_share`` of them not yet due) and ``live_elsewhere`` in-progress tasks of another engine."""
    db.upgrade(url)
    engine = db.make_engine(url)
    t0 = time.perf_counter()
    try:
        with engine.begin() as conn:
            ids = []
            for i in range(campaigns + 1):
                ids.append(
                    conn.execute(
                        insert(Campaign).returning(Campaign.id),
                        {
                            "name": f"bench {i}",
                            "flow_id": "discharge_general",
                            "status": "paused" if i == campaigns else "running",
                            "calling_windows": PRESETS["always"],
                            "retry_policy": {},
                            "max_concurrent_calls": 50,
                            "priority": i % 3,
                            "timezone": "Asia/Shanghai",
                        },
                    ).scalar_one()
                )
            n_patients = max(tasks // 10, 1)
            patient_rows = [
                {"name": f"患者{i}", "phone": f"+86138{i:08d}", "language": "zh"} for i in range(n_patients)
            ]
            conn.execute(insert(Patient), patient_rows)
            first_patient = conn.execute(text("SELECT min(id) FROM patients")).scalar_one()
            running = ids[:campaigns]
            rows = []
            for i in range(tasks):
                future = (i % 10) < round(future_share * 10)
                rows.append(
                    {
                        "campaign_id": ids[campaigns] if i % 20 == 19 else running[i % campaigns],
                        "patient_id": first_patient + (i % n_patients),
                        "status": "pending",
                        "due_at": NOW + timedelta(hours=1 + i % 48)
                        if future
                        else NOW - timedelta(minutes=i % 5000),
                        "priority": 1 if i % 97 == 0 else 0,
                        "dedupe_key": f"bench:{i}",
                    }
                )
                if len(rows) == 10_000:
                    conn.execute(insert(CallTask), rows)
                    rows = []
            if rows:
                conn.execute(insert(CallTask), rows)
            # Calls live on another engine: they count against the campaigns' caps.
            live = (
                select(CallTask.id)
                .where(CallTask.status == "pending", CallTask.campaign_id.in_(running))
                .order_by(CallTask.id)
                .limit(live_elsewhere)
                .scalar_subquery()
            )
            conn.execute(
                update(CallTask)
                .where(CallTask.id.in_(live))
                .values(
                    status="in_progress", lease_owner="other-engine", lease_expires_at=NOW + timedelta(days=1)
                )
            )
        if _backend(url) == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE call_tasks")  # what autovacuum does after a bulk load
                conn.exec_driver_sql("VACUUM ANALYZE campaigns")
    finally:
        engine.dispose()
    return {"seed_s": round(time.perf_counter() - t0, 1), "campaigns": campaigns}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_tick(url: str, *, ticks: int, claim: int, global_cap: int = 50) -> dict[str, Any]:
    """Time ``ticks`` scheduling ticks on the seeded database at ``url``; milliseconds."""
    engine = db.make_engine(url)
    steps: dict[str, list[float]] = {"recover": [], "capacity": [], "claim": [], "release": [], "tick": []}
    claimed_counts = []
    try:
        with db.session_factory(engine)() as s:
            for i in range(ticks + 3):  # the first 3 warm caches and are not counted
                now = NOW + timedelta(seconds=i)
                t0 = time.perf_counter()
                leases.recover_expired(s, now=now)
                t1 = time.perf_counter()
                free = leases.capacity(s, "bench-engine", global_cap, now=now)
                t2 = time.perf_counter()
                got = leases.claim_due(
                    s, owner="bench-engine", now=now, limit=min(claim, sum(free.values())), per_campaign=free
                )
                t3 = time.perf_counter()
                leases.release(s, owner="bench-engine", task_ids=[c.task_id for c in got])
                t4 = time.perf_counter()
                if i < 3:
                    continue
                for name, a, b in (
                    ("recover", t0, t1),
                    ("capacity", t1, t2),
                    ("claim", t2, t3),
                    ("release", t3, t4),
                    ("tick", t0, t4),
                ):
                    steps[name].append((b - a) * 1000)
                claimed_counts.append(len(got))
    finally:
        engine.dispose()
    return {
        "backend": _backend(url),
        "ticks": ticks,
        "claimed_per_tick": statistics.median(claimed_counts) if claimed_counts else 0,
        **{f"{name}_p50_ms": round(_pct(v, 50), 2) for name, v in steps.items()},
        **{f"{name}_p95_ms": round(_pct(v, 95), 2) for name, v in steps.items()},
        "tick_max_ms": round(max(steps["tick"]), 2),
    }


def section_tick(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The scheduling tick with ``--tasks`` pending tasks, per backend."""
    results = []
    with fresh_databases(args.pg_url) as urls:
        for url in urls:
            seeded = seed(url, tasks=args.tasks, campaigns=args.campaigns)
            r = {
                "section": "tick",
                "tasks": args.tasks,
                **seeded,
                **bench_tick(url, ticks=args.ticks, claim=args.claim),
            }
            results.append(r)
            if not args.json:
                goal = "meets" if r["tick_p95_ms"] <= TICK_GOAL_MS else "MISSES"
                print(
                    f"tick     {r['backend']:<10} {args.tasks} pending tasks, {args.campaigns} campaigns, "
                    f"{r['claimed_per_tick']:.0f} claimed/tick: tick p50 {r['tick_p50_ms']:.1f} ms, "
                    f"p95 {r['tick_p95_ms']:.1f} ms, max {r['tick_max_ms']:.1f} ms ({goal} the "
                    f"{TICK_GOAL_MS:.0f} ms goal)\n"
                    f"         steps p50/p95 ms: recover {r['recover_p50_ms']}/{r['recover_p95_ms']}, "
                    f"capacity {r['capacity_p50_ms']}/{r['capacity_p95_ms']}, claim {r['claim_p50_ms']}/"
                    f"{r['claim_p95_ms']}, release {r['release_p50_ms']}/{r['release_p95_ms']} "
                    f"(seeded in {r['seed_s']} s)"
                )
    return results


# --- section: campaign ----------------------------------------------------------------------------------


def bench_campaign(calls: int = 200, concurrency: int = 50) -> dict[str, Any] | None:
    """A ``calls``-call campaign at ``concurrency`` against simulated patients through the real engine:
    calls per hour, answer rate, latency p95, engine CPU and RSS (``bench/campaign_run.py``, which runs
    ``followup run`` on the project's Asterisk; see its docstring for the patient mix)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from campaign_run import bench_campaign as run_campaign  # type: ignore[import-not-found]

    return run_campaign(calls, concurrency)


def section_campaign(args: argparse.Namespace) -> list[dict[str, Any]]:
    r = bench_campaign(args.calls, args.concurrency)
    if r is None:
        if not args.json:
            print(f"campaign {args.calls} calls at concurrency {args.concurrency}: not measured")
        return [{"section": "campaign", "measured": False}]
    if not args.json:
        print(f"campaign {json.dumps(r, ensure_ascii=False)}")
    return [{"section": "campaign", "measured": True, **r}]


RUNNERS: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
    "import": section_import,
    "tick": section_tick,
    "campaign": section_campaign,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    p.add_argument("--tasks", type=int, default=100_000, help="pending tasks for the tick section")
    p.add_argument("--campaigns", type=int, default=5, help="running campaigns sharing them")
    p.add_argument("--ticks", type=int, default=50)
    p.add_argument("--claim", type=int, default=50, help="tasks claimed per tick at most")
    p.add_argument("--import-n", type=int, default=100_000, help="rows for the import section")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server where a database may be created"
    )
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--json", action="store_true", help="one JSON list of every figure at the end")
    args = p.parse_args(argv)
    if args.no_pg:
        args.pg_url = None
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in RUNNERS]
    if unknown:
        p.error(f"--sections: unknown {', '.join(unknown)} (expected {', '.join(SECTIONS)})")
    results: list[dict[str, Any]] = []
    for name in wanted:
        results += RUNNERS[name](args)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
