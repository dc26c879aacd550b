"""The ``followup`` command line. Thin: parse arguments, call into the modules, print.

Subcommands import their modules lazily so ``followup understand`` starts fast and a missing optional
component (speech models, Asterisk) only matters to the commands that use it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from followup.config import get_settings

EXPECT_TYPES = ("yes_no", "scale", "number", "blood_pressure", "glucose", "temperature", "date", "free_text")


def parse_now(value: str | None) -> datetime | None:
    """An ISO 8601 time as naive hospital-local time (an aware time is converted to the hospital zone)."""
    if value is None or value == "":
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))  # noqa: FURB162 - Python < 3.11 habits
    except ValueError:
        raise ValueError(f"--now: not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is not None:
        from zoneinfo import ZoneInfo

        dt = dt.astimezone(ZoneInfo(get_settings().timezone)).replace(tzinfo=None)
    return dt


def _dump(obj: Any, out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def _read_lines(path: str) -> Iterable[str]:
    if path == "-":
        yield from sys.stdin
    else:
        with open(path, encoding="utf-8") as fh:
            yield from fh


def _batch(path: str, handle: Callable[[dict], dict], required: tuple[str, ...]) -> int:
    """Run ``handle`` on each JSON line of ``path``; one output line per input line, in order.

    A malformed line yields an object with an ``error`` (naming the line) so the output stays aligned with
    the input; the exit status is then 1.
    """
    failed = 0
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")  # noqa: TRY004 - reported per line, not raised
            missing = [k for k in required if k not in item]
            if missing:
                raise ValueError(f"missing field(s): {', '.join(missing)}")
            _dump(handle(item))
        except (ValueError, OSError) as exc:
            failed += 1
            _dump({"intent": "no_match", "value": None, "confidence": 0.0, "error": f"line {lineno}: {exc}"})
    return 1 if failed else 0


def cmd_understand(args: argparse.Namespace) -> int:
    from dialog.nlu import Expectation, understand

    def one(lang: str, expect: str, text: str, now: str | None) -> dict:
        if expect not in EXPECT_TYPES:
            raise ValueError(f"expect: unknown type {expect!r}; expected one of {', '.join(EXPECT_TYPES)}")
        if lang not in ("zh", "en"):
            raise ValueError(f"lang: expected zh or en, got {lang!r}")
        return understand(str(text), Expectation(type=expect, lang=lang), parse_now(now)).to_json()

    if args.batch:
        return _batch(
            args.batch,
            lambda it: one(it["lang"], it["expect"], it["text"], it.get("now")),
            ("lang", "expect", "text"),
        )
    if args.text is None or args.lang is None or args.expect is None:
        print("followup understand: needs --lang, --expect and TEXT (or --batch FILE)", file=sys.stderr)
        return 2
    _dump(one(args.lang, args.expect, " ".join(args.text), args.now))
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    from flows import cli as flows_cli

    if args.flows_cmd == "validate":
        return flows_cli.cmd_validate(args.paths)
    return flows_cli.cmd_list(as_json=args.json)


def cmd_simulate(args: argparse.Namespace) -> int:
    from followup import simulate

    return simulate.main(args)


def cmd_hear(args: argparse.Namespace) -> int:
    from asr import cli as asr_cli

    return asr_cli.cmd_hear(args)


def cmd_call(args: argparse.Namespace) -> int:
    from dialer import call

    return call.main(args)


def cmd_run(args: argparse.Namespace) -> int:
    from dialer import run

    return run.main(args)


def cmd_campaign(args: argparse.Namespace) -> int:
    from dialer import campaign_cli

    return campaign_cli.main(args)


def cmd_import(args: argparse.Namespace) -> int:
    from followup import import_cmd

    return import_cmd.main(args)


def cmd_worker(args: argparse.Namespace) -> int:
    from dialer import jobs_cli

    return jobs_cli.worker_main(args)


def cmd_export(args: argparse.Namespace) -> int:
    from dialer import jobs_cli

    return jobs_cli.export_main(args)


def cmd_jobs(args: argparse.Namespace) -> int:
    from dialer import jobs_cli

    return jobs_cli.jobs_main(args)


def cmd_db(args: argparse.Namespace) -> int:
    from models.db import upgrade

    url = args.url or get_settings().resolved_database_url
    upgrade(url)
    print(f"database is at the latest schema: {_mask_url(url)}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from console import accounts

    return accounts.main(args)


def cmd_console(args: argparse.Namespace) -> int:
    from console import server

    return server.main(args)


def _mask_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup", description="Offline AI voice follow-up calls for hospitals.")
    sub = p.add_subparsers(dest="command", required=True)

    u = sub.add_parser("understand", help="understand one patient reply (or a batch of JSON lines)")
    u.add_argument("--lang", choices=("zh", "en"))
    u.add_argument("--expect", choices=EXPECT_TYPES)
    u.add_argument("--now", help="ISO 8601 'now' for relative dates (default: now, hospital time zone)")
    u.add_argument("--batch", metavar="FILE", help='JSON lines {"lang","expect","text","now"}; - for stdin')
    u.add_argument("text", nargs="*", help="the reply")
    u.set_defaults(func=cmd_understand)

    f = sub.add_parser("flows", help="validate and list flow definitions")
    fsub = f.add_subparsers(dest="flows_cmd", required=True)
    fv = fsub.add_parser("validate", help="validate flow files (default: the shipped library)")
    fv.add_argument("paths", nargs="*")
    fl = fsub.add_parser("list", help="list the shipped flows")
    fl.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_flows)

    s = sub.add_parser("simulate", help="run a flow as a text conversation")
    s.add_argument("flow", help="a flow id from the library or a path to a flow file")
    s.add_argument("--lang", choices=("zh", "en"), default=None)
    s.add_argument("--patient", metavar="FILE.json", help='{"patient": {...}, "visit": {...}, "hospital": {...}}')
    s.add_argument("--script", metavar="FILE", help="one reply per line; <silence>, <dtmf:N>, <hangup>")
    s.add_argument("--json", action="store_true")
    s.add_argument("--now", help="ISO 8601 'now' (default: now, hospital time zone)")
    s.add_argument("--agents-available", action="store_true", help="a transfer to a human succeeds")
    s.set_defaults(func=cmd_simulate)

    h = sub.add_parser("hear", help="run a recording through the live-call speech path")
    h.add_argument("--lang", choices=("zh", "en"))
    h.add_argument("--expect", choices=EXPECT_TYPES)
    h.add_argument("--phone", action="store_true", help="simulate an 8 kHz phone line first")
    h.add_argument("--now")
    h.add_argument("--batch", metavar="FILE", help='JSON lines {"lang","expect","audio","now"}')
    h.add_argument("file", nargs="?")
    h.set_defaults(func=cmd_hear)

    c = sub.add_parser("call", help="place one real call through Asterisk to a simulated patient")
    from dialer.call import add_arguments as add_call_arguments

    add_call_arguments(c)
    c.set_defaults(func=cmd_call)

    r = sub.add_parser("run", help="run the campaign engine: claim due call tasks and place the calls")
    from dialer.run import add_arguments as add_run_arguments

    add_run_arguments(r)
    r.set_defaults(func=cmd_run)

    cp = sub.add_parser("campaign", help="create, start, pause, resume, finish and watch campaigns")
    from dialer.campaign_cli import add_arguments as add_campaign_arguments

    add_campaign_arguments(cp)
    cp.set_defaults(func=cmd_campaign)

    im = sub.add_parser("import", help="import patients and visits from a HIS export (CSV/XLSX)")
    from followup.import_cmd import add_arguments as add_import_arguments

    add_import_arguments(im)
    im.set_defaults(func=cmd_import)

    from dialer import jobs_cli

    wk = sub.add_parser("worker", help="run an rq worker (post-call jobs, webhooks, scheduled starts, imports)")
    jobs_cli.add_worker_arguments(wk)
    wk.set_defaults(func=cmd_worker)

    ex = sub.add_parser("export", help="export a campaign's answers as CSV or FHIR R4 QuestionnaireResponses")
    jobs_cli.add_export_arguments(ex)
    ex.set_defaults(func=cmd_export)

    jb = sub.add_parser("jobs", help="scheduled campaign starts, post-call re-runs, job status")
    jobs_cli.add_jobs_arguments(jb)
    jb.set_defaults(func=cmd_jobs)

    d = sub.add_parser("db", help="database maintenance")
    dsub = d.add_subparsers(dest="db_cmd", required=True)
    du = dsub.add_parser("upgrade", help="create or migrate the database to the latest schema")
    du.add_argument("--url", help="SQLAlchemy URL (default: FOLLOWUP_DATABASE_URL or the embedded SQLite)")
    d.set_defaults(func=cmd_db)

    us = sub.add_parser("users", help="console accounts")
    from console.accounts import add_arguments as add_users_arguments

    add_users_arguments(us)
    us.set_defaults(func=cmd_users)

    co = sub.add_parser("console", help="serve the web console (agents, quality, supervisors)")
    from console.server import add_arguments as add_console_arguments

    add_console_arguments(co)
    co.set_defaults(func=cmd_console)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"followup {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
