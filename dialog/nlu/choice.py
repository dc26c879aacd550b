"""Single and multiple choice answers against ``Expectation.choices`` (label and synonyms per choice).

Rules (docs/nlu.md):
- choice words are matched longest first (so 不满意 is not 满意), after the pinyin repair of
  ``dialog.nlu.fuzzy`` has mapped sound-alike spans to the choice words; English words also match in the
  plural/singular and, for words of five letters or more, with edit similarity ≥ 85;
- a word right after a negator (不是, 没有, 不要, 除了, not, no) is excluded: 不是A，是B → B;
- ordinals and keys: 第二个, 第2种, 最后一个, "the second one", "option 2", "number two"; a reply that
  is only a digit means the choice with that DTMF key, else that position;
- single choice: the last non-negated choice mentioned (confidence 0.6 when several were); when every
  choice is a satisfaction level (满意 / 一般 / 不满意), the reply is read as a scale answer and the
  nearest level is chosen (不太满意 → 不满意, 非常满意 → 满意);
- multi choice: every non-negated choice, in the order of ``choices``; 都有 / "all of them" → all;
  都没有 / 都不是 / "none of them" → [] (an answer: none applies).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

from dialog.nlu.expectation import Expectation
from dialog.nlu.lexscan import Lexicon, units
from dialog.nlu.numbers import CN_DIGITS, EN_ORDINALS, EN_UNITS
from dialog.nlu.result import Parse
from dialog.nlu.scale import parse_scale

_NEGATORS = {
    "不是",
    "不",
    "没有",
    "没",
    "不要",
    "别",
    "除了",
    "无",
    "not",
    "no",
    "never",
    "except",
    "without",
    "nor",
}
_SKIP = {"是", "有", "要", "选", "the", "a", "an", "any", "是选", "really"}
_ALL = re.compile(
    r"都有|全都有|全部都有|全部|都是|都选|每个都|全选|all of them|all of the above|all of those|all three|"
    r"all the above|everything|both"
)
_NONE = re.compile(
    r"都没有|都没|都不是|一个都没有|一个也没有|什么都没有|啥都没有|都不|none of them|none of those|"
    r"none of the above|^none$|^neither$|neither of them|^nothing$|^no$|^没有$|^都没有$"
)
_ORD_ZH = re.compile(
    r"第\s*([一二两三四五六七八九十\d]+)\s*(?:个|种|项|条|样|类|号)?|([一二两三四五六七八九\d])\s*号(?:选项)?|"
    r"选\s*([一二两三四五六七八九\d])(?![\u4e00-\u9fff])"
)
_ORD_EN = re.compile(
    r"\b(?:the\s+)?(" + "|".join(EN_ORDINALS) + r"|\d+(?:st|nd|rd|th))\s*(?:one|option|choice)?\b|"
    r"\b(?:option|number|choice|press)\s+(\d+|" + "|".join(EN_UNITS) + r")\b"
)
_LAST = re.compile(r"最后一个|最后那个|最后一项|the last one|the last option")


@lru_cache(maxsize=256)
def _lexicon(exp: Expectation) -> Lexicon:
    entries: dict[str, str] = {}
    for ch in exp.choices:
        for w in ch.words + (ch.id,):
            w = w.strip().lower()
            if not w:
                continue
            entries.setdefault(w, ch.id)
            if re.fullmatch(r"[a-z][a-z ]*[a-z]", w):
                entries.setdefault(w + "s", ch.id)
                if w.endswith("s"):
                    entries.setdefault(w[:-1], ch.id)
    return Lexicon(entries)


@lru_cache(maxsize=256)
def _english_words(exp: Expectation) -> tuple[tuple[str, str], ...]:
    return tuple(
        (w.lower(), ch.id) for ch in exp.choices for w in ch.words if re.fullmatch(r"[a-zA-Z]{5,}", w)
    )


def _ordinal_index(text: str, n: int) -> int | None:
    if _LAST.search(text):
        return n - 1
    m = _ORD_ZH.search(text)
    if m:
        s = m.group(1) or m.group(2) or m.group(3)
        if s.isdigit():
            k = int(s)
        elif s == "十":
            k = 10
        else:
            k = CN_DIGITS.get(s[0], 0) if len(s) == 1 else 0
        return k - 1 if 1 <= k <= n else None
    m = _ORD_EN.search(text)
    if m:
        s = m.group(1) or m.group(2)
        if s in EN_ORDINALS:
            k = EN_ORDINALS[s]
        elif s in EN_UNITS:
            k = EN_UNITS[s]
        else:
            k = int(re.sub(r"\D", "", s) or 0)
        return k - 1 if 1 <= k <= n else None
    return None


def _bare_key(text: str) -> str | None:
    t = text.strip().rstrip("吧啊呀号")
    t = re.sub(r"^(?:我选|选|按|我按)\s*", "", t)
    if t.isdigit() and len(t) == 1:
        return t
    if t in CN_DIGITS and t not in ("零", "〇"):
        return str(CN_DIGITS[t])
    if t in EN_UNITS and EN_UNITS[t] < 10:
        return str(EN_UNITS[t])
    return None


def _mentions(text: str, exp: Expectation) -> tuple[list[str], list[str]]:
    """(ids mentioned, ids negated), in order of mention."""
    us = units(text)
    toks = _lexicon(exp).scan(us)
    said: list[str] = []
    negated: list[str] = []
    for i, t in enumerate(toks):
        if t.label is None:
            continue
        j = i - 1
        while j >= 0 and toks[j].text in _SKIP:
            j -= 1
        neg = j >= 0 and toks[j].label is None and toks[j].text in _NEGATORS
        if not neg and j >= 1 and toks[j].label is None and toks[j - 1].label is None:
            neg = toks[j - 1].text + toks[j].text in ("不是", "没有", "不要", "除了")
        (negated if neg else said).append(t.label)
    if not said and not negated:
        words = _english_words(exp)
        if words:
            for u in us:
                if len(u) >= 5 and u.isalpha():
                    for w, cid in words:
                        if fuzz.ratio(u, w) >= 85:
                            said.append(cid)
                            break
    return said, negated


@lru_cache(maxsize=256)
def _scale_values(exp: Expectation) -> tuple[tuple[str, int], ...] | None:
    """When every choice is a satisfaction level (满意 / 一般 / 不满意), its value on the 1–5 scale."""
    out = []
    for c in exp.choices:
        vals = [p.value for w in c.words if (p := parse_scale(w.lower())) is not None]
        if not vals:
            return None
        out.append((c.id, vals[0]))
    return tuple(out) if len({v for _, v in out}) == len(out) else None


def parse_single_choice(text: str, exp: Expectation) -> Parse | None:
    """The id of the chosen option."""
    levels = _scale_values(exp) if exp.choices else None
    if levels is not None:
        sc = parse_scale(text)
        if sc is not None:
            best = min(levels, key=lambda lv: abs(lv[1] - sc.value))
            return Parse(best[0], sc.confidence)
    said, negated = _mentions(text, exp)
    said = [s for s in said if s not in negated or said.count(s) > negated.count(s)]
    if said:
        distinct = list(dict.fromkeys(said))
        return Parse(said[-1], 0.95 if len(distinct) == 1 else 0.6)
    key = _bare_key(text)
    ids = [c.id for c in exp.choices]
    if key is not None:
        for c in exp.choices:
            if c.dtmf == key:
                return Parse(c.id, 0.9)
        k = int(key)
        if 1 <= k <= len(ids):
            return Parse(ids[k - 1], 0.8)
    idx = _ordinal_index(text, len(ids))
    if idx is not None:
        return Parse(ids[idx], 0.85)
    return None


def parse_multi_choice(text: str, exp: Expectation) -> Parse | None:
    """The ids of every chosen option, in the order of ``exp.choices``."""
    said, negated = _mentions(text, exp)
    ids = [c.id for c in exp.choices]
    chosen = set(said) - (set(negated) - set(said))
    if _ALL.search(text) and not negated and not said:  # 头晕乏力都有: "both" of those named
        return Parse(ids, 0.85)
    if chosen:
        return Parse([i for i in ids if i in chosen], 0.95 if not negated else 0.85)
    if _NONE.search(text.strip()):
        return Parse([], 0.85)
    if negated and not said:
        return Parse([], 0.7)
    one = parse_single_choice(text, exp)
    if one is not None:
        return Parse([one.value], one.confidence)
    return None
