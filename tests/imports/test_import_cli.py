"""``followup import``: summary and failed rows with line numbers, masked phones, exit status, errors CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from followup.cli import main

DATA = Path(__file__).parent / "data"


def url_of(database_url: URL) -> str:
    return database_url.render_as_string(hide_password=False)


def test_import_prints_summary_and_failed_rows(
    database_url: URL,
    factory: object,
    make_campaign: Callable[..., int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    campaign = make_campaign(days_after_discharge=[3])
    errors_csv = tmp_path / "errors.csv"
    code = main(
        [
            "import",
            str(DATA / "malformed.csv"),
            "--campaign",
            str(campaign),
            "--url",
            url_of(database_url),
            "--errors-csv",
            str(errors_csv),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0  # good rows imported although some failed
    assert "imported 3 rows" in out
    assert "7 rows FAILED and not imported" in out
    assert "line 4: phone (***2345): too short (5 digits)" in out
    assert "line 8: row: expected 11 columns, got 4" in out
    assert "line 10: visit_id (ZY001): duplicate: the same visit as line 2; imported once" in out
    assert f"call tasks for campaign {campaign}: 3 created" in out
    for full in ("13800138000", "13900139001", "13700137004", "88888888"):
        assert full not in out  # phones only masked
    with errors_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["field"], r["kind"]) for r in rows][:3] == [
        ("4", "phone", "error"),
        ("5", "name", "error"),
        ("6", "discharge_date", "error"),
    ]
    assert sum(r["kind"] == "error" for r in rows) == 8  # line 9 has two
    assert any(r["kind"] == "note" and r["line"] == "10" for r in rows)


def test_import_json_and_dry_run(
    database_url: URL, factory: object, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", str(DATA / "gbk.csv"), "--dry-run", "--json", "--url", url_of(database_url)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["dry_run"] is True and report["patients_created"] == 3 and report["encoding"] == "gb18030"
    assert report["errors"] == [
        {
            "line": 5,
            "field": "phone",
            "value": "******3810",
            "reason": "a Chinese mobile number has 11 digits, this has 10",
        }
    ]


def test_file_level_errors_exit_2(
    database_url: URL, factory: object, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["import", str(DATA / "missing_columns.csv"), "--url", url_of(database_url)])
    err = capsys.readouterr().err
    assert code == 2
    assert "required column(s) missing: phone" in err and "headers found: '姓名'" in err
    assert main(["import", str(DATA / "nope.csv"), "--url", url_of(database_url)]) == 2


def test_every_row_failing_exits_1(
    database_url: URL, factory: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("姓名,手机号\n王小明,123\n")
    assert main(["import", str(path), "--url", url_of(database_url)]) == 1
    assert "line 2: phone (***123): too short (3 digits)" in capsys.readouterr().out


def test_preview_with_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "import",
            str(DATA / "custom_headers.csv"),
            "--preview",
            "--mapping",
            str(DATA / "custom_mapping.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "家属电话 → phone" in out and "备用电话 → (ignored)" in out
    assert "13900139301" not in out and "*******9301" in out


def test_a_database_without_the_schema_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", str(DATA / "gbk.csv"), "--url", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert code == 2
    assert "followup db upgrade" in capsys.readouterr().err
