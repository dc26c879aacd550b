"""Satisfaction 1–5."""

import pytest

from dialog.nlu.normalize import normalize
from dialog.nlu.scale import parse_scale


@pytest.mark.parametrize(
    "text, want",
    [
        ("非常满意", 5),
        ("很满意", 5),
        ("十分满意", 5),
        ("满意", 4),
        ("比较满意", 4),
        ("挺满意", 4),
        ("一般", 3),
        ("还可以", 3),
        ("马马虎虎", 3),
        ("不太满意", 2),
        ("不满意", 2),
        ("很不满意", 1),
        ("非常不满意", 1),
        ("挺好的", 4),
        ("不错", 4),
        ("太好了", 5),
        ("特别好", 5),
        ("很差", 1),
        ("不怎么样", 2),
        ("没有很满意", 2),
        ("打五分", 5),
        ("给五星", 5),
        ("满分", 5),
        ("打四分", 4),
        ("打八分", 4),
        ("打九十分", 5),
        ("零分", 1),
        ("说不上满意也说不上不满意", 3),
        ("不满意，护士态度太差了", 2),
        ("挺好的，要表扬一下张护士", 4),
        ("very satisfied", 5),
        ("satisfied", 4),
        ("not bad", 4),
        ("pretty good", 4),
        ("excellent", 5),
        ("terrible", 1),
        ("not very satisfied", 2),
        ("not satisfied at all", 1),
        ("so-so", 3),
        ("it was okay", 3),
        ("I'd give it a four", 4),
        ("4 out of 5", 4),
        ("seven out of ten", 4),
        ("five stars", 5),
        ("四", 4),
        ("5", 5),
    ],
)
def test_scale(text: str, want: int) -> None:
    p = parse_scale(normalize(text))
    assert p is not None and p.value == want


@pytest.mark.parametrize("text", ["谢谢", "好的", "说不好", "等了三个小时", "你好", "good morning", ""])
def test_not_a_scale_answer(text: str) -> None:
    assert parse_scale(normalize(text)) is None


def test_hedged_answer_is_less_confident() -> None:
    a, b = parse_scale("满意"), parse_scale("应该算满意吧")
    assert a and b and a.value == b.value and b.confidence < a.confidence
