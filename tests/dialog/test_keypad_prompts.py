"""The shipped flows' keypad hints say exactly the keys the manager maps (dialog.manager.dtmf_map):
every mapped key is offered, no other key is, and scales run best = highest key (非常满意请按5)."""

from __future__ import annotations

import re

import pytest

from dialog.manager import dtmf_map
from flows.loader import load_library
from flows.schema import CLOSED_TYPES

CLOSED = [
    pytest.param(flow, step, id=f"{flow.id}.{step.id}")
    for flow in load_library()
    for step in flow.questions()
    if step.ask is not None and step.ask.type in CLOSED_TYPES
]


def _keys_said(text: str, lang: str) -> set[str]:
    if lang == "zh":
        return set(re.findall(r"按([0-9*#])", text))
    return set(re.findall(r"(?<![\w.])([0-9*#])(?![\w.])", text))


@pytest.mark.parametrize("flow, step", CLOSED)
def test_keypad_hint_offers_exactly_the_mapped_keys(flow, step):
    keys = set(dtmf_map(step.ask))
    assert keys, "a closed question has keys"
    for lang in flow.languages:
        hint = step.ask.dtmf_prompt.get(lang)
        assert hint, f"no {lang} keypad hint"
        assert _keys_said(hint, lang) == keys, (lang, hint)


@pytest.mark.parametrize("flow, step", [p for p in CLOSED if p.values[1].ask.type == "scale"])
def test_scale_hints_put_the_best_answer_on_the_highest_key(flow, step):
    keys = sorted(int(k) for k in dtmf_map(step.ask))
    zh = step.ask.dtmf_prompt.get("zh") or ""
    en = step.ask.dtmf_prompt.get("en") or ""
    if "非常满意" in zh:
        assert f"非常满意请按{keys[-1]}" in zh and f"非常不满意请按{keys[0]}" in zh
    if "very satisfied" in en:
        assert f"{keys[-1]} for very satisfied" in en and f"{keys[0]} for very dissatisfied" in en
