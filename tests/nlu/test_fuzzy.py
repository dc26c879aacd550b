"""Pinyin repair of homophone mis-recognitions — and no repair of real words."""

import pytest

from dialog.nlu.fuzzy import PhraseRepairer, readings, syllable_similarity

R = PhraseRepairer(
    [
        "满意",
        "不满意",
        "一般",
        "复查",
        "没有",
        "血糖",
        "转人工",
        "打五分",
        "护士",
        "按时",
        "打错了",
        "是的",
        "说不好",
    ],
    loose=["满意"],
    aliases={"战员攻击": "转人工"},
)


@pytest.mark.parametrize(
    "text, want",
    [
        ("蛮意", "满意"),
        ("非常埋意", "非常满意"),
        ("不太买意", "不太满意"),
        ("一版吧", "一般吧"),
        ("下周三去副茶", "下周三去复查"),
        ("复察", "复查"),
        ("美有", "没有"),
        ("卸糖7.2", "血糖7.2"),
        ("战员攻击", "转人工"),
        ("转人宫", "转人工"),
        ("大五分", "打五分"),
        ("忽视态度太差", "护士态度太差"),
        ("暗时吃药", "按时吃药"),
    ],
)
def test_repairs(text: str, want: str) -> None:
    fixed, factor = R.repair(text)
    assert fixed == want and factor < 1.0


@pytest.mark.parametrize(
    "text",
    ["不满意", "满意", "吃了一半", "再说一遍", "没有不适", "医生打过电话", "晚上睡不好", "没意思", "hello"],
)
def test_leaves_real_words_alone(text: str) -> None:
    fixed, factor = R.repair(text)
    assert fixed == text and factor == 1.0


def test_pinyin_helpers() -> None:
    assert "xie" in readings("血") and "xue" in readings("血")
    assert readings("a") == ()
    assert syllable_similarity("zhan", "zhuan") >= 0.8
    assert syllable_similarity("guo", "cuo") < 0.8
