"""The engine under load, and voicemail detection through it: real ``followup run`` processes against the
project's Asterisk and its simulated patients, real Whisper, real database.

    .venv/bin/python bench/campaign_run.py campaign --calls 200 --concurrency 50   # calls/h, answer rate, p95, CPU, RSS
    .venv/bin/python bench/campaign_run.py voicemail                               # accuracy and added delay
    .venv/bin/python bench/campaign_run.py campaign --calls 20 --concurrency 10 --json

``bench_campaign(n_calls, concurrency)`` is what ``bench/campaign_scale.py``'s campaign section calls.

campaign: ``n_calls`` patients on the short engine test flow (identity + a satisfaction score), one task
each, no retries (so exactly ``n_calls`` calls are placed): 80 % answer, 8 % busy, 6 % never answer (10 s
ring timeout), 6 % voicemail. One engine process, ``--max-calls concurrency``. Figures: calls per hour
(calls finished / wall time from the first dial to the last report), answer rate (answered calls /
calls), voice-to-voice latency p50/p95 over every reply (the engine's own measurement, CallSession
``latencies``), calls with exactly the expected answers, engine CPU (% of one core over the run, the
engine process and its decode worker processes) and peak RSS (the same processes summed), Asterisk's
CPU and RSS. "Answer rate" counts every call picked up (answering machines too); "answered by a
person" leaves the machines out.

voicemail: the four answering-machine greetings and the four human greetings of tests/e2e/data, each
twice, plus four people who answer straight away (the baseline): detection accuracy (machines taken for
voicemail; people not), how long a machine keeps the line before the engine hangs up (answer → end of
the attempt, including the engine's write-back), and what a spoken hello adds: when the bot asks its
second question (from the start of the recording), with a hello first vs. the baseline — the greeting
makes the bot say its first prompt again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "engine"))

from engine_helpers import SeedPatient, say, seed_campaign, task_rows, wav

from dialer import local_asterisk
from models import db
from models.calls import CallAttempt, Turn


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the engine's decode worker processes)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_engine(url: str, simulate: Path, campaign: int, *, max_calls: int, log: Path,
               extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``followup run --until-done`` on one campaign; samples its CPU/RSS (and Asterisk's) meanwhile."""
    env = {**os.environ, "FOLLOWUP_DATABASE_URL": url, "FOLLOWUP_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "followup", "run", "--campaign", str(campaign), "--simulate", str(simulate),
           "--json", "--until-done", "--max-calls", str(max_calls), "--tick", "0.5", "--summary-every", "30", "--no-jobs",
           *extra]
    ast_pid = local_asterisk.from_paths(local_asterisk.describe()).pid
    t0 = time.monotonic()
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
        peak = 0.0
        ast_peak = 0.0
        cpu0: dict[int, float] = {}
        cpu1: dict[int, float] = {}
        ast0 = ast1 = _cpu_s(ast_pid) if ast_pid else 0.0
        started_at = None
        while proc.poll() is None:
            time.sleep(0.5)
            pids = _tree(proc.pid)  # the engine and its decode worker processes
            if started_at is None and b'"event": "started"' in log.read_bytes():
                # measure the campaign, not the start-up (model loading)
                started_at, cpu0 = time.monotonic(), {p: _cpu_s(p) for p in pids}
                ast0 = _cpu_s(ast_pid) if ast_pid else 0.0
            peak = max(peak, sum(_rss_mb(p) for p in pids))
            for p in pids:
                cpu1[p] = max(cpu1.get(p, 0.0), _cpu_s(p))  # the last sample before a process is gone
            if ast_pid:
                ast_peak = max(ast_peak, _rss_mb(ast_pid))
                ast1 = max(ast1, _cpu_s(ast_pid))
        code = proc.returncode
    wall = time.monotonic() - (started_at or t0)
    events = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    return {
        "returncode": code,
        "wall_s": round(wall, 1),
        "engine_cpu_pct": round(100 * sum(v - cpu0.get(p, 0.0) for p, v in cpu1.items()) / wall, 1)
        if wall > 0 else None,
        "engine_rss_mb": round(peak),
        "asterisk_cpu_pct": round(100 * (ast1 - ast0) / wall, 1) if wall > 0 and ast_pid else None,
        "asterisk_rss_mb": round(ast_peak) if ast_pid else None,
        "events": events,
    }


def bench_campaign(n_calls: int = 200, concurrency: int = 50, url: str | None = None) -> dict[str, Any]:
    """A campaign of ``n_calls`` simulated patients at ``concurrency`` through ``followup run``; figures as
    in the module docstring (``url``: the database, default a fresh SQLite file)."""
    local_asterisk.ensure_started()
    with tempfile.TemporaryDirectory(prefix="followup-campaign-") as tmp_s:
        tmp = Path(tmp_s)
        url = url or f"sqlite:///{tmp / 'campaign.db'}"
        patients = []
        expected: dict[str, dict[str, Any] | None] = {}
        for i in range(n_calls):
            ph = f"+99930{os.getpid() % 1000:03d}{i:05d}"
            k = i % 50
            if k < 4:
                script: Any = {"busy": True}
            elif k < 7:
                script = {"no_answer": True}
            elif k < 10:
                script = {"voicemail": wav(("vm-zh1", "vm-zh2")[i % 2])}
            else:
                good = i % 2 == 0
                script = [say("zh01"), say("zh07" if good else "zh08")]
                expected[ph] = {"satisfaction": 5 if good else 4}
            patients.append(SeedPatient(ph, script))
        zero = {k: {"max": 0} for k in ("busy", "no_answer", "failed", "voicemail", "hung_up")}
        seeded = seed_campaign(url, tmp, patients, flow="engine_short", retry_policy=zero,
                               max_concurrent_calls=concurrency, name=f"bench {n_calls}x{concurrency}")
        run = run_engine(url, seeded.simulate, seeded.campaign_id, max_calls=concurrency, log=tmp / "run.log",
                         extra=("--ring-timeout", "10"))
        rows = task_rows(url, seeded.campaign_id)
        by_task = {t: ph for ph, t in seeded.tasks.items()}
        calls = [e for e in run["events"] if e["event"] == "call"]
        outcomes: dict[str, int] = {}
        for e in calls:
            outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
        answered = sum(1 for r in rows.values() for a in r["attempts"] if a["answered_at"] is not None)
        by_person = sum(1 for r in rows.values() for a in r["attempts"]
                        if a["answered_at"] is not None and a["outcome"] != "voicemail")
        right = sum(1 for t, r in rows.items() if expected.get(by_task[t]) is not None and r["attempts"]
                    and r["attempts"][-1]["answers"] == expected[by_task[t]])
        summaries = [e for e in run["events"] if e["event"] == "summary"]
        engine = db.make_engine(url)
        try:
            from sqlalchemy import select

            with db.session_factory(engine)() as s:
                # voice-to-voice per reply is the engine's own tally (its summary); durations from the attempts
                durations = [(a.ended_at - a.started_at).total_seconds() for a in s.scalars(select(CallAttempt))
                             if a.ended_at and a.started_at and a.answered_at]
        finally:
            engine.dispose()
        last = summaries[-1] if summaries else {}
        first_t = min((e["at"] for e in calls), default=None)
        wall = run["wall_s"]
        return {
            "calls": len(calls),
            "concurrency": concurrency,
            "returncode": run["returncode"],
            "wall_s": wall,
            "calls_per_hour": round(len(calls) * 3600 / wall) if wall else None,
            "answer_rate": round(answered / len(calls), 3) if calls else None,
            "answered_by_a_person": round(by_person / len(calls), 3) if calls else None,
            "outcomes": outcomes,
            "expected_answers_right": f"{right}/{len(expected)}",
            "latency_p95_ms": last.get("latency_p95_ms"),
            "answered_call_s_p50": round(statistics.median(durations), 1) if durations else None,
            "engine_cpu_pct": run["engine_cpu_pct"],
            "engine_rss_mb": run["engine_rss_mb"],
            "asterisk_cpu_pct": run["asterisk_cpu_pct"],
            "asterisk_rss_mb": run["asterisk_rss_mb"],
            "first_report": first_t,
        }


def bench_voicemail(rounds: int = 2) -> dict[str, Any]:
    """Voicemail detection accuracy and delay through the engine (module docstring)."""
    local_asterisk.ensure_started()
    machines = ["vm-zh1", "vm-zh2", "vm-en1", "vm-en2"]
    people = ["hello-zh1", "hello-zh2", "hello-en1", "hello-en2"]
    with tempfile.TemporaryDirectory(prefix="followup-vm-") as tmp_s:
        tmp = Path(tmp_s)
        url = f"sqlite:///{tmp / 'vm.db'}"
        kinds: dict[str, str] = {}
        patients = []
        n = 0
        for _ in range(rounds):
            for m in machines:
                ph = f"+99940{os.getpid() % 1000:03d}{n:04d}"
                patients.append(SeedPatient(ph, {"voicemail": wav(m)}, language=m[3:5]))
                kinds[ph] = f"machine:{m}"
                n += 1
            for h in people:
                lang = h[6:8]
                ph = f"+99940{os.getpid() % 1000:03d}{n:04d}"
                patients.append(SeedPatient(ph, [{"wait": 0.6}, say(h, now=True), say(f"{lang}01"),
                                                 say(f"{lang}07")], language=lang, name="John Smith"
                                            if lang == "en" else "张伟"))
                kinds[ph] = f"person:{h}"
                n += 1
        for lang in ("zh", "en"):
            for _ in range(2):
                ph = f"+99940{os.getpid() % 1000:03d}{n:04d}"
                patients.append(SeedPatient(ph, [say(f"{lang}01"), say(f"{lang}07")], language=lang,
                                            name="John Smith" if lang == "en" else "张伟"))
                kinds[ph] = "baseline"
                n += 1
        zero = {k: {"max": 0} for k in ("busy", "no_answer", "failed", "voicemail", "hung_up")}
        seeded = seed_campaign(url, tmp, patients, flow="engine_short", language=None, retry_policy=zero,
                               max_concurrent_calls=10, name="voicemail bench")
        run = run_engine(url, seeded.simulate, seeded.campaign_id, max_calls=10, log=tmp / "run.log")
        rows = task_rows(url, seeded.campaign_id)
        by_task = {t: ph for ph, t in seeded.tasks.items()}
        engine = db.make_engine(url)
        from sqlalchemy import select

        machine_hold: list[float] = []
        first_answer: dict[str, list[float]] = {"person": [], "baseline": []}
        detected = {"machine": 0, "person": 0}
        total = {"machine": 0, "person": 0}
        misses: list[str] = []
        per_machine: dict[str, list[float]] = {}
        try:
            with db.session_factory(engine)() as s:
                for t, r in rows.items():
                    kind = kinds[by_task[t]]
                    a = r["attempts"][0]
                    group = kind.split(":")[0]
                    if group in total:
                        total[group] += 1
                        if a["outcome"] == "voicemail":
                            detected[group] += 1
                        elif group == "machine":
                            misses.append(f"{kind} → {a['outcome']}")
                    if group == "person" and a["outcome"] == "voicemail":
                        misses.append(f"{kind} → voicemail")
                    attempt = s.get_one(CallAttempt, a["id"])
                    if group == "machine" and attempt.answered_at and attempt.ended_at:
                        machine_hold.append((attempt.ended_at - attempt.answered_at).total_seconds())
                    if group == "machine" and attempt.answered_at and attempt.ended_at:
                        per_machine.setdefault(kind.split(":")[1], []).append(
                            round((attempt.ended_at - attempt.answered_at).total_seconds(), 1))
                    if group in first_answer:
                        # the conversation has moved on once the bot asks the second question
                        asked = s.scalars(select(Turn.start_ms).where(
                            Turn.attempt_id == a["id"], Turn.speaker == "bot", Turn.question_id == "satisfaction",
                            Turn.start_ms.is_not(None)).order_by(Turn.seq).limit(1)).first()
                        if asked is not None:
                            first_answer[group].append(asked / 1000)
        finally:
            engine.dispose()
        base = statistics.median(first_answer["baseline"]) if first_answer["baseline"] else None
        person = statistics.median(first_answer["person"]) if first_answer["person"] else None
        return {
            "machines_detected": f"{detected['machine']}/{total['machine']}",
            "people_taken_for_voicemail": f"{detected['person']}/{total['person']}",
            "accuracy": round((detected["machine"] + total["person"] - detected["person"])
                              / max(1, total["machine"] + total["person"]), 3),
            "machine_answer_to_hangup_s_p50": round(statistics.median(machine_hold), 2) if machine_hold else None,
            "machine_answer_to_hangup_s_max": round(max(machine_hold), 2) if machine_hold else None,
            "machine_answer_to_hangup_s": per_machine,
            "second_question_at_s_baseline_p50": round(base, 2) if base is not None else None,
            "second_question_at_s_after_hello_p50": round(person, 2) if person is not None else None,
            "hello_adds_s": round(person - base, 2) if person is not None and base is not None else None,
            "misses": misses,
            "returncode": run["returncode"],
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The campaign engine under load; voicemail detection through it.")
    p.add_argument("what", choices=("campaign", "voicemail"))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rounds", type=int, default=2, help="voicemail: each greeting this many times")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print(f"# cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.what == "campaign":
        r = bench_campaign(args.calls, args.concurrency)
    else:
        r = bench_voicemail(args.rounds)
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
    else:
        for k, v in r.items():
            print(f"{k:>36}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
