"""``followup import FILE [--campaign ID]``: import a HIS patient list (models/imports.py), print a summary
and the rows that failed, with their line numbers.

Exit status: 0 when the good rows were imported (even if some rows failed: the summary says how many and
lists them), 1 when every data row failed, 2 when the file as a whole could not be imported (unreadable,
a required column missing, unknown campaign) — then nothing was written.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import TextIO

SHOWN_ROWS = 50  # error and note lines printed; --errors-csv has them all


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``import`` subcommand's arguments."""
    p.add_argument("file", help="a CSV (UTF-8, GBK/GB18030) or XLSX export of the hospital system")
    p.add_argument("--campaign", type=int, metavar="ID", help="queue call tasks for this campaign")
    p.add_argument("--mapping", metavar="FILE.json", help='column mapping {"header": "field", ...}')
    p.add_argument("--dry-run", action="store_true", help="check and count everything, write nothing")
    p.add_argument("--errors-csv", metavar="OUT.csv", help="write every failed row (and notes) to a CSV")
    p.add_argument("--preview", action="store_true", help="show the headers, the column mapping and 5 rows")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--url", help="SQLAlchemy URL (default: FOLLOWUP_DATABASE_URL or the embedded SQLite)")


class _Progress:
    """Progress lines on stderr for large files: at most one a second, from 10,000 rows on."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = 0.0
        self.shown = False

    def __call__(self, p: object) -> None:
        from models.imports import ImportProgress

        assert isinstance(p, ImportProgress)
        now = time.monotonic()
        if p.rows_done < 10_000 or now - self.last < 1.0:
            return
        self.last = now
        share = f" ({p.fraction:.0%})" if p.fraction is not None else ""
        end = "\r" if self.out.isatty() else "\n"
        self.out.write(f"import: {p.rows_done:,} rows{share}, {p.rate:,.0f} rows/s, {p.errors:,} errors{end}")
        self.out.flush()
        self.shown = True


def write_errors_csv(path: str, errors: list, notes: list) -> None:
    """Every failed row and note as CSV (UTF-8 with BOM, so Excel shows the Chinese text)."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["line", "field", "value", "reason", "kind"])
        rows = [(e, "error") for e in errors] + [(n, "note") for n in notes]
        for item, kind in sorted(rows, key=lambda r: r[0].line):
            out.writerow([item.line, item.field, item.value, item.reason, kind])


def _print_rows(title: str, rows: list, out: TextIO) -> None:
    if not rows:
        return
    print(f"{title}:", file=out)
    for row in rows[:SHOWN_ROWS]:
        print(f"  {row}", file=out)
    if len(rows) > SHOWN_ROWS:
        print(f"  … {len(rows) - SHOWN_ROWS} more (--errors-csv OUT.csv lists them all)", file=out)


def main(args: argparse.Namespace) -> int:
    """Run ``followup import``."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from followup.config import get_settings
    from models import db
    from models.imports import ImportFileError, import_file, load_mapping, preview

    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        if args.preview:
            shown = preview(args.file, mapping, rows=5)
            if args.json:
                print(json.dumps(shown.to_dict(), ensure_ascii=False))
                return 0
            print(f"header on line {shown.header_line}, encoding {shown.encoding or 'xlsx'}")
            for header, target in shown.mapping.items():
                print(f"  {header or '(empty)'} → {target or '(ignored)'}")
            if shown.missing:
                print(f"missing required column(s): {', '.join(shown.missing)}")
            for row in shown.rows:
                print("  | " + " | ".join(row))
            return 2 if shown.missing else 0
        url = args.url or get_settings().resolved_database_url
        engine = db.make_engine(url)
        try:
            progress = _Progress(sys.stderr)
            report = import_file(
                db.session_factory(engine),
                args.file,
                campaign_id=args.campaign,
                mapping=mapping,
                dry_run=args.dry_run,
                progress=progress,
            )
        finally:
            engine.dispose()
    except ImportFileError as exc:
        print(f"followup import: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        print(
            f"followup import: database error: {first} (is the schema there? followup db upgrade)",
            file=sys.stderr,
        )
        return 2
    if progress.shown and sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.errors_csv:
        write_errors_csv(args.errors_csv, report.errors, report.notes)
    failed_lines = len({e.line for e in report.errors})
    if args.json:
        print(report.to_json())
    else:
        _print_summary(report, failed_lines, sys.stdout)
    if report.rows_read and report.rows_imported == 0 and failed_lines:
        return 1
    return 0


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _print_summary(report: object, failed_lines: int, out: TextIO) -> None:
    from models.imports import ImportReport

    assert isinstance(report, ImportReport)
    r = report
    where = f"{r.encoding}, " if r.encoding else ""
    print(f"{r.path} ({where}header on line {r.header_line}): {_n(r.rows_read, 'data row')}", file=out)
    if r.dry_run:
        print("  DRY RUN: nothing was written; the figures say what an import would do", file=out)
    print(
        f"  imported {_n(r.rows_imported, 'row')}: patients {r.patients_created} created, "
        f"{r.patients_updated} updated; visits {r.visits_created} created, {r.visits_updated} updated",
        file=out,
    )
    if r.campaign_id is not None:
        extra = [f"{r.tasks_existing} already queued"] if r.tasks_existing else []
        for count, what in (
            (r.tasks_filtered, "outside the campaign's department/visit kind"),
            (r.skipped_do_not_call, "on the do-not-call list"),
            (r.skipped_deceased, "deceased"),
            (r.tasks_superseded, "overdue offsets superseded by a later one"),
        ):
            if count:
                extra.append(f"{count} {what}")
        print(
            f"  call tasks for campaign {r.campaign_id}: {r.tasks_created} created"
            + (f" ({'; '.join(extra)})" if extra else ""),
            file=out,
        )
    if r.duplicates:
        print(f"  {_n(r.duplicates, 'duplicate row')} imported once", file=out)
    if r.blank_rows:
        print(f"  {_n(r.blank_rows, 'blank row')} skipped", file=out)
    if failed_lines:
        print(
            f"  {_n(failed_lines, 'row')} FAILED and not imported (listed below); the good rows were imported. "
            "Fix the rows and import the file again: nothing is imported twice.",
            file=out,
        )
    _print_rows("failed rows", r.errors, out)
    _print_rows("notes", r.notes, out)
    print(f"took {r.elapsed_s:.1f} s ({r.rows_per_s:,.0f} rows/s)", file=out)
