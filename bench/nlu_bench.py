"""Benchmark of the understanding layer: accuracy on a labelled corpus, and time per understand() call.

    .venv/bin/python bench/nlu_bench.py [--corpus tests/nlu/corpus.tsv] [--rounds 5] [--misses]

Prints accuracy overall and per language / type / expected intent, the median and p99 time of one warm
in-process call, and the cost of importing ``dialog.nlu`` and of the first call (measured in a fresh
interpreter, since both happen once per process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "nlu"))

from corpus_support import CORPUS, load, same_value

from dialog.nlu import understand

_COLD = """
import time, json
t0 = time.perf_counter()
from dialog.nlu import Expectation, understand
t1 = time.perf_counter()
understand("非常埋意", Expectation("scale"))
t2 = time.perf_counter()
understand("高压一百三十五，低压八十五", Expectation("blood_pressure"))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "second_type_first_call_s": t3 - t2}))
"""


def cold_start() -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _COLD], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--rounds", type=int, default=5, help="timed passes over the corpus")
    ap.add_argument("--misses", action="store_true", help="list the rows that were wrong")
    args = ap.parse_args()

    rows = load(args.corpus)
    exps = [r.expectation() for r in rows]
    groups: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for r, e in zip(rows, exps, strict=True):
        u = understand(r.text, e, now=r.now)
        ok = u.intent == r.intent and same_value(u.value, r.value)
        for g in ("all", f"lang={r.lang}", f"type={r.expect}", f"intent={r.intent}"):
            groups[g].append(ok)
        if not ok:
            misses.append((r, u))

    times: list[float] = []
    best = [float("inf")] * len(rows)  # per reply, the best of the rounds: its cost without machine noise
    for _ in range(args.rounds):
        for i, (r, e) in enumerate(zip(rows, exps, strict=True)):
            t = time.perf_counter()
            understand(r.text, e, now=r.now)
            dt = time.perf_counter() - t
            times.append(dt)
            best[i] = min(best[i], dt)
    times.sort()
    best.sort()

    print(f"corpus: {args.corpus} ({len(rows)} replies)")
    for g in sorted(groups, key=lambda k: (k != "all", k)):
        v = groups[g]
        print(f"  {g:<24} {sum(v):>4}/{len(v):<4} {100 * sum(v) / len(v):6.1f} %")
    print(f"time per understand() call, warm, {len(times)} calls:")
    print(
        f"  median {1e3 * statistics.median(times):.3f} ms   p99 {1e3 * times[int(0.99 * (len(times) - 1))]:.3f} ms"
        f"   max {1e3 * times[-1]:.3f} ms"
    )
    print(
        f"  per reply, best of {args.rounds}: median {1e3 * statistics.median(best):.3f} ms"
        f"   p99 {1e3 * best[int(0.99 * (len(best) - 1))]:.3f} ms   max {1e3 * best[-1]:.3f} ms"
    )
    cold = cold_start()
    print(
        f"cold start (fresh interpreter): import {cold['import_s']:.3f} s, first call {1e3 * cold['first_call_s']:.1f} ms,"
        f" first call of another type {1e3 * cold['second_type_first_call_s']:.1f} ms"
    )
    if args.misses:
        for r, u in misses:
            print(
                f"MISS line {r.line} {r.lang} {r.expect} {r.text!r}: want {r.intent} {r.value!r}, got {u.to_json()}"
            )


if __name__ == "__main__":
    main()
