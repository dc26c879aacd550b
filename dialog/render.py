"""Rendering prompt templates and answers into the words said on the phone.

A prompt such as ``"您好，请问是{patient.salutation}吗？"`` is filled from a *context*: a nested dict
``{"patient": {...}, "visit": {...}, "hospital": {...}}`` plus, for system messages, a few flat fields
(``callback_time``, ``department``, ``answer``). Rendering never fails on a missing field: a call must not
crash because the HIS export left a column empty. A missing field falls back along a chain
(``patient.salutation`` → one derived from the name and gender → ``patient.name`` → 患者/the patient, so
that "请问您是{patient.salutation}本人吗？" still reads well) and otherwise to a neutral phrase
("我们医院"/"the hospital").

Dates are said the way a nurse would say them: 2026年11月20日 / 20 November 2026; callback times relative
to ``now`` when close (明天下午3点 / tomorrow at 3 pm).

Pure functions only; no clock is read here (``now`` is always passed in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flows.schema import Ask, Text

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")

_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Two-character Chinese surnames: the salutation of 欧阳娜娜 is 欧阳女士, not 欧女士.
_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
        "夏侯", "轩辕", "令狐", "独孤", "南宫", "西门", "端木", "澹台", "申屠", "太史", "钟离", "闻人",
        "赫连", "呼延", "万俟", "百里", "东郭", "公羊", "司空", "濮阳", "淳于", "单于", "仲孙", "拓跋",
    }
)  # fmt: skip

# Neutral words said when a field is missing, chosen so that the usual sentence shapes still read well.
_FALLBACKS: dict[str, dict[str, str]] = {
    # "请问您是患者本人吗？" / "Am I speaking with the patient?": the identity question must still work.
    "patient.name": {"zh": "患者", "en": "the patient"},
    "patient.salutation": {"zh": "患者", "en": "the patient"},
    "patient.age": {"zh": "", "en": ""},
    "visit.department": {"zh": "相关科室", "en": "the department"},
    "visit.doctor": {"zh": "主治", "en": "your doctor"},
    "visit.ward": {"zh": "病房", "en": "the ward"},
    "visit.diagnosis": {"zh": "病情", "en": "your condition"},
    "visit.procedure": {"zh": "手术", "en": "your procedure"},
    "visit.visit_date": {"zh": "近日", "en": "recently"},
    "visit.discharge_date": {"zh": "近日", "en": "recently"},
    "visit.next_visit_date": {"zh": "预约的日子", "en": "your appointment date"},
    "hospital.name": {"zh": "我们医院", "en": "the hospital"},
    "hospital.phone": {"zh": "医院的服务电话", "en": "the hospital's main number"},
    "department": {"zh": "相关科室", "en": "the team concerned"},
    "callback_time": {"zh": "稍后", "en": "later"},
    "answer": {"zh": "", "en": ""},
}


def lookup(context: Mapping[str, Any], field: str) -> Any:
    """The value of ``field`` ("patient.name" or a flat "department") in ``context``; None if absent/empty."""
    value: Any = context
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def derive_salutation(name: str | None, gender: str | None, lang: str) -> str | None:
    """What a nurse calls the patient, from name and gender: 张伟/male → 张先生, John Smith → Mr Smith.

    None when the gender is unknown (guessing 先生/女士 wrong is worse than using the name).
    """
    if not name or gender not in ("male", "female"):
        return None
    name = name.strip()
    if _is_cjk(name):
        surname = name[:2] if name[:2] in _COMPOUND_SURNAMES else name[:1]
        return surname + ("先生" if gender == "male" else "女士")
    family = name.split()[-1]
    return ("Mr " if gender == "male" else "Ms ") + family


def field_value(context: Mapping[str, Any], field: str, lang: str, now: datetime | None = None) -> str | None:
    """``field`` rendered as spoken text (dates formatted, salutation derived), or None when it is missing."""
    if field == "patient.salutation":
        value = lookup(context, field)
        if value is None:
            patient = context.get("patient") if isinstance(context.get("patient"), Mapping) else {}
            value = derive_salutation(lookup(patient, "name"), lookup(patient, "gender"), lang)
        if value is None:
            value = lookup(context, "patient.name")
        return None if value is None else str(value)
    if field == "patient.name":
        value = lookup(context, field)
        if value is None:
            value = lookup(context, "patient.salutation")
        return None if value is None else str(value)
    value = lookup(context, field)
    if value is None:
        return None
    if field == "callback_time":
        return format_datetime(value, lang, now)
    if field.endswith("_date") or isinstance(value, (date, datetime)):
        return format_date(value, lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(
    template: str, context: Mapping[str, Any], lang: str, now: datetime | None = None, fallback: bool = True
) -> str:
    """Fill every ``{field}`` of ``template`` from ``context``; missing fields get a neutral fallback.

    An unknown placeholder renders as an empty string (flows are validated against TEMPLATE_FIELDS on
    load; at run time saying nothing beats reading out a brace). ``fallback=False`` renders every missing
    field as an empty string (for values that are routed, not said, such as a department).
    """

    def fill(m: re.Match[str]) -> str:
        field = m.group(1)
        value = field_value(context, field, lang, now)
        if value is not None:
            return value
        return _FALLBACKS.get(field, {}).get(lang, "") if fallback else ""

    return _PLACEHOLDER.sub(fill, template)


def text_of(text: Text | None, lang: str) -> str:
    """The template of ``text`` in ``lang``, falling back to the other language rather than to silence."""
    if text is None:
        return ""
    value = text.get(lang)
    if value:
        return value
    for other in ("zh", "en"):
        if text.get(other):
            return text.get(other) or ""
    return ""


def _as_date(value: Any) -> date | datetime | None:
    if isinstance(value, (date, datetime)):
        return value
    if isinstance(value, str):
        try:
            return (
                datetime.fromisoformat(value)
                if "T" in value or " " in value.strip()
                else date.fromisoformat(value)
            )
        except ValueError:
            return None
    return None


def format_date(value: Any, lang: str) -> str:
    """A calendar date as said aloud: 2026年11月20日 / 20 November 2026. Other text passes through."""
    d = _as_date(value)
    if d is None:
        return str(value)
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def _clock_zh(t: datetime) -> str:
    h, m = t.hour, t.minute
    if h < 6:
        part, h12 = "凌晨", h
    elif h < 12:
        part, h12 = "上午", h
    elif h == 12:
        part, h12 = "中午", 12
    elif h < 18:
        part, h12 = "下午", h - 12
    else:
        part, h12 = "晚上", h - 12
    minutes = "" if m == 0 else "半" if m == 30 else f"{m}分"
    return f"{part}{h12}点{minutes}"


def _clock_en(t: datetime) -> str:
    if t.hour == 12 and t.minute == 0:
        return "noon"
    h12 = t.hour % 12 or 12
    suffix = "am" if t.hour < 12 else "pm"
    return f"{h12} {suffix}" if t.minute == 0 else f"{h12}:{t.minute:02d} {suffix}"


def format_datetime(value: Any, lang: str, now: datetime | None = None) -> str:
    """A callback time as said aloud, relative to ``now`` when near: 明天下午3点 / tomorrow at 3 pm.

    Without ``now``: 11月21日下午3点 / on Saturday 21 November at 3 pm. A bare date has no clock part.
    """
    d = _as_date(value)
    if d is None:
        return str(value)
    has_time = isinstance(d, datetime)
    day = d.date() if isinstance(d, datetime) else d
    delta = (day - now.date()).days if now is not None else None
    if lang == "zh":
        if delta == 0:
            day_text = "今天"
        elif delta == 1:
            day_text = "明天"
        elif delta == 2:
            day_text = "后天"
        elif now is not None and day.year == now.year:
            day_text = f"{day.month}月{day.day}日"
        else:
            day_text = f"{day.year}年{day.month}月{day.day}日"
        return day_text + (_clock_zh(d) if has_time else "")  # type: ignore[arg-type]
    if delta == 0:
        day_text = "today"
    elif delta == 1:
        day_text = "tomorrow"
    elif now is not None and day.year == now.year:
        day_text = f"on {_WEEKDAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]}"
    else:
        day_text = f"on {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day_text + (f" at {_clock_en(d)}" if has_time else "")  # type: ignore[arg-type]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def blood_pressure_parts(value: Any) -> tuple[float, float] | None:
    """(systolic, diastolic) of a blood pressure answer given as a dict, a pair or "130/85"; else None."""
    if isinstance(value, Mapping):
        s, d = value.get("systolic"), value.get("diastolic")
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        s, d = value
    elif isinstance(value, str) and "/" in value:
        s, _, d = value.partition("/")
    else:
        return None
    try:
        return float(s), float(d)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def render_answer(value: Any, ask: Ask, lang: str, context: Mapping[str, Any] | None = None) -> str:
    """An answer value said back to the patient for confirmation: 是/不是, 4分, 好一些, 130/85, 37.5度."""
    ctx = context or {}
    zh = lang == "zh"
    unit = render(text_of(ask.unit, lang), ctx, lang) if ask.unit else ""
    if ask.type == "yes_no":
        if zh:
            return "是" if value else "不是"
        return "yes" if value else "no"
    if ask.type in ("single_choice", "multi_choice"):
        ids = value if isinstance(value, (list, tuple)) else [value]
        labels = []
        for choice_id in ids:
            choice = next((c for c in ask.choices if c.id == choice_id), None)
            labels.append(render(text_of(choice.label, lang), ctx, lang) if choice else str(choice_id))
        return ("、" if zh else ", ").join(labels)
    if ask.type == "scale":
        return f"{_number(value)}分" if zh else f"{_number(value)} out of {_number(ask.max or 5)}"
    if ask.type == "blood_pressure":
        parts = blood_pressure_parts(value)
        if parts:
            return f"{_number(parts[0])}/{_number(parts[1])}"
        return str(value)
    if ask.type == "temperature":
        return f"{_number(value)}{unit or '度'}" if zh else f"{_number(value)} {unit or 'degrees'}"
    if ask.type in ("number", "glucose"):
        if not unit:
            return _number(value)
        return f"{_number(value)}{unit}" if zh else f"{_number(value)} {unit}"
    if ask.type == "date":
        return format_date(value, lang)
    return str(value)


def _is_cjk(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)
