"""The public API others code against: shapes, the to_json contract, priorities, vocabulary."""

from datetime import UTC, datetime

import pytest

from dialog.nlu import (
    FEEDBACK_INTENTS,
    GLOBAL_INTENTS,
    ChoiceOption,
    Expectation,
    Understanding,
    expectation_vocabulary,
    understand,
)

NOW = datetime(2026, 11, 25, 10, 0)


def test_constants() -> None:
    assert GLOBAL_INTENTS == (
        "complaint",
        "praise",
        "suggestion",
        "request_human",
        "call_back_later",
        "wrong_person",
        "opt_out",
        "repeat",
        "unsure",
    )
    assert FEEDBACK_INTENTS == ("complaint", "praise", "suggestion")


def test_to_json_is_exactly_the_contract() -> None:
    u = understand("非常满意", Expectation("scale"), NOW)
    assert isinstance(u, Understanding)
    assert u.to_json() == {"intent": "answer", "value": 5, "confidence": 0.95}
    assert Understanding("answer", 1, 0.12345).to_json()["confidence"] == 0.123


def test_feedback_carries_the_answer() -> None:
    u = understand("不满意，护士态度太差了", Expectation("scale"), NOW)
    assert (u.intent, u.value, u.feedback) == ("complaint", 2, "complaint")
    u = understand("挺好的，要表扬一下张护士", Expectation("scale"), NOW)
    assert (u.intent, u.value, u.feedback) == ("praise", 4, "praise")


def test_feedback_is_kept_when_another_intent_wins() -> None:
    u = understand("我要投诉，转人工", Expectation("yes_no"), NOW)
    assert u.intent == "request_human" and u.feedback == "complaint"


@pytest.mark.parametrize(
    "text, intent",
    [
        ("不是我，你打错了", "wrong_person"),
        ("不是", "answer"),
        ("你打错了，以后别打了", "opt_out"),
        ("我是他女儿，他不在家", "call_back_later"),
        ("不是我，是我爸，我是他女儿", "answer"),
    ],
)
def test_priorities(text: str, intent: str) -> None:
    assert understand(text, Expectation("yes_no"), NOW).intent == intent


def test_now_may_be_aware_or_missing() -> None:
    aware = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert understand("明天", Expectation("date"), aware).value == "2026-11-26"
    u = understand("明天", Expectation("date"))
    assert u.intent == "answer" and len(u.value) == 10


def test_confidence_is_lower_for_fuzzy_and_hedged_answers() -> None:
    exact = understand("非常满意", Expectation("scale"), NOW).confidence
    fuzzy = understand("非常埋意", Expectation("scale"), NOW).confidence
    hedged = understand("应该是非常满意吧", Expectation("scale"), NOW).confidence
    assert exact > fuzzy and exact > hedged


def test_out_of_range_is_no_match() -> None:
    u = understand("二百五十", Expectation("number", min=0, max=10), NOW)
    assert u.intent == "no_match" and u.value is None


def test_vocabulary() -> None:
    v = expectation_vocabulary(Expectation("scale"))
    assert "非常满意" in v and "转人工" in v and "投诉" in v and len(v) == len(set(v))
    v = expectation_vocabulary(
        Expectation("single_choice", lang="en", choices=(ChoiceOption("bus", ("bus", "coach")),))
    )
    assert v[:2] == ["bus", "coach"] and "wrong number" in v
    assert "打错了" not in v
    assert "三十六" in expectation_vocabulary(Expectation("temperature"))


@pytest.mark.parametrize(
    "text, exp, want",
    [
        # Feedback said alongside an answer: the feedback intent, the value filled in.
        ("有的，王护士讲得特别清楚，真得谢谢她", "yes_no", ("praise", True)),
        ("Very satisfied, Dr. Chen was amazing, please pass on my thanks.", "scale", ("praise", 5)),
        ("Good, the food was awful though.", "scale", ("complaint", 4)),
        # Feedback without an answer: no value.
        ("你们那个收费太不合理了，我要投诉", "yes_no", ("complaint", None)),
        # Small talk and questions about the question are not answers.
        ("今天天气真不错", "yes_no", ("no_match", None)),
        ("今天天气挺好的", "scale", ("no_match", None)),
        ("啊？什么满意不满意？再说一遍", "scale", ("repeat", None)),
        ("满意?你是说对医生满不满意?", "scale", ("repeat", None)),
        ("Satisfied with what exactly?", "scale", ("repeat", None)),
        ("满意，还有什么事吗?", "scale", ("answer", 4)),
    ],
)
def test_feedback_off_topic_and_echoes(text: str, exp: str, want: tuple[str, object]) -> None:
    u = understand(text, Expectation(exp), NOW)
    assert (u.intent, u.value) == want


def test_free_text_feedback_keeps_the_text() -> None:
    u = understand(
        "The food in the ward was cold every single day.", Expectation("free_text", lang="en"), NOW
    )
    assert (u.intent, u.value) == ("complaint", "The food in the ward was cold every single day.")
