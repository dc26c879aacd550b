"""``followup run``: the campaign engine as a command (docs/engine.md).

    followup run [--campaign ID ...] [--max-calls N] [--once | --until-done] [--simulate PATH] [--json]

Starts one engine process: one ARI client (its own Stasis application), the recogniser loaded once, a
shared decode pool, prompts pre-rendered per flow and language; then ticks until SIGTERM/SIGINT (drain:
no new calls, live calls finish up to FOLLOWUP_DRAIN_TIMEOUT_S, then the rest are hung up and the leases
released; exit 0). ``--once``: stop when nothing is due and nothing is live; ``--until-done``: stop when
the selected campaigns that are running have no open task left (a paused campaign's waiting tasks do not
keep it going; handy with an accelerated clock).

``--simulate PATH``: dial simulated patients on the project's Asterisk instead of the trunk
(``dialer.endpoints``: a JSON file ``{"+86…": SCRIPT}`` or a directory of ``<E.164>.json`` scripts in the
``followup call --patient-script`` format, ``{"attempts": [...]}`` for a script per attempt).
``--clock-start ISO --clock-speed X``: run the schedule on a ``ScaledClock`` (e.g. speed 60: a clock
minute per real second) — tests and demos; never in production.

Exit status: 0 after a normal stop or a drain, 2 for bad arguments or scripts, 1 when set-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``followup run`` (the CLI's subparser gets them from here)."""
    p.add_argument("--campaign", type=int, action="append", default=[], metavar="ID",
                   help="only this campaign (repeat for several; default: every running campaign)")
    p.add_argument("--max-calls", type=int, default=None, metavar="N",
                   help="at most N live calls (default FOLLOWUP_MAX_CALLS)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="stop when nothing is due and nothing is live")
    stop.add_argument("--until-done", action="store_true",
                      help="stop when the selected running campaigns have no pending, leased or live task")
    p.add_argument("--simulate", metavar="PATH",
                   help="dial simulated patients: a JSON file {phone: script} or a directory of <phone>.json")
    p.add_argument("--json", action="store_true", help="progress as JSON lines")
    p.add_argument("--no-jobs", action="store_true",
                   help="queue no post-call jobs on Redis (escalation routing, QA samples, webhook)")
    p.add_argument("--drain-timeout", type=float, default=None, metavar="SECONDS",
                   help="on SIGTERM, how long live calls may go on (default FOLLOWUP_DRAIN_TIMEOUT_S)")
    p.add_argument("--ring-timeout", type=int, default=None, metavar="SECONDS",
                   help="ringing before no_answer (default FOLLOWUP_RING_TIMEOUT_S)")
    p.add_argument("--lease", type=float, default=120.0, metavar="SECONDS",
                   help="lease length in real seconds: how soon another engine takes over a dead one's tasks")
    p.add_argument("--pace", type=float, default=2.0, metavar="CALLS_PER_S",
                   help="new calls per second at most (default 2; 0: no pacing)")
    p.add_argument("--tick", type=float, default=2.0, metavar="SECONDS", help="scheduling interval (real)")
    p.add_argument("--summary-every", type=float, default=30.0, metavar="SECONDS",
                   help="print a summary line this often (real seconds)")
    p.add_argument("--clock-start", metavar="ISO", help="tests/demos: start the schedule clock at this time")
    p.add_argument("--clock-speed", type=float, default=1.0, metavar="X",
                   help="tests/demos: the schedule clock runs X times faster than real time")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup run", description="Run the campaign engine.")
    add_arguments(p)
    return p


def _post_call(attempt_id: int) -> object:
    from dialer.jobs import enqueue_post_call

    return enqueue_post_call(attempt_id)


def dial_tag(database_url: str) -> str:
    """A short tag from the database URL that starts every call id (``call-d1a2b3t17a2x…``): one
    database's calls are told apart in Asterisk's logs, whichever engine placed them."""
    return "d" + hashlib.sha1(database_url.encode()).hexdigest()[:5]


def _clock(args: argparse.Namespace, timezone: str) -> Any:
    from dialer.clock import ScaledClock, SystemClock

    if args.clock_start is None and args.clock_speed == 1.0:
        return SystemClock()
    from zoneinfo import ZoneInfo

    if args.clock_start:
        start = datetime.fromisoformat(args.clock_start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(timezone))
    else:
        start = datetime.now(ZoneInfo(timezone))
    return ScaledClock(start, args.clock_speed)


def main(args: argparse.Namespace | list[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Entry point of ``followup run``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(args)
    from followup.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=getattr(logging, str(settings.log_level).upper(), logging.INFO), stream=err,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.clock_speed <= 0 or (args.max_calls is not None and args.max_calls < 1) or args.lease <= 0:
        print("followup run: error: --clock-speed, --max-calls and --lease must be positive", file=err)
        return 2
    try:
        clock = _clock(args, settings.timezone)
    except ValueError as exc:
        print(f"followup run: error: --clock-start: {exc}", file=err)
        return 2
    from dialer.simpatient import PatientScriptError

    try:
        return asyncio.run(run_engine(settings, args, clock, out))
    except PatientScriptError as exc:
        print(f"followup run: error: --simulate {args.simulate}: {exc}", file=err)
        return 2
    except LookupError as exc:
        print(f"followup run: error: {exc}", file=err)
        return 2
    except Exception as exc:  # set-up failures (Asterisk, database, models) end the command
        log.exception("set-up failed")
        print(f"followup run: error: {type(exc).__name__}: {exc}", file=err)
        return 1


async def run_engine(settings: Any, args: argparse.Namespace, clock: Any, out: TextIO) -> int:
    """Everything ``followup run`` does after parsing: set up, run the engine, tear down."""
    from dialer import local_asterisk
    from dialer.ari import AriClient
    from dialer.endpoints import SimulatedEndpoints, TrunkEndpoints, load_scripts
    from dialer.engine import Engine, EngineOptions
    from dialer.resources import CallResources
    from dialer.session import SessionOptions
    from dialer.simpatient import SimulatedPatients
    from models import db
    from models.campaigns import Campaign

    url = settings.resolved_database_url
    await asyncio.to_thread(db.upgrade, url)
    engine_db = db.make_engine(url, pool_size=10, max_overflow=20) if not url.startswith("sqlite") \
        else db.make_engine(url)
    sessions = db.session_factory(engine_db)
    with sessions() as s:
        for cid in args.campaign:
            if s.get(Campaign, cid) is None:
                raise LookupError(f"--campaign {cid}: no such campaign")
    dirs: dict[str, Path] = {}
    if not settings.ari_url:
        dirs = (await asyncio.to_thread(local_asterisk.ensure_started)).dirs
    elif args.simulate:
        root = Path(settings.cache_dir).expanduser() / "asterisk-root"
        dirs = {"scripts": root / "var/lib/followup/scripts", "patient_audio": root / "var/lib/followup/patient-audio",
                "recordings": root / "var/spool/asterisk/recording"}
    tag = dial_tag(url)
    endpoints: Any
    if args.simulate:
        if not dirs.get("scripts") or not Path(dirs["scripts"]).is_dir():
            raise RuntimeError("--simulate needs the project's Asterisk (its simulated-patient directories)")
        scripts, base = load_scripts(args.simulate)
        endpoints = SimulatedEndpoints(scripts, SimulatedPatients(dirs["scripts"], dirs["patient_audio"]), base,
                                       tag=f"{tag}{os.getpid()}")
        await asyncio.to_thread(endpoints.check)
    else:
        endpoints = TrunkEndpoints(settings.dial_template)
    max_calls = args.max_calls or settings.max_calls
    resources = await asyncio.to_thread(CallResources.from_settings, settings, max_calls=max_calls,
                                        recordings_dir=dirs.get("recordings"))
    owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
    app = f"{settings.ari_app}-engine-{secrets.token_hex(3)}"
    options = EngineOptions(
        owner=owner,
        max_calls=max_calls,
        campaign_ids=tuple(args.campaign),
        tick_real_s=args.tick,
        dials_per_s=args.pace,
        lease_real_s=args.lease,
        drain_timeout_real_s=float(args.drain_timeout if args.drain_timeout is not None
                                   else settings.drain_timeout_s),
        once=args.once,
        until_done=args.until_done,
        summary_every_real_s=args.summary_every,
        session=SessionOptions.from_settings(settings, originate_timeout_s=args.ring_timeout or settings.ring_timeout_s,
                                             finish_task=False),
        dial_tag=tag,
        asterisk_host=settings.resolved_ari_url,
        hospital={"name": settings.hospital_name, "name_en": settings.hospital_name_en,
                  "phone": settings.hospital_phone},
        default_lang=settings.default_lang,
        timezone=settings.timezone,
        json=args.json,
        post_call=None if args.no_jobs else _post_call,
    )

    def emit(line: str) -> None:
        out.write(line + "\n")  # one write: a log record on the same file cannot split the line
        out.flush()

    try:
        async with AriClient(settings.resolved_ari_url, settings.ari_user, settings.ari_password, app) as client:
            engine = Engine(sessions, client, resources, endpoints, clock, options, emit=emit)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, engine.request_drain)
            emit(json.dumps({"event": "started", "owner": owner, "app": app, "max_calls": max_calls,
                             "clock": clock.now().isoformat(timespec="seconds")}) if args.json
                 else f"engine {owner} running: max {max_calls} calls, app {app}")
            stats = await engine.run()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        _final(sessions, args, stats, emit)
    finally:
        await asyncio.to_thread(endpoints.close)
        resources.close()
        engine_db.dispose()
    return 0


def _final(sessions: Any, args: argparse.Namespace, stats: Any, emit: Any) -> None:
    """The closing lines: what this run did, and each selected campaign's status."""
    from dialer import campaigns

    done = {"event": "stopped", "calls": stats.calls, "outcomes": stats.outcomes, "skipped": stats.skipped,
            "recovered": stats.recovered, "drained": stats.drained, "hung_up_at_drain": stats.hung_up_at_drain,
            "paused": [{"campaign": c, "reason": r} for c, r in stats.paused]}
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items(), key=lambda kv: -kv[1]))
    emit(json.dumps(done, ensure_ascii=False) if args.json else
         f"stopped: {stats.calls} calls ({outcomes or 'none'})" + (" (drained)" if stats.drained else ""))
    with sessions() as s:
        for cid in args.campaign:
            st = campaigns.status(s, cid)
            if args.json:
                emit(json.dumps({"event": "campaign", **st.to_json()}, ensure_ascii=False))
            else:
                from dialer.campaign_cli import render_line

                emit(f"{render_line(st)} ({st.name})")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
