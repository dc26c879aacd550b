"""``followup flows validate`` and ``followup flows list``: the flow commands, as plain functions.

The lead's ``followup/cli.py`` parses the arguments and calls these; they print to stdout (problems of
``list`` to stderr, so its JSON stays clean) and return the exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flows.errors import FlowIssue
from flows.loader import FLOW_SUFFIXES, check_file, describe, flow_files, library_dir, load_flows


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter, clickable in an editor)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _expand(paths: list[str]) -> list[str]:
    """Files as given; a folder stands for its flow files. No paths: the library."""
    if not paths:
        return [_shown(p) for p in flow_files(library_dir())]
    files: list[str] = []
    for p in paths:
        if Path(p).is_dir():
            files += [str(Path(p) / f.name) for f in flow_files(p)]
        else:
            files.append(p)
    return files


def cmd_validate(paths: list[str]) -> int:
    """Check flow files (default: the whole library): ``ok  path`` per good file, ``file:line: reason`` per
    error, ``file:line: warning: reason`` per warning. Exit code 1 when any file has an error."""
    failed = False
    owner: dict[str, str] = {}
    files = _expand(paths)
    if not files:
        print(f"no flow files ({', '.join(FLOW_SUFFIXES)}) found")
        return 1
    for file in files:
        report = check_file(file)
        errors = list(report.errors)
        if report.flow is not None:
            if report.flow.id in owner:
                errors.append(
                    FlowIssue(
                        file, 1, f"flow id '{report.flow.id}' is already used by {owner[report.flow.id]}"
                    )
                )
            owner.setdefault(report.flow.id, file)
        for issue in errors:
            print(issue)
        for warning in report.warnings:
            print(f"{warning.file}:{warning.line}: warning: {warning.reason}")
        if errors:
            failed = True
        else:
            print(f"ok  {file}")
    return 1 if failed else 0


def cmd_list(as_json: bool) -> int:
    """List the library's flows (``describe`` of each, sorted by id); a broken file is reported on stderr
    and makes the exit code 1, the others are still listed."""
    flows, errors = load_flows(_shown(p) for p in flow_files(library_dir()))
    rows = [describe(f) for f in sorted(flows, key=lambda f: f.id)]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        width = max((len(r["id"]) for r in rows), default=2)
        for r in rows:
            print(
                f"{r['id']:<{width}}  {','.join(r['languages']):<5}  {r['questions']:>2} questions  {r['title']}"
            )
    for issue in errors:
        print(issue, file=sys.stderr)
    return 1 if errors else 0
