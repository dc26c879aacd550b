"""Fixtures for the tests of the project-provisioned Asterisk (deploy/asterisk.sh).

The session fixture builds (first time: ~40 s, needs the Debian registry) and starts the real Asterisk
through ``deploy/asterisk.sh start``. If it was already running before the session it is left running;
otherwise it is stopped at the end. ``FOLLOWUP_ARI_URL`` is
removed from the script's environment: these tests are about the provisioned Asterisk, not an external one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_helpers import Asterisk, new_call_id, run_script


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




@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Remember each phase's outcome on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def call_id(asterisk: Asterisk, request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique id for one test call; its files in the shared dirs are removed after a passing test
    (kept after a failure, to look at)."""
    ident = new_call_id()
    yield ident
    report = getattr(request.node, "report_call", None)
    if report is not None and report.passed:
        # MixMonitor finishes (and writes <id>.done) shortly after the hang-up: let it, then clean up
        rec = asterisk.dirs["patient_recordings"]
        deadline = time.monotonic() + 5
        while (rec / f"{ident}.wav").exists() and not (rec / f"{ident}.done").exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for key, d in asterisk.dirs.items():
            if key != "config":
                for f in d.glob(f"*{ident}*"):
                    f.unlink(missing_ok=True)
