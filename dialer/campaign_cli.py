"""``followup campaign create|start|pause|resume|finish|status|list``: the command-line face of
``dialer.campaigns``. Thin: parse, call the service, print. Bad input raises ValueError naming the field;
``followup.cli.main`` turns it into ``followup campaign: error: …`` and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dialer.windows import PRESETS

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``campaign`` subcommands on parser ``p``."""
    p.add_argument("--url", help="SQLAlchemy URL (default: FOLLOWUP_DATABASE_URL or the embedded SQLite)")
    sub = p.add_subparsers(dest="campaign_cmd", required=True)

    c = sub.add_parser("create", help="create a campaign (status draft); prints its id")
    c.add_argument("--name", required=True)
    c.add_argument("--flow", required=True, help="a flow id from the library (followup flows list)")
    c.add_argument(
        "--lang",
        choices=("zh", "en", "patient"),
        default="patient",
        help="call language; patient (default): each patient's own",
    )
    c.add_argument(
        "--windows",
        default="default",
        help=f"calling windows: a preset ({', '.join(PRESETS)}) or JSON "
        '{"mon": [["09:00", "11:30"]], ...} (default: default)',
    )
    c.add_argument("--tz", default=None, help="IANA time zone of the windows (default: FOLLOWUP_TIMEZONE)")
    c.add_argument("--start", help="first calling day, YYYY-MM-DD")
    c.add_argument("--end", help="last calling day, YYYY-MM-DD")
    c.add_argument("--concurrency", type=_int_arg("concurrency"), default=10, help="max concurrent calls")
    c.add_argument("--priority", type=_int_arg("priority"), default=0, help="higher first (default 0)")
    c.add_argument("--max-attempts", type=_int_arg("max-attempts"), default=3)
    c.add_argument("--retry", help='retry policy JSON, e.g. {"busy": {"max": 3, "intervals_min": [10, 30]}}')
    c.add_argument("--caller-id")
    c.add_argument("--days-after-discharge", help="day offsets that create tasks, e.g. 3,7,30")
    c.add_argument("--department", help="only visits of this department")
    c.add_argument("--visit-kind", help="only visits of this kind (outpatient, inpatient, checkup, surgery)")
    c.add_argument("--description")
    c.add_argument("--json", action="store_true", help="print the campaign as JSON")

    for name, text in (
        ("start", "start (or restart) dialling"),
        ("pause", "stop claiming new calls"),
        ("resume", "resume a paused campaign"),
        ("finish", "finish: cancel the tasks left"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("id", type=_int_arg("id"))
        if name in ("pause", "finish", "resume"):
            s.add_argument("--reason", help="why (shown in status)")
        s.add_argument("--json", action="store_true")

    st = sub.add_parser("status", help="progress of a campaign; --watch refreshes until it finishes")
    st.add_argument("id", type=_int_arg("id"))
    st.add_argument(
        "--watch",
        nargs="?",
        type=_float_arg("watch"),
        const=2.0,
        default=None,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until the campaign is settled or Ctrl-C",
    )
    st.add_argument("--json", action="store_true", help="JSON (one object per refresh with --watch)")

    rp = sub.add_parser("report", help="one row per patient: attempts, outcome, answers, escalations")
    rp.add_argument("id", type=_int_arg("id"))
    rp.add_argument("--lang", choices=("zh", "en"), default="zh", help="table headings (default zh)")
    rp.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", help="every campaign")
    ls.add_argument("--json", action="store_true")


def _int_arg(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer, got {text!r}") from None

    return parse


def _float_arg(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected seconds, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name}: expected seconds > 0, got {text!r}")
        return value

    return parse


def _json_arg(name: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: not JSON ({exc.msg} at column {exc.colno})") from None


def _days(text: str | None) -> list[int] | None:
    if text is None:
        return None
    days = []
    for part in text.replace("，", ",").split(","):
        part = part.strip().removeprefix("T+").removeprefix("t+")
        if not part:
            continue
        try:
            days.append(int(part))
        except ValueError:
            raise ValueError(
                f"days-after-discharge: {part!r} is not a whole number of days (e.g. 3,7,30)"
            ) from None
    if not days:
        raise ValueError("days-after-discharge: no day offsets given (e.g. 3,7,30)")
    return days


@contextmanager
def _session(url: str | None) -> Iterator[Session]:
    from followup.config import get_settings
    from models import db

    target = url or get_settings().resolved_database_url
    engine = db.make_engine(target)
    try:
        if db.current_revision(engine) is None:  # a fresh database (first run): create the schema
            db.upgrade(engine)
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _out(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    out.flush()


def _campaign_json(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "flow_id": c.flow_id,
        "language": c.language,
        "status": c.status,
        "status_reason": c.status_reason,
        "timezone": c.timezone,
        "calling_windows": c.calling_windows,
        "start_date": c.start_date.isoformat() if c.start_date else None,
        "end_date": c.end_date.isoformat() if c.end_date else None,
        "max_concurrent_calls": c.max_concurrent_calls,
        "priority": c.priority,
        "max_attempts": c.max_attempts,
        "retry_policy": c.retry_policy,
        "caller_id": c.caller_id,
        "days_after_discharge": c.days_after_discharge,
        "department": c.department,
        "visit_kind": c.visit_kind,
    }


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one ``followup campaign`` subcommand (printing to ``out``, default stdout)."""
    from dialer import campaigns

    out = out or sys.stdout

    cmd = args.campaign_cmd
    with _session(args.url) as session:
        if cmd == "create":
            from followup.config import get_settings

            c = campaigns.create_campaign(
                session,
                name=args.name,
                flow_id=args.flow,
                language=None if args.lang == "patient" else args.lang,
                windows=args.windows,
                timezone=args.tz or get_settings().timezone,
                start_date=args.start,
                end_date=args.end,
                max_concurrent_calls=args.concurrency,
                priority=args.priority,
                max_attempts=args.max_attempts,
                retry_policy=_json_arg("retry", args.retry),
                caller_id=args.caller_id,
                days_after_discharge=_days(args.days_after_discharge),
                department=args.department,
                visit_kind=args.visit_kind,
                description=args.description,
            )
            if args.json:
                _out(_campaign_json(c), out)
            else:
                out.write(f"{c.id}\n")
            return 0
        if cmd in ("start", "pause", "resume", "finish"):
            kwargs = {"reason": args.reason} if getattr(args, "reason", None) else {}
            c = getattr(campaigns, cmd)(session, args.id, **kwargs)
            if args.json:
                _out(_campaign_json(c), out)
            else:
                why = f" ({c.status_reason})" if c.status_reason else ""
                out.write(f"campaign {c.id} {c.name}: {c.status}{why}\n")
            return 0
        if cmd == "list":
            rows = campaigns.list_campaigns(session)
            if args.json:
                _out([_campaign_json(c) for c in rows], out)
            else:
                for c in rows:
                    out.write(f"{c.id:>5}  {c.status:<9} {c.flow_id:<24} {c.name}\n")
            return 0
        if cmd == "status":
            return _status(session, args, out)
        if cmd == "report":
            from dialer.campaign_report import campaign_report, render_report

            campaigns.get_campaign(session, args.id)  # a clear error for an unknown id
            rows = campaign_report(session, args.id)
            if args.json:
                _out([r.to_json() for r in rows], out)
            else:
                out.write(render_report(rows, args.lang) + "\n")
            return 0
    raise ValueError(f"unknown campaign command {cmd!r}")


def _status(session: Session, args: argparse.Namespace, out: TextIO) -> int:
    from dialer import campaigns

    campaign = campaigns.get_campaign(session, args.id)
    tz = ZoneInfo(campaign.timezone)
    tty = out.isatty() and not args.json
    try:
        while True:
            st = campaigns.status(session, args.id)
            if args.json:
                _out(st.to_json(), out)
            elif tty and args.watch is not None:
                out.write(
                    "\x1b[H\x1b[2J"
                    + render_table(st, tz)
                    + f"\n(refresh every {args.watch:g} s, Ctrl-C to stop)\n"
                )
                out.flush()
            elif args.watch is not None:
                out.write(render_line(st) + "\n")
                out.flush()
            else:
                out.write(render_table(st, tz) + "\n")
            if args.watch is None or st.settled:
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def render_table(st: Any, tz: ZoneInfo) -> str:
    """A campaign's status as a small text table (the TTY view)."""
    by = st.by_status
    when = st.next_due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if st.next_due_at else "–"
    why = f"  ({st.status_reason})" if st.status_reason else ""
    lines = [
        f"campaign {st.id}  {st.name}  [{st.flow_id}]  {st.status}{why}",
        (
            f"  tasks       {st.tasks:>7}   pending {by['pending']}  leased {by['leased']}  in progress "
            f"{by['in_progress']}  done {by['done']}  failed {by['failed']}  cancelled {by['cancelled']}"
        ),
        (
            f"  attempts    {st.attempts:>7}   answered {st.answered_attempts} ({_pct(st.answer_rate)})"
            f"  engine lost {st.engine_lost_attempts}"
        ),
        f"  completed   {st.completed_tasks:>7}   ({_pct(st.completion_rate)} of tasks)",
        f"  escalations {st.escalations:>7}",
        f"  live calls  {st.live_calls:>7}",
        f"  next due    {when}",
    ]
    if st.by_last_outcome:
        outcomes = "  ".join(f"{k} {v}" for k, v in sorted(st.by_last_outcome.items(), key=lambda kv: -kv[1]))
        lines.append(f"  last outcome {outcomes}")
    return "\n".join(lines)


def render_line(st: Any) -> str:
    """A campaign's status on one line (the non-TTY ``--watch`` view, one line per refresh)."""
    by = st.by_status
    stamp = datetime.now().astimezone().strftime("%H:%M:%S")
    return (
        f"{stamp} campaign {st.id} {st.status}: pending {by['pending']} leased {by['leased']} "
        f"in_progress {by['in_progress']} done {by['done']} failed {by['failed']} cancelled {by['cancelled']}"
        f" | attempts {st.attempts} answered {_pct(st.answer_rate)} completed {st.completed_tasks}"
        f" escalations {st.escalations}"
    )
