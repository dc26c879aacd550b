"""Fixtures for the dialog tests (helpers live in dialog_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dialog_helpers import Call

from flows.schema import Flow


@pytest.fixture
def call() -> Callable[..., Call]:
    """``call("basic", "zh")``: a started Call on a test flow."""

    def make(flow: Flow | str, lang: str = "zh", **kw: Any) -> Call:
        c = Call(flow, lang, **kw)
        c.start()
        return c

    return make
