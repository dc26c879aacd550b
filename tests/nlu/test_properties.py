"""Property tests: no parser raises on arbitrary text, and every value has its type and range."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dialog.nlu import (
    GLOBAL_INTENTS,
    ChoiceOption,
    Expectation,
    expectation_vocabulary,
    is_family_member,
    normalize,
)
from dialog.nlu.choice import parse_multi_choice, parse_single_choice
from dialog.nlu.dates import parse_callback_time, parse_date
from dialog.nlu.expectation import ALL_TYPES
from dialog.nlu.numbers import find_numbers, to_digits
from dialog.nlu.quantities import parse_blood_pressure, parse_glucose, parse_number, parse_temperature
from dialog.nlu.scale import parse_scale
from dialog.nlu.understand import understand
from dialog.nlu.yes_no import parse_yes_no

CHOICES = (ChoiceOption("a", ("头晕", "dizzy"), "1"), ChoiceOption("b", ("恶心", "nausea"), "2"))
# Text made of the pieces replies are made of, so the generator reaches the parsers' branches.
PIECES = st.sampled_from(
    list("一二两三四五六七八九十百千万零幺点度半比不没是有对嗯好号月周天")
    + [
        "满意",
        "一般",
        "高压",
        "低压",
        "明天",
        "下午",
        "小时",
        "以后",
        "打",
        "分",
        "投诉",
        "转人工",
        "再说一遍",
        "不知道",
        "over",
        "point",
        "one",
        "thirty",
        "five",
        "yes",
        "no",
        "not",
        "very",
        "satisfied",
        "?",
        ",",
        " ",
        ".",
        "/",
        "-",
        "12",
        "3.5",
        "135",
        "85",
        "mg/dl",
        "😀",
        "ﾃ",
        "\x00",
    ]
)
REPLY = st.one_of(st.text(max_size=60), st.lists(PIECES, max_size=25).map("".join))
NOW = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31))


def _exp(t: str, lang: str) -> Expectation:
    return Expectation(
        t,
        lang=lang,
        choices=CHOICES if "choice" in t else (),
        min=0 if t == "number" else None,
        max=1000 if t == "number" else None,
    )


@settings(max_examples=300, deadline=None)
@given(text=REPLY, t=st.sampled_from(ALL_TYPES), lang=st.sampled_from(["zh", "en"]), now=NOW)
def test_understand_never_raises_and_values_have_their_type(
    text: str, t: str, lang: str, now: datetime
) -> None:
    u = understand(text, _exp(t, lang), now)
    assert u.intent in ("answer", "no_match", *GLOBAL_INTENTS)
    assert 0.0 <= u.confidence <= 1.0
    assert set(u.to_json()) == {"intent", "value", "confidence"}
    if u.intent == "answer":
        v = u.value
        if t == "yes_no":
            assert isinstance(v, bool)
        elif t == "scale":
            assert isinstance(v, int) and 1 <= v <= 5
        elif t == "number":
            assert isinstance(v, (int, float)) and 0 <= v <= 1000
        elif t == "blood_pressure":
            assert (
                set(v) == {"systolic", "diastolic"}
                and 50 <= v["systolic"] <= 300
                and 20 <= v["diastolic"] <= 200
            )
            assert v["systolic"] > v["diastolic"]
        elif t == "glucose":
            # mmol/L, or a value > 35 said without a unit, kept as said and read back (docs/nlu.md)
            assert isinstance(v, (int, float)) and 0.5 <= v <= 900
            assert v <= 50 or u.intent != "answer" or u.confidence <= 0.5
        elif t == "temperature":
            assert isinstance(v, (int, float)) and 30 <= v <= 45
        elif t == "date":
            datetime.strptime(v, "%Y-%m-%d")
        elif t == "single_choice":
            assert v in ("a", "b")
        elif t == "multi_choice":
            assert isinstance(v, list) and set(v) <= {"a", "b"}
        else:
            assert isinstance(v, str)
    if u.intent == "call_back_later" and u.value is not None:
        when = datetime.strptime(u.value, "%Y-%m-%dT%H:%M")
        assert now - timedelta(days=1) <= when <= now + timedelta(days=400)
    if u.intent in ("opt_out", "wrong_person", "request_human", "repeat", "unsure", "no_match"):
        assert u.value is None


@settings(max_examples=300, deadline=None)
@given(text=REPLY, now=NOW)
def test_parsers_never_raise(text: str, now: datetime) -> None:
    n = normalize(text, "zh")
    exp = Expectation("number")
    for f in (parse_yes_no, parse_scale, parse_blood_pressure, parse_glucose, parse_temperature):
        f(n)
    parse_number(n, exp)
    parse_date(n, now)
    parse_callback_time(n, now)
    parse_single_choice(n, Expectation("single_choice", choices=CHOICES))
    parse_multi_choice(n, Expectation("multi_choice", choices=CHOICES))
    find_numbers(to_digits(n))
    is_family_member(text, "en")


@settings(max_examples=200, deadline=None)
@given(text=REPLY)
def test_normalize_is_idempotent_and_keeps_chinese_numerals(text: str) -> None:
    once = normalize(text, "zh")
    assert normalize(once, "zh") == once
    assert sum(c in "一二三四五六七八九十" for c in once) >= 0


@given(t=st.sampled_from(ALL_TYPES), lang=st.sampled_from(["zh", "en"]))
def test_vocabulary_is_a_short_list_of_strings(t: str, lang: str) -> None:
    v = expectation_vocabulary(_exp(t, lang))
    assert v and all(isinstance(w, str) and w for w in v) and len(v) <= 40
