"""Dates and callback times relative to a fixed "now" (Wednesday 2026-11-25 10:00)."""

from datetime import datetime

import pytest

from dialog.nlu.dates import parse_callback_time, parse_date
from dialog.nlu.normalize import normalize

NOW = datetime(2026, 11, 25, 10, 0)
LATE = datetime(2026, 11, 25, 16, 30)


@pytest.mark.parametrize(
    "text, want",
    [
        ("今天", "2026-11-25"),
        ("明天", "2026-11-26"),
        ("后天", "2026-11-27"),
        ("大后天", "2026-11-28"),
        ("昨天", "2026-11-24"),
        ("前天", "2026-11-23"),
        ("下周三", "2026-12-02"),
        ("这周五", "2026-11-27"),
        ("周五", "2026-11-27"),
        ("星期五", "2026-11-27"),
        ("礼拜五", "2026-11-27"),
        ("周三", "2026-12-02"),
        ("下个月五号", "2026-12-05"),
        ("5号", "2026-12-05"),
        ("20号", "2026-11-20"),
        ("十二月三号", "2026-12-03"),
        ("12月3日", "2026-12-03"),
        ("2026年12月3日", "2026-12-03"),
        ("三天后", "2026-11-28"),
        ("一周后", "2026-12-02"),
        ("两个星期以后", "2026-12-09"),
        ("月底", "2026-11-30"),
        ("下个月底", "2026-12-31"),
        ("一月十号", "2027-01-10"),
        ("today", "2026-11-25"),
        ("tomorrow", "2026-11-26"),
        ("next Wednesday", "2026-12-02"),
        ("this Friday", "2026-11-27"),
        ("on the 5th", "2026-12-05"),
        ("December 3rd", "2026-12-03"),
        ("3 December", "2026-12-03"),
        ("in two weeks", "2026-12-09"),
        ("in 3 days", "2026-11-28"),
        ("last Friday", "2026-11-20"),
        ("2026-12-03", "2026-12-03"),
    ],
)
def test_parse_date(text: str, want: str) -> None:
    p = parse_date(normalize(text), NOW)
    assert p is not None and p.value == want


@pytest.mark.parametrize("text", ["还没定", "过几天吧", "不知道", ""])
def test_no_date(text: str) -> None:
    assert parse_date(normalize(text), NOW) is None


@pytest.mark.parametrize(
    "text, now, want",
    [
        ("明天下午三点", NOW, "2026-11-26T15:00"),
        ("晚上七点半", NOW, "2026-11-25T19:30"),
        ("下午3点", NOW, "2026-11-25T15:00"),
        ("一个小时后", NOW, "2026-11-25T11:00"),
        ("半小时以后", NOW, "2026-11-25T10:30"),
        ("过两个小时", NOW, "2026-11-25T12:00"),
        ("明天上午", NOW, "2026-11-26T09:00"),
        ("明天", NOW, "2026-11-26T10:00"),
        ("三点", NOW, "2026-11-25T15:00"),
        ("八点", NOW, "2026-11-25T20:00"),
        ("三点", LATE, "2026-11-26T15:00"),
        ("下午", LATE, "2026-11-26T15:00"),
        ("八点一刻", NOW, "2026-11-25T20:15"),
        ("tomorrow at 3pm", NOW, "2026-11-26T15:00"),
        ("in an hour", NOW, "2026-11-25T11:00"),
        ("after 5", NOW, "2026-11-25T17:00"),
        ("this evening", NOW, "2026-11-25T19:00"),
        ("at 7:30 p.m.", NOW, "2026-11-25T19:30"),
    ],
)
def test_callback_time(text: str, now: datetime, want: str) -> None:
    p = parse_callback_time(normalize(text), now)
    assert p is not None and p.value == want


@pytest.mark.parametrize("text", ["晚点", "等会", "待会儿", "later", "改天吧"])
def test_callback_without_time(text: str) -> None:
    assert parse_callback_time(normalize(text), NOW) is None


@pytest.mark.parametrize(
    "text, want",
    [
        ("我孙子明天要考试了", None),
        ("My daughter has an exam tomorrow.", None),
        ("He has work tomorrow, can we do Friday?", "2026-11-27"),
        ("我老伴下周二做手术，我周四来", "2026-11-26"),
        ("我女儿下周三有空，她带我去复查", "2026-12-02"),
        ("明天去复查", "2026-11-26"),
    ],
)
def test_someone_elses_event_is_not_the_answer(text: str, want: str | None) -> None:
    p = parse_date(normalize(text), NOW)
    assert (p.value if p else None) == want


def test_a_date_said_about_someone_else_is_read_back() -> None:
    p = parse_date(normalize("她下周一有空"), NOW)
    assert p is not None and p.value == "2026-11-30" and p.confidence < 0.55
