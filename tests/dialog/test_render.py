"""Template rendering, fallbacks, dates and answers said back."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from dialog.render import (
    derive_salutation,
    format_date,
    format_datetime,
    render,
    render_answer,
)
from flows.schema import Ask

CTX = {
    "patient": {"name": "张伟", "salutation": "张先生", "age": 62},
    "visit": {"department": "心内科", "discharge_date": "2026-11-17", "next_visit_date": date(2026, 12, 1)},
    "hospital": {"name": "市第一人民医院"},
}
NOW = datetime(2026, 11, 20, 10, 0)


@pytest.mark.parametrize(
    "template, lang, expected",
    [
        ("请问是{patient.salutation}吗？", "zh", "请问是张先生吗？"),
        ("{patient.name}，{patient.age}岁", "zh", "张伟，62岁"),
        ("您于{visit.discharge_date}出院", "zh", "您于2026年11月17日出院"),
        ("Discharged on {visit.discharge_date}.", "en", "Discharged on 17 November 2026."),
        ("复诊：{visit.next_visit_date}", "zh", "复诊：2026年12月1日"),
        ("no fields", "en", "no fields"),
        ("{unknown.field}!", "zh", "!"),
    ],
)
def test_render(template, lang, expected):
    assert render(template, CTX, lang) == expected


@pytest.mark.parametrize(
    "patient, lang, expected",
    [
        ({"salutation": "王阿姨", "name": "王芳"}, "zh", "王阿姨"),
        ({"name": "张伟", "gender": "male"}, "zh", "张先生"),
        ({"name": "欧阳娜娜", "gender": "female"}, "zh", "欧阳女士"),
        ({"name": "John Smith", "gender": "male"}, "en", "Mr Smith"),
        ({"name": "Mary Jones", "gender": "female"}, "en", "Ms Jones"),
        ({"name": "李娜", "gender": "unknown"}, "zh", "李娜"),  # no guessing 先生/女士
        ({"name": "李娜", "salutation": ""}, "zh", "李娜"),  # empty counts as missing
        ({}, "zh", "患者"),
        ({}, "en", "the patient"),
    ],
)
def test_salutation_fallback_chain(patient, lang, expected):
    assert render("{patient.salutation}", {"patient": patient}, lang) == expected


def test_name_falls_back_to_salutation():
    assert render("{patient.name}", {"patient": {"salutation": "张先生"}}, "zh") == "张先生"


@pytest.mark.parametrize(
    "field, lang, expected",
    [
        ("hospital.name", "zh", "我们医院"),
        ("hospital.name", "en", "the hospital"),
        ("visit.department", "zh", "相关科室"),
        ("visit.doctor", "en", "your doctor"),
        ("visit.next_visit_date", "zh", "预约的日子"),
    ],
)
def test_missing_fields_fall_back(field, lang, expected):
    assert render("{" + field + "}", {}, lang) == expected


def test_no_fallback_mode_renders_missing_as_empty():
    assert render("{visit.department}", {}, "zh", fallback=False) == ""
    assert render("{visit.department}", CTX, "zh", fallback=False) == "心内科"


def test_derive_salutation_needs_a_gender():
    assert derive_salutation("张伟", None, "zh") is None
    assert derive_salutation("司马光", "male", "zh") == "司马先生"


@pytest.mark.parametrize(
    "value, lang, expected",
    [
        ("2026-11-20", "zh", "2026年11月20日"),
        ("2026-11-20", "en", "20 November 2026"),
        (date(2027, 1, 3), "en", "3 January 2027"),
        (datetime(2026, 2, 1, 9, 30), "zh", "2026年2月1日"),
        ("下周一", "zh", "下周一"),  # not a date: passes through
    ],
)
def test_format_date(value, lang, expected):
    assert format_date(value, lang) == expected


@pytest.mark.parametrize(
    "value, lang, expected",
    [
        (datetime(2026, 11, 21, 15, 0), "zh", "明天下午3点"),
        (datetime(2026, 11, 20, 19, 30), "zh", "今天晚上7点半"),
        (datetime(2026, 11, 22, 9, 15), "zh", "后天上午9点15分"),
        (datetime(2026, 11, 25, 12, 0), "zh", "11月25日中午12点"),
        (datetime(2027, 1, 5, 8, 0), "zh", "2027年1月5日上午8点"),
        ("2026-11-21T15:00", "en", "tomorrow at 3 pm"),
        (datetime(2026, 11, 20, 16, 45), "en", "today at 4:45 pm"),
        (datetime(2026, 11, 24, 12, 0), "en", "on Tuesday 24 November at noon"),
        (datetime(2027, 1, 5, 8, 0), "en", "on 5 January 2027 at 8 am"),
        (date(2026, 11, 21), "en", "tomorrow"),
    ],
)
def test_format_datetime_relative_to_now(value, lang, expected):
    assert format_datetime(value, lang, NOW) == expected


def test_format_datetime_without_now_is_absolute():
    assert format_datetime(datetime(2026, 11, 21, 15, 0), "zh") == "2026年11月21日下午3点"
    assert format_datetime(datetime(2026, 11, 21, 15, 0), "en") == "on 21 November 2026 at 3 pm"


def test_callback_time_field_in_a_message():
    text = render("我们{callback_time}再打", {"callback_time": datetime(2026, 11, 21, 15, 0)}, "zh", NOW)
    assert text == "我们明天下午3点再打"


def _ask(**kw) -> Ask:
    return Ask.model_validate({"prompt": {"zh": "?", "en": "?"}, **kw})


@pytest.mark.parametrize(
    "ask, value, lang, expected",
    [
        (_ask(type="yes_no"), True, "zh", "是"),
        (_ask(type="yes_no"), False, "zh", "不是"),
        (_ask(type="yes_no"), False, "en", "no"),
        (_ask(type="scale"), 4, "zh", "4分"),
        (_ask(type="scale"), 4, "en", "4 out of 5"),
        (_ask(type="temperature", unit={"zh": "度", "en": "degrees"}), 37.5, "zh", "37.5度"),
        (_ask(type="temperature"), 38.0, "en", "38 degrees"),
        (_ask(type="number", unit={"zh": "分", "en": "points"}), 7, "en", "7 points"),
        (_ask(type="number"), 7.0, "zh", "7"),
        (_ask(type="blood_pressure"), {"systolic": 130, "diastolic": 85}, "zh", "130/85"),
        (_ask(type="blood_pressure"), (130, 85), "en", "130/85"),
        (_ask(type="date"), "2026-12-01", "zh", "2026年12月1日"),
        (_ask(type="free_text"), "头有点晕", "zh", "头有点晕"),
    ],
)
def test_render_answer(ask, value, lang, expected):
    assert render_answer(value, ask, lang) == expected


def test_render_answer_choices():
    choices = [
        {"id": "better", "label": {"zh": "好一些", "en": "better"}},
        {"id": "worse", "label": {"zh": "更差了", "en": "worse"}},
    ]
    single = _ask(type="single_choice", choices=choices)
    multi = _ask(type="multi_choice", choices=choices)
    assert render_answer("worse", single, "zh") == "更差了"
    assert render_answer(["better", "worse"], multi, "zh") == "好一些、更差了"
    assert render_answer(["better", "worse"], multi, "en") == "better, worse"
