"""Single and multiple choice answers against ``Expectation.choices`` (label and synonyms per choice).

Rules (docs/nlu.md):
- choice words are normalised like the reply (won't → will not, traditional → simplified) and matched
  longest first (so 不满意 is not 满意), after the pinyin repair of ``dialog.nlu.fuzzy`` has mapped
  sound-alike spans to the choice words; English words also match in the plural/singular and, for words of
  five letters or more, with edit similarity ≥ 85;
- each clause is read on its own. A word after a negator (不是, 没有, 没发现, 不要, not, no, "don't have
  any", "no signs of") is excluded: 不是A，是B → B; the negation covers a list joined by 和/或/and/or/nor
  (没有头晕和头疼, "not red or swollen", and "no dizziness, headaches or palpitations" across the comma);
  a negation after the items excludes them too (头晕头疼都没有, 发红倒是没有), and so does a clause that only
  denies after clauses that only list items (头晕，恶心，都没有). A degree negation (不太疼, 不怎么疼) keeps
  the item. 除了X: everything but X with 别的都有, X alone otherwise (除了头晕，别的都没有 → X);
- ordinals and keys: 第二个, 第2种, 最后一个, "the second one", "option 2", "number two"; a reply that
  is only a digit means the choice with that DTMF key, else that position;
- single choice: the last non-negated choice mentioned (confidence 0.6 when several were); when every
  choice is a satisfaction level (满意 / 一般 / 不满意), the reply is read as a scale answer and the
  nearest level is chosen (不太满意 → 不满意, 非常满意 → 满意);
- multi choice: every non-negated choice, in the order of ``choices``; 都有 / "all of them" said as a clause
  of its own → all (never the "none" choice); a reply that denies everything (没有, 都没有, "no", "none of
  them", only negated items) → ``[none]`` when the question has a "none of these" choice (id ``none``, or
  a word 没有 / 都没有 / none / nothing), else ``[]``; that choice is dropped when a real one is chosen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from dialog.nlu.expectation import Expectation
from dialog.nlu.lexscan import Lexicon, Token, join_units, units
from dialog.nlu.normalize import clauses, normalize
from dialog.nlu.numbers import CN_DIGITS, EN_ORDINALS, EN_UNITS
from dialog.nlu.result import Parse
from dialog.nlu.scale import parse_scale

# A choice word is negated by a negator just before it, possibly followed by light words (没有任何头晕, 没发现
# 红肿, "I don't have any dizziness", "no signs of redness"). 不过 (but) is not a negator. 除了 is "except".
# A degree negation (不太疼, 不怎么疼了, "not very sore") keeps the item: the symptom is still there.
_NEG_BEFORE_ZH = re.compile(
    r"(?:不是|没有|没|不(?!过)|无|未|不要|别|从没|从来没|从来不|并没|并不|也没有|也没|也不|都没有|都没|没什么|没啥)"
    r"(?:任何|什么|啥|出现过|出现|发现|感觉到|感觉|看到|觉得|有|过|明显的|明显|再|是|要|选|发生|得|的)*$"
)
_NEG_BEFORE_EN = re.compile(
    r"\b(?:no|not|never|without|nor|neither|none|hardly|barely)\b(?: (?:any|have|has|had|get|got|getting|feel|felt|"
    r"feeling|notice|noticed|see|seen|saw|experience|experienced|been|having|really|much|the|a|an|some|more|is|are|"
    r"was|were|it|there|too|very|that|so|signs?|of|problems?|with|my|any more|qqq)){0,5}$"
)
_EXCEPT_BEFORE = re.compile(r"(?:除了|除开|除去|except|except for|apart from|other than|besides)$")
# What joins the items of a list, so one negator covers them all: 没有头晕和头疼, "not red or swollen".
_CONJ = re.compile(
    r"^(?:和|跟|与|或者是|或者|或是|或|还是|及|以及|and|or|nor|and no|or any|nor any|any|either|or even)?$"
)
_DISJUNCTION = re.compile(r"(?:^|\s)(?:or|nor)(?:\s|$)|或")
# A negation after the items: 头晕头疼都没有, 发红倒是没有.
_NEG_AFTER = re.compile(
    r"^(?:都|也|倒是|倒|好像|基本上|基本|从来|一直|现在|目前|暂时|还|是|就|全|全都|一点|一点也|一点都)*"
    r"(?:没有|没|无|不明显|不太明显|没什么|没啥|都不是|不是)(?:过|出现过|出现|发生过|发生|了|呢|啊|吧|的|呀|哦|啦|没有)*$"
)
# A clause that only denies (没有, 都没有, "no", "none of those").
_DENIAL = re.compile(
    r"^(?:我|都|也|全|全都|基本上|基本|一个|一点|什么|啥|好像|倒是|这些|那些|这几个|这几样|其他|别的|其它|还|暂时|目前|"
    r"现在|就|啊|哦|嗯|呢|了|吧|\s)*"
    r"(?:没有|没|都没有|都不是|不是|没什么|没啥|一个都没有|一个也没有|无|no|nope|nah|none|nothing|neither|no no|"
    r"none of them|none of those|none of these|none of the above|not really|not at all|no none)"
    r"(?:过|了|呢|啊|吧|的|呀|哦|啦|没有|\s)*$"
)
_OTHERS = re.compile(r"别的|其他|其它|其余|剩下|另外|\belse\b|\bother")
# A clause that only affirms (有, 有的, "yes"): after a denial it takes the denial back.
_AFFIRM = re.compile(
    r"^(?:哦|噢|嗯|不对|我是说|i mean|sorry|oh|wait)?\s*(?:有|有的|有啊|有一点|有点|是|是的|对|yes|yeah|yep|i do)$"
)
# Words a choice meaning "none of these" is recognised by, besides the id "none".
_NONE_WORDS = {
    "没有",
    "都没有",
    "都没",
    "一个都没有",
    "none",
    "nothing",
    "none of these",
    "none of them",
    "none of those",
    "none of the above",
    "neither",
}
# "All of them" is a clause of its own (都有, 全都有, "yes, all of them"), not 都是 inside a sentence (饭菜都是凉的).
_ALL = re.compile(
    r"^(?:(?:我|好像|基本上|基本|其实|这些|那些|这几个|这几样|这几种|全|都|也|yes|yeah|i|have|had|got|well|"
    r"pretty much|actually|i have got|i get)\s*)*"
    r"(?:都有|全都有|全部都有|全部都是|全部|都是|都选|每个都有|每样都有|每个都|全选|all of them|all of the above|"
    r"all of those|all of these|all three|all four|all the above|everything|both|both of them|all)"
    r"(?:\s*(?:了|啊|吧|呢|的|呀|哦|of them|of those|of these|above|the above|really|actually))*$"
)
_ALL_BUT = re.compile(
    r"(?:别的|其他|其它|剩下的|其余的?)?都(?:有|是)|all the (?:others|rest|other)|everything else"
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


# Spellings of the same word, made one in both the choice words and the reply (same length: spans hold).
_CANON = (("钟头", "小时"), ("礼拜", "星期"))
# Aspect adverbs a patient may leave out of a choice word: 已经拆线了 is also 拆线了, 早就戒了 also 戒了.
_OPTIONAL_LEAD = ("已经", "早就", "基本上", "基本", "从来", "一直", "还", "就")
_NEGATOR_CHARS = "不没别无未"
# Every morning / every night is every day: a choice meaning "daily" also takes those.
_DAILY = {
    "every day": ("every morning", "every evening", "every night"),
    "每天": ("每天早上", "每天晚上", "每早", "每晚", "每天早晚"),
}


def canon(text: str) -> str:
    """One spelling for words said two ways (钟头 → 小时, 礼拜 → 星期)."""
    for a, b in _CANON:
        text = text.replace(a, b)
    return text


def _choice_word(w: str) -> str:
    # The reply's spelling: won't → will not, 傷口 → 伤口, 钟头 → 小时.
    return canon(normalize(w).replace(",", " ").strip())


@lru_cache(maxsize=256)
def _lexicon(exp: Expectation) -> Lexicon:
    entries: dict[str, str] = {}
    for ch in exp.choices:
        for w in ch.words + (ch.id,):
            w = _choice_word(w)
            if not w:
                continue
            entries.setdefault(w, ch.id)
            if re.fullmatch(r"[a-z][a-z ]*[a-z]", w):
                entries.setdefault(w + "s", ch.id)
                if w.endswith("s"):
                    entries.setdefault(w[:-1], ch.id)
    for ch in exp.choices:  # after every explicit word, so a derived one never takes another choice's word
        for w in map(_choice_word, ch.words):
            lead = next((a for a in _OPTIONAL_LEAD if w.startswith(a)), None)
            if lead and len(w) - len(lead) >= 2 and not w[len(lead)].isascii():
                entries.setdefault(w[len(lead) :], ch.id)
            for daily, parts in _DAILY.items():
                if w == daily:
                    for part in parts:
                        entries.setdefault(part, ch.id)
    return Lexicon(entries)


# Adverbs that split a subject-predicate word (头晕 → 头有点晕, 脚肿 → 脚也有点肿, 心慌 → 心也慌), and the
# negations that do (头不晕 → 不头晕, 脚没肿 → 没脚肿). A degree negation (头不太晕) does not split.
_SPLIT_FILL = (
    r"(?:也|还|都|又|就|有点儿|有点|有些|有一点|特别|很|非常|比较|挺|老是|老|总是|总|一直|经常|偶尔|有时候|有时|"
    r"会|好像|稍微|太|真|更|越来越|时不时|常常|是){1,3}"
)
_NOTHING_MUCH = re.compile(r"没(?:什么|啥)(?=[\u4e00-\u9fff])(?!都|也|事|问题|变化|感觉了|不|要|可|好)")
_PARTICLES = frozenset(["了", "的", "着", "过", "啊", "吧", "呢", "呀", "嘛"])
_SPLIT_NEG = r"(?:也|还|都|倒是|倒|并|从来|一点也|一点都|一直)?(?:不|没有|没)"


@lru_cache(maxsize=256)
def _splits(exp: Expectation) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    out = []
    for w in _lexicon(exp).entries:
        if not (2 <= len(w) <= 4) or not re.fullmatch(r"[\u4e00-\u9fff]+", w) or w[0] in _NEGATOR_CHARS:
            continue
        for i in range(1, len(w)):
            a, b = w[:i], w[i:]
            if b in _PARTICLES:  # 拆了, 躺着: a particle is no predicate (差不了 is not 不差了)
                continue
            out.append((a, b, re.compile(re.escape(a) + f"(?:({_SPLIT_NEG})|{_SPLIT_FILL})" + re.escape(b))))
    return tuple(out)


def _join_split_words(clause: str, exp: Expectation) -> str:
    """头有点晕 → 头晕, 头不晕 → 不头晕, 没什么力气 → 没力气: a choice word split by an adverb is the word."""
    if "没什么" in clause or "没啥" in clause:
        clause = _NOTHING_MUCH.sub("没", clause)
    for a, b, rx in _splits(exp):
        if a in clause and b in clause:
            clause = rx.sub(lambda m, a=a, b=b: (m.group(1) or "") + a + b, clause)
    return clause


# English choice phrases also match in another order and inflection ("swelling in my ankles" for "swollen
# ankles", "my head really hurts"): every content word's stem in the clause. Phrases with a negator never do.
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "his",
        "her",
        "our",
        "is",
        "are",
        "was",
        "were",
        "it",
        "its",
        "of",
        "in",
        "on",
        "at",
        "to",
        "i",
        "am",
        "and",
        "or",
        "some",
        "bit",
        "little",
        "very",
        "really",
        "just",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "they",
        "them",
        "that",
        "this",
        "will",
        "me",
        "be",
        "been",
        "when",
        "with",
        "for",
        "so",
        "too",
        "more",
        "than",
        "any",
        "get",
        "got",
        "feel",
    ]
)
_NEGATIVE = frozenset(["not", "no", "never", "without", "nor", "none", "nothing"])
_IRREGULAR = {
    "swollen": "swell",
    "bled": "bleed",
    "felt": "feel",
    "made": "make",
    "ran": "run",
    "gave": "give",
}


def _stem(w: str) -> str:
    w = _IRREGULAR.get(w, w)
    for suf in ("ness", "ing", "ed", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


@lru_cache(maxsize=256)
def _bags(exp: Expectation) -> tuple[tuple[frozenset[str], str], ...]:
    out = []
    for ch in exp.choices:
        for w in map(_choice_word, ch.words):
            ws = w.split()
            if not re.fullmatch(r"[a-z -]+", w) or _NEGATIVE & set(ws):
                continue
            lemmas = frozenset(_stem(x) for x in ws if x not in _STOP)
            if len(lemmas) >= 2:
                out.append((lemmas, ch.id))
    return tuple(out)


_QUANTIFIERS = frozenset(["other", "few", "couple", "several", "second", "third", "half", "once", "twice"])


def _bag_mentions(us: list[str], exp: Expectation, toks: list[Token]) -> list[Token]:
    """Choices whose English phrase is in the clause in another order or inflection, as tokens placed so
    that a negator among the words precedes them ("my ankles are not swollen"). The words must lie close
    together, away from the choice words already found, with no number between them ("every seven days" is
    not "every day")."""
    bags = _bags(exp)
    if not bags:
        return []
    have = {t.label for t in toks if t.label is not None}
    taken = {k for t in toks if t.label is not None for k in range(t.start, t.end)}
    stems = [_stem(u) if u.isascii() else u for u in us]
    present = set(stems)
    out = []
    for lemmas, cid in bags:
        if cid in have or not lemmas <= present:
            continue
        idx = sorted(stems.index(lm) for lm in lemmas)
        span = range(idx[0], idx[-1] + 1)
        if len(span) > 2 * len(lemmas) + 2 or any(
            k in taken or us[k].isdigit() or us[k] in EN_UNITS or us[k] in _QUANTIFIERS for k in span
        ):
            continue
        start = idx[0]
        for k in span:
            if us[k] in _NEGATIVE:
                start = k + 1
        out.append(Token(us[idx[-1]], cid, start, idx[-1] + 1))
        have.add(cid)
    return out


@lru_cache(maxsize=256)
def _word_pattern(exp: Expectation) -> re.Pattern[str] | None:
    words = sorted(_lexicon(exp).entries, key=len, reverse=True)
    if not words:
        return None
    alts = [
        re.escape(w) if not w[0].isascii() else r"(?<![a-z])" + re.escape(w) + r"(?![a-z])" for w in words
    ]
    return re.compile("|".join(alts))


def word_spans(text: str, exp: Expectation) -> list[tuple[int, int, str]]:
    """(start, end, choice id) of every choice word in normalised ``text``, longest first at each position."""
    rx = _word_pattern(exp)
    if rx is None:
        return []
    lex = _lexicon(exp)
    return [(m.start(), m.end(), lex.entries[m.group(0)]) for m in rx.finditer(canon(text))]


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


@lru_cache(maxsize=256)
def none_choice(exp: Expectation) -> str | None:
    """The id of the choice that means "none of these" (id ``none``, or a word such as 都没有 / "none"), if any."""
    for ch in exp.choices:
        if ch.id.lower() == "none":
            return ch.id
    for ch in exp.choices:
        if any(w.strip().lower() in _NONE_WORDS for w in ch.words):
            return ch.id
    return None


@dataclass
class Mentions:
    """What a reply says about the choices: ids said and negated in order of mention, ids excepted (除了X),
    and whether some clause only denies (没有 / "no")."""

    said: list[str] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)
    excepted: list[str] = field(default_factory=list)
    denial: bool = False


def _gap(us: list[str], start: int, end: int) -> str:
    return join_units(us[start:end]) if end > start else ""


@dataclass(frozen=True)
class _Clause:
    denial: bool = False  # the clause only denies: 没有, 都没有, "no", "none of those"
    listed: tuple[str, ...] = ()  # a bare list of items (头晕，头疼): the ids it said
    negated_list: bool = False  # it ends on negated items and nothing else ("no dizziness")


def _clause_mentions(
    clause: str, exp: Expectation, none_id: str | None, out: Mentions, carry: bool
) -> _Clause:
    """Read one clause into ``out``. ``carry``: the clause before ended on negated items."""
    us = units(_join_split_words(clause, exp))
    toks = _lexicon(exp).scan(us)
    ms = [t for t in toks if t.label is not None]
    extra = _bag_mentions(us, exp, toks)
    if extra:
        ms = sorted(ms + extra, key=lambda t: t.start)
    # A none-choice word that denies (都没有) is a negation, not an item.
    real = [t for t in ms if t.label != none_id or not _DENIAL.match(t.text)]
    if not real:
        rest = " ".join(t.text for t in toks)
        out.said.extend(t.label for t in ms)
        return _Clause(denial=bool(rest) and bool(_DENIAL.match(join_units(units(rest)))))
    neg = [False] * len(real)
    exc = [False] * len(real)
    gaps = []
    prev_end = 0
    for k, t in enumerate(real):
        gap = _gap(us, prev_end, t.start)
        gaps.append(gap)
        if k and real[k - 1].label == none_id and _DENIAL.match(real[k - 1].text):
            gap = real[k - 1].text + gap
        if _NEG_BEFORE_ZH.search(gap.replace(" ", "")) or _NEG_BEFORE_EN.search(gap):
            neg[k] = True
        elif _EXCEPT_BEFORE.search(gap.replace(" ", "") if not gap.isascii() else gap):
            exc[k] = True
        elif _CONJ.match(gap) and (k and neg[k - 1] or (k == 0 and carry and _DISJUNCTION.search(clause))):
            neg[k] = True  # 没有头晕和头疼, "not red or swollen"; "no dizziness, headaches or palpitations"
        prev_end = t.end
    # A negation after the last items: 头晕头疼都没有, 发红倒是没有 (none-choice words like 都没有 count too).
    tail = _gap(us, real[-1].end, len(us))
    if _NEG_AFTER.match(tail.replace(" ", "")):
        k = len(real) - 1
        neg[k] = True
        while k > 0 and _CONJ.match(_gap(us, real[k - 1].end, real[k].start)):
            k -= 1
            neg[k] = True
    for t, n, e in zip(real, neg, exc, strict=True):
        (out.negated if n else out.excepted if e else out.said).append(t.label)
    out.said.extend(t.label for t in ms if t not in real)
    bare = tail == "" and all(_CONJ.match(g) for g in gaps)
    return _Clause(
        listed=tuple(t.label for t in real)
        if bare
        and not any(neg)
        and not any(exc)
        and len(ms) == len(real)
        and not any(_DENIAL.match(t.text) for t in real)  # a choice word "no" is not an item to deny
        else (),
        negated_list=neg[-1] and tail == "",
    )


def _mentions(text: str, exp: Expectation) -> Mentions:
    """Every choice the reply mentions, read clause by clause (see the module docstring)."""
    out = Mentions()
    none_id = none_choice(exp)
    carry = False
    pending: list[str] = []  # items of the bare lists just before: 头晕，恶心，都没有 denies them
    for cl in clauses(canon(text)):
        c = _clause_mentions(cl, exp, none_id, out, carry)
        carry = c.negated_list
        out.denial |= c.denial
        if out.denial and not c.denial and _AFFIRM.match(cl):  # 没有，哦不对，有: the no is taken back
            out.denial = False
        if c.denial and pending and not _OTHERS.search(cl):  # 胳膊有点肿，别的没有: the others are denied
            for cid in pending:
                out.said.remove(cid)
                out.negated.append(cid)
        pending = pending + list(c.listed) if c.listed else []
    if not out.said and not out.negated and not out.excepted:
        words = _english_words(exp)
        if words:
            for u in units(text):
                if len(u) >= 5 and u.isalpha():
                    for w, cid in words:
                        if fuzz.ratio(u, w) >= 85:
                            out.said.append(cid)
                            break
    return out


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
    m = _mentions(text, exp)
    said = [s for s in m.said + m.excepted if s not in m.negated or m.said.count(s) > m.negated.count(s)]
    if said:
        distinct = list(dict.fromkeys(said))
        return Parse(said[-1], 0.95 if len(distinct) == 1 else 0.6)
    return _by_key_or_position(text, exp)


def _by_key_or_position(text: str, exp: Expectation) -> Parse | None:
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
    """The ids of every chosen option, in the order of ``exp.choices``.

    A reply that denies everything gives ``[none]`` when the question has a "none of these" choice, else ``[]``;
    that choice is dropped as soon as a real one is chosen (别的没有，就是头晕 → [dizziness])."""
    m = _mentions(text, exp)
    none_id = none_choice(exp)
    ids = [c.id for c in exp.choices]
    real_ids = [i for i in ids if i != none_id]
    said = [i for i in m.said if i != none_id]
    chosen = set(said) - (set(m.negated) - set(said))
    if m.excepted:
        if _ALL_BUT.search(text):  # 除了头晕别的都有
            return Parse([i for i in real_ids if i not in m.excepted], 0.85)
        chosen |= set(m.excepted)  # 除了头晕，别的都没有
    elif (
        any(_ALL.match(c) for c in clauses(text)) and not m.negated and not said and not m.denial
    ):  # 头晕乏力都有: "both" of those named
        return Parse(real_ids, 0.85)
    if chosen:
        return Parse([i for i in ids if i in chosen], 0.95 if not m.negated else 0.85)
    deny = [none_id] if none_id is not None else []
    if none_id is not None and none_id in m.said:
        return Parse(deny, 0.95)
    if _NONE.search(text.strip()) or m.denial:
        return Parse(deny, 0.85)
    if m.negated:
        return Parse(deny, 0.7)
    one = _by_key_or_position(text, exp)
    if one is not None:
        return Parse([one.value], one.confidence)
    return None
