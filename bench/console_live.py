"""Benchmark: the time from an escalation's creation to its arrival on agents' open queue pages (SSE).

    .venv/bin/python bench/console_live.py [--pages 20] [--cases 30] [--interval 0.5] [--url DB_URL]

Serves the console with uvicorn (one process, the production poll interval by default), opens ``--pages``
queue streams as logged-in agents (as that many browser tabs would), then raises ``--cases``
escalations the way the call path does (``models.store.record_escalation``, a separate session) at
random moments, and measures creation → event received on every page. Prints p50 / p95 / max over all
(case, page) pairs and the console process's CPU time. Default database: a fresh SQLite file; ``--url``
takes a PostgreSQL URL of an empty database (it is migrated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import uvicorn

import models
from console import auth
from console.app import create_app
from console.deps import SESSION_COOKIE
from followup.config import Settings
from models import db
from models.store import record_escalation


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _world(sessions, pages: int) -> tuple[int, list[int]]:
    with sessions() as s:
        agents = [
            models.User(username=f"bench.agent{i}", password_hash="-", role="agent", department="心内科")
            for i in range(pages)
        ]
        patient = models.Patient(name="王小明", phone="+8613800138000")
        visit = models.Visit(
            patient=patient, kind="inpatient", department="心内科", visit_date=date(2026, 11, 1)
        )
        s.add_all([*agents, patient, visit])
        s.commit()
        return patient.id, [a.id for a in agents]


async def _page(url: str, token: str, arrivals: dict[int, list[float]], ready: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(cookies={SESSION_COOKIE: token}, timeout=None) as client,
        client.stream("GET", f"{url}/escalations/stream") as response,
    ):
        response.raise_for_status()
        ready.set()
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "escalation":
                data = json.loads(line[5:])
                arrivals.setdefault(data["id"], []).append(time.monotonic())


async def _run(args: argparse.Namespace, url: str, sessions, tokens: list[str], patient_id: int) -> dict:
    arrivals: dict[int, list[float]] = {}
    readies = [asyncio.Event() for _ in tokens]
    tasks = [asyncio.create_task(_page(url, t, arrivals, r)) for t, r in zip(tokens, readies, strict=True)]
    done, _pending = await asyncio.wait([asyncio.create_task(r.wait()) for r in readies], timeout=30)
    for t in tasks:
        if t.done() and t.exception():
            raise t.exception()
    if len(done) < len(readies):
        raise SystemExit(f"only {len(done)} of {len(readies)} pages connected")
    await asyncio.sleep(1.5)  # let the first polls (which repeat recent rows) pass
    arrivals.clear()
    created: dict[int, float] = {}
    rng = random.Random(7)
    for i in range(args.cases):
        await asyncio.sleep(rng.uniform(0.05, 0.6))

        def raise_one(n: int = i) -> tuple[int, float]:
            with sessions() as s:
                t0 = time.monotonic()
                e = record_escalation(
                    s, patient_id=patient_id, kind="complaint", department="心内科", text=f"投诉 {n}"
                )
                return e.id, t0

        eid, t0 = await asyncio.to_thread(raise_one)
        created[eid] = t0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(arrivals.get(e, [])) < len(tokens) for e in created):
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [(at - created[e]) * 1000 for e in created for at in arrivals.get(e, [])]
    missing = sum(len(tokens) - len(arrivals.get(e, [])) for e in created)
    return {"latencies": latencies, "missing": missing}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5, help="the feed's poll interval (s)")
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    patient_id, agent_ids = _world(sessions, args.pages)
    app = create_app(
        Settings(data_dir=tmp.name, console_secret_key="bench"), engine=engine, feed_interval=args.interval
    )
    st = app.state.console
    tokens = []
    with sessions() as s:
        for uid in agent_ids:
            user = s.get(models.User, uid)
            tokens.append(
                auth.open_session(
                    s, user, secret=st.secret, now=datetime.now(UTC), lifetime=st.session_lifetime
                ).token
            )

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    wall0 = time.monotonic()
    result = asyncio.run(_run(args, f"http://127.0.0.1:{port}", sessions, tokens, patient_id))
    wall = time.monotonic() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    server.should_exit = True
    thread.join(5)
    engine.dispose()

    lat = sorted(result["latencies"])
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"escalation -> open queue page (SSE), {backend}, poll interval {args.interval}s, "
        f"{args.pages} pages x {args.cases} cases"
    )
    if lat:
        p95 = lat[max(0, int(len(lat) * 0.95) - 1)]
        print(f"  deliveries {len(lat)}  missing {result['missing']}")
        print(f"  p50 {statistics.median(lat):.0f} ms  p95 {p95:.0f} ms  max {lat[-1]:.0f} ms")
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    print(f"  process CPU {cpu:.2f} s over {wall:.1f} s wall (server and bench clients in one process)")
    return 0 if lat and result["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
