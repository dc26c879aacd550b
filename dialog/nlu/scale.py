"""Satisfaction scale answers, 1–5 where 5 = very satisfied.

Three tiers of evidence, strongest first (docs/nlu.md):
0. a spoken score: 打五分, 给五星, 满分, "4 out of 5", "I'd give it a four", a bare 1–5; a score out of
   10 or 100 is scaled (8分 → 4), 零分 → 1;
1. satisfaction words with their degree: 非常/很/特别/十分满意 5 · 满意/比较/挺/还算满意 4 ·
   不太/不是很/有点不满意 2 · 不满意 2 · 很/非常/一点都不满意 1 (and very/quite/not very/not at all
   satisfied, dissatisfied…);
2. general evaluations: 太好了/特别好/很棒/没得说/excellent 5 · 挺好/不错/还不错/good/pretty good/not bad 4 ·
   一般/还行/还可以/还好/马马虎虎/凑合/so-so/okay/fine 3 · 不好/差/不怎么样/bad/poor 2 ·
   很差/太差了/糟糕/terrible/awful 1.
The highest tier present decides; within it the last phrase (a correction or elaboration) wins.
A negator right before a phrase (没有很满意, "not happy") turns a positive into 2 and a negative into 3.
"""

from __future__ import annotations

import re

from dialog.nlu.hedges import hedge_factor
from dialog.nlu.lexscan import Lexicon, units
from dialog.nlu.numbers import to_digits
from dialog.nlu.result import Parse

BLOCK = "block"

_ZH_INTENS = [
    "非常",
    "很",
    "特别",
    "十分",
    "相当",
    "超",
    "超级",
    "真",
    "太",
    "极",
    "极其",
    "好",
    "最",
    "特",
    "贼",
    "百分之百",
    "完全",
    "非常非常",
    "很是",
    "真的",
    "真的很",
    "特别特别",
    "都很",
    "都非常",
    "都特别",
    "实在",
    "无比",
    "相当的",
]
_ZH_MILD = [
    "比较",
    "挺",
    "蛮",
    "还",
    "还算",
    "还挺",
    "还比较",
    "基本",
    "基本上",
    "算",
    "算是",
    "都",
    "也",
    "还是",
    "总体",
    "总体上",
    "大体上",
    "也还",
    "都挺",
    "都还",
    "总的来说",
]
_ZH_NEG_MILD = [
    "不太",
    "不是很",
    "不怎么",
    "不大",
    "不是太",
    "不是特别",
    "不那么",
    "没那么",
    "不算",
    "不够",
    "有点不",
    "有些不",
    "有点儿不",
    "有一点不",
    "不是那么",
    "不是非常",
    "不算很",
    "没有很",
    "没有那么",
    "不是十分",
    "谈不上",
    "说不上",
    "算不上",
    "称不上",
    "没有特别",
    "不是完全",
    "不完全",
    "不怎么样",
]
_ZH_NEG_INTENS = [
    "很不",
    "非常不",
    "特别不",
    "十分不",
    "太不",
    "极不",
    "相当不",
    "超不",
    "真不",
    "一点都不",
    "一点也不",
    "完全不",
    "根本不",
    "很是不",
    "实在不",
]


def _zh_entries() -> dict[str, tuple[int, int] | str]:
    e: dict[str, tuple[int, int] | str] = {}
    t = 1
    e["满意"] = (4, t)
    e["不满意"] = (2, t)
    e["不满"] = (2, t)
    e["满意满意"] = (4, t)
    for p in _ZH_INTENS:
        e[p + "满意"] = (5, t)
        e[p + "不满意"] = (1, t)
        e[p + "不满"] = (1, t)
    for p in _ZH_MILD:
        e[p + "满意"] = (4, t)
        e[p + "不满意"] = (2, t)
    for p in _ZH_NEG_MILD:
        e[p + "满意"] = (2, t)
    for p in _ZH_NEG_INTENS:
        e[p + "满意"] = (1, t)
    for w in ["满意极了", "满意得很", "满意得不得了", "再满意不过", "不能再满意"]:
        e[w] = (5, t)
    for w in [
        "说不上不满意",
        "谈不上不满意",
        "不是不满意",
        "没有不满意",
        "满意不满意",
        "说不上满意不满意",
        "谈不上满意不满意",
        "算不上不满意",
    ]:
        e[w] = (3, t)
    g = 2
    general = {
        5: "太好了 特别好 非常好 很好 真好 好极了 极好 超好 相当好 十分好 特别棒 非常棒 很棒 太棒了 真棒 棒 棒极了 "
        "完美 没得说 没话说 没的说 无可挑剔 挑不出毛病 好评 五星好评 很不错 非常不错 特别不错 相当不错 太不错了 "
        "真不错 十分不错 一百分 百分百 杠杠的 顶呱呱 很满足 非常好非常好 都很好 都非常好 都特别好",
        4: "好 挺好 蛮好 比较好 还比较好 还挺好 都挺好 也挺好 不错 挺不错 还不错 蛮不错 比较不错 还挺不错 都不错 "
        "也不错 挺棒 还挺棒 挺可以 还挺可以 好多了 满足 挺满足 挺行 都还好 总体不错 总体还不错 还是不错",
        3: "一般 一般般 比较一般 挺一般 一般吧 还行 行 还可以 可以 还凑合 凑合 马马虎虎 马虎 过得去 还过得去 说得过去 "
        "还说得过去 不好不坏 不好也不坏 不好不差 中等 中规中矩 普普通通 普通 还好 也还好 还算可以 还算行 差不多 "
        "还ok 一般一般 凑凑合合 就那样 就那样吧 还成 也就那样 不咋地 一般化 还算好 说不上好 谈不上好 算不上好 说不上好坏 "
        "不算好 不算差 说不上差 谈不上差",
        2: "不好 不太好 不是很好 不怎么好 不大好 不怎么样 不咋样 差 比较差 有点差 挺差 较差 差劲 不行 不太行 失望 "
        "挺失望 有点失望 很一般 太一般了 比较失望 不太理想 不理想 不够好 不尽如人意 有待提高 有待改进 还有待提高",
        1: "很差 太差 太差了 非常差 特别差 极差 真差 很差劲 太差劲 太差劲了 真差劲 糟糕 很糟糕 太糟糕 糟透了 一塌糊涂 "
        "很烂 太烂 烂 垃圾 差评 很失望 非常失望 太失望 特别失望 太失望了 很不好 非常不好 特别不好 太不好了 太不行了 "
        "差到极点 最差 差得很 非常非常差 恶劣 太恶劣",
    }
    for v, words in general.items():
        for w in words.split():
            e.setdefault(w, (v, g))
    for w in [
        "好的",
        "好吧",
        "好嘞",
        "你好",
        "您好",
        "好像",
        "好久",
        "好几",
        "好多",
        "最好",
        "好意思",
        "不好意思",
        "只好",
        "正好",
        "刚好",
        "好了",
        "说不好",
        "不好说",
        "好些",
        "好点",
        "好一点",
        "相差",
        "出差",
        "差点",
        "差一点",
        "时差",
        "差不多了",
        "好不好",
        "行不行",
        "可不可以",
        "满一",
        "可以吗",
        "行吗",
        "好吗",
        "就好",
        "好好",
        "不行了",
        "可以的话",
        "还可以吗",
        "不能不",
        "一般来说",
        "一般情况",
        "差一些",
    ]:
        e[w] = BLOCK
    return e


_EN_INTENS = [
    "very",
    "really",
    "extremely",
    "completely",
    "totally",
    "fully",
    "super",
    "highly",
    "so",
    "incredibly",
    "absolutely",
    "truly",
    "perfectly",
    "entirely",
    "most",
    "very",
    "very",
    "really",
    "really",
    "exceptionally",
    "extremely",
    "very",
]
_EN_INTENS = list(dict.fromkeys(_EN_INTENS))
_EN_MILD = [
    "quite",
    "fairly",
    "pretty",
    "somewhat",
    "mostly",
    "reasonably",
    "rather",
    "generally",
    "overall",
    "moderately",
    "relatively",
    "mainly",
    "largely",
]
_EN_MILD += ["kind of", "sort of", "more or less", "i am", "was", "we were", "i was", "am"]
_EN_NOT = [
    "not",
    "not very",
    "not really",
    "not too",
    "not that",
    "not entirely",
    "not completely",
    "not fully",
    "not so",
    "not particularly",
    "not overly",
    "not exactly",
    "not quite",
    "never",
    "not totally",
    "was not",
    "am not",
    "was not very",
    "am not very",
    "was not really",
    "am not really",
]


def _en_entries() -> dict[str, tuple[int, int] | str]:
    e: dict[str, tuple[int, int] | str] = {}
    for core in ("satisfied", "happy", "pleased", "content"):
        e[core] = (4, 1)
        for p in _EN_INTENS:
            e[f"{p} {core}"] = (5, 1)
        for p in _EN_MILD:
            e[f"{p} {core}"] = (4, 1)
        for p in _EN_NOT:
            e[f"{p} {core}"] = (2, 1)
        e[f"not {core} at all"] = (1, 1)
        e[f"not at all {core}"] = (1, 1)
        e[f"not {core} at all"] = (1, 1)
        e[f"could not be more {core}"] = (5, 1)
        e[f"could not be {core}er"] = (5, 1)
    e["could not be happier"] = (5, 1)
    for core in ("dissatisfied", "unsatisfied", "unhappy", "displeased", "not satisfied"):
        e[core] = (2, 1)
        for p in _EN_INTENS:
            e[f"{p} {core}"] = (1, 1)
        for p in _EN_MILD:
            e[f"{p} {core}"] = (2, 1)
    for w in (
        "neither satisfied nor dissatisfied",
        "neither satisfied or dissatisfied",
        "not satisfied or dissatisfied",
        "not dissatisfied",
        "somewhere in the middle",
        "in the middle",
        "neutral",
    ):
        e[w] = (3, 1)
    general = {
        5: "excellent|perfect|fantastic|amazing|wonderful|outstanding|superb|brilliant|awesome|terrific|exceptional|"
        "great|very good|really good|so good|extremely good|could not be better|top notch|first class|first rate|"
        "the best|superb|marvelous|marvellous|phenomenal|very very good|absolutely great|really great|spot on|"
        "five stars|five star|excellent service|super",
        4: "good|pretty good|quite good|fairly good|not bad|not bad at all|not too bad|nice|lovely|decent|really nice|"
        "very nice|above average|better than expected|pretty well|quite well|well done|good enough|solid",
        3: "fine|ok|okay|alright|all right|average|so-so|so so|mediocre|meh|fair|acceptable|adequate|satisfactory|"
        "neither good nor bad|nothing special|could be worse|it was okay|it was ok|it is okay|just okay|just ok|"
        "just fine|middling|not great not bad|not good not bad|moderate",
        2: "bad|poor|disappointing|disappointed|not good|not great|not very good|not so good|not that good|"
        "could be better|could have been better|below average|not ideal|subpar|not up to standard|"
        "needs improvement|not too good|not really good|a bit disappointing|somewhat disappointed|lacking",
        1: "very bad|very poor|really bad|extremely bad|terrible|awful|horrible|dreadful|appalling|the worst|worst|"
        "unacceptable|disgusting|pathetic|atrocious|abysmal|very disappointing|very disappointed|"
        "extremely disappointed|really disappointed|horrendous|not good at all|no good at all|rubbish",
    }
    for v, words in general.items():
        for w in words.split("|"):
            e.setdefault(w, (v, 2))
    for w in (
        "good morning",
        "good afternoon",
        "good evening",
        "good bye",
        "goodbye",
        "okay then",
        "fine thanks",
        "i am fine",
        "good night",
        "so good of you",
        "great question",
        "fair enough",
        "not sure",
    ):
        e[w] = BLOCK
    return e


_LEX = Lexicon({**_zh_entries(), **_en_entries()})
_NEGATORS = {
    "不",
    "没",
    "没有",
    "并不",
    "不是",
    "并没有",
    "也不",
    "not",
    "never",
    "也没有",
    "谈不上",
    "说不上",
    "算不上",
}
_SKIPPABLE = {
    "是",
    "也",
    "都",
    "觉得",
    "感觉",
    "算",
    "really",
    "that",
    "very",
    "too",
    "so",
    "was",
    "is",
    "be",
    "feel",
    "am",
    "it",
    "were",
    "a",
}

_SCORE_ZH = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:分|颗星|个星|星)(?!钟|之|析|别|开|手|期|配|布)")
_SCORE_OF = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:out of|outta|/|of)\s*(\d+)\b")
_SCORE_EN = re.compile(
    r"\b(?:give|giving|gave|rate|rating|score|say|be|it is|it was|a solid|solid|an|a|maybe)\s+(?:it|you|them|him|her|"
    r"you guys|the hospital|the service)?\s*(?:a|an)?\s*(\d+(?:\.\d+)?)(?!\s*(?:day|hour|minute|week|month|year|time|"
    r"pill|tablet|%))\b"
)
_SCORE_STARS = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:stars?|points?)\b")
_BARE_NUMBER = re.compile(r"^(?:打|给|评|就|我打|我给|我评)?\s*(\d+(?:\.\d+)?)\s*(?:吧|啊|呀|分吧|分)?$")
_ZERO = re.compile(r"零分|0分|\bzero\b")
_FULL = re.compile(
    r"满分|给满分|打满分|full marks|full score|top marks|\bten out of ten\b|10 out of 10|a perfect (?:10|5)"
)


def _scaled(v: float, den: float | None = None) -> int:
    if den:
        v = v / den * 5
    elif v > 10:
        v = v / 20 if v <= 100 else 5
    elif v > 5:
        v = v / 2
    return max(1, min(5, int(v + 0.5)))


def _score(text: str) -> tuple[int, float] | None:
    if _FULL.search(text):
        return 5, 0.95
    if _ZERO.search(text):
        return 1, 0.9
    d = to_digits(text)
    m = _SCORE_OF.search(d)
    if m and float(m.group(2)) in (5, 10, 100) and float(m.group(1)) <= float(m.group(2)):
        return _scaled(float(m.group(1)), float(m.group(2))), 0.95
    found = list(_SCORE_ZH.finditer(d)) or list(_SCORE_STARS.finditer(d)) or list(_SCORE_EN.finditer(d))
    if found:
        v = float(found[-1].group(1))
        if v <= 100:
            return _scaled(v), 0.95 if v <= 5 else 0.85
    for cl in d.split(","):
        m = _BARE_NUMBER.match(cl.strip())
        if m and float(m.group(1)) <= 10:
            return _scaled(float(m.group(1))), 0.85
    return None


def parse_scale(text: str) -> Parse | None:
    """1–5 satisfaction (see the module docstring)."""
    hedge = hedge_factor(text)
    sc = _score(text)
    if sc is not None:
        return Parse(sc[0], round(sc[1] * hedge, 3))
    us = units(text)
    toks = _LEX.scan(us)
    found: list[tuple[int, int, str]] = []  # (value, tier, text)
    for i, t in enumerate(toks):
        if not isinstance(t.label, tuple):
            continue
        v, tier = t.label
        j = i - 1
        while j >= 0 and toks[j].text in _SKIPPABLE:
            j -= 1
        if (
            j >= 0
            and toks[j].label is None
            and toks[j].text in _NEGATORS
            or (j >= 1 and toks[j].text in ("有", "是") and toks[j - 1].text in ("没", "不"))
        ):
            v = 2 if v >= 4 else 3 if v <= 2 else v
        if v == 2 and (
            us[t.end : t.end + 2] == ["at", "all"] or "".join(us[t.end : t.end + 3]) in ("一点都", "一点也")
        ):
            v = 1
        found.append((v, tier, t.text))
    if not found:
        return None
    best_tier = min(f[1] for f in found)
    in_tier = [f for f in found if f[1] == best_tier]
    v, tier, word = in_tier[-1]
    conf = 0.95 if tier == 1 else 0.85
    if word in (
        "好",
        "行",
        "可以",
        "ok",
        "okay",
        "fine",
        "good",
        "nice",
        "差",
        "alright",
        "all right",
        "棒",
        "烂",
    ):
        conf = 0.75
    if any(abs(f[0] - v) >= 2 for f in in_tier):
        conf *= 0.8
    return Parse(v, round(conf * hedge, 3))
