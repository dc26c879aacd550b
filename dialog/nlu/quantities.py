"""Measured quantities: a plain number, blood pressure, blood glucose, body temperature.

Rules (docs/nlu.md):
- numbers are read after ``numbers.to_digits``; approximate forms (五六个 → 5.5, 七点多 → 7, 大概) lower the
  confidence to 0.6 so the dialog reads the value back;
- context numbers — a clock time, a duration, a count, a date (早上8点量的, 餐后2小时, 3天前, "at 6") — are
  skipped by the glucose, temperature and blood-pressure readers when a reading is also there;
- number: the number next to the expected unit when there is one, else the first number that is not a
  "per period" 1 (一天三次 → 3) nor a clock time; ``Expectation.min/max`` outside → rejected (``out_of_range``);
  weight in 斤 for a kg question is halved (and the reverse); 一米七 → 1.7 (m) or 170 (cm);
- blood pressure: labelled values (高压/收缩压/上面/systolic, 低压/舒张压/下面/diastolic) first, else
  "A/B", "A比B", "A over B", or the first two numbers; unlabelled values with diastolic > systolic are
  swapped (confidence 0.6), labelled ones that contradict their labels are rejected; systolic must be
  50–300, diastolic 20–200, systolic > diastolic; one number alone is no answer;
- glucose in mmol/L: values said with mg/dL (mg/dl, 毫克) are divided by 18 and rounded to 0.1; a value > 35
  without a unit is kept as said with confidence 0.5 (read back; a ``max`` of 35 rejects it); the result must
  be 0.5–50 unless ``min/max`` say otherwise; numbers with another unit (度, 公斤, 120/80) are not glucose;
- temperature in °C: values said in °F (华氏, fahrenheit, °F, or any value > 50) are converted,
  (F − 32) × 5/9 rounded to 0.1; the result must be 30–45 unless ``min/max`` say otherwise; when several
  readings are given the highest is kept (a fever must not be missed).
"""

from __future__ import annotations

import re

from dialog.nlu.expectation import Expectation
from dialog.nlu.hedges import hedge_factor
from dialog.nlu.numbers import Number, find_numbers, format_number, to_digits
from dialog.nlu.result import Parse

APPROX_CONFIDENCE = 0.6
BASE_CONFIDENCE = 0.95

_PER_PERIOD = re.compile(r"\s*(天|日|周|星期|礼拜|个月|月|年|次|顿|day|week|month|year|time)")
_UNIT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "kg": ("kg", "公斤", "千克", "kilo"),
    "公斤": ("kg", "公斤", "千克", "kilo"),
    "斤": ("斤",),
    "cm": ("cm", "厘米", "公分"),
    "次": ("次", "回", "time"),
    "小时": ("小时", "个小时", "钟头", "个钟头", "hour"),
    "hours": ("小时", "个小时", "钟头", "个钟头", "hour"),
}
_ZERO = re.compile(
    r"(?:^|,)\s*(?:一次|1次|一个|1个|一回|1回|一天|1天)(?:都|也)没(?:有)?|从来没有|从没(?:有)?过?|一次没有|^(?:没有|没|没有过|零|零次|none|"
    r"never|not once|zero|not even once|no times)(?:吧|啊|呢)?$"
)
_CLOCK_AFTER = re.compile(r"\s*(?:点(?![\d])|点钟|am\b|pm\b|o ?clock\b)")
_RANGE_SEP = re.compile(r"\s*(到|至|或者|或|-|~|to|or)\s*$")


# Numbers that set the scene rather than give the reading: a clock time (早上8点量的, "at 6", "7 am"), a
# duration or delay (饭后2小时, 半小时, 30分钟后, "two hours after"), a count or a date (3天前, 1次, 11月20号).
_CONTEXT_AFTER = re.compile(
    r"\s*(?:个)?(?:多|半)?(?:个)?(?:点(?![\d])|点钟|小时|钟头|分钟|分(?!之)|秒|天|日|号|周|星期|礼拜|个月|月|年|岁|次|回|顿|片|粒|颗|"
    r"袋|支|针|hours?\b|hrs?\b|minutes?\b|mins?\b|days?\b|weeks?\b|months?\b|years?\b|times?\b|tablets?\b|pills?\b|"
    r"am\b|pm\b|o ?clock\b|in the (?:morning|afternoon|evening)\b|this (?:morning|afternoon|evening)\b|"
    r"(?:st|nd|rd|th)\b)"
)
_CONTEXT_BEFORE = re.compile(r"(?:\bat|\bsince|\buntil|\bbefore|第)\s*$")


def is_context_number(d: str, n: Number) -> bool:
    """True when ``n`` in digit text ``d`` is a time, a duration, a count or a date, not a measured value."""
    return bool(_CONTEXT_AFTER.match(d, n.end) or _CONTEXT_BEFORE.search(d[max(0, n.start - 7) : n.start]))


def _readings(d: str, nums: list[Number]) -> list[Number]:
    """The numbers that may be the reading: the context numbers are left out unless nothing else is there."""
    return [n for n in nums if not is_context_number(d, n)] or nums


def _in_range(v: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _confidence(n: Number, text: str) -> float:
    c = BASE_CONFIDENCE * hedge_factor(text)
    return min(c, APPROX_CONFIDENCE) if n.approx else c


def _merge_ranges(d: str, nums: list[Number]) -> list[Number]:
    """ "五到六次", "120 or 130" → one approximate number at the midpoint."""
    out: list[Number] = []
    i = 0
    while i < len(nums):
        n = nums[i]
        if i + 1 < len(nums):
            m = nums[i + 1]
            gap = d[n.end : m.start]
            if _RANGE_SEP.match(gap) and m.value > n.value and m.value <= n.value * 2 + 10:
                out.append(Number((n.value + m.value) / 2, n.start, m.end, True, n.value, m.value))
                i += 2
                continue
        out.append(n)
        i += 1
    return out


def parse_number(text: str, exp: Expectation) -> Parse | None:
    """A plain number (count, weight, hours of sleep, pain score…)."""
    d = to_digits(text)
    if _ZERO.search(d.strip()) and _in_range(0, exp.min, exp.max):
        return Parse(0, round(0.85 * hedge_factor(text), 3))
    nums = _merge_ranges(d, [n for n in find_numbers(d)])
    if not nums:
        return None
    chosen: Number | None = None
    value_factor = 1.0
    unit = (exp.unit or "").lower()
    if unit:
        syn = _UNIT_SYNONYMS.get(unit, (unit,))
        for n in nums:
            after = d[n.end : n.end + 4].lstrip()
            if any(after.startswith(s) for s in syn):
                chosen = n
                break
    if chosen is None:
        # A clock time (晚上10点睡, "at 11") is not the count asked for when another number is there.
        clock = {
            id(n)
            for n in nums
            if _CLOCK_AFTER.match(d, n.end) or _CONTEXT_BEFORE.search(d[max(0, n.start - 7) : n.start])
        }
        candidates = [n for n in nums if id(n) not in clock] or nums
        for k, n in enumerate(candidates):
            if n.value == 1 and k + 1 < len(candidates) and _PER_PERIOD.match(d, n.end):
                continue  # 一天三次: the 1 is "per day"
            chosen = n
            break
    if chosen is None:
        chosen = nums[0]
    value = chosen.value
    after = d[chosen.end : chosen.end + 4].lstrip()
    # Height said as 一米七 / 1米75.
    hm = re.match(r"\s*米\s*(\d{1,2})(?!\d)", d[chosen.end :])
    if hm and value < 3:
        value = float(f"{int(value)}.{hm.group(1)}")
        if unit in ("cm", "厘米", "公分"):
            value = round(value * 100)
    elif unit in ("kg", "公斤", "千克") and after.startswith("斤"):
        value = value / 2
    elif unit == "斤" and (after.startswith(("公斤", "kg", "千克"))):
        value = value * 2
    conf = _confidence(chosen, text) * value_factor
    if not _in_range(value, exp.min, exp.max):
        return Parse(None, 0.2, "out_of_range")
    return Parse(format_number(round(value, 2)), conf)


_SYS_LABEL = r"(?:高压|收缩压|上压|上面|高的|上边|systolic|top number|top)"
_DIA_LABEL = r"(?:低压|舒张压|下压|下面|低的|下边|diastolic|bottom number|bottom)"
_LABELLED_SYS = re.compile(_SYS_LABEL + r"\D{0,4}?(\d{2,3})")
_LABELLED_DIA = re.compile(_DIA_LABEL + r"\D{0,4}?(\d{2,3})")
_PAIR = re.compile(r"(\d{2,3})\s*(?:/|比|over|\\|:|的|,|、|\s)\s*(\d{2,3})(?![\d.])")


def parse_blood_pressure(text: str, exp: Expectation | None = None) -> Parse | None:
    """{"systolic": int, "diastolic": int} or None when two plausible numbers are not there."""
    d = to_digits(text)
    conf = BASE_CONFIDENCE * hedge_factor(text)
    s_m, d_m = _LABELLED_SYS.search(d), _LABELLED_DIA.search(d)
    sys_v = dia_v = None
    swapped = False
    if s_m and d_m:
        sys_v, dia_v = int(s_m.group(1)), int(d_m.group(1))
        if sys_v <= dia_v:  # the labels contradict the values: a misheard number
            return Parse(None, 0.2, "out_of_range")
    elif s_m or d_m:
        # One value labelled, the other not: the label decides which is which.
        labelled = int((s_m or d_m).group(1))
        others = [
            n for n in _readings(d, find_numbers(d)) if 20 <= n.value <= 300 and int(n.value) != labelled
        ]
        if others:
            other = round(others[0].value)
            sys_v, dia_v = (labelled, other) if s_m else (other, labelled)
            if sys_v <= dia_v:
                return Parse(None, 0.2, "out_of_range")
    else:
        p = _PAIR.search(d)
        if p:
            sys_v, dia_v = int(p.group(1)), int(p.group(2))
        else:
            nums = [n for n in _readings(d, find_numbers(d)) if 20 <= n.value <= 300]
            if len(nums) >= 2:
                sys_v, dia_v = round(nums[0].value), round(nums[1].value)
                conf *= 0.9
            if nums and any(n.approx for n in nums[:2]):
                conf = min(conf, APPROX_CONFIDENCE)
    if sys_v is None or dia_v is None:
        return None
    if dia_v > sys_v:
        sys_v, dia_v = dia_v, sys_v
        swapped = True
    if not (50 <= sys_v <= 300 and 20 <= dia_v <= 200) or sys_v == dia_v:
        return Parse(None, 0.2, "out_of_range")
    if exp is not None and not _in_range(sys_v, exp.min, exp.max):
        return Parse(None, 0.2, "out_of_range")
    if swapped:
        conf = min(conf, 0.6)
    if re.search(r"(\d)~", d):
        conf = min(conf, APPROX_CONFIDENCE)
    return Parse({"systolic": sys_v, "diastolic": dia_v}, round(conf, 3))


_GLUCOSE_KEY = re.compile(r"血糖|空腹|餐后|饭后|饭前|sugar|glucose|reading")
_MGDL = re.compile(r"mg|毫克")
_PAIR_BEFORE = re.compile(r"(?:/|比|\bover)\s*$")  # the second number of a blood pressure
_NOT_GLUCOSE_AFTER = re.compile(
    r"\s*(?:度|°|degrees?\b|斤|公斤|千克|kg\b|kilos?\b|%|步|块|元|岁|mmhg\b|毫米汞柱|over\b|比|/\s*\d)"
)


def _first_after_keyword(d: str, nums: list[Number], key: re.Pattern[str]) -> Number:
    k = key.search(d)
    if k:
        for n in nums:
            if n.start >= k.end():
                return n
    return nums[0]


MGDL_CONFIDENCE = 0.5  # a value > 35 said without a unit: kept as said, read back by the dialog
_MGDL_MAX = 900  # no plausible reading in mg/dL is higher


def parse_glucose(text: str, exp: Expectation | None = None) -> Parse | None:
    """Blood glucose in mmol/L (see the module docstring for mg/dL)."""
    d = to_digits(text)
    nums = find_numbers(d)
    if not nums:
        return None
    # A number said with another quantity's unit (36.9度, 65公斤, 80%) is not a glucose reading.
    nums = [
        n
        for n in nums
        if not (_NOT_GLUCOSE_AFTER.match(d, n.end) or _PAIR_BEFORE.search(d[max(0, n.start - 6) : n.start]))
    ]
    if not nums:
        return None
    n = _first_after_keyword(d, _readings(d, nums), _GLUCOSE_KEY)
    value = n.value
    conf = _confidence(n, text)
    after = d[n.end : n.end + 12]
    lo = exp.min if exp is not None and exp.min is not None else 0.5
    hi = exp.max if exp is not None and exp.max is not None else 50
    if _MGDL.search(after):
        value = round(value / 18, 1)
        conf *= 0.9
    elif value > 35:
        # No unit said: the number is kept as said (126 is not silently 7.0 — it may be a misheard 12.6), with a
        # confidence that makes the dialog read it back; a question's ``max`` (35) rejects it and reprompts.
        conf = min(conf, MGDL_CONFIDENCE)
        hi = exp.max if exp is not None and exp.max is not None else _MGDL_MAX
    if not _in_range(value, lo, hi):
        return Parse(None, 0.2, "out_of_range")
    return Parse(format_number(round(value, 1)), round(conf, 3))


_FAHRENHEIT = re.compile(r"华氏|fahrenheit|°f|degrees f\b|\bf\b")


def parse_temperature(text: str, exp: Expectation | None = None) -> Parse | None:
    """Body temperature in °C (see the module docstring for °F)."""
    d = to_digits(text)
    nums = [n for n in _readings(d, find_numbers(d)) if 25 <= n.value <= 115]
    if not nums:
        return None
    f_said = bool(_FAHRENHEIT.search(d))
    best: tuple[float, Number] | None = None
    for n in nums:
        v = n.value
        if f_said or v > 50:
            v = round((v - 32) * 5 / 9, 1)
        if best is None or v > best[0]:
            best = (v, n)
    assert best is not None
    value, n = best
    conf = _confidence(n, text)
    if n.value > 50 and not f_said:
        conf *= 0.9
    lo = exp.min if exp is not None and exp.min is not None else 30
    hi = exp.max if exp is not None and exp.max is not None else 45
    if not _in_range(value, lo, hi):
        return Parse(None, 0.2, "out_of_range")
    return Parse(format_number(round(value, 1)), round(conf, 3))
