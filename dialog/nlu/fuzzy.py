"""Pinyin-aware repair of homophone mis-recognitions (蛮意→满意, 副茶→复查, 美有→没有, 卸糖→血糖).

Whisper writes what it hears, often as the wrong characters with the right sound. Rather than make every
parser fuzzy, ``repair`` rewrites the text once: a span whose toneless pinyin matches a key phrase of the
current expectation is replaced by that phrase, and every parser then matches exactly.

Rules (precision first: a wrong repair is worse than none):
- only spans of Chinese characters, only phrases of two or more characters;
- a span that already contains an exact key phrase is left alone (不满意 is never touched by 满意);
- level 1, same toneless pinyin (the phrase in its own reading, plus colloquial ones such as 血 xie; the
  text in any reading of its characters): accepted, confidence × 0.85;
- level 2, one syllable near (z/zh, n/l, an/ang, ai/an, …, or edit similarity ≥ 0.8): accepted for
  phrases of three or more characters and for the few two-character words listed as ``loose``,
  confidence × 0.7;
- real words that sound like a key phrase (一半 vs 一般, 不适 vs 不是, 打过 vs 打错) are protected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict
from rapidfuzz.distance import Levenshtein

EXACT_FACTOR = 0.85
NEAR_FACTOR = 0.7

_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_READINGS: dict[str, tuple[str, ...]] = {}
# A key phrase is matched in the reading it has in the phrase (说不好: shuo, never the rare shui of 游说),
# plus the colloquial readings listed here.
_EXTRA_READINGS: dict[str, tuple[str, ...]] = {"血": ("xie",)}

# Words that sound like a key phrase but are real words a patient says.
PROTECTED: frozenset[str] = frozenset(
    [
        "一半",
        "一班",
        "一遍",
        "一边",
        "一板",
        "不适",
        "不时",
        "部队",
        "似的",
        "使得",
        "提问",
        "满一",
        "大错",
        "打过",
        "一百",
        "一摆",
        "食堂",
        "十二",
        "实施",
        "事实",
        "时时",
        "是是",
        "试试",
        "没用",
        "没油",
        "美元",
        "没意",
        "美意",
        "意义",
        "有意",
        "有一",
        "右边",
        "买药",
        "卖药",
        "买了",
        "卖了",
        "埋了",
    ]
)

_INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
)
_CONFUSABLE_INITIALS = ({"z", "zh"}, {"c", "ch"}, {"s", "sh"}, {"n", "l"}, {"f", "h"}, {"r", "l"})
_CONFUSABLE_FINALS = (
    {"an", "ang"},
    {"en", "eng"},
    {"in", "ing"},
    {"ian", "iang"},
    {"uan", "uang"},
    {"an", "ai"},
    {"eng", "ong"},
    {"uan", "an"},
    {"ui", "ei"},
    {"ue", "ie"},
)


def readings(ch: str) -> tuple[str, ...]:
    """Toneless pinyin readings of one character (most common first); () for non-Chinese characters."""
    r = _READINGS.get(ch)
    if r is None:
        raw = pinyin_dict.get(ord(ch)) if len(ch) == 1 else None
        if raw:
            seen: list[str] = []
            for p in raw.split(","):
                p = p.translate(_TONES)
                if p not in seen:
                    seen.append(p)
            r = tuple(seen)
        else:
            r = ()
        _READINGS[ch] = r
    return r


def pinyin(text: str) -> str:
    """Toneless pinyin of the Chinese characters in ``text`` (first reading), space separated."""
    return " ".join(readings(ch)[0] for ch in text if readings(ch))


def _split(syl: str) -> tuple[str, str]:
    for ini in _INITIALS:
        if syl.startswith(ini) and len(syl) > len(ini):
            return ini, syl[len(ini) :]
    return "", syl


def syllable_similarity(a: str, b: str) -> float:
    """1.0 same; 0.85 when initial or final is a known confusion and the other part is the same;
    otherwise normalised edit similarity."""
    if a == b:
        return 1.0
    ia, fa = _split(a)
    ib, fb = _split(b)
    if fa == fb and any(ia in s and ib in s for s in _CONFUSABLE_INITIALS):
        return 0.85
    if ia == ib and any(fa in s and fb in s for s in _CONFUSABLE_FINALS):
        return 0.85
    return Levenshtein.normalized_similarity(a, b)


def _best_similarity(text_readings: tuple[str, ...], phrase_readings: tuple[str, ...]) -> float:
    best = 0.0
    for a in text_readings:
        for b in phrase_readings:
            s = syllable_similarity(a, b)
            if s > best:
                best = s
                if s == 1.0:
                    return 1.0
    return best


@dataclass(frozen=True)
class _Phrase:
    text: str
    target: str  # what a matching span is replaced by (the phrase itself, or the canonical form of an alias)
    syl: tuple[tuple[str, ...], ...]
    loose: bool


class PhraseRepairer:
    """Repairs spans of text that sound like one of ``phrases`` (built once, used per call)."""

    def __init__(
        self, phrases: Iterable[str], loose: Iterable[str] = (), aliases: dict[str, str] | None = None
    ):
        loose_set = set(loose)
        self.aliases = dict(aliases or {})
        entries: dict[str, _Phrase] = {}
        for p in phrases:
            if len(p) >= 2 and all(_CJK.match(c) and readings(c) for c in p):
                ctx = [s.replace("ü", "v") for s in lazy_pinyin(p, style=Style.NORMAL)]
                syl = tuple((s, *_EXTRA_READINGS.get(c, ())) for c, s in zip(p, ctx, strict=True))
                entries[p] = _Phrase(p, p, syl, p in loose_set)
        self.phrases = tuple(entries.values())
        self.exact = set(entries) | set(self.aliases)
        words = sorted(self.exact, key=len, reverse=True)
        self._exact_re = re.compile("|".join(map(re.escape, words))) if words else None
        self._alias_re = (
            re.compile("|".join(map(re.escape, sorted(self.aliases, key=len, reverse=True))))
            if self.aliases
            else None
        )
        self._index: dict[str, list[tuple[int, int]]] = {}
        for pid, ph in enumerate(self.phrases):
            for off, rs in enumerate(ph.syl):
                for r in rs:
                    self._index.setdefault(r, []).append((pid, off))

    def repair(self, text: str) -> tuple[str, float]:
        """Return the repaired text and a confidence factor (1.0 when nothing was changed)."""
        factor = 1.0
        if self._alias_re is not None and self._alias_re.search(text):
            text = self._alias_re.sub(lambda m: self.aliases[m.group(0)], text)
            factor = EXACT_FACTOR
        if not _CJK.search(text):
            return text, factor
        covered = bytearray(len(text))
        if self._exact_re is not None:
            for m in self._exact_re.finditer(text):
                for i in range(m.start(), m.end()):
                    covered[i] = 1
        chars = text
        rd = [readings(c) for c in chars]
        hits: dict[tuple[int, int], int] = {}
        index = self._index
        for i, rs in enumerate(rd):
            if covered[i] or not rs:
                continue
            for r in rs:
                for pid, off in index.get(r, ()):
                    start = i - off
                    if start >= 0:
                        key = (pid, start)
                        hits[key] = hits.get(key, 0) + 1
        if not hits:
            return text, factor
        found: list[tuple[float, int, int, str]] = []  # (score, start, end, replacement)
        phrases = self.phrases
        for (pid, start), n_hits in hits.items():
            ph = phrases[pid]
            n = len(ph.syl)
            end = start + n
            if end > len(chars):
                continue
            need = n if n == 2 and not ph.loose else n - 1
            if n_hits < need:
                continue
            window = chars[start:end]
            if window == ph.text or window in PROTECTED or any(covered[start:end]):
                continue
            sims = []
            for k in range(n):
                if not rd[start + k]:
                    break
                sims.append(_best_similarity(rd[start + k], ph.syl[k]))
            else:
                off = [s for s in sims if s < 1.0]
                if not off:
                    found.append((2.0 + n, start, end, ph.target))
                elif len(off) == 1 and off[0] >= 0.8 and (n >= 3 or ph.loose):
                    found.append((1.0 + n, start, end, ph.target))
        if not found:
            return text, factor
        found.sort(key=lambda f: (-f[0], f[1]))
        taken = bytearray(len(chars))
        chosen = []
        for score, start, end, rep in found:
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = 1
            chosen.append((start, end, rep, score))
        for start, end, rep, score in sorted(chosen, reverse=True):
            text = text[:start] + rep + text[end:]
            factor = min(factor, EXACT_FACTOR if score >= 2.0 else NEAR_FACTOR)
        return text, factor
