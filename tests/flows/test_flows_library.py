"""Every shipped flow in flows/library validates: no errors, no warnings, unique ids, findable by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.loader import check_file, find_flow, flow_files, library_dir, load_library

LIBRARY = flow_files(library_dir())


def test_the_library_has_flows() -> None:
    assert LIBRARY, f"no flow files in {library_dir()}"


@pytest.mark.parametrize("path", LIBRARY, ids=[p.name for p in LIBRARY])
def test_library_flow_is_valid(path: Path) -> None:
    report = check_file(path)
    assert report.errors == [], "\n".join(map(str, report.errors))
    assert report.warnings == [], "\n".join(map(str, report.warnings))


def test_library_loads_sorted_with_unique_ids_and_each_is_found_by_id() -> None:
    flows = load_library()
    ids = [f.id for f in flows]
    assert ids == sorted(set(ids))
    assert len(flows) == len(LIBRARY)
    for flow in flows:
        assert find_flow(flow.id) is flow
        assert set(flow.languages) == {"zh", "en"}  # shipped flows speak Mandarin and English
