"""Shared fixtures for the speech tests: the real Whisper model (set up by deploy/models.sh when missing),
the synthetic speech fixtures, and small signal generators."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from asr.models import ModelMissing, whisper_model_dir

ROOT = Path(__file__).resolve().parents[2]
# The development fixtures live in the shared folder beside the clone (CI copies shared/ there too).
FIXTURE_CANDIDATES = (
    ROOT / "tests" / "fixtures" / "speech",
    ROOT.parent / "shared" / "fixtures" / "speech",
    Path("/work/shared/fixtures/speech"),
)


def _cache_dir() -> str:
    from followup.config import get_settings

    return get_settings().cache_dir


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    for d in FIXTURE_CANDIDATES:
        if (d / "manifest.tsv").is_file():
            return d
    pytest.fail(f"speech fixtures not found in any of {[str(d) for d in FIXTURE_CANDIDATES]}")


@pytest.fixture(scope="session")
def manifest(fixtures_dir: Path) -> dict[str, dict[str, str]]:
    with open(fixtures_dir / "manifest.tsv", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    """The joined Whisper base; runs the set-up script once if it is missing (a failure fails the tests)."""
    try:
        return whisper_model_dir(None, _cache_dir())
    except ModelMissing:
        subprocess.run([str(ROOT / "deploy" / "models.sh")], check=True, cwd=ROOT)
        return whisper_model_dir(None, _cache_dir())


@pytest.fixture(scope="session")
def recognizer(whisper_dir: Path):  # type: ignore[no-untyped-def]
    from asr.whisper import WhisperRecognizer

    return WhisperRecognizer(whisper_dir, workers=2)

