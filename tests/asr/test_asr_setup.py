"""deploy/models.sh: idempotent, verifiable; the marker is what the recogniser trusts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "models.sh"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_rerun_is_a_no_op(whisper_dir):
    before = (whisper_dir / "model.bin").stat().st_mtime_ns
    env = {**os.environ, "FOLLOWUP_CACHE_DIR": str(whisper_dir.parent.parent)}
    r = _run(env=env)
    assert r.returncode == 0, r.stderr
    assert "ready" in r.stderr and "downloading" not in r.stderr
    assert (whisper_dir / "model.bin").stat().st_mtime_ns == before


def test_verify_checks_the_hash(whisper_dir):
    env = {**os.environ, "FOLLOWUP_CACHE_DIR": str(whisper_dir.parent.parent)}
    r = _run("--verify", env=env)
    assert r.returncode == 0, r.stderr
    assert "verifying" in r.stderr


def test_unknown_option_is_a_usage_error():
    r = _run("--bogus")
    assert r.returncode == 2 and "usage" in r.stderr
