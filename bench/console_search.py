"""Console benchmarks: transcript-search latency over 1,000,000 turns (PostgreSQL and SQLite), and the
escalation-to-page time (bench/console_live.py: a real console served by uvicorn, agents' queue pages
open over SSE, escalations inserted into the database).

    .venv/bin/python bench/console_search.py                     # both backends, 1,000,000 turns, 200 searches
    .venv/bin/python bench/console_search.py --backend sqlite --turns 100000 --searches 100
    .venv/bin/python bench/console_search.py --compare-trgm      # also pg_trgm ILIKE on the same data
    .venv/bin/python bench/console_search.py --rebuild           # throw the cached databases away first

The databases are built once from generated follow-up transcripts (Chinese and English, bot and patient
turns, seeded so every build is the same) at schema head, with the real search index of migration 0005,
and cached outside the clone: SQLite under ``$FOLLOWUP_CACHE_DIR/bench/``, PostgreSQL as database
``followup_bench_search_<turns>`` on ``--pg-url`` (default: $FOLLOWUP_TEST_PG_URL or the local server).
Build time is printed apart from the searches. Each search is ``models.search.search_turns`` as the
console calls it (first page of 50, highlighted snippets, capped total), after a warm-up pass; the
figures are per query kind and overall. Goal (issue #5): p95 ≤ 200 ms. Nothing here asserts: it reports.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, create_engine, insert, make_url, text
from sqlalchemy.engine import URL

import models
from followup.config import get_settings
from models import db
from models.search import COUNT_CAP, search_turns

SEED = 20261206
TURNS_PER_ATTEMPT = 8
START = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
DAYS = 180
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

DEPARTMENTS = [
    "心内科",
    "骨科",
    "普外科",
    "呼吸科",
    "内分泌科",
    "神经内科",
    "妇产科",
    "儿科",
    "眼科",
    "泌尿外科",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
SYMPTOMS = ["头痛", "头晕", "咳嗽", "发烧", "伤口疼", "胸闷", "失眠", "恶心", "腹泻", "乏力", "腿肿", "心慌"]
ROLES = ["护士", "医生", "护工", "收费处的人", "药房的人", "主治医生", "值班护士"]
SYMPTOMS_EN = ["headache", "dizziness", "cough", "fever", "pain at the wound", "chest tightness", "insomnia"]
ROLES_EN = ["nurse", "doctor", "pharmacist", "cashier", "night nurse", "surgeon"]

BOT_ZH = [
    "您好，这里是市第一人民医院{dept}随访中心，请问是{name}吗？",
    "请问您出院后恢复得怎么样？",
    "请问您现在还有{symptom}的情况吗？",
    "请问您最近测量的血压是多少？",
    "您有没有按时服药？",
    "您对我们{dept}医护人员的服务满意吗？请用一到五分打分。",
    "请问您对这次住院还有什么意见或建议吗？",
    "好的，已经帮您记录，会转给{dept}处理。",
    "感谢您的配合，祝您早日康复，再见。",
]
PATIENT_ZH = [
    "是的，我是{name}。",
    "恢复得还可以，就是{symptom}还有一点。",
    "好多了，谢谢关心。",
    "{role}态度太差了，我要投诉。",
    "血压{sys}/{dia}，早上量的。",
    "每天都按时吃药，一次没落下。",
    "伤口有点红肿，需要回来复查吗？",
    "排队等了{n}个小时，挂号太难了。",
    "{doctor}医生很负责，谢谢你们。",
    "我现在不方便，晚点再打过来吧。",
    "五分，{role}很耐心。",
    "还行吧，三分。",
    "晚上老是{symptom}，睡不好。",
    "能不能转人工，我想问一下报销的事。",
    "体温{temp}度，昨天有点低烧。",
    "出院的时候没人告诉我怎么换药。",
    "病房太吵了，空调也不好用。",
    "没有了，挺好的。",
]
BOT_EN = [
    "Hello, this is the follow-up centre of City First People's Hospital. Am I speaking with {name_en}?",
    "How have you been since you were discharged?",
    "Do you still have any {symptom_en}?",
    "What was your last blood pressure reading?",
    "Are you taking your medicine as prescribed?",
    "How satisfied are you with our staff, from one to five?",
    "Thank you for your time. Goodbye and get well soon.",
]
PATIENT_EN = [
    "Yes, speaking.",
    "Much better, thanks, just a little {symptom_en} at night.",
    "The {role_en} was rude to me and I want to complain.",
    "My blood pressure was {sys} over {dia} this morning.",
    "Yes, I take my medicine every day.",
    "I waited {n} hours at the pharmacy, that was terrible.",
    "Doctor {name_en} was very patient, thank you.",
    "Can you call me back later? I'm driving.",
    "Five, the {role_en} was wonderful.",
    "The wound is a bit red and swollen, should I come back?",
    "Nobody told me how to change the dressing.",
]
NAMES_EN = ["Smith", "Chen", "Brown", "Wang", "Taylor", "Li", "Johnson", "Zhang"]

# Typical console searches, by kind (the quality team's words: complaints, symptoms, staff, numbers).
QUERIES: dict[str, list[str]] = {
    "zh-2": [
        "态度",
        "投诉",
        "头痛",
        "血压",
        "伤口",
        "复查",
        "满意",
        "耐心",
        "红肿",
        "挂号",
        "发烧",
        "咳嗽",
        "护士",
        "医生",
        "报销",
        "换药",
        "失眠",
        "病房",
        "空调",
        "低烧",
        "胸闷",
        "心慌",
        "腿肿",
        "排队",
    ],
    "zh-3/4": [
        "态度太差",
        "按时吃药",
        "伤口红肿",
        "心内科",
        "出院后",
        "转人工",
        "太吵了",
        "睡不好",
        "值班护士",
        "收费处",
        "主治医生",
        "早日康复",
        "不方便",
        "怎么换药",
    ],
    "en": [
        "nurse",
        "rude",
        "pressure",
        "medicine",
        "discharged",
        "pharmacy",
        "complain",
        "swollen",
        "dressing",
        "patient",
        "Wonderful",
        "insomnia",
        "surgeon",
        "driving",
    ],
    "two terms": [
        "护士 态度",
        "血压 早上",
        "伤口 复查",
        "nurse rude",
        "医生 负责",
        "挂号 小时",
        "失眠 晚上",
        "blood pressure",
        "报销 人工",
        "空调 病房",
        '"call me back"',
        '"太差了"',
    ],
    # A few matches, or none: the index must find them without walking every turn.
    "rare": [
        "165/102",
        "38.7度",
        "139/61",
        "腿肿 心慌",
        "Taylor dizziness",
        "139 61",
        "外星人",
        "nosuchword",
        "骨折",
        "38.7",
    ],
}


def _pg_admin_url(arg: str | None) -> URL:
    return make_url(arg or os.environ.get("FOLLOWUP_TEST_PG_URL") or DEFAULT_PG_URL)


def _fill(template: str, rng: random.Random) -> str:
    dept = rng.choice(DEPARTMENTS)
    return template.format(
        dept=dept,
        name=rng.choice(SURNAMES) + rng.choice(["先生", "女士", "阿姨", "大爷"]),
        symptom=rng.choice(SYMPTOMS),
        role=rng.choice(ROLES),
        doctor=rng.choice(SURNAMES),
        sys=rng.randint(100, 180),
        dia=rng.randint(60, 110),
        n=rng.randint(1, 5),
        temp=f"{rng.randint(365, 389) / 10:.1f}",
        name_en=rng.choice(NAMES_EN),
        symptom_en=rng.choice(SYMPTOMS_EN),
        role_en=rng.choice(ROLES_EN),
    )


def _conversation(rng: random.Random, english: bool) -> list[tuple[str, str]]:
    bot, patient = (BOT_EN, PATIENT_EN) if english else (BOT_ZH, PATIENT_ZH)
    turns = []
    for i in range(TURNS_PER_ATTEMPT):
        speaker = "bot" if i % 2 == 0 else "patient"
        pool = bot if speaker == "bot" else patient
        turns.append((speaker, _fill(rng.choice(pool), rng)))
    return turns


def _attempt_time(i: int, n_attempts: int) -> datetime:
    # Increasing with the id, as on a live system (ids are assigned as calls happen).
    return START + timedelta(seconds=int(i / n_attempts * DAYS * 86400))


def _small_tables(n_attempts: int) -> dict[str, list[dict[str, Any]]]:
    """Users, patients, visits, campaigns, tasks, attempts for ``n_attempts`` one-attempt tasks."""
    rng = random.Random(SEED)
    n_patients = max(1, n_attempts // 3)
    outcomes = ["completed"] * 6 + ["partial", "escalated", "callback_requested", "hung_up"]
    users = [{"id": 1, "username": "bench", "display_name": "bench", "password_hash": "x", "role": "admin"}]
    patients, visits = [], []
    for p in range(1, n_patients + 1):
        patients.append(
            {
                "id": p,
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "phone": f"+86138{p:08d}",
                "language": "en" if p % 10 == 0 else "zh",
            }
        )
        visits.append(
            {
                "id": p,
                "patient_id": p,
                "kind": "inpatient",
                "department": DEPARTMENTS[p % len(DEPARTMENTS)],
                "visit_date": date(2026, 5, 1) + timedelta(days=p % 150),
            }
        )
    campaigns = [
        {
            "id": c,
            "name": f"{dept}出院随访",
            "flow_id": "discharge_general",
            "status": "running",
            "created_by_id": 1,
        }
        for c, dept in enumerate(DEPARTMENTS[:5], start=1)
    ]
    tasks, attempts = [], []
    for a in range(1, n_attempts + 1):
        p = (a - 1) % n_patients + 1
        started = _attempt_time(a, n_attempts)
        tasks.append(
            {
                "id": a,
                "campaign_id": (p % len(campaigns)) + 1,
                "patient_id": p,
                "visit_id": p,
                "status": "done",
                "due_at": started,
                "attempts_made": 1,
            }
        )
        attempts.append(
            {
                "id": a,
                "task_id": a,
                "number": 1,
                "started_at": started,
                "answered_at": started + timedelta(seconds=8),
                "ended_at": started + timedelta(seconds=150),
                "outcome": rng.choice(outcomes),
                "language": "en" if p % 10 == 0 else "zh",
            }
        )
    return {
        "users": users,
        "patients": patients,
        "visits": visits,
        "campaigns": campaigns,
        "call_tasks": tasks,
        "call_attempts": attempts,
    }


def _turn_rows(n_turns: int) -> Iterator[tuple[Any, ...]]:
    """(id, attempt_id, seq, speaker, text, source, created_at), in id order."""
    rng = random.Random(SEED + 1)
    n_attempts = n_turns // TURNS_PER_ATTEMPT
    n_patients = max(1, n_attempts // 3)
    turn_id = 0
    for a in range(1, n_attempts + 1):
        english = ((a - 1) % n_patients + 1) % 10 == 0
        started = _attempt_time(a, n_attempts)
        for seq, (speaker, body) in enumerate(_conversation(rng, english), start=1):
            turn_id += 1
            source = "tts" if speaker == "bot" else "speech"
            yield (turn_id, a, seq, speaker, body, source, started + timedelta(seconds=10 * seq))


def _insert_small_tables(engine: Engine, n_attempts: int) -> None:
    tables = _small_tables(n_attempts)
    with engine.begin() as conn:
        for name in ("users", "patients", "visits", "campaigns", "call_tasks", "call_attempts"):
            table = models.Base.metadata.tables[name]
            rows = tables[name]
            for i in range(0, len(rows), 20_000):
                conn.execute(insert(table), rows[i : i + 20_000])


def _build_sqlite(path: Path, n_turns: int) -> None:
    tmp = path.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    url = f"sqlite:///{tmp}"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        _insert_small_tables(engine, n_turns // TURNS_PER_ATTEMPT)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA cache_size=-200000")
            batch: list[tuple[Any, ...]] = []
            sql = "INSERT INTO turns (id, attempt_id, seq, speaker, text, source, created_at) VALUES (?,?,?,?,?,?,?)"
            for row in _turn_rows(n_turns):  # the FTS triggers index each row as it goes in
                batch.append((*row[:6], row[6].replace(tzinfo=None).isoformat(sep=" ")))
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
            raw.commit()
            cur.execute("INSERT INTO turns_fts(turns_fts) VALUES ('optimize')")  # merge index segments
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
    with create_engine(url).connect() as conn:  # fold the WAL back into the file before renaming it
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    tmp.rename(path)
    for p in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)


def _build_postgresql(admin: URL, name: str, n_turns: int) -> URL:
    with create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    url = admin.set(database=name)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        _insert_small_tables(engine, n_turns // TURNS_PER_ATTEMPT)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            # Bulk load: index after the load (one sorted build beats a million GIN insertions).
            cur.execute("DROP INDEX ix_turns_search_tsv")
            with cur.copy(
                "COPY turns (id, attempt_id, seq, speaker, text, source, created_at) FROM STDIN"
            ) as copy:
                for row in _turn_rows(n_turns):
                    copy.write_row(row)
            cur.execute("SET maintenance_work_mem = '256MB'")
            cur.execute("CREATE INDEX ix_turns_search_tsv ON turns USING gin (search_tsv)")
            for table in ("users", "patients", "visits", "campaigns", "call_tasks", "call_attempts", "turns"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            raw.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("COMMENT ON DATABASE " + name + " IS 'followup bench: complete'")
    finally:
        engine.dispose()
    return url


def _pg_ready(admin: URL, name: str) -> bool:
    with create_engine(admin).connect() as conn:
        comment = conn.execute(
            text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
            {"n": name},
        ).scalar()
    return comment == "followup bench: complete"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _search_plan(n: int) -> list[tuple[str, str]]:
    rng = random.Random(SEED + 2)
    every = [(kind, q) for kind, qs in QUERIES.items() for q in qs]
    plan = list(every)
    while len(plan) < n:
        plan.append(rng.choice(every))
    rng.shuffle(plan)
    return plan[:n]


def _run_searches(engine: Engine, label: str, n: int) -> None:
    plan = _search_plan(n)
    factory = db.session_factory(engine)
    with factory() as session:
        for _kind, q in plan[:20]:  # warm-up: connection, statement caches, the OS page cache
            search_turns(session, q)
        times: dict[str, list[float]] = {kind: [] for kind in QUERIES}
        totals: list[int] = []
        for kind, q in plan:
            t0 = time.perf_counter()
            result = search_turns(session, q, limit=50)
            times[kind].append((time.perf_counter() - t0) * 1000)
            totals.append(result.total)
    every = [t for ts in times.values() for t in ts]
    print(
        f"  {label}: {len(every)} searches  p50 {_percentile(every, 0.5):.1f} ms  "
        f"p95 {_percentile(every, 0.95):.1f} ms  max {max(every):.1f} ms"
    )
    for kind, ts in times.items():
        if ts:
            print(
                f"    {kind:10s} n={len(ts):3d}  p50 {_percentile(ts, 0.5):7.1f} ms  p95 {_percentile(ts, 0.95):7.1f} ms"
            )
    print(
        f"    matches per query: median {statistics.median(totals):.0f} (capped at {COUNT_CAP}), "
        f"{sum(1 for t in totals if t == 0)} with none"
    )


def _filtered_cases() -> list[tuple[str, dict[str, Any]]]:
    mid = START + timedelta(days=DAYS // 2)
    return [
        ("态度", {"department": "骨科"}),
        ("nurse", {"speaker": "patient"}),
        ("血压", {"outcome": "escalated"}),
        ("护士 态度", {"campaign_id": 2}),
        ("头痛", {"date_from": mid}),
        ("复查", {"date_to": START.date() + timedelta(days=30)}),  # old matches only
        ("投诉", {"date_from": mid.date(), "date_to": mid.date() + timedelta(days=7)}),
        ("按时吃药", {"department": "眼科", "speaker": "patient", "outcome": "completed"}),
        ("态度", {"offset": 2000}),  # a deep page
    ]


def _run_filtered(engine: Engine, label: str) -> None:
    """The console's filters with a term: each case's median of 3 runs (the 200 above have none)."""
    cases = []
    with db.session_factory(engine)() as session:
        for q, filters in _filtered_cases():
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                result = search_turns(session, q, **filters)
                times.append((time.perf_counter() - t0) * 1000)
            shown = ", ".join(f"{k}={v}" for k, v in filters.items())
            cases.append(f"{q} [{shown}] {statistics.median(times):.0f} ms ({result.total})")
    print(f"    {label} with filters: " + "; ".join(cases))


def _compare_trgm(engine: Engine, n: int) -> None:
    """pg_trgm GIN on turns.text with ILIKE: the alternative the brief asked to measure."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        exists = conn.exec_driver_sql("SELECT to_regclass('bench_turns_text_trgm')").scalar()
        if exists is None:
            t0 = time.perf_counter()
            conn.exec_driver_sql("SET maintenance_work_mem = '256MB'")
            conn.exec_driver_sql("CREATE INDEX bench_turns_text_trgm ON turns USING gin (text gin_trgm_ops)")
            conn.exec_driver_sql("ANALYZE turns")
            print(f"  pg_trgm index built in {time.perf_counter() - t0:.0f} s")
    plan = [(k, q) for k, q in _search_plan(n) if k != "two terms" and " " not in q]
    times: dict[str, list[float]] = {}
    with engine.connect() as conn:
        for kind, q in plan:
            t0 = time.perf_counter()
            conn.execute(
                text("SELECT id FROM turns WHERE text ILIKE :p ORDER BY id DESC LIMIT 51"), {"p": f"%{q}%"}
            ).all()
            times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
    for kind, ts in times.items():
        print(
            f"    pg_trgm ILIKE {kind:8s} n={len(ts):3d}  p50 {_percentile(ts, 0.5):7.1f} ms  "
            f"p95 {_percentile(ts, 0.95):7.1f} ms"
        )


def escalation_to_page_ms(pages: int = 20, cases: int = 20) -> None:
    """Time from an escalation's creation to its arrival on an agent's open console page (issue #5):
    bench/console_live.py in its own process (it serves the console with uvicorn)."""
    import subprocess

    script = Path(__file__).with_name("console_live.py")
    out = subprocess.run([sys.executable, str(script), "--pages", str(pages), "--cases", str(cases)],
                         capture_output=True, text=True, timeout=600, check=False)
    print(out.stdout.rstrip() or f"escalation → agent page: failed\n{out.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--pg-url", help="an admin URL of the PostgreSQL server (creates the bench database)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--compare-trgm", action="store_true", help="also time pg_trgm ILIKE (PostgreSQL)")
    args = parser.parse_args()
    n_turns = args.turns - args.turns % TURNS_PER_ATTEMPT
    cache = Path(get_settings().cache_dir) / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    print(f"transcript search over {n_turns:,} turns, {args.searches} searches, first page of 50")

    if args.backend in ("both", "postgresql"):
        admin = _pg_admin_url(args.pg_url)
        name = f"followup_bench_search_{n_turns}"
        if args.rebuild or not _pg_ready(admin, name):
            t0 = time.perf_counter()
            _build_postgresql(admin, name, n_turns)
            print(f"  postgresql: built database {name} in {time.perf_counter() - t0:.0f} s")
        else:
            print(f"  postgresql: using cached database {name}")
        engine = db.make_engine(admin.set(database=name))
        try:
            _run_searches(engine, "postgresql", args.searches)
            _run_filtered(engine, "postgresql")
            if args.compare_trgm:
                _compare_trgm(engine, args.searches)
        finally:
            engine.dispose()

    if args.backend in ("both", "sqlite"):
        path = cache / f"console_search_{n_turns}.db"
        if args.rebuild or not path.exists():
            path.unlink(missing_ok=True)
            t0 = time.perf_counter()
            _build_sqlite(path, n_turns)
            print(
                f"  sqlite: built {path} in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 1e6:.0f} MB)"
            )
        else:
            print(f"  sqlite: using cached {path}")
        engine = db.make_engine(f"sqlite:///{path}")
        try:
            _run_searches(engine, "sqlite", args.searches)
            _run_filtered(engine, "sqlite")
        finally:
            engine.dispose()

    escalation_to_page_ms()


if __name__ == "__main__":
    main()
