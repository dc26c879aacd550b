"""Import speed: a generated 100,000-patient HIS export (CSV) into a fresh SQLite and a fresh PostgreSQL.

    .venv/bin/python bench/import_scale.py [--n 100000] [--pg-url URL] [--no-pg] [--days 3,7,30 | --no-campaign]

Each row is one discharged inpatient (realistic Chinese names, mobiles, departments, doctors, wards,
diagnoses, admission and discharge dates); the import runs with a campaign that calls T+3, T+7 and T+30,
so 100,000 rows also queue up to 300,000 call tasks. Prints rows/s and seconds per backend. Goal: ≤ 10 s
for 100,000 rows.

``bench_import(n, url)`` is the reusable piece (bench/campaign_scale.py calls it): it migrates the
database at ``url``, generates the file, creates a campaign and returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, make_url, select

from models import CallTask, Campaign, Patient, Visit, db
from models.imports import import_file

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢钟姜崔谭陆汪范"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建国志文辉力婷雪梅海波宁鹏飞凤云慧淑珍"
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
DEPARTMENTS = {
    "心内科": (["冠心病", "心力衰竭", "高血压病3级", "心房颤动"], ["PCI", "射频消融", ""]),
    "骨科": (["腰椎间盘突出症", "股骨颈骨折", "膝关节骨关节炎"], ["全髋关节置换术", "椎间孔镜手术", ""]),
    "普外科": (["急性阑尾炎", "胆囊结石", "腹股沟疝"], ["腹腔镜阑尾切除术", "腹腔镜胆囊切除术", ""]),
    "呼吸内科": (["社区获得性肺炎", "慢性阻塞性肺疾病急性加重", "支气管哮喘"], [""]),
    "内分泌科": (["2型糖尿病", "甲状腺功能亢进症"], [""]),
    "神经内科": (["脑梗死", "短暂性脑缺血发作", "帕金森病"], [""]),
    "妇产科": (["子宫肌瘤", "足月妊娠"], ["子宫肌瘤剔除术", "剖宫产术", ""]),
    "肿瘤科": (["肺癌", "结肠癌术后化疗"], [""]),
}
HEADER = [
    "患者ID",
    "住院号",
    "姓名",
    "性别",
    "年龄",
    "手机号",
    "科室",
    "主治医生",
    "病区",
    "出院诊断",
    "手术名称",
    "入院日期",
    "出院日期",
]


def generate_csv(path: Path, n: int, *, seed: int = 4, today: date | None = None, prefix: str = "") -> None:
    """Write an n-row discharge list as a HIS would export it (UTF-8, 入院/出院 dates in the last 40 days)."""
    rng = random.Random(seed)
    today = today or date(2026, 11, 25)
    departments = list(DEPARTMENTS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(n):
            dept = rng.choice(departments)
            diagnoses, procedures = DEPARTMENTS[dept]
            discharge = today - timedelta(days=rng.randint(0, 40))
            admitted = discharge - timedelta(days=rng.randint(1, 14))
            mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if i % 7 == 0:
                mobile = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"  # as typed at admission
            out.writerow(
                [
                    f"{prefix}P{i:07d}",
                    f"{prefix}ZY{i:08d}",
                    rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                    rng.choice("男女"),
                    rng.randint(18, 92),
                    mobile,
                    dept,
                    rng.choice(SURNAMES) + rng.choice(GIVEN),
                    f"{rng.randint(1, 20)}病区",
                    rng.choice(diagnoses),
                    rng.choice(procedures),
                    admitted.isoformat(),
                    discharge.strftime("%Y/%m/%d"),
                ]
            )


def bench_import(
    n: int, url: str, *, days: list[int] | None = None, campaign: bool = True, dry_run: bool = False
) -> dict[str, Any]:
    """Generate an n-row export, import it into the database at ``url`` (migrated first) with a new T+N
    campaign and return ``{"backend", "rows", "seconds", "rows_per_s", "patients_created", …}``."""
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.session_factory(engine)
    days = [3, 7, 30] if days is None else days
    try:
        with factory() as session:
            campaign_id = None
            if campaign:
                row = Campaign(name="bench import", flow_id="discharge_general", days_after_discharge=days)
                session.add(row)
                session.commit()
                campaign_id = row.id
        with tempfile.TemporaryDirectory(prefix="followup-import-") as tmp:
            path = Path(tmp) / "discharges.csv"
            t0 = time.perf_counter()
            # A fresh id prefix: earlier runs against the same database must not turn into updates.
            generate_csv(path, n, prefix=uuid.uuid4().hex[:6])
            generated_s = time.perf_counter() - t0
            cpu0 = time.process_time()
            report = import_file(
                factory,
                path,
                campaign_id=campaign_id,
                dry_run=dry_run,
                now=datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
                phone_hash_key="bench",
                default_language="zh",
            )
            cpu_s = time.process_time() - cpu0
        with factory() as session:
            counts = {
                "patients_in_db": session.scalar(select(func.count()).select_from(Patient)),
                "visits_in_db": session.scalar(select(func.count()).select_from(Visit)),
                "tasks_in_db": session.scalar(
                    select(func.count()).select_from(CallTask).where(CallTask.campaign_id == campaign_id)
                ),
            }
    finally:
        engine.dispose()
    return {
        "backend": make_url(url).get_backend_name(),
        "rows": report.rows_read,
        "seconds": round(report.elapsed_s, 2),
        "rows_per_s": round(report.rows_per_s),
        "cpu_s": round(cpu_s, 2),  # this process only; the database server's work is not in it
        "load_avg_1m": round(os.getloadavg()[0], 2),  # other work on the machine slows the wall time
        "generate_s": round(generated_s, 2),
        "patients_created": report.patients_created,
        "visits_created": report.visits_created,
        "tasks_created": report.tasks_created,
        "tasks_superseded": report.tasks_superseded,
        "errors": len(report.errors),
        **counts,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server where a database may be created"
    )
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--days", default="3,7,30", help="the campaign's days after discharge")
    p.add_argument("--no-campaign", action="store_true", help="patients and visits only, no call tasks")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    days = [int(d) for d in args.days.split(",") if d]
    results = []
    with tempfile.TemporaryDirectory(prefix="followup-bench-db-") as tmp:
        results.append(
            bench_import(args.n, f"sqlite:///{tmp}/bench.db", days=days, campaign=not args.no_campaign)
        )
    if not args.no_pg:
        from sqlalchemy import create_engine

        base = make_url(args.pg_url)
        name = f"followup_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
        try:
            url = base.set(database=name).render_as_string(False)
            results.append(bench_import(args.n, url, days=days, campaign=not args.no_campaign))
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for r in results:
            goal = (
                "goal: 10 s for 100,000 rows"
                if r["rows"] < 100_000
                else ("meets the 10 s goal" if r["seconds"] <= 10 else "MISSES the 10 s goal")
            )
            print(
                f"{r['backend']:<10} {r['rows']:>7} rows in {r['seconds']:6.2f} s = {r['rows_per_s']:>7} rows/s "
                f"({goal}; importer CPU {r['cpu_s']:.2f} s, load {r['load_avg_1m']}); patients {r['patients_created']}, visits {r['visits_created']}, "
                f"tasks {r['tasks_created']} (+{r['tasks_superseded']} superseded), errors {r['errors']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
