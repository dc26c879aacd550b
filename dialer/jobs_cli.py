"""``followup worker``, ``followup export`` and ``followup jobs``: the command line of dialer/jobs.py and
dialer/exports.py. Thin: parse, call, print."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.config import get_settings


def add_worker_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``followup worker``."""
    from dialer.jobs import QUEUES

    p.add_argument(
        "--queues",
        nargs="+",
        choices=QUEUES,
        default=list(QUEUES),
        metavar="QUEUE",
        help=f"queues to work on, in priority order (default: all: {' '.join(QUEUES)})",
    )
    p.add_argument("--burst", action="store_true", help="stop when the queues are empty (tests, cron)")
    p.add_argument("--name", help="worker name (default: a random one; must be unique per Redis)")
    p.add_argument(
        "--no-fork", action="store_true", help="run jobs in the worker process (faster; no per-job isolation)"
    )


def worker_main(args: argparse.Namespace) -> int:
    """Run an rq worker with the scheduler until SIGTERM/SIGINT (warm shutdown: the current job finishes)."""
    import logging

    from dialer import jobs

    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    jobs.check_settings()  # a bad routing table or rate stops the worker now, not every job later
    jobs.redis_connection().ping()  # a clear error now rather than a traceback inside rq
    jobs.run_worker(args.queues, burst=args.burst, name=args.name, fork=not args.no_fork)
    return 0


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``followup export``."""
    p.add_argument("--campaign", type=int, required=True, metavar="ID")
    p.add_argument("--format", choices=("csv", "fhir"), required=True)
    p.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="csv: a file; fhir: a directory, or a file ending in .ndjson",
    )
    p.add_argument(
        "--lang", choices=("zh", "en"), help="header/label language (default: FOLLOWUP_DEFAULT_LANG)"
    )
    p.add_argument("--include-partial", action="store_true", help="also calls the patient hung up on")


def export_main(args: argparse.Namespace) -> int:
    """Write the export and say how many calls it holds."""
    from dialer import exports
    from dialer.jobs import sessions
    from models.users import AuditLog

    lang = args.lang or get_settings().default_lang
    with sessions()() as s:
        if args.format == "csv":
            n = exports.export_csv(
                s, args.campaign, args.out, lang=lang, include_partial=args.include_partial
            )
        else:
            n = exports.export_fhir(
                s, args.campaign, args.out, lang=lang, include_partial=args.include_partial
            )
        # Patient data left the system: record what, how many and where to (the command line: no user).
        s.add(
            AuditLog(
                action="export",
                object_type="campaign",
                object_id=str(args.campaign),
                detail={"format": args.format, "calls": n, "out": str(args.out), "via": "cli"},
            )
        )
        s.commit()
    print(f"campaign {args.campaign}: {n} call(s) exported as {args.format} to {args.out}")
    return 0


def add_jobs_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``followup jobs``."""
    sub = p.add_subparsers(dest="jobs_cmd", required=True)
    s = sub.add_parser("schedule-start", help="start a campaign at a given time (run by `followup worker`)")
    s.add_argument("--campaign", type=int, required=True, metavar="ID")
    s.add_argument("--at", required=True, help="ISO 8601 time; without an offset: the hospital's time zone")
    c = sub.add_parser("cancel-start", help="drop a campaign's scheduled start")
    c.add_argument("--campaign", type=int, required=True, metavar="ID")
    pc = sub.add_parser(
        "post-call", help="queue the post-call work of attempts again (e.g. after Redis was down)"
    )
    pc.add_argument("attempts", type=int, nargs="+", metavar="ATTEMPT_ID")
    st = sub.add_parser("status", help="a job's status, progress and result as JSON (e.g. an import)")
    st.add_argument("job_id")


def _aware(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at: not an ISO 8601 time: {text!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return at


def jobs_main(args: argparse.Namespace) -> int:
    """Run one ``followup jobs`` subcommand."""
    from dialer import jobs

    if args.jobs_cmd == "schedule-start":
        job = jobs.schedule_campaign_start(args.campaign, _aware(args.at))
        print(f"campaign {args.campaign} starts at {_aware(args.at).isoformat()} (job {job.id})")
    elif args.jobs_cmd == "cancel-start":
        found = jobs.cancel_campaign_start(args.campaign)
        print(
            f"campaign {args.campaign}: " + ("scheduled start cancelled" if found else "no scheduled start")
        )
        return 0 if found else 1
    elif args.jobs_cmd == "post-call":
        failed = 0
        for attempt_id in args.attempts:
            job_id = jobs.enqueue_post_call(attempt_id)
            failed += job_id is None
            print(f"attempt {attempt_id}: " + (f"queued (job {job_id})" if job_id else "NOT queued (Redis?)"))
        return 1 if failed else 0
    else:
        from rq.exceptions import NoSuchJobError

        try:
            status = jobs.import_status(args.job_id)
        except NoSuchJobError:
            raise ValueError(f"no job {args.job_id!r} (finished jobs are kept for 7 days)") from None
        sys.stdout.write(json.dumps(status, ensure_ascii=False, default=str) + "\n")
    return 0
