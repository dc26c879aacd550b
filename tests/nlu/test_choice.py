"""Single and multiple choice against the expectation's options."""

import pytest
from corpus_support import CHOICE_SETS

from dialog.nlu.choice import parse_multi_choice, parse_single_choice
from dialog.nlu.expectation import Expectation
from dialog.nlu.normalize import normalize

TRANSPORT = Expectation("single_choice", choices=CHOICE_SETS["transport"])
SAT = Expectation("single_choice", choices=CHOICE_SETS["sat3"])
SYMPTOMS = Expectation("multi_choice", choices=CHOICE_SETS["symptoms"])


@pytest.mark.parametrize(
    "exp, text, want",
    [
        (TRANSPORT, "坐地铁", "subway"),
        (TRANSPORT, "不是公交，是地铁", "subway"),
        (TRANSPORT, "第二个", "bus"),
        (TRANSPORT, "2", "bus"),
        (TRANSPORT, "the first one", "drive"),
        (TRANSPORT, "I took a taxi", "taxi"),
        (TRANSPORT, "by buss", "bus"),
        (SAT, "不满意", "dissatisfied"),
        (SAT, "不太满意", "dissatisfied"),
        (SAT, "非常满意", "satisfied"),
        (SAT, "还行吧", "neutral"),
    ],
)
def test_single(exp: Expectation, text: str, want: str) -> None:
    p = parse_single_choice(normalize(text), exp)
    assert p is not None and p.value == want


def test_single_with_several_choices_is_unsure() -> None:
    p = parse_single_choice("公交还有地铁", TRANSPORT)
    assert p is not None and p.value == "subway" and p.confidence < 0.7


@pytest.mark.parametrize(
    "text, want",
    [
        ("头晕和恶心", ["dizzy", "nausea"]),
        ("恶心，头也晕", ["dizzy", "nausea"]),
        ("都有", ["dizzy", "fatigue", "nausea", "pain"]),
        ("都没有", []),
        ("没有头晕，就是有点累", ["fatigue"]),
        ("none of them", []),
        ("dizzy and tired", ["dizzy", "fatigue"]),
    ],
)
def test_multi(text: str, want: list[str]) -> None:
    p = parse_multi_choice(normalize(text), SYMPTOMS)
    assert p is not None and p.value == want


def test_nothing_matches() -> None:
    assert parse_single_choice("不知道", TRANSPORT) is None
    assert parse_multi_choice("不知道", SYMPTOMS) is None
