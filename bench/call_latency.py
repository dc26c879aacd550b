"""Concurrent real calls: voice-to-voice latency, ASR real-time factor, CPU/RSS, bot-audio gaps.

    .venv/bin/python bench/call_latency.py --n 1 10          # N concurrent calls per round
    .venv/bin/python bench/call_latency.py --n 25 --lang en
    .venv/bin/python bench/call_latency.py --voicemail 2      # answering machine vs person, 2 rounds
    .venv/bin/python bench/call_latency.py --n 1 10 25 50 --baseline   # + the earlier path, same run

Each call goes through the project's Asterisk (deploy/asterisk.sh start) to a simulated patient who
answers a short flow (tests/e2e/flows/e2e_short.yaml: identity, a score, a blood pressure) with fixture
replies at 8 kHz; recognition is the real Whisper base; turns and answers go to a throw-away SQLite
database. Per round it prints:

- voice-to-voice latency p50/p95/max (end of the patient's speech → first bot audio frame handed to the
  media socket) and where it goes (endpointing, ASR incl. queueing, the rest);
- ASR real-time factor (decode time / speech duration) and the decode pool's queueing;
- CPU (% of one core, averaged over the round) and peak RSS of this process and of Asterisk (/proc);
- bot-audio gaps: mid-turn moments where the sender fell behind play-out by more than 40 ms (the audio
  Asterisk plays ran dry), and the longest interval between two sends;
- event-loop lag (a 20 ms ticker's worst overshoot), outcomes and answer accuracy.
"engine" is this process plus its decode worker processes. ``--baseline`` runs every N twice, first
with the earlier configuration (decode threads in this process, no speculative decoding, one endpoint
for every question) and then with the current one, and prints the ratios; the per-frame code (VAD,
media reads) is the current one in both.
Goal (issue #3): p95 ≤ 800 ms and no gaps at 50 calls. Nothing here asserts: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.models import whisper_model_dir
from asr.pool import DecodePool, ProcessDecodePool
from asr.whisper import WhisperRecognizer
from dialer import local_asterisk
from dialer.ari import AriClient
from dialer.media import AudioSocketServer
from dialer.persist import AttemptLog, create_adhoc_attempt
from dialer.prompts import PromptAudio
from dialer.session import CallReport, CallSession, SessionOptions
from dialer.simpatient import SimulatedPatients
from dialog.nlu.understand import local_now
from flows.loader import find_flow
from followup.simulate import demo_context
from models import db
from tts.cache import PromptCache
from tts.factory import build_synthesizer

FIXTURES = REPO / "tests" / "fixtures" / "speech"
GREETINGS = REPO / "tests" / "e2e" / "data"
FLOW = REPO / "tests" / "e2e" / "flows" / "e2e_short.yaml"
REPLIES = {"zh": ["zh01", "zh07", "zh13"], "en": ["en01", "en07", "en13"]}
EXPECTED = {"satisfaction": 5, "bp": {"systolic": 135, "diastolic": 85}}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------- process stats

def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK_TCK  # utime + stime


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class ProcWatch:
    """CPU % (of one core) over a window and peak RSS of groups of PIDs (summed), sampled every 0.5 s."""

    pids: dict[str, list[int]]
    cpu0: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    t0: float = 0.0

    def _cpu(self, k: str) -> float:
        return sum(_cpu_seconds(p) for p in self.pids[k])

    def _rss(self, k: str) -> float:
        return sum(_rss_mb(p) for p in self.pids[k])

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0 = {k: self._cpu(k) for k in self.pids}
        self.peak = {k: self._rss(k) for k in self.pids}

    async def sample_forever(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for k in self.pids:
                self.peak[k] = max(self.peak[k], self._rss(k))

    def cpu_percent(self) -> dict[str, float]:
        dt = time.monotonic() - self.t0
        return {k: 100 * (self._cpu(k) - self.cpu0[k]) / dt for k in self.pids}


async def loop_lag(out: list[float]) -> None:
    while True:
        t = time.monotonic()
        await asyncio.sleep(0.02)
        out.append((time.monotonic() - t - 0.02) * 1000)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


# ------------------------------------------------------------------------------------------- calls

@dataclass
class Bench:
    ast: local_asterisk.LocalAsterisk
    recognizer: WhisperRecognizer
    pool: DecodePool
    prompts: dict[str, PromptAudio]
    sessions: Any
    flow: Any
    transport: str
    patients: SimulatedPatients
    endpoint_ms: int = 600
    endpoint_closed_ms: int | None = None
    speculate_ms: int = 220
    ramp_s: float = 0.0  # the N calls start evenly spread over this many seconds (0: all at once)


async def one_call(b: Bench, client: AriClient, server: AudioSocketServer | None, lang: str, script: Any,
                   index: int) -> CallReport:
    now = local_now().replace(second=0, microsecond=0)
    context = demo_context(lang, now)
    ident = f"bench{os.getpid() % 10000}x{index}x{int(time.time() * 1000) % 100000}"
    patient = await asyncio.to_thread(b.patients.prepare, script, ident)
    adhoc = await asyncio.to_thread(create_adhoc_attempt, b.sessions, context, flow_id=b.flow.id, lang=lang,
                                    phone=f"+9991{index:09d}")
    attempt_log = AttemptLog(b.sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
    session = CallSession(client, endpoint=patient.endpoint, flow=b.flow, lang=lang, context=context,
                          recognizer=b.recognizer, prompts=b.prompts[lang], now=now, log=attempt_log,
                          options=SessionOptions(originate_timeout_s=20, transport=b.transport, max_call_s=600,
                                                 endpoint_silence_ms=b.endpoint_ms,
                                                 endpoint_closed_ms=b.endpoint_closed_ms,
                                                 speculate_ms=b.speculate_ms),
                          pool=b.pool, recordings_dir=b.ast.dirs["recordings"], audiosocket=server,
                          call_id=f"call-{ident}")
    return await session.run()


async def _after(delay: float, coro: Any) -> Any:
    await asyncio.sleep(delay)
    return await coro


async def run_round(b: Bench, client: AriClient, server: AudioSocketServer | None, n: int, lang: str,
                    ) -> tuple[list[CallReport], dict[str, Any]]:
    script = [{"say": str(FIXTURES / f"{r}.wav")} for r in REPLIES[lang]]
    workers = b.pool.worker_pids() if isinstance(b.pool, ProcessDecodePool) else []
    watch = ProcWatch({"engine": [os.getpid(), *workers], "asterisk": [b.ast.pid or os.getpid()],
                       "loop": [os.getpid()]})
    lags: list[float] = []
    watch.start()
    load0 = os.getloadavg()[0]
    tasks = [asyncio.create_task(watch.sample_forever()), asyncio.create_task(loop_lag(lags))]
    t0 = time.monotonic()
    try:
        reports = await asyncio.gather(*(_after(b.ramp_s * i / max(1, n), one_call(b, client, server, lang, script, i))
                                         for i in range(n)))
    finally:
        for t in tasks:
            t.cancel()
    elapsed = time.monotonic() - t0
    cpu = watch.cpu_percent()
    return list(reports), {"elapsed_s": elapsed, "cpu": cpu, "rss": dict(watch.peak),
                           "load": (load0, os.getloadavg()[0]),
                           "loop_lag_max_ms": max(lags) if lags else 0.0,
                           "loop_lag_p99_ms": pct(lags, 99)}


def summarise(n: int, lang: str, reports: list[CallReport], proc: dict[str, Any]) -> dict[str, Any]:
    samples = [s for r in reports for s in r.latencies]
    totals = [s.total_ms for s in samples]
    asr = [(d, dec) for r in reports for d, dec in r.asr]
    underruns = [u for r in reports for u in r.underruns]
    outcomes: dict[str, int] = {}
    for r in reports:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    correct = sum(1 for r in reports if r.answers == EXPECTED)
    return {
        "n": n,
        "lang": lang,
        "calls_completed": outcomes.get("completed", 0),
        "outcomes": outcomes,
        "answers_correct": f"{correct}/{len(reports)}",
        "turns_measured": len(totals),
        "latency_p50_ms": round(pct(totals, 50)),
        "latency_p95_ms": round(pct(totals, 95)),
        "latency_max_ms": round(max(totals)) if totals else None,
        "endpoint_p50_ms": round(pct([s.endpoint_ms for s in samples], 50)),
        "asr_p50_ms": round(pct([s.asr_ms for s in samples], 50)),
        "asr_p95_ms": round(pct([s.asr_ms for s in samples], 95)),
        "respond_p50_ms": round(pct([s.respond_ms for s in samples], 50)),
        "respond_p95_ms": round(pct([s.respond_ms for s in samples], 95)),
        "asr_rtf_mean": round(sum(dec for _, dec in asr) / sum(d for d, _ in asr), 3) if asr else None,
        "asr_decode_p50_s": round(statistics.median(dec for _, dec in asr), 3) if asr else None,
        "gaps_over_40ms": len(underruns),
        "worst_gap_ms": max(underruns) if underruns else 0,
        "max_send_interval_ms": max((r.max_send_interval_ms for r in reports), default=0),
        "engine_cpu_pct": round(proc["cpu"]["engine"], 1),
        "loop_process_cpu_pct": round(proc["cpu"]["loop"], 1),
        "asterisk_cpu_pct": round(proc["cpu"]["asterisk"], 1),
        "engine_rss_mb": round(proc["rss"]["engine"]),
        "asterisk_rss_mb": round(proc["rss"]["asterisk"]),
        "loop_lag_max_ms": round(proc["loop_lag_max_ms"], 1),
        "round_s": round(proc["elapsed_s"], 1),
        "load_avg": [round(x, 1) for x in proc["load"]],
        "errors": sorted({e for r in reports for e in r.errors})[:5],
        "voicemail_false_positives": sum(1 for r in reports if r.voicemail),
        "speculative": {"started": sum(r.speculative_started for r in reports),
                        "used": sum(r.speculative_used for r in reports),
                        "wasted": sum(r.speculative_wasted for r in reports)},
    }


async def voicemail_round(b: Bench, client: AriClient, rounds: int) -> dict[str, Any]:
    """Answering machines vs people greeting first: how often the verdict is right."""
    cases: list[tuple[str, str, bool, Any]] = []
    for name, lang in (("vm-zh1", "zh"), ("vm-zh2", "zh"), ("vm-en1", "en"), ("vm-en2", "en")):
        cases.append((name, lang, True, {"voicemail": str(GREETINGS / f"{name}.wav")}))
    for name, lang in (("hello-zh1", "zh"), ("hello-zh2", "zh"), ("hello-en1", "en"), ("hello-en2", "en")):
        first = REPLIES[lang][0]
        cases.append((name, lang, False, [{"wait": 0.6}, {"say": str(GREETINGS / f"{name}.wav"), "now": True},
                                          {"say": str(FIXTURES / f"{first}.wav")}, {"hangup": True}]))
    jobs = [(c, i) for i, c in enumerate(cases * rounds)]
    reports = await asyncio.gather(*(one_call(b, client, None, lang, script, 1000 + i)
                                     for (_, lang, _, script), i in jobs))
    rows = []
    for ((name, _, machine, _), _), rep in zip(jobs, reports, strict=True):
        rows.append({"greeting": name, "machine": machine, "said_voicemail": rep.voicemail,
                     "outcome": rep.outcome, "first_heard": next((t.text for t in rep.turns if t.speaker == "patient"),
                                                                 "")})
    machines = [r for r in rows if r["machine"]]
    people = [r for r in rows if not r["machine"]]
    return {
        "voicemail_detected": f"{sum(r['said_voicemail'] for r in machines)}/{len(machines)}",
        "people_called_voicemail": f"{sum(r['said_voicemail'] for r in people)}/{len(people)}",
        "rows": rows,
    }


async def main_async(args: argparse.Namespace) -> None:
    ast = local_asterisk.ensure_started()
    flow = find_flow(str(FLOW))
    tmp = Path(tempfile.mkdtemp(prefix="call-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    synth = build_synthesizer("espeak", "espeak")
    cache = PromptCache(tmp / "prompts")
    prompts = {}
    for lang in ("zh", "en"):
        prompts[lang] = PromptAudio(cache, synth, lang, flow.path.parent)
        await prompts[lang].prerender(flow, demo_context(lang, local_now()))
    recognizer = WhisperRecognizer(whisper_model_dir(None, args.cache_dir), workers=args.asr_workers,
                                   window_s=args.asr_window, decode_plain=not args.no_plain)
    pools: list[DecodePool] = []
    if args.pool == "process":
        pool: DecodePool = ProcessDecodePool(args.asr_workers, 256, spec=recognizer.worker_spec(), nice=args.asr_nice)
        await asyncio.to_thread(pool.start)  # type: ignore[attr-defined]
    else:
        pool = DecodePool(max_workers=args.asr_workers, max_queue=256)
        await asyncio.to_thread(recognizer.warm_up)
    pools.append(pool)
    b = Bench(ast, recognizer, pool, prompts, db.session_factory(engine), flow, args.transport,
              SimulatedPatients(ast.dirs["scripts"], ast.dirs["patient_audio"]), args.endpoint_ms,
              args.endpoint_closed_ms, args.speculate_ms, args.ramp)
    configs: list[tuple[str, Bench]] = [("current", b)]
    if args.baseline:
        # The earlier path: decode threads in this process, no speculation, one endpoint for all questions.
        old_pool = DecodePool(max_workers=args.asr_workers, max_queue=256)
        pools.append(old_pool)
        await asyncio.to_thread(recognizer.warm_up)
        configs.insert(0, ("baseline", dataclasses.replace(b, pool=old_pool, endpoint_ms=600, endpoint_closed_ms=None,
                                                           speculate_ms=0)))
    print(f"# call_latency: transport={args.transport} pool={args.pool} asr_workers={args.asr_workers} "
          f"window={args.asr_window}s plain_decoding={not args.no_plain} endpoint={args.endpoint_ms}ms "
          f"closed={args.endpoint_closed_ms}ms speculate={args.speculate_ms}ms nice={args.asr_nice} "
          f"baseline={'thread pool, no speculation, 600 ms' if args.baseline else 'no'} "
          f"ramp={args.ramp}s cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}", flush=True)
    try:
        async with AriClient(ast.ari_url, ast.user, ast.password, f"followup-bench-{os.getpid()}") as client, \
                AudioSocketServer("127.0.0.1", 0) as server:
            for n in args.n:
                rows = {}
                for label, bench in configs:
                    reports, proc = await run_round(bench, client, server, n, args.lang)
                    row = summarise(n, args.lang, reports, proc)
                    row["config"] = label
                    rows[label] = row
                    print(json.dumps(row, ensure_ascii=False) if args.json else format_row(row), flush=True)
                    await asyncio.sleep(2)
                if len(rows) == 2:
                    old, new = rows["baseline"], rows["current"]
                    print(f"N={n:>3} ratio baseline/current: v2v p50 {_ratio(old, new, 'latency_p50_ms')} "
                          f"p95 {_ratio(old, new, 'latency_p95_ms')}", flush=True)
            if args.voicemail:
                vm = await voicemail_round(b, client, args.voicemail)
                if args.json:
                    print(json.dumps(vm, ensure_ascii=False))
                else:
                    print(f"voicemail detected {vm['voicemail_detected']}; people taken for voicemail "
                          f"{vm['people_called_voicemail']}")
                    for r in vm["rows"]:
                        print(f"  {r['greeting']:10} machine={r['machine']!s:5} verdict_voicemail="
                              f"{r['said_voicemail']!s:5} outcome={r['outcome']:10} heard={r['first_heard']!r}")
    finally:
        b.patients.cleanup()
        for p in pools:
            p.shutdown(wait=False)
        engine.dispose()


def _ratio(old: dict[str, Any], new: dict[str, Any], key: str) -> str:
    a, c = old.get(key), new.get(key)
    if not a or not c:
        return "n/a"
    return f"{a / c:.1f}×"


def format_row(r: dict[str, Any]) -> str:
    spec = r["speculative"]
    return (f"N={r['n']:>3} {r['lang']} {r.get('config', '')}: completed {r['calls_completed']}/{r['n']} answers {r['answers_correct']} | "
            f"v2v p50 {r['latency_p50_ms']} ms p95 {r['latency_p95_ms']} ms max {r['latency_max_ms']} ms "
            f"(endpoint {r['endpoint_p50_ms']}, asr p50 {r['asr_p50_ms']}/p95 {r['asr_p95_ms']}, rest p50 "
            f"{r['respond_p50_ms']}/p95 {r['respond_p95_ms']}) | ASR RTF {r['asr_rtf_mean']} "
            f"(decode p50 {r['asr_decode_p50_s']} s) | CPU engine {r['engine_cpu_pct']} % (event-loop process "
            f"{r['loop_process_cpu_pct']} %) asterisk "
            f"{r['asterisk_cpu_pct']} % | RSS engine {r['engine_rss_mb']} MB asterisk {r['asterisk_rss_mb']} MB | "
            f"gaps>40ms {r['gaps_over_40ms']} (worst {r['worst_gap_ms']} ms, max send interval "
            f"{r['max_send_interval_ms']} ms) | loop lag max {r['loop_lag_max_ms']} ms | speculative "
            f"{spec['used']}/{spec['started']} used | {r['round_s']} s, load {r['load_avg'][0]}→{r['load_avg'][1]}"
            + (f" | errors {r['errors']}" if r["errors"] else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1, 10], help="concurrent calls per round (default 1 10)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--transport", choices=("websocket", "audiosocket"), default="websocket")
    p.add_argument("--asr-workers", type=int, default=2)
    p.add_argument("--asr-window", type=float, default=30.0, help="Whisper encoder window (s); 30 is the default")
    p.add_argument("--no-plain", action="store_true", help="skip the unbiased second decoding")
    p.add_argument("--endpoint-ms", type=int, default=600, help="trailing silence that ends an utterance")
    p.add_argument("--endpoint-closed-ms", type=int, default=None,
                   help="the same for closed questions (yes/no, scale, one choice); default: --endpoint-ms")
    p.add_argument("--speculate-ms", type=int, default=220, help="start decoding after this much silence (0: off)")
    p.add_argument("--ramp", type=float, default=0.0, metavar="SECONDS",
                   help="start the N calls evenly over SECONDS (default 0: all at once, the worst case)")
    p.add_argument("--pool", choices=("process", "thread"), default="process", help="decode workers")
    p.add_argument("--asr-nice", type=int, default=10, help="nice value added to decode worker processes (FOLLOWUP_ASR_NICE)")
    p.add_argument("--baseline", action="store_true",
                   help="also run each N with the earlier path (thread pool, no speculation) and print ratios")
    p.add_argument("--voicemail", type=int, default=0, metavar="ROUNDS",
                   help="also place ROUNDS × 8 calls: 4 answering machines, 4 people greeting first")
    p.add_argument("--cache-dir", default=None, help="FOLLOWUP_CACHE_DIR (where the Whisper model is)")
    p.add_argument("--json", action="store_true", help="one JSON object per round")
    args = p.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
