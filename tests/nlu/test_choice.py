"""Single and multiple choice against the expectation's options."""

import pytest
from corpus_support import CHOICE_SETS

from dialog.nlu.choice import none_choice, parse_multi_choice, parse_single_choice, word_spans
from dialog.nlu.expectation import ChoiceOption, Expectation
from dialog.nlu.normalize import normalize

TRANSPORT = Expectation("single_choice", choices=CHOICE_SETS["transport"])
SAT = Expectation("single_choice", choices=CHOICE_SETS["sat3"])
SYMPTOMS = Expectation("multi_choice", choices=CHOICE_SETS["symptoms"])
SIDE_EFFECTS = Expectation("multi_choice", choices=CHOICE_SETS["side_effects"])  # has a "none" choice
ARM = Expectation("multi_choice", choices=CHOICE_SETS["arm"])
STITCHES = Expectation("single_choice", choices=CHOICE_SETS["stitches"])


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


@pytest.mark.parametrize(
    "exp, text, want",
    [
        # One negation covers a list, before or after it.
        (SYMPTOMS, "没有头晕和恶心", []),
        (SYMPTOMS, "头晕恶心都没有", []),
        (SYMPTOMS, "头晕，恶心，都没有", []),
        (SYMPTOMS, "no dizziness or nausea", []),
        (SYMPTOMS, "I'm not dizzy or tired", []),
        (SYMPTOMS, "no dizziness, nausea or pain", []),
        (SYMPTOMS, "I don't have any dizziness but I'm tired", ["fatigue"]),
        (SYMPTOMS, "头晕倒是没有，有点累", ["fatigue"]),
        (SYMPTOMS, "头晕没有，恶心有一点", ["nausea"]),
        (SYMPTOMS, "没有头晕也没有恶心，就是累", ["fatigue"]),
        # 除了 X: all but X with 都有, X alone with 都没有.
        (SYMPTOMS, "除了头晕，别的都没有", ["dizzy"]),
        (SYMPTOMS, "除了头晕别的都有", ["fatigue", "nausea", "pain"]),
        # A "none" choice: every denial gives it, a real item drops it, 都有 never includes it.
        (SIDE_EFFECTS, "头晕头疼都没有", ["none"]),
        (SIDE_EFFECTS, "没有", ["none"]),
        (SIDE_EFFECTS, "没有没有", ["none"]),
        (SIDE_EFFECTS, "No", ["none"]),
        (SIDE_EFFECTS, "nope, none of those", ["none"]),
        (SIDE_EFFECTS, "No dizziness or headaches", ["none"]),
        (SIDE_EFFECTS, "别的都没有，就是头晕", ["dizziness"]),
        (SIDE_EFFECTS, "都有", ["dizziness", "headache", "palpitations", "ankle_swelling"]),
        (SIDE_EFFECTS, "5", ["none"]),
        (ARM, "It's not red or swollen", ["none"]),
        (ARM, "没有发红，就是有点疼", ["pain"]),
        (ARM, "没发现红肿", ["none"]),
    ],
)
def test_multi_negation_and_none(exp: Expectation, text: str, want: list[str]) -> None:
    p = parse_multi_choice(normalize(text), exp)
    assert p is not None and p.value == want


WAITING = Expectation("single_choice", choices=CHOICE_SETS["waiting"])
FREQ = Expectation("single_choice", choices=CHOICE_SETS["measure_freq"])


@pytest.mark.parametrize(
    "exp, text, want",
    [
        # A subject-predicate word split by adverbs, or negated inside (头不晕).
        (SIDE_EFFECTS, "头有点晕", ["dizziness"]),
        (SIDE_EFFECTS, "心也慌，脚也有点肿", ["palpitations", "ankle_swelling"]),
        (SIDE_EFFECTS, "头不晕，心也不慌", ["none"]),
        (SIDE_EFFECTS, "头不晕了，就是脚肿", ["ankle_swelling"]),
        (SYMPTOMS, "恶心倒是没有，就是没什么力气", ["fatigue"]),
        # English phrases in another order or inflection, negated when a negator sits among the words.
        (SIDE_EFFECTS, "a bit of swelling in my ankles", ["ankle_swelling"]),
        (SIDE_EFFECTS, "my ankles are not swollen but my head really hurts", ["headache"]),
        (SIDE_EFFECTS, "my heart is racing", ["palpitations"]),
        # "The others" denied keeps the item named.
        (ARM, "胳膊有点肿，别的没有", ["swelling"]),
    ],
)
def test_multi_word_forms(exp: Expectation, text: str, want: list[str]) -> None:
    p = parse_multi_choice(normalize(text), exp)
    assert p is not None and p.value == want


@pytest.mark.parametrize(
    "exp, text, want",
    [
        (WAITING, "快一个钟头了", "half_to_one_hour"),  # 钟头 = 小时
        (STITCHES, "拆线了", "removed"),  # 已经拆线了 without 已经
        (FREQ, "every morning", "daily"),  # every morning / 每晚 is every day
        (FREQ, "每晚睡前量一次", "daily"),
        (FREQ, "every other day", "weekly"),
    ],
)
def test_single_word_forms(exp: Expectation, text: str, want: str) -> None:
    p = parse_single_choice(normalize(text), exp)
    assert p is not None and p.value == want


@pytest.mark.parametrize(
    "exp, text",
    [
        (FREQ, "at least every seven days"),  # a number between the words: not "every day"
        (STITCHES, "差不了多少"),
    ],
)
def test_word_forms_do_not_overreach(exp: Expectation, text: str) -> None:
    assert parse_single_choice(normalize(text), exp) is None


def test_none_choice_is_found_by_id_or_words() -> None:
    assert none_choice(SIDE_EFFECTS) == "none"
    assert none_choice(SYMPTOMS) is None
    nothing = Expectation(
        "multi_choice", choices=(ChoiceOption("a", ("头晕",)), ChoiceOption("x", ("都没有",)))
    )
    assert none_choice(nothing) == "x"


def test_negating_choice_words_are_answers() -> None:
    assert parse_single_choice("没有", STITCHES).value == "not_yet"  # type: ignore[union-attr]
    assert parse_single_choice("不是没拆,是拆了", STITCHES).value == "removed"  # type: ignore[union-attr]


def test_word_spans_use_the_reply_spelling() -> None:
    exp = Expectation("single_choice", choices=(ChoiceOption("n", ("won't heal", "不癒合")),))
    text = normalize("It won't heal, 一直不癒合")
    assert [text[s:e] for s, e, _ in word_spans(text, exp)] == ["will not heal", "不愈合"]


def test_nothing_matches() -> None:
    assert parse_single_choice("不知道", TRANSPORT) is None
    assert parse_multi_choice("不知道", SYMPTOMS) is None
