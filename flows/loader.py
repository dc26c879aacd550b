"""Loading flow files: YAML → ``flows.schema.Flow`` → the checks of ``flows.validate``, errors with file:line.

    flow = load_flow("flows/library/discharge_followup.yaml")   # raises FlowError
    flows = load_library()                                       # every flow in flows/library, by id
    flow = find_flow("discharge_followup")                       # an id from the library, or a path

A file is read once per modification: results are cached by (path, mtime, size), so the dialer can call
``find_flow`` per call without re-parsing. ``check_file`` never raises and also returns the warnings (a
missing recording); the CLI uses it to print everything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flows.errors import FlowError, FlowIssue, FlowNotFound, sort_issues
from flows.schema import Flow
from flows.schema_errors import explain
from flows.source import LineMap, parse_yaml
from flows.validate import check_flow

FLOW_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


@dataclass(frozen=True)
class FlowReport:
    """The outcome of reading one file: the flow (None when it has errors), its errors and warnings."""

    file: str
    flow: Flow | None
    errors: list[FlowIssue] = field(default_factory=list)
    warnings: list[FlowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def library_dir() -> Path:
    """The folder of the shipped flows: ``flows/library``."""
    return Path(__file__).resolve().parent / "library"


def _read(text: str, file: str) -> tuple[Flow | None, LineMap | None, list[FlowIssue]]:
    """YAML text → (flow or None, its line map, the issues found reading it and checking its shape)."""
    try:
        data, lines, issues = parse_yaml(text, file)
    except FlowError as exc:
        return None, None, exc.issues
    if not isinstance(data, dict):
        reason = (
            f"a flow file is a mapping of keys (id, title, languages, steps, ...), not {type(data).__name__}"
        )
        return None, lines, [*issues, FlowIssue(file, lines.line(()), reason)]
    try:
        return Flow.model_validate(data), lines, issues
    except ValidationError as exc:
        return None, lines, issues + explain(exc, lines)


def parse_flow_text(text: str, file: str = "<text>") -> tuple[Flow, LineMap]:
    """YAML text → ``(Flow, LineMap)`` without the cross-step checks of ``flows.validate``.

    Raises ``FlowError`` for a syntax error, a key given twice, or a shape the schema rejects. For running
    single checks (``flows.validate.check_*``) on a flow written inline, as the tests do.
    """
    flow, lines, issues = _read(text, file)
    if flow is None or lines is None or issues:
        raise FlowError(issues)
    return flow, lines


def check_text(text: str, file: str, path: Path | None = None) -> FlowReport:
    """Read and fully check flow YAML ``text``; ``file`` is the name used in issues, ``path`` the file
    itself (recorded as ``flow.path``; recorded audio is looked up next to it)."""
    flow, lines, issues = _read(text, file)
    if flow is None or lines is None:
        return FlowReport(file, None, sort_issues(issues))
    if path is not None:
        flow._path = path  # a private attribute: allowed on a frozen model
    errors, warnings = check_flow(flow, lines)
    errors = sort_issues(issues + errors)
    return FlowReport(file, None if errors else flow, errors, warnings)


_cache: dict[Path, tuple[tuple[int, int], FlowReport]] = {}
_cache_lock = threading.Lock()


def check_file(path: str | os.PathLike[str]) -> FlowReport:
    """Read and check one flow file; never raises. Cached by (resolved path, mtime, size)."""
    shown = str(path)
    real = Path(path).resolve()
    try:
        st = real.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with _cache_lock:
            hit = _cache.get(real)
        if hit is not None and hit[0] == stamp:
            return hit[1] if hit[1].file == shown else _relabel(hit[1], shown)
        text = real.read_text(encoding="utf-8-sig")  # -sig: editors on Windows add a BOM
    except FileNotFoundError:
        return FlowReport(shown, None, [FlowIssue(shown, 0, "no such file")])
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        return FlowReport(shown, None, [FlowIssue(shown, line, "not UTF-8 text; save the file as UTF-8")])
    except OSError as exc:
        return FlowReport(shown, None, [FlowIssue(shown, 0, f"cannot read: {exc.strerror or exc}")])
    report = check_text(text, shown, real)
    with _cache_lock:
        _cache[real] = (stamp, report)
    return report


def _relabel(report: FlowReport, shown: str) -> FlowReport:
    """The same report (the same Flow object) with its issues naming the file as ``shown``."""
    return replace(
        report,
        file=shown,
        errors=[replace(i, file=shown) for i in report.errors],
        warnings=[replace(i, file=shown) for i in report.warnings],
    )


def clear_cache() -> None:
    """Forget every parsed file (tests; a reload after editing happens by itself through the mtime)."""
    with _cache_lock:
        _cache.clear()


def load_flow(path: str | os.PathLike[str]) -> Flow:
    """The flow in ``path``; raises ``FlowError`` (with every error and warning) when it has errors."""
    report = check_file(path)
    if report.flow is None:
        raise FlowError(report.errors, report.warnings)
    return report.flow


def load_flows(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Flow], list[FlowIssue]]:
    """Load several files: ``(the flows that loaded, the errors of the others)``.

    Two files with the same flow id are an error on the second one.
    """
    flows: list[Flow] = []
    errors: list[FlowIssue] = []
    seen: dict[str, str] = {}
    for p in paths:
        report = check_file(p)
        errors += report.errors
        flow = report.flow
        if flow is None:
            continue
        if flow.id in seen:
            errors.append(
                FlowIssue(report.file, 1, f"flow id '{flow.id}' is already used by {seen[flow.id]}")
            )
            continue
        seen[flow.id] = report.file
        flows.append(flow)
    return flows, sort_issues(errors)


def flow_files(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """The flow files of ``folder`` (default: the library), sorted by name."""
    root = Path(folder) if folder is not None else library_dir()
    return sorted(p for p in root.iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file())


def load_library(folder: str | os.PathLike[str] | None = None) -> list[Flow]:
    """Every flow of the library (or of ``folder``), sorted by id; raises ``FlowError`` if any is broken."""
    flows, errors = load_flows(flow_files(folder))
    if errors:
        raise FlowError(errors)
    return sorted(flows, key=lambda f: f.id)


def find_flow(id_or_path: str | os.PathLike[str], folder: str | os.PathLike[str] | None = None) -> Flow:
    """A flow by library id (``discharge_followup``) or by file path.

    A flow file in the library that is broken does not hide the others; asking for the broken one raises
    its ``FlowError``. Raises ``FlowNotFound`` for an unknown id.
    """
    text = os.fspath(id_or_path)
    if Path(text).suffix in FLOW_SUFFIXES or os.sep in text or "/" in text or Path(text).is_file():
        return load_flow(text)
    broken: list[FlowReport] = []
    for p in flow_files(folder):
        report = check_file(p)
        if report.flow is not None and report.flow.id == text:
            return report.flow
        if report.flow is None:
            if p.stem == text:
                raise FlowError(report.errors, report.warnings)
            broken.append(report)
    known = sorted(r.flow.id for r in map(check_file, flow_files(folder)) if r.flow is not None)
    hint = (
        f"; {len(broken)} library file(s) failed to load: {', '.join(r.file for r in broken)}"
        if broken
        else ""
    )
    raise FlowNotFound(f"no flow '{text}' in the library (known: {', '.join(known) or 'none'}){hint}")


def describe(flow: Flow) -> dict[str, Any]:
    """A flow in a few facts, for ``followup flows list --json`` and the console's flow picker."""
    titles = {lang: t for lang in ("zh", "en") if (t := flow.title.get(lang))}
    first = next((titles[lang] for lang in flow.languages if lang in titles), None)
    return {
        "id": flow.id,
        "title": titles.get("zh") or first or next(iter(titles.values()), flow.id),
        "titles": titles,
        "description": {
            lang: d for lang in ("zh", "en") if flow.description and (d := flow.description.get(lang))
        },
        "version": flow.version,
        "languages": list(flow.languages),
        "questions": len(flow.questions()),
        "question_ids": [s.id for s in flow.questions()],
        "steps": len(flow.steps),
        "path": str(flow.path) if flow.path is not None else None,
    }


def audio_file(flow: Flow, relative: str) -> Path:
    """Where a recorded audio path of ``flow`` points: relative to the flow file's folder."""
    base = flow.path.parent if flow.path is not None else Path.cwd()
    return base / relative
