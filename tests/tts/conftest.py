"""Fixtures for the TTS tests; the helpers themselves are in tts_helpers.py."""

from __future__ import annotations

import pytest
from tts_helpers import CountingSynth


@pytest.fixture
def counting() -> CountingSynth:
    return CountingSynth()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "optional_tts: needs an optional TTS venv from deploy/tts.sh (skipped, with a reason, without)"
    )
