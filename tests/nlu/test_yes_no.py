"""Yes/no polarity: affirmation/presence → True, negation/absence → False, the main clause decides."""

import pytest

from dialog.nlu.normalize import normalize
from dialog.nlu.yes_no import parse_yes_no


@pytest.mark.parametrize(
    "text, want",
    [
        ("是的", True),
        ("对", True),
        ("嗯嗯", True),
        ("有", True),
        ("有的", True),
        ("按时吃了", True),
        ("还有点疼", True),
        ("没有", False),
        ("没", False),
        ("不是", False),
        ("还没", False),
        ("不疼了", False),
        ("没发烧", False),
        ("没有不舒服", False),
        ("不是没有", True),
        ("不不不是的", False),
        ("没有没有", False),
        ("好多了，伤口不疼了", False),
        ("没有，就是有点累", False),
        ("是的，还有点疼", True),
        ("还没呢，明天去", False),
        ("没问题", True),
        ("yes", True),
        ("yeah, I did", True),
        ("not yet", False),
        ("no, not anymore", False),
        ("I don't think so", False),
        ("I think so", True),
        ("not bad", True),
        ("No, I'm fine.", False),
        ("It doesn't hurt anymore", False),
        ("I don't know, maybe yes", True),
        # A bare no first, then what qualifies it: the no stands.
        ("没有，有时候忘了", False),
        ("不是，偶尔会忘", False),
        ("No, I sometimes forget", False),
        ("no, only now and then", False),
        # ... unless a bare yes corrects it.
        ("没有，哦不对，有", True),
        ("no, I mean yes", True),
        # 有点/有些 before a negated word is a degree adverb; 不清楚 as a complement describes.
        ("有些不太清楚", False),
        ("有点不清楚", False),
        ("讲得不太清楚", False),
        ("有点不舒服", True),
        # A negated lapse is compliance; a degree negation is a weak no.
        ("一直按时吃的，一顿都没落下", True),
        ("从来没漏过", True),
        ("都没漏过", True),
        ("I haven't missed a single dose", True),
        # A bare negated lapse keeps its literal no (read back), unless another clause answers.
        ("没有漏吃过", False),
        ("I haven't missed any", False),
        ("没忘，都吃了", True),
        # 特别, 别的 hold 别 but negate nothing.
        ("特别好", True),
        ("除了头晕别的都有", True),
        ("No, I forgot to take them", False),
        ("有一点点，不太明显", True),
        ("不是很疼了", False),
    ],
)
def test_polarity(text: str, want: bool) -> None:
    p = parse_yes_no(normalize(text))
    assert p is not None and p.value is want


@pytest.mark.parametrize(
    "text", ["是不是啊?", "有没有啊", "yes no", "不知道", "不太清楚", "谢谢", "我是他女儿", "Is it?", ""]
)
def test_no_polarity(text: str) -> None:
    assert parse_yes_no(normalize(text)) is None


def test_hedges_and_weak_particles_lower_confidence() -> None:
    strong = parse_yes_no("是的")
    hedged = parse_yes_no("应该是吧")
    weak = parse_yes_no("嗯")
    assert strong and hedged and weak
    assert strong.confidence > hedged.confidence and strong.confidence > weak.confidence


def test_strict_mode_ignores_bare_content() -> None:
    assert parse_yes_no("护士,态度", strict=True) is None
    assert parse_yes_no("没有,护士", strict=True).value is False  # type: ignore[union-attr]


def test_a_bare_negated_lapse_is_read_back() -> None:
    p = parse_yes_no(normalize("没有漏吃过"))
    assert p is not None and p.value is False and p.confidence < 0.55


def test_strict_mode_ignores_the_feedback_clause_without_an_explicit_answer() -> None:
    # 你们那个收费太不合理了 with the complaint masked says nothing about yes or no.
    assert parse_yes_no("你们那个 qqq 了,我要 qqq", strict=True) is None
    assert parse_yes_no("有的,王护士 qqq ,真得 qqq", strict=True).value is True  # type: ignore[union-attr]
