"""Numbers, blood pressure, glucose and temperature."""

import pytest

from dialog.nlu.expectation import Expectation
from dialog.nlu.normalize import normalize
from dialog.nlu.quantities import parse_blood_pressure, parse_glucose, parse_number, parse_temperature


def _n(text: str) -> str:
    return normalize(text)


@pytest.mark.parametrize(
    "text, exp, want",
    [
        ("一天三次", Expectation("number", unit="次"), 3),
        ("两百", Expectation("number"), 200),
        ("五六个", Expectation("number"), 5.5),
        ("一百二十斤", Expectation("number", unit="kg"), 60),
        ("一米七五", Expectation("number", unit="cm"), 175),
        ("一次都没有", Expectation("number"), 0),
        ("two or three", Expectation("number"), 2.5),
        ("7", Expectation("number", min=0, max=10), 7),
        ("晚上十点睡，能睡六个小时", Expectation("number"), 6),
        ("I go to bed at 11 and sleep about 7 hours", Expectation("number"), 7),
    ],
)
def test_number(text: str, exp: Expectation, want: float) -> None:
    p = parse_number(_n(text), exp)
    assert p is not None and p.value == want


def test_number_out_of_range_is_rejected_not_raised() -> None:
    p = parse_number("250", Expectation("number", min=0, max=10))
    assert p is not None and p.value is None and p.reason == "out_of_range"
    assert parse_number("挺多的", Expectation("number")) is None


def test_approximate_numbers_ask_for_confirmation() -> None:
    p = parse_number(_n("五六个"), Expectation("number"))
    assert p is not None and p.confidence < 0.7


@pytest.mark.parametrize(
    "text, want",
    [
        ("一百二十比八十", (120, 80)),
        ("高压一百三十五低压八十五", (135, 85)),
        ("低压八十高压一百三", (130, 80)),
        ("135/85", (135, 85)),
        ("one thirty five over eighty five", (135, 85)),
        ("120 80", (120, 80)),
        ("a hundred and forty over ninety", (140, 90)),
        ("上面一百三下面八十", (130, 80)),
        ("八十，一百二", (120, 80)),
        ("早上八点量的一百三十比八十五", (130, 85)),
        ("三十分钟以后量的，一百三十，八十五", (130, 85)),
        ("This morning at 7 it was 135 over 88", (135, 88)),
    ],
)
def test_blood_pressure(text: str, want: tuple[int, int]) -> None:
    p = parse_blood_pressure(_n(text))
    assert p is not None and p.value == {"systolic": want[0], "diastolic": want[1]}


def test_blood_pressure_swapped_values_are_swapped_with_low_confidence() -> None:
    p = parse_blood_pressure(_n("八十，一百二"))
    assert p is not None and p.confidence <= 0.6


@pytest.mark.parametrize("text", ["血压正常", "高压一百五", "三百五比两百", "", "高压135,低压285"])
def test_blood_pressure_without_two_plausible_numbers(text: str) -> None:
    p = parse_blood_pressure(_n(text))
    assert p is None or p.value is None


@pytest.mark.parametrize(
    "text, want",
    [
        ("七点二", 7.2),
        ("130 mg/dl", 7.2),
        ("110 mg/dL", 6.1),
        ("三点五毫摩尔", 3.5),
        ("seven point two", 7.2),
        ("空腹5.6，餐后8.9", 5.6),
        ("餐后两小时九点五", 9.5),
        ("早上七点测的空腹六点八", 6.8),
        ("三天前测的是七点五", 7.5),
        ("It was 6.2 this morning after I woke up at 5", 6.2),
        ("two hours after lunch it was nine point one", 9.1),
    ],
)
def test_glucose(text: str, want: float) -> None:
    p = parse_glucose(_n(text))
    assert p is not None and p.value == want


@pytest.mark.parametrize("text, want", [("一百三十", 130), ("My sugar was 126", 126)])
def test_glucose_above_35_without_a_unit_is_kept_as_said_and_read_back(text: str, want: int) -> None:
    p = parse_glucose(_n(text))
    assert p is not None and p.value == want and p.confidence < 0.55


def test_glucose_above_35_without_a_unit_is_rejected_by_a_mmol_maximum() -> None:
    p = parse_glucose(_n("126"), Expectation("glucose", max=35))
    assert p is not None and p.value is None and p.reason == "out_of_range"


@pytest.mark.parametrize(
    "text, want",
    [
        ("三十六度八", 36.8),
        ("36度8", 36.8),
        ("37.5度", 37.5),
        ("三十七度五", 37.5),
        ("98.6", 37.0),
        ("ninety eight point six", 37.0),
        ("101 degrees", 38.3),
        ("早上三十六度八，晚上三十七度二", 37.2),
        ("下午三点量的三十七度二", 37.2),
        ("三十分钟后量的三十七度五", 37.5),
        ("I checked at 6 this morning, it was 37.8", 37.8),
    ],
)
def test_temperature(text: str, want: float) -> None:
    p = parse_temperature(_n(text))
    assert p is not None and p.value == want


@pytest.mark.parametrize("text", ["正常", "没发烧", "no fever", "三百六"])
def test_temperature_without_a_plausible_number(text: str) -> None:
    p = parse_temperature(_n(text))
    assert p is None or p.value is None
