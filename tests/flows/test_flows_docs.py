"""docs/flow-format.md stays true: its complete example validates, its fragments fit the schema, and it
names every question type, message key, template field and check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from flows.loader import check_text
from flows.schema import (
    MESSAGE_KEYS,
    QUESTION_TYPES,
    TEMPLATE_FIELDS,
    Alarm,
    Choice,
    IntentPolicy,
    Reprompt,
    Step,
    Text,
)
from flows.source import parse_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "flow-format.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, re.DOTALL)

# What a top-level key of a fragment holds.
FRAGMENT_TYPES: dict[str, Any] = {
    "on_intent": IntentPolicy,
    "messages": dict[str, Text],
    "choices": list[Choice],
    "no_input": Reprompt,
    "no_match": Reprompt,
    "alarm": Alarm,
    "prompt": Text,
}


def test_the_complete_example_is_a_valid_flow() -> None:
    report = check_text(BLOCKS[0], "docs example")
    assert report.errors == [] and report.warnings == []


@pytest.mark.parametrize("block", BLOCKS[1:], ids=[f"block{k}" for k in range(1, len(BLOCKS))])
def test_each_fragment_fits_the_schema(block: str) -> None:
    data, _, issues = parse_yaml(block, "fragment")
    assert issues == []
    if isinstance(data, list):
        TypeAdapter(list[Step]).validate_python(data)
        return
    assert isinstance(data, dict)
    for key, value in data.items():
        assert key in FRAGMENT_TYPES, f"fragment key {key!r}"
        TypeAdapter(FRAGMENT_TYPES[key]).validate_python(value)


def test_the_doc_names_every_type_message_and_field() -> None:
    for name in (*QUESTION_TYPES, *MESSAGE_KEYS):
        assert f"`{name}`" in TEXT, name
    for field in TEMPLATE_FIELDS:
        assert f"{{{field}}}" in TEXT, field
