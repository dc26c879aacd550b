"""Fixtures for the tests of the project-provisioned Asterisk (deploy/asterisk.sh).

The session fixture builds (first time: ~40 s, needs the Debian registry) and starts the real Asterisk
through ``deploy/asterisk.sh start``. If it was already running before the session it is left running
(restarted at the end if a test stopped it); otherwise it is stopped at the end. ``FOLLOWUP_ARI_URL`` is
removed from the script's environment: these tests are about the provisioned Asterisk, not an external one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_helpers import Asterisk, run_script


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Asterisk]:
    if os.geteuid() != 0:
        pytest.skip("deploy/asterisk.sh needs root (debootstrap, chroot)")
    was_running = run_script("status", timeout=30).returncode == 0
    started = run_script("start", timeout=900)
    assert started.returncode == 0, f"deploy/asterisk.sh start failed:\n{started.stdout}\n{started.stderr}"
    if "restart" in started.stderr:  # running with an older rendering of the templates: apply the current one
        started = run_script("restart", timeout=120)
        assert started.returncode == 0, f"deploy/asterisk.sh restart failed:\n{started.stderr}"
    paths = json.loads(run_script("paths", timeout=30).stdout)
    yield Asterisk(
        ari_url=paths["ari_url"], user=paths["ari_user"], password=paths["ari_password"],
        root=Path(paths["root"]), pid_file=Path(paths["pid_file"]),
        dirs={k: Path(v["host"]) for k, v in paths["dirs"].items()},
        inner={k: v["asterisk"] for k, v in paths["dirs"].items()},
    )
    running = run_script("status", timeout=30).returncode == 0
    if was_running and not running:
        run_script("start", timeout=120)
    elif not was_running and running:
        run_script("stop", timeout=60)


