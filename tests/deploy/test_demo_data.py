"""The demo campaign's data (docs/demo/campaign) stays in step with the importer, the engine's simulated
patients and the flow it runs: every good CSV row has a patient script whose audio exists, the two bad
rows are reported with their lines, and every script is one the simulated patients accept."""

from __future__ import annotations

import csv
from pathlib import Path

from dialer.endpoints import load_scripts
from dialer.simpatient import script_lines
from models import db
from models.imports import import_file
from models.phones import normalize_phone

DEMO = Path(__file__).resolve().parents[2] / "docs" / "demo" / "campaign"


def _attempt_scripts(script: object) -> list[object]:
    return script["attempts"] if isinstance(script, dict) and "attempts" in script else [script]


def test_every_script_is_valid_and_its_audio_exists() -> None:
    scripts, base = load_scripts(DEMO / "scripts")
    assert len(scripts) == 20
    kinds = []
    for phone, script in scripts.items():
        for one in _attempt_scripts(script):
            # raises PatientScriptError on a bad action; audio_name gets every WAV the script speaks
            _lines, kind, sources = script_lines(one, lambda path, i: (f"a{i}", (base / path).resolve()))
            kinds.append(kind)
            assert all(src.is_file() for src in sources), (phone, sources)
    assert {"busy", "no_answer", "voicemail"} <= set(kinds)


def test_the_csv_imports_all_good_rows_and_reports_the_two_bad_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        report = import_file(db.session_factory(engine), DEMO / "patients.csv", campaign_id=None, dry_run=True)
    finally:
        engine.dispose()
    assert report.rows_read == 22
    assert report.rows_imported == 20
    assert sorted({e.line for e in report.errors}) == [7, 14]
    scripts, _ = load_scripts(DEMO / "scripts")
    with (DEMO / "patients.csv").open(encoding="utf-8") as f:
        good = [row for row in csv.DictReader(f) if row["姓名"] and len(row["手机号"]) == 11]
    assert {normalize_phone(row["手机号"]) for row in good} == set(scripts)
