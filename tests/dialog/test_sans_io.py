"""dialog/ stays sans-IO: no network, database, event loop, files, clock or speech model in its modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DIALOG = Path(__file__).resolve().parents[2] / "dialog"
MODULES = sorted(p for p in DIALOG.glob("*.py"))
FORBIDDEN_IMPORTS = {
    "asyncio", "socket", "ssl", "http", "urllib", "requests", "httpx", "websockets", "aiohttp",
    "sqlalchemy", "psycopg", "redis", "rq", "subprocess", "threading", "os",
    "models", "dialer", "asr", "tts", "console", "followup",
}  # fmt: skip
# Reading the clock or a file is I/O too: the caller passes ``now`` and the flow in.
FORBIDDEN_CALLS = {("datetime", "now"), ("datetime", "today"), ("date", "today"), ("time", "time")}


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not (_imports(tree) & FORBIDDEN_IMPORTS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_clock_or_file_reads(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            assert f.id not in ("open", "input", "print"), f"{path.name}:{node.lineno}: {f.id}()"
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            assert (f.value.id, f.attr) not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno}"


def test_the_dialog_modules_are_all_checked():
    names = {p.name for p in MODULES}
    assert {"manager.py", "state.py", "render.py", "messages.py", "events.py", "actions.py"} <= names
