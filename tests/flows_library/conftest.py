"""Fixtures of the end-to-end tests of the shipped flows (the helpers live in flows_library_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flows_library_helpers import NOW, patient_context


@pytest.fixture
def simulate() -> Callable[[str, str, list[str]], dict[str, Any]]:
    """Run a library flow by id in ``lang`` with the flow's patient and the fixed clock."""
    from flows.loader import find_flow
    from followup.simulate import run_simulation

    def run(flow_id: str, lang: str, replies: list[str]) -> dict[str, Any]:
        return run_simulation(find_flow(flow_id), lang, patient_context(flow_id, lang), replies, now=NOW)

    return run
