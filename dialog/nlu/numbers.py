"""Numerals as patients say them, Chinese and English, turned into Arabic digits — inside number slots only.

``to_digits`` rewrites the numerals of a normalised reply and leaves everything else alone; ``find_numbers``
then reads the digits. Only the quantity, date and time parsers call it: converting free text corrupts
words (一般 → 1般, 十分满意 → 10分满意), and words such as 一般, 一直, 一下, 十分(满意), 万一 are protected
here too.

Chinese forms: 一百三 (130, the spoken abbreviation), 一百零五, 两百, 幺三五 (digit by digit), 七点二,
三十六度八 (36.8 — the 度 of a temperature), 一个半 (1.5), 百分之八十 (80%), 五六个 / 七八十 (ranges,
written ``5~6``), 一百三十五八十五 (two numbers run together: ``135 85``).
English forms: seven point two, thirty-seven point five, one thirty five (135), a hundred and forty,
one oh five (105), nineteen ninety (1990), ordinals (third → 3rd).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN_DIGITS: dict[str, int] = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUM_CHARS = "".join(CN_DIGITS) + "".join(CN_UNITS)
_CN_RUN = re.compile(f"[{_CN_NUM_CHARS}]+")
_CN_FRACTION = re.compile(r"点([零〇一二三四五六七八九幺]+)")

# Words made of numeral characters that are not numbers. 十分 is "very" before an adjective or verb.
_CN_BLOCK = re.compile(
    r"一般|一直|一下|一些|一样|一起|一定|一切|一共|一会|一边|一向|一阵|一点点|一点儿|一模一样|一旦|一再|一律|"
    r"统一|一致|唯一|同一|一路|一早|一口气|一心|一辈子|一块儿|一齐|一概|万一|千万|万万|不一|一半|"
    r"(?<![零一二两三四五六七八九百])十分(?=[\u4e00-\u9fffa-z])(?!钟)|一度(?!\d)|上半|下半|一番|一头|一身|一肚子|"
    r"二话|三长两短|乱七八糟|七上八下|一五一十|一塌糊涂|一言难尽|一般般|一点(?![零〇一二三四五六七八九点钟半十]|[多几])"
)
# In a time of day 一点 is one o'clock and 点 is not a decimal point.
_CN_BLOCK_CLOCK = re.compile(
    r"一般|一直|一下|一些|一样|一起|一定|一切|一共|一会|一边|一向|一阵|一点点|一点儿|万一|千万|一半|一早|"
    r"(?<![零一二两三四五六七八九百])十分(?=[\u4e00-\u9fffa-z])(?!钟)"
)

EN_UNITS: dict[str, int] = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
EN_TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
EN_ORDINALS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_EN_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Number:
    """A number found in digit text: ``value`` (a range's midpoint), its span, whether it is approximate."""

    value: float
    start: int
    end: int
    approx: bool = False
    low: float | None = None
    high: float | None = None


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(round(v, 6))


def parse_cn_integers(run: str) -> list[int]:
    """Read a run of Chinese numeral characters as one or more integers.

    一百三 → [130]; 一百零五 → [105]; 两万五 → [25000]; 一三五 → [135]; 一百三十五八十五 → [135, 85];
    一百二八十 → [120, 80]. Unknown characters are ignored.
    """
    chars = [c for c in run if c in CN_DIGITS or c in CN_UNITS]
    if not chars:
        return []
    if not any(c in CN_UNITS for c in chars):
        return [int("".join(str(CN_DIGITS[c]) for c in chars))]
    out: list[int] = []
    total = section = 0
    pending: int | None = None
    last_unit: int | None = None
    zero = False
    started = False

    def finish() -> None:
        nonlocal total, section, pending, last_unit, zero, started
        if not started:
            return
        value = total + section
        if pending is not None:
            if last_unit is not None and last_unit >= 100 and not zero:
                value += pending * last_unit // 10  # 一百三 = 130, 两万五 = 25000
            else:
                value += pending
        out.append(value)
        total = section = 0
        pending = None
        last_unit = None
        zero = False
        started = False

    for c in chars:
        if c in CN_DIGITS:
            d = CN_DIGITS[c]
            if d == 0 and c in "零〇" and last_unit is not None:
                zero = True
                continue
            if pending is not None:
                finish()
            pending = d
            started = True
        else:
            u = CN_UNITS[c]
            if u == 10000:
                total = (total + section + (pending or 0)) * 10000 if (section or pending or total) else 10000
                section = 0
                pending = None
                last_unit = 10000
                started = True
                continue
            if last_unit is not None and last_unit != 10000 and u >= last_unit:
                carried = pending
                pending = None
                finish()
                pending = carried
            if pending is None:
                pending = 1  # 十五 = 15, 百 alone = 100
            section += pending * u
            pending = None
            last_unit = u
            zero = False
            started = True
    finish()
    return out


def _cn_range(run: str) -> tuple[str, str] | None:
    """五六 → (五, 六); 十五六 → (十五, 十六); 七八十 → (七十, 八十); 一百三四十 → (一百三十, 一百四十)."""
    for i in range(len(run) - 1):
        a, b = run[i], run[i + 1]
        if a in CN_DIGITS and b in CN_DIGITS and a not in "零〇" and b not in "零〇":
            da, db = CN_DIGITS[a], CN_DIGITS[b]
            if db == da + 1 or (a == "一" and b == "两"):
                after = run[i + 2 : i + 3]
                has_units = any(c in CN_UNITS for c in run)
                if len(run) == 2 or (has_units and (after == "" or after in CN_UNITS)):
                    return run[: i + 1] + run[i + 2 :], run[:i] + run[i + 1 :]
    return None


def _convert_cn_run(run: str) -> str:
    rng = _cn_range(run)
    if rng:
        lo, hi = parse_cn_integers(rng[0]), parse_cn_integers(rng[1])
        if len(lo) == 1 and len(hi) == 1:
            return f"{lo[0]}~{hi[0]}"
    return " ".join(str(n) for n in parse_cn_integers(run))


def cn_to_digits(text: str, clock: bool = False) -> str:
    """Rewrite Chinese numerals in ``text`` as Arabic digits (see the module docstring)."""
    if not any(c in _CN_NUM_CHARS for c in text):
        return _post_digits(text, clock)
    text = re.sub(r"百分之", "%之", text)
    blocked = bytearray(len(text))
    for m in (_CN_BLOCK_CLOCK if clock else _CN_BLOCK).finditer(text):
        for i in range(m.start(), m.end()):
            blocked[i] = 1
    out: list[str] = []
    pos = 0
    for m in _CN_RUN.finditer(text):
        s, e = m.start(), m.end()
        if s < pos:
            continue
        # Trim blocked characters off the run; a run inside a blocked word is left as it is.
        while s < e and blocked[s]:
            s += 1
        while e > s and blocked[e - 1]:
            e -= 1
        if s >= e or any(blocked[s:e]):
            continue
        run = text[s:e]
        if run in ("万", "千", "百"):
            continue
        conv = _convert_cn_run(run)
        if not conv:
            continue
        end = e
        if not clock and "~" not in conv:
            fm = _CN_FRACTION.match(text, e)
            if fm:
                digits = "".join(str(CN_DIGITS[c]) for c in fm.group(1))
                conv = f"{conv}.{digits}"
                end = fm.end()
            elif text[e : e + 2] in ("点多", "点几"):
                conv = conv + text[e + 1]
                end = e + 2
            elif text[e : e + 1] == "度":
                dm = re.match(r"度([一二三四五六七八九零〇幺])(?![零〇一二两三四五六七八九十百点])", text[e:])
                if dm:
                    conv = f"{conv}.{CN_DIGITS[dm.group(1)]}度"
                    end = e + dm.end()
        out.append(text[pos:s])
        # Keep digits apart from neighbouring digits (一百二十 80 → 120 80).
        if out and out[-1][-1:].isdigit():
            out.append(" ")
        out.append(conv)
        pos = end
    out.append(text[pos:])
    return _post_digits("".join(out), clock)


# Measure words of a dose that take 半 (半片, 一片半, 两粒半), in number slots only.
_HALF_UNITS = r"片|粒|颗|袋|包|支|瓶|杯|碗|勺|滴|格"


def _post_digits(text: str, clock: bool) -> str:
    text = re.sub(r"%之\s*(\d+(?:\.\d+)?)", r"\1%", text)
    text = text.replace("%之", "百分之")
    if not clock:
        text = re.sub(r"(\d+)度(\d)(?![\d.])", r"\1.\2度", text)  # 36度8
        text = re.sub(r"(\d+)(个)?半(?!年|夜|天|月)", r"\1.5\2", text)  # 一个半 → 1.5个
        text = re.sub(r"(\d+)(斤|公斤|块|岁|" + _HALF_UNITS + r")半", r"\1.5\2", text)  # 两斤半, 一片半
        text = re.sub(r"(?<![\d.])半(?=个|小时|钟头|斤|" + _HALF_UNITS + r")", "0.5", text)  # 半片, 半个
    return text


def _en_chunks(words: list[str]) -> list[list[int]]:
    """Group number words into standard phrases; a word that cannot extend the current one starts a new one."""
    chunks: list[list[int]] = []
    cur: list[int] = []
    last = ""  # kind of the last word: unit, teen, tens, hundred, thousand
    for w in words:
        if w in EN_UNITS:
            v = EN_UNITS[w]
            kind = "unit" if v < 10 else "teen"
        elif w in EN_TENS:
            v, kind = EN_TENS[w], "tens"
        elif w in ("hundred", "thousand"):
            v, kind = (100 if w == "hundred" else 1000), w
        else:
            continue
        ok = (
            not cur
            or (kind == "unit" and v > 0 and last in ("tens", "hundred", "thousand"))
            or (kind in ("teen", "tens") and last in ("hundred", "thousand"))
            or (kind == "hundred" and last in ("unit", "teen") and cur[-1] > 0)
            or (kind == "thousand" and last in ("unit", "teen", "tens", "hundred"))
        )
        if not ok:
            chunks.append(cur)
            cur = []
        if kind in ("hundred", "thousand") and not cur:
            cur = [1]  # "a hundred"
            last = "unit"
        cur.append(v if kind not in ("hundred", "thousand") else -v)
        last = kind
    if cur:
        chunks.append(cur)
    return chunks


def _chunk_value(chunk: list[int]) -> int:
    total = current = 0
    for v in chunk:
        if v == -100:
            current = (current or 1) * 100
        elif v == -1000:
            total += (current or 1) * 1000
            current = 0
        else:
            current += v
    return total + current


def _en_run_to_digits(words: list[str]) -> str:
    if "point" in words:
        i = words.index("point")
        whole = _en_run_to_digits(words[:i]) if i else "0"
        frac_words = [w for w in words[i + 1 :] if w in EN_UNITS or w in EN_TENS]
        if frac_words and all(w in EN_UNITS and EN_UNITS[w] < 10 for w in frac_words):
            frac = "".join(str(EN_UNITS[w]) for w in frac_words)
        else:
            frac = _en_run_to_digits(frac_words) if frac_words else ""
        whole = whole.split()[-1] if whole else "0"
        return f"{whole}.{frac}" if frac else whole
    chunks = [c for c in _en_chunks(words) if c]
    values = [_chunk_value(c) for c in chunks]
    if len(values) <= 1:
        return " ".join(str(v) for v in values)
    if all(v < 100 for v in values) and (any(v >= 10 for v in values[1:]) or 0 in values):
        return values[0].__str__() + "".join(f"{v:02d}" if v >= 10 else str(v) for v in values[1:])
    return " ".join(str(v) for v in values)


def en_to_digits(text: str) -> str:
    """Rewrite English number words as digits: "one thirty five over eighty five" → "135 over 85"."""
    if not re.search(r"[a-z]", text):
        return text
    tokens = list(_EN_WORD.finditer(text))
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(tokens):
        w = tokens[i].group(0)
        if (
            w in EN_TENS
            and i + 1 < len(tokens)
            and tokens[i + 1].group(0) in EN_ORDINALS
            and (text[tokens[i].end() : tokens[i + 1].start()] in ("-", " "))
        ):
            out.append(text[pos : tokens[i].start()])
            out.append(f"{EN_TENS[w] + EN_ORDINALS[tokens[i + 1].group(0)]}th")
            pos = tokens[i + 1].end()
            i += 2
            continue
        starts = (
            w in EN_UNITS
            or w in EN_TENS
            or w in ("hundred", "thousand")
            or (w == "a" and i + 1 < len(tokens) and tokens[i + 1].group(0) in ("hundred", "thousand"))
        )
        if w == "oh" and not (
            i > 0
            and tokens[i - 1].group(0) in EN_UNITS
            and i + 1 < len(tokens)
            and tokens[i + 1].group(0) in EN_UNITS
        ):
            starts = False
        if w in EN_ORDINALS:
            out.append(text[pos : tokens[i].start()])
            out.append(f"{EN_ORDINALS[w]}th")
            pos = tokens[i].end()
            i += 1
            continue
        if not starts:
            i += 1
            continue
        j = i
        words: list[str] = []
        while j < len(tokens):
            wj = tokens[j].group(0)
            gap = text[tokens[j - 1].end() : tokens[j].start()] if j > i else ""
            if j > i and gap.strip(" -") != "":
                break
            if wj in EN_UNITS or wj in EN_TENS or wj in ("hundred", "thousand", "point"):
                words.append(wj)
            elif (
                wj == "a"
                and j + 1 < len(tokens)
                and tokens[j + 1].group(0) in ("hundred", "thousand")
                or wj == "and"
                and words
                and words[-1] in ("hundred", "thousand")
                and j + 1 < len(tokens)
                and (tokens[j + 1].group(0) in EN_UNITS or tokens[j + 1].group(0) in EN_TENS)
            ):
                pass
            elif wj.replace(".", "").isdigit() and j == i:
                words.append(wj)
            else:
                break
            j += 1
        if words and words[0].replace(".", "").isdigit():  # "36 point 8"
            digits = words[0] + (("." + _en_run_to_digits(words[2:])) if len(words) > 2 else "")
        else:
            digits = _en_run_to_digits(words)
        if words[-1:] == ["point"]:
            j -= 1
        out.append(text[pos : tokens[i].start()])
        out.append(digits)
        pos = tokens[j - 1].end()
        i = j
    out.append(text[pos:])
    t = re.sub(r"(\d+) point (\d+)", r"\1.\2", "".join(out))
    t = re.sub(r"(\d+)(?: and)? a half\b", r"\1.5", t)
    t = re.sub(r"\bonce\b", "1 time", t)
    t = re.sub(r"\btwice\b", "2 times", t)
    return re.sub(r"\bhalf an?\b", "0.5", t)


def to_digits(text: str, clock: bool = False) -> str:
    """Chinese and English numerals → Arabic digits (for number, date and time slots only)."""
    return en_to_digits(cn_to_digits(text, clock=clock))


_NUM = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?:~(\d+(?:\.\d+)?))?")
_APPROX_AFTER = re.compile(r"\s*(多|几|来|左右|上下|出头|ish)")
_APPROX_BEFORE = re.compile(
    r"(大概|大约|差不多|估计|约|about|around|roughly|approximately|almost|nearly)\s*$"
)


def find_numbers(digits_text: str) -> list[Number]:
    """All numbers in text already passed through ``to_digits``, in order."""
    out: list[Number] = []
    for m in _NUM.finditer(digits_text):
        lo = float(m.group(1))
        hi = float(m.group(2)) if m.group(2) else None
        approx = hi is not None
        if _APPROX_AFTER.match(digits_text, m.end()):
            approx = True
        if _APPROX_BEFORE.search(digits_text[max(0, m.start() - 14) : m.start()]):
            approx = True
        value = (lo + hi) / 2 if hi is not None else lo
        out.append(Number(value, m.start(), m.end(), approx, lo, hi if hi is not None else lo))
    return out


def format_number(v: float) -> int | float:
    """An int when the value is whole, else a float rounded to 2 places."""
    return int(v) if float(v).is_integer() else round(v, 2)


__all__ = [
    "Number",
    "_fmt",
    "cn_to_digits",
    "en_to_digits",
    "find_numbers",
    "format_number",
    "parse_cn_integers",
    "to_digits",
]
