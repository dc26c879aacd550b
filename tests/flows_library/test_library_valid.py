"""Every shipped flow loads through the real loader and validator with no errors and no warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.loader import check_file, flow_files, library_dir, load_flow, load_library

EXPECTED_IDS = {
    "checkup_satisfaction",
    "diabetes",
    "discharge_general",
    "hypertension",
    "inpatient_satisfaction",
    "outpatient_satisfaction",
    "picc_care",
    "post_op",
    "post_stent",
}

FILES = flow_files()


def test_library_has_every_shipped_flow() -> None:
    flows = load_library()
    assert {f.id for f in flows} == EXPECTED_IDS


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_flow_file_validates_cleanly(path: Path) -> None:
    report = check_file(path)
    assert report.errors == [], "\n".join(str(i) for i in report.errors)
    assert report.warnings == [], "\n".join(str(i) for i in report.warnings)
    flow = load_flow(path)
    # One flow per file, named after its id, so `followup simulate <id>` and the file agree.
    assert flow.id == path.stem


def test_library_folder_is_the_shipped_one() -> None:
    assert {p.stem for p in FILES} == EXPECTED_IDS
    assert all(p.parent == library_dir() for p in FILES)
