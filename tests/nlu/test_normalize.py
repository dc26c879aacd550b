"""ASR text → parse-ready text."""

import pytest

from dialog.nlu.normalize import clauses, normalize


@pytest.mark.parametrize(
    "text, want",
    [
        ("對，是我", "对,是我"),
        ("體溫36度吧", "体温36度吧"),
        ("轉人工", "转人工"),
        ("３６．８度", "36.8度"),
        ("Yes, speaking.", "yes, speaking"),
        ("I'm driving. Call me back later.", "i am driving, call me back later"),
        ("我要投訴 忽視態度太差了", "我要投诉,忽视态度太差了"),
        ("呃，那个，没有", "那个,没有"),
        ("um, yes", "yes"),
        ("uh-huh", "uh-huh"),
        ("mm-hmm", "mm-hmm"),
        ("135/85", "135/85"),
        ("7.2.", "7.2"),
        ("3:30 p.m.", "3:30 pm"),
        ("是不是啊？", "是不是啊?"),
        ("满意😊", "满意"),
        ("行行行行行行行行行行", "行行行"),
        ("", ""),
        ("。。。", ""),
        ("一般", "一般"),
        ("一直很好", "一直很好"),
        ("十分满意", "十分满意"),
        ("I dont know", "i do not know"),
    ],
)
def test_normalize(text: str, want: str) -> None:
    assert normalize(text, "zh") == want


def test_long_input_is_capped() -> None:
    assert len(normalize("好" * 5000 + "满意")) <= 1000


def test_clauses() -> None:
    assert clauses("好多了,伤口不疼了") == ["好多了", "伤口不疼了"]
    assert clauses("什么?再说一遍") == ["什么?", "再说一遍"]
