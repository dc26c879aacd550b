"""Dates (YYYY-MM-DD) and callback times (YYYY-MM-DDTHH:MM), relative to the hospital's local "now".

Date rules (docs/nlu.md):
- 今天/明天/后天/大后天/昨天/前天, today/tomorrow/the day after tomorrow/yesterday;
- N天/周/个月 后|以后 / 前 and "in N days/weeks/months", "N weeks from now", "N days ago"; 半个月 = 15 days;
- weeks start on Monday: 下周三 / "next Wednesday" = the Wednesday of next week, 这周五 / 本周五 /
  "this Friday" = the Friday of this week (even when it has passed), 上周三 / "last Wednesday";
  a bare weekday (周五, 星期五, 礼拜五, "on Friday") = the next one strictly after today;
- a month and day without a year (12月3日, 十二月三号, "December 3rd", "3 December", 12/3) and a bare day
  of the month (5号, "the 5th") take the nearest such date, preferring the future: the past one is chosen
  only when it is less than half as far away as the future one;
- 月底 = the last day of this month, 下个月底 of next month, 月初 = the 1st of next month, 月中 = the 15th
  (this month, or next month once past), 年底 = 31 December; 下周 alone = Monday of next week and 下个月
  alone = the same day next month, both with a low confidence.

Callback times:
- a time after a delay: 一个小时后, 半小时以后, 过两个小时, 十分钟后, "in an hour", "in 30 minutes";
- else a day (as for dates, default today) and a time: a clock time (三点, 3点半, 八点一刻, 7:30, 3pm,
  "at 7", "after 5") and/or a part of the day: 早上 08:00, 上午 09:00, 中午 12:00, 下午 15:00,
  傍晚 18:00, 晚上/今晚 19:00 (morning, noon, afternoon, evening/tonight likewise);
- a clock hour of 1–12 without am/pm takes the first reading within calling hours (08:00–21:00) that is
  still ahead: with now = 10:00, 三点 → 15:00 and 八点 → 20:00; when no reading is ahead today and no day
  was said, the next day;
- a day without a time (明天, "tomorrow") → 10:00; a part of the day that has passed today with no day
  said → the next day; no day and no time (晚点, 等会, 待会, later) → no value.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from dialog.nlu.numbers import to_digits
from dialog.nlu.result import Parse

CALL_HOURS = (8, 21)  # the earliest and latest hour a callback is placed at
DAY_ONLY_HOUR = 10
PART_HOURS: dict[str, int] = {
    "early": 8,
    "am": 9,
    "noon": 12,
    "pm": 15,
    "dusk": 18,
    "evening": 19,
    "night": 20,
}

_WEEKDAY_ZH = {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6, "日": 6, "天": 6}
_WEEKDAY_EN = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_MONTHS_EN = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS_EN.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS_EN["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))

_REL_DAYS_ZH = (
    ("大后天", 3),
    ("大前天", -3),
    ("后天", 2),
    ("前天", -2),
    ("明天", 1),
    ("明日", 1),
    ("明儿", 1),
    ("明早", 1),
    ("明晚", 1),
    ("今天", 0),
    ("今日", 0),
    ("今儿", 0),
    ("今晚", 0),
    ("今早", 0),
    ("昨天", -1),
    ("昨日", -1),
    ("昨晚", -1),
)
_REL_DAYS_EN = (
    ("the day after tomorrow", 2),
    ("day after tomorrow", 2),
    ("the day before yesterday", -2),
    ("day before yesterday", -2),
    ("tomorrow", 1),
    ("tmrw", 1),
    ("today", 0),
    ("tonight", 0),
    ("this evening", 0),
    ("this afternoon", 0),
    ("this morning", 0),
    ("yesterday", -1),
)

_ISO = re.compile(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})")
_ZH_MD = re.compile(
    r"(下下个?月|下个?月|上个?月|这个?月|本月)?(\d{1,2})\s*月\s*(?:份)?\s*(\d{1,2})\s*(?:日|号)?"
)
_ZH_REL_MONTH_DAY = re.compile(r"(下下个?月|下个?月|上个?月|这个?月|本月)\s*(\d{1,2})\s*(?:日|号)")
_ZH_DAY = re.compile(r"(?<![\d月.])(\d{1,2})\s*(?:日|号)(?!楼|床|线|房|窗|门)")
_ZH_WEEKDAY = re.compile(r"(下下|下|这|本|上上|上)?\s*(?:个)?\s*(?:周|星期|礼拜)\s*([1-7日天])")
_ZH_OFFSET = re.compile(
    r"(?:过\s*)?(\d+(?:\.\d+)?|半)\s*(个)?\s*(天|日|周|星期|礼拜|月|年)\s*(以后|之后|后|过后|以前|之前|前)?"
)
_EN_MD = re.compile(rf"\b({_MONTH_RE})\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(\d{{4}}))?")
_EN_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b(?:,?\s*(\d{{4}}))?")
_SLASH = re.compile(r"(?<![\d.])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d.])")
_EN_DAY = re.compile(r"\b(?:the\s+)(\d{1,2})(?:st|nd|rd|th)\b|\b(\d{1,2})(?:st|nd|rd|th)\b")
_EN_WEEKDAY = re.compile(
    r"\b(?:(next|this|last|coming)\s+(?:week\s+)?)?(" + "|".join(_WEEKDAY_EN) + r")(?:day)?\b"
)
_EN_OFFSET = re.compile(
    r"\b(?:in\s+(?:about\s+|around\s+)?)?(\d+(?:\.\d+)?|a|an|one|a couple of|couple of|a few)\s+(day|week|month|year)s?"
    r"\s*(from now|from today|later|after|time|ago|before)?\b"
)
_EN_IN = re.compile(
    r"\bin\s+(?:about\s+|around\s+)?(\d+(?:\.\d+)?|a|an|a couple of|a few)\s+(day|week|month|year)s?\b"
)


def _add_months(d: date, n: int, day: int | None = None) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    last = calendar.monthrange(y, m)[1]
    return date(y, m, min(day if day is not None else d.day, last))


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _nearest(candidates: list[date], today: date) -> date:
    """Prefer the future; take the past candidate only when it is less than half as far away."""
    future = [c for c in candidates if c >= today]
    past = [c for c in candidates if c < today]
    f = min(future, default=None)
    p = max(past, default=None)
    if f is None:
        assert p is not None
        return p
    if p is not None and (today - p).days * 2 < (f - today).days:
        return p
    return f


def _month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year is not None:
        if year < 100:
            year += 2000
        return _safe_date(year, month, day)
    cands = [c for y in (today.year - 1, today.year, today.year + 1) if (c := _safe_date(y, month, day))]
    return _nearest(cands, today) if cands else None


def _day_of_month(today: date, day: int) -> date | None:
    if not 1 <= day <= 31:
        return None
    cands = []
    for k in (-1, 0, 1, 2):
        first = _add_months(today.replace(day=1), k)
        c = _safe_date(first.year, first.month, day)
        if c:
            cands.append(c)
    return _nearest(cands, today) if cands else None


def _week_relative(today: date, weekday: int, which: str | None) -> date:
    monday = today - timedelta(days=today.weekday())
    if which in ("下", "next"):
        return monday + timedelta(days=7 + weekday)
    if which == "下下":
        return monday + timedelta(days=14 + weekday)
    if which in ("上", "last"):
        return monday + timedelta(days=-7 + weekday)
    if which == "上上":
        return monday + timedelta(days=-14 + weekday)
    if which in ("这", "本", "this"):
        return monday + timedelta(days=weekday)
    ahead = (weekday - today.weekday()) % 7 or 7  # bare weekday / "coming": the next one after today
    return today + timedelta(days=ahead)


def _offset(today: date, amount: float, unit: str, sign: int) -> date:
    if unit in ("天", "日", "day"):
        return today + timedelta(days=sign * round(amount))
    if unit in ("周", "星期", "礼拜", "week"):
        return today + timedelta(days=sign * round(amount * 7))
    if unit in ("月", "month"):
        if amount != int(amount):
            return today + timedelta(days=sign * round(amount * 30))
        return _add_months(today, sign * int(amount))
    return (
        _add_months(today, sign * 12 * int(amount))
        if amount == int(amount)
        else today + timedelta(days=sign * round(amount * 365))
    )


def _en_amount(s: str) -> float:
    return {"a": 1, "an": 1, "one": 1, "a couple of": 2, "couple of": 2, "a few": 3}.get(s) or float(s)


def find_date(text: str, today: date) -> tuple[date, float, int] | None:
    """The date said in normalised ``text``: (date, confidence, position), or None."""
    d = to_digits(text)
    # Absolute dates first: they are the most specific.
    m = _ISO.search(d)
    if m:
        r = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if r:
            return r, 0.95, m.start()
    m = _ZH_MD.search(d)
    if m:
        rel = m.group(1)
        year = today.year
        if rel and rel.startswith("下"):
            year = _add_months(today, 2 if rel.startswith("下下") else 1).year
        r = (
            _safe_date(year, int(m.group(2)), int(m.group(3)))
            if rel
            else _month_day(today, int(m.group(2)), int(m.group(3)))
        )
        if r:
            return r, 0.95, m.start()
    for rx, mi, di in ((_EN_MD, 1, 2), (_EN_DM, 2, 1)):
        m = rx.search(d)
        if m:
            y = int(m.group(3)) if m.group(3) else None
            r = _month_day(today, _MONTHS_EN[m.group(mi)], int(m.group(di)), y)
            if r:
                return r, 0.95, m.start()
    m = _SLASH.search(d)
    if m:
        y = int(m.group(3)) if m.group(3) else None
        r = _month_day(today, int(m.group(1)), int(m.group(2)), y)
        if r:
            return r, 0.85, m.start()
    m = _ZH_REL_MONTH_DAY.search(d)
    if m:
        rel = m.group(1)
        k = 2 if rel.startswith("下下") else 1 if rel.startswith("下") else -1 if rel.startswith("上") else 0
        first = _add_months(today.replace(day=1), k)
        r = _safe_date(first.year, first.month, int(m.group(2)))
        if r:
            return r, 0.95, m.start()
    # Month ends and beginnings.
    m = re.search(r"(下个?月|next month)\s*(底|末|月底|end)|end of next month", d)
    if m:
        return _month_end(_add_months(today.replace(day=1), 1)), 0.9, m.start()
    m = re.search(r"月底|月末|end of (?:the |this )?month", d)
    if m:
        return _month_end(today), 0.9, m.start()
    m = re.search(r"(下个?月)?\s*月初|(?:下个?月)初|beginning of next month|start of next month", d)
    if m:
        return _add_months(today.replace(day=1), 1), 0.8, m.start()
    m = re.search(r"月中|middle of (?:the )?month", d)
    if m:
        mid = today.replace(day=15)
        return (mid if mid >= today else _add_months(mid, 1)), 0.8, m.start()
    m = re.search(r"年底|年末|end of (?:the )?year", d)
    if m:
        return date(today.year, 12, 31), 0.85, m.start()
    # Relative days.
    for words in (_REL_DAYS_ZH, _REL_DAYS_EN):
        for w, k in words:
            pos = d.find(w)
            if pos >= 0 and not (w == "today" and "from today" in d):
                return today + timedelta(days=k), 0.95, pos
    m = _ZH_WEEKDAY.search(d)
    if m:
        return _week_relative(today, _WEEKDAY_ZH[m.group(2)], m.group(1)), 0.9, m.start()
    m = _EN_WEEKDAY.search(d)
    if m:
        return _week_relative(today, _WEEKDAY_EN[m.group(2)], m.group(1)), 0.9, m.start()
    m = _ZH_OFFSET.search(d)
    if m and (m.group(4) or d[max(0, m.start() - 1) : m.start() + 1].startswith("过") or "过" in m.group(0)):
        amount = 0.5 if m.group(1) == "半" else float(m.group(1))
        sign = -1 if m.group(4) in ("以前", "之前", "前") else 1
        return _offset(today, amount, m.group(3), sign), 0.9, m.start()
    m = _EN_IN.search(d)
    if m:
        return _offset(today, _en_amount(m.group(1)), m.group(2), 1), 0.9, m.start()
    m = _EN_OFFSET.search(d)
    if m and m.group(3):
        sign = -1 if m.group(3) in ("ago", "before") else 1
        return _offset(today, _en_amount(m.group(1)), m.group(2), sign), 0.9, m.start()
    m = re.search(r"a week from (?:today|now)", d)
    if m:
        return today + timedelta(days=7), 0.9, m.start()
    m = _ZH_DAY.search(d)
    if m:
        r = _day_of_month(today, int(m.group(1)))
        if r:
            return r, 0.85, m.start()
    m = _EN_DAY.search(d)
    if m:
        r = _day_of_month(today, int(m.group(1) or m.group(2)))
        if r:
            return r, 0.85, m.start()
    m = re.search(r"下个?(?:周|星期|礼拜)|next week", d)
    if m:
        return today - timedelta(days=today.weekday()) + timedelta(days=7), 0.5, m.start()
    m = re.search(r"下个?月|next month", d)
    if m:
        return _add_months(today, 1), 0.45, m.start()
    m = re.search(r"周末|weekend", d)
    if m:
        return _week_relative(today, 5, None), 0.7, m.start()
    return None


# A date said about someone else's event is not the patient's date (我孙子明天要考试了, "my daughter has an
# exam tomorrow"); a visit word keeps it an answer (我儿子下周三带我去复查, "he can bring me in on Monday").
_THIRD_PARTY = re.compile(
    r"孙子|孙女|外孙|儿子|女儿|闺女|儿媳|女婿|孩子|老伴|老公|老婆|爱人|媳妇|我妈|我爸|我哥|我姐|我弟|我妹|他|她|"
    r"\bmy (?:son|daughter|grandson|granddaughter|grandchild|grandkids?|kids?|children|husband|wife|mother|father|mom|"
    r"mum|dad|brother|sister|partner|neighbou?r|friend)s?\b|\b(?:he|she|they)\b"
)
_VISIT = re.compile(
    r"复查|复诊|门诊|医院|看病|看医生|检查|拆线|换药|挂号|预约|约好|约了|带我|陪我|送我|接我|过来|回医院|"
    r"\b(?:appointment|check ?up|check|visit|clinic|hospital|doctor|bring me|take me|drive me|come in|come back|"
    r"come over|follow[- ]up)\b"
)
_OTHER_EVENT = re.compile(
    r"考试|高考|中考|上班|上学|开学|放假|结婚|出差|生日|加班|出国|回老家|比赛|面试|上课|值班|旅游|出去玩|"
    r"\b(?:exams?|tests?|work|school|wedding|birthday|trip|flight|interview|shift|class|party|holiday|vacation)\b"
)


def parse_date(text: str, now: datetime) -> Parse | None:
    """A date answer as "YYYY-MM-DD" (none when the date is someone else's event; lower confidence when it
    is said about someone else without a visit word)."""
    found = find_date(text, now.date())
    if found is None:
        return None
    day, conf, _ = found
    if _THIRD_PARTY.search(text) and not _VISIT.search(text):
        # 他明天要上班，周五行吗 / 我老伴下周二做手术，我周四来: a clause not about the other person holds the answer.
        rest = ",".join(c for c in text.split(",") if not (_THIRD_PARTY.search(c) or _OTHER_EVENT.search(c)))
        own = find_date(rest, now.date()) if rest.strip() else None
        if own is not None:
            day, conf, _ = own
        elif _OTHER_EVENT.search(text):
            return None  # 我孙子明天要考试了: someone else's event
        else:
            conf = min(conf, 0.5)  # 她下周一有空: probably the patient, but read it back
    return Parse(day.isoformat(), conf)


_DELAY_ZH = re.compile(
    r"(?:过|等|再过)?\s*(\d+(?:\.\d+)?|半|一)\s*(个)?\s*(半)?\s*(小时|钟头|分钟|分)\s*(以后|之后|后|过后|再)?"
)
_DELAY_EN = re.compile(
    r"\b(?:in|after|give me)\s+(?:about\s+|around\s+|like\s+)?(\d+(?:\.\d+)?|an|a|one|half an|half a|a couple of|a few)"
    r"\s+(hour|hr|minute|min)s?(\s+and\s+a\s+half)?\b|\b(\d+(?:\.\d+)?|an|one|a couple of)\s+(hour|minute)s?\s+"
    r"(?:from now|later)\b|\bhalf an hour\b"
)
_PARTS_ZH = (
    ("凌晨", "early"),
    ("清晨", "early"),
    ("早上", "early"),
    ("早晨", "early"),
    ("明早", "early"),
    ("今早", "early"),
    ("一早", "early"),
    ("上午", "am"),
    ("中午", "noon"),
    ("午饭后", "pm"),
    ("下午", "pm"),
    ("傍晚", "dusk"),
    ("晚上", "evening"),
    ("今晚", "evening"),
    ("明晚", "evening"),
    ("晚饭后", "evening"),
    ("夜里", "night"),
    ("晚间", "evening"),
)
_PARTS_EN = (
    ("morning", "am"),
    ("noon", "noon"),
    ("lunchtime", "noon"),
    ("lunch time", "noon"),
    ("afternoon", "pm"),
    ("evening", "evening"),
    ("tonight", "evening"),
    ("night", "night"),
)
_CLOCK_ZH = re.compile(r"(\d{1,2})\s*(?:点|:|时)\s*(?:钟)?\s*(半|(\d)\s*刻|(\d{1,2})\s*分?)?")
_CLOCK_EN = re.compile(
    r"\b(?:(half|quarter)\s+(past|to)\s+)?(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o\s*clock|oclock)?"
)


def _day_part(d: str) -> str | None:
    for w, p in _PARTS_ZH:
        if w in d:
            return p
    for w, p in _PARTS_EN:
        if re.search(rf"\b{w}\b", d):
            return p
    return None


def _clock(d: str) -> tuple[int, int, str | None] | None:
    """(hour, minute, "am"/"pm"/None) of a clock time said in ``d``."""
    m = _CLOCK_ZH.search(d)
    if m:
        h = int(m.group(1))
        minute = 0
        if m.group(2) == "半":
            minute = 30
        elif m.group(3):
            minute = 15 * int(m.group(3))
        elif m.group(4):
            minute = int(m.group(4))
        if h <= 24 and minute < 60:
            mark = re.match(r"\s*(am|pm)\b", d[m.end() :])
            return h % 24, minute, (mark.group(1) if mark else None)
    for m in _CLOCK_EN.finditer(d):
        h = int(m.group(3))
        minute = int(m.group(4)) if m.group(4) else 0
        ampm = m.group(5)
        before = d[max(0, m.start() - 12) : m.start()]
        cue = (
            ampm
            or m.group(1)
            or m.group(4)
            or re.search(r"\b(at|around|after|about|by|before|till|until)\s*$", before)
        )
        if not cue or h > 24 or minute >= 60:
            continue
        if m.group(1):
            minute = 30 if m.group(1) == "half" else 15
            if m.group(2) == "to":
                h, minute = h - 1, 60 - minute
        mark = None
        if ampm:
            mark = "am" if ampm.startswith("a") else "pm" if ampm.startswith("p") else None
        return h % 24, minute, mark
    return None


def _resolve_hour(h: int, mark: str | None, part: str | None) -> list[int]:
    """Candidate 24-hour readings of a spoken hour, in order of preference."""
    if mark == "pm" or part in ("pm", "dusk", "evening", "night"):
        return [h + 12 if h < 12 else h]
    if mark == "am" or part in ("am", "early"):
        return [0 if h == 12 and mark == "am" else h]
    if part == "noon":
        return [h + 12 if 1 <= h <= 5 else h]
    if h > 12 or h == 0:
        return [h]
    if h == 12:
        return [12]
    return [h, h + 12] if h >= CALL_HOURS[0] else [h + 12, h]


def parse_callback_time(text: str, now: datetime) -> Parse | None:
    """When the patient asks to be called back, as "YYYY-MM-DDTHH:MM"; None when no time was said."""
    now = now.replace(second=0, microsecond=0)
    d = to_digits(text, clock=True)
    m = _DELAY_ZH.search(d)
    if m and (
        m.group(5) or "过" in m.group(0) or "等" in m.group(0) or re.search(r"(再|打|联系)", d[m.end() :])
    ):
        n = 0.5 if m.group(1) == "半" else 1.0 if m.group(1) == "一" else float(m.group(1))
        if m.group(3):
            n += 0.5
        minutes = n * 60 if m.group(4) in ("小时", "钟头") else n
        if 0 < minutes <= 24 * 60:
            return Parse((now + timedelta(minutes=round(minutes))).strftime("%Y-%m-%dT%H:%M"), 0.9)
    m = _DELAY_EN.search(d)
    if m:
        if m.group(0) == "half an hour":
            minutes = 30.0
        else:
            amt = m.group(1) or m.group(4)
            unit = m.group(2) or m.group(5)
            n = {"an": 1, "a": 1, "one": 1, "half an": 0.5, "half a": 0.5, "a couple of": 2, "a few": 3}.get(
                amt
            )
            n = float(amt) if n is None else n
            if m.group(3):
                n += 0.5
            minutes = n * 60 if unit.startswith("h") else n
        return Parse((now + timedelta(minutes=round(minutes))).strftime("%Y-%m-%dT%H:%M"), 0.9)
    found = find_date(text, now.date())
    day = found[0] if found else None
    explicit_day = day is not None
    if day is not None and day < now.date():
        day = None  # a past day is no time to call back
        explicit_day = False
    part = _day_part(d)
    clk = _clock(d)
    conf = 0.9
    if clk is None and part is None:
        if day is None:
            return None
        return Parse(
            datetime(day.year, day.month, day.day, DAY_ONLY_HOUR).strftime("%Y-%m-%dT%H:%M"),
            min(0.8, found[1] if found else 0.8),
        )
    base = day or now.date()
    if clk is None:
        assert part is not None
        hours, minute = [PART_HOURS[part]], 0
    else:
        h, minute, mark = clk
        hours = _resolve_hour(h, mark, part)
    choice: datetime | None = None
    for hh in hours:
        cand = datetime(base.year, base.month, base.day, hh, minute)
        in_hours = CALL_HOURS[0] <= hh <= CALL_HOURS[1]
        if (explicit_day or cand > now) and (in_hours or len(hours) == 1):
            choice = cand
            break
    if choice is None:
        if explicit_day:
            hh = hours[0]
            choice = datetime(base.year, base.month, base.day, hh, minute)
        else:
            nxt = base + timedelta(days=1)
            hh = next((x for x in hours if CALL_HOURS[0] <= x <= CALL_HOURS[1]), hours[0])
            choice = datetime(nxt.year, nxt.month, nxt.day, hh, minute)
            conf = 0.8
    return Parse(choice.strftime("%Y-%m-%dT%H:%M"), conf)
