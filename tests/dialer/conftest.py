"""Fixtures for the dialer tests.

``asterisk`` (session): the project's Asterisk through ``deploy/asterisk.sh start`` (builds it the first
time; FOLLOWUP_* settings in the environment pass through, e.g. FOLLOWUP_ARI_PORT). Left running if it
was running before the session, stopped otherwise. An external Asterisk (FOLLOWUP_ARI_URL) has no
simulated patients we can script, so the live tests are skipped there, with that reason.
``patients``: writes simulated-patient scripts and audio, removed after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dialer_helpers import Asterisk, Patients, run_script


@pytest.fixture(scope="session")
def asterisk() -> Iterator[Asterisk]:
    paths = Asterisk.paths()
    if paths.get("external"):
        pytest.skip("FOLLOWUP_ARI_URL points at an external Asterisk: the live dialer tests need the "
                    "project's simulated patients (deploy/asterisk.sh)")
    if os.geteuid() != 0:
        pytest.skip("deploy/asterisk.sh needs root (debootstrap, chroot)")
    was_running = run_script("status", timeout=30).returncode == 0
    started = run_script("start", timeout=900)
    assert started.returncode == 0, f"deploy/asterisk.sh start failed:\n{started.stdout}\n{started.stderr}"
    yield Asterisk.from_paths(Asterisk.paths())
    if not was_running:
        run_script("stop", timeout=60)


@pytest.fixture
def patients(asterisk: Asterisk) -> Iterator[Patients]:
    p = Patients(asterisk.dirs["scripts"], asterisk.dirs["patient_audio"], asterisk.dirs["patient_recordings"])
    yield p
    p.cleanup()
