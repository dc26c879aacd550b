"""Chinese and English numerals → digits, only where asked."""

import pytest

from dialog.nlu.numbers import cn_to_digits, en_to_digits, find_numbers, parse_cn_integers, to_digits


@pytest.mark.parametrize(
    "run, want",
    [
        ("一百三", [130]),
        ("一百三十五", [135]),
        ("一百零五", [105]),
        ("两百", [200]),
        ("两万五", [25000]),
        ("一千二", [1200]),
        ("十五", [15]),
        ("十", [10]),
        ("二十", [20]),
        ("幺三五", [135]),
        ("一二零", [120]),
        ("一百三十五八十五", [135, 85]),
        ("一百二八十", [120, 80]),
        ("一百二十八十", [120, 80]),
        ("三千零五十", [3050]),
    ],
)
def test_parse_cn_integers(run: str, want: list[int]) -> None:
    assert parse_cn_integers(run) == want


@pytest.mark.parametrize(
    "text, want",
    [
        ("三十六度八", "36.8度"),
        ("三十七度五", "37.5度"),
        ("36度8", "36.8度"),
        ("七点二", "7.2"),
        ("十点五", "10.5"),
        ("三点五毫摩尔", "3.5毫摩尔"),
        ("一百二十比八十", "120比80"),
        ("高压一百三十五低压八十五", "高压135低压85"),
        ("五六个", "5~6个"),
        ("七八十", "70~80"),
        ("十五六个", "15~16个"),
        ("一个半小时", "1.5个小时"),
        ("两斤半", "2.5斤"),
        ("百分之八十", "80%"),
        ("七点多", "7多"),
        ("十二月三号", "12月3号"),
        ("一共三次", "一共3次"),
        # words made of numerals stay words
        ("一般", "一般"),
        ("一直", "一直"),
        ("十分满意", "十分满意"),
        ("好一点了", "好一点了"),
        ("万一", "万一"),
        ("一点点", "一点点"),
        ("打九十分", "打90分"),
        ("十分钟", "10分钟"),
    ],
)
def test_cn_to_digits(text: str, want: str) -> None:
    assert cn_to_digits(text) == want


def test_clock_mode_reads_points_as_hours() -> None:
    assert cn_to_digits("下午三点半", clock=True) == "下午3点半"
    assert cn_to_digits("下午一点", clock=True) == "下午1点"
    assert cn_to_digits("三点四十", clock=True) == "3点40"


@pytest.mark.parametrize(
    "text, want",
    [
        ("one thirty five over eighty five", "135 over 85"),
        ("a hundred and forty over ninety", "140 over 90"),
        ("seven point two", "7.2"),
        ("thirty-seven point five", "37.5"),
        ("ninety eight point six", "98.6"),
        ("one oh five", "105"),
        ("nineteen ninety", "1990"),
        ("i would give it a four", "i would give it a 4"),
        ("december third", "december 3th"),
        ("the twenty-first", "the 21th"),
        ("twelve hundred", "1200"),
        ("seven and a half hours", "7.5 hours"),
        ("twice a day", "2 times a day"),
        ("36 point 8", "36.8"),
        ("oh no", "oh no"),
        ("someone", "someone"),
    ],
)
def test_en_to_digits(text: str, want: str) -> None:
    assert en_to_digits(text) == want


def test_find_numbers_marks_ranges_and_approximations() -> None:
    n = find_numbers(to_digits("五六个"))
    assert [x.value for x in n] == [5.5] and n[0].approx
    n = find_numbers(to_digits("二十多"))
    assert n[0].value == 20 and n[0].approx
    n = find_numbers(to_digits("大概一百三"))
    assert n[0].value == 130 and n[0].approx
    n = find_numbers("7.2")
    assert n[0].value == 7.2 and not n[0].approx
