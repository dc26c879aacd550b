"""``followup flows validate`` / ``followup flows list`` as functions: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import cmd_list, cmd_validate
from flows.loader import flow_files, library_dir

HERE = Path(__file__).parent
VALID = HERE / "valid"
BROKEN = HERE / "broken"


def test_validate_good_files_prints_ok_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_validate([str(VALID / "minimal.yaml"), str(VALID / "full.yaml")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok  {VALID / 'minimal.yaml'}",
        f"ok  {VALID / 'full.yaml'}",
    ]


def test_validate_a_folder_checks_its_flow_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_validate([str(VALID)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok  {VALID / 'full.yaml'}",
        f"ok  {VALID / 'minimal.yaml'}",
    ]


def test_validate_prints_file_line_reason_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    broken = str(BROKEN / "unknown_next.yaml")
    assert cmd_validate([str(VALID / "minimal.yaml"), broken, "missing.yaml"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"ok  {VALID / 'minimal.yaml'}"
    assert out[1].startswith(f"{broken}:16: next 'by' of step 'q'")
    assert out[2].startswith(f"{broken}:17: step 'bye' is unreachable")
    assert out[3] == "missing.yaml: no such file"
    assert len(out) == 4


def test_validate_prints_warnings_without_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        (VALID / "minimal.yaml")
        .read_text(encoding="utf-8")
        .replace("    end: {}", "    end: {prompt: {zh: 再见, en: Bye, audio: {en: bye.wav}}}")
    )
    path = tmp_path / "w.yaml"
    path.write_text(text, encoding="utf-8")
    assert cmd_validate([str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:16: warning: audio file 'bye.wav' not found")
    assert out[1] == f"ok  {path}"


def test_validate_flags_the_same_id_in_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text((VALID / "minimal.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert cmd_validate([str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"ok  {tmp_path / 'a.yaml'}",
        f"{tmp_path / 'b.yaml'}:1: flow id 'minimal' is already used by {tmp_path / 'a.yaml'}",
    ]


def test_validate_without_paths_checks_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    code = cmd_validate([])
    out = capsys.readouterr().out.splitlines()
    names = [p.name for p in flow_files(library_dir())]
    assert code == 0
    assert [Path(line.removeprefix("ok  ")).name for line in out] == names


def test_validate_an_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_validate([str(tmp_path)]) == 1
    assert "no flow files" in capsys.readouterr().out


def test_list_json_describes_every_library_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_list(as_json=True) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(flow_files(library_dir()))
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    for r in rows:
        assert {"id", "title", "titles", "languages", "questions", "path"} <= set(r)
        assert r["title"] == r["titles"]["zh"]
        assert r["questions"] >= 1
        assert Path(r["path"]).is_file()


def test_list_text_has_one_line_per_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_list(as_json=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(flow_files(library_dir()))
    assert all(" questions  " in line for line in lines)
