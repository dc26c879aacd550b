"""Words a recogniser should be biased towards for one expectation (Whisper hotwords, a Vosk grammar).

Short on purpose: a hotword list is a prompt, and a long prompt is echoed back on silence (see
/work/shared/notes/speech.md). The expectation's own words come first, then the global-intent key phrases.
"""

from __future__ import annotations

from dialog.nlu.expectation import Expectation

_GLOBAL = {
    "zh": [
        "转人工",
        "投诉",
        "表扬",
        "建议",
        "打错了",
        "不是本人",
        "以后别打了",
        "再说一遍",
        "不知道",
        "现在不方便",
        "晚点再打",
    ],
    "en": [
        "speak to a person",
        "complaint",
        "thank",
        "suggestion",
        "wrong number",
        "don't call again",
        "repeat that",
        "not sure",
        "call me back later",
    ],
}
_TYPE = {
    ("yes_no", "zh"): ["是的", "对", "没有", "不是", "有", "嗯", "还没", "按时"],
    ("yes_no", "en"): ["yes", "no", "yeah", "not yet", "a little"],
    ("scale", "zh"): [
        "非常满意",
        "满意",
        "比较满意",
        "一般",
        "还可以",
        "不太满意",
        "不满意",
        "很不满意",
        "打五分",
        "打四分",
    ],
    ("scale", "en"): [
        "very satisfied",
        "satisfied",
        "okay",
        "dissatisfied",
        "very dissatisfied",
        "out of five",
        "excellent",
        "poor",
    ],
    ("number", "zh"): [
        "一",
        "二",
        "三",
        "四",
        "五",
        "六",
        "七",
        "八",
        "九",
        "十",
        "百",
        "两",
        "点",
        "半",
        "个",
        "次",
    ],
    ("number", "en"): ["one", "two", "three", "four", "five", "ten", "twenty", "hundred", "point"],
    ("blood_pressure", "zh"): ["血压", "高压", "低压", "一百", "比", "八十", "九十"],
    ("blood_pressure", "en"): ["blood pressure", "over", "hundred", "eighty", "ninety"],
    ("glucose", "zh"): ["血糖", "空腹", "餐后", "点", "毫摩尔"],
    ("glucose", "en"): ["blood sugar", "point", "mmol", "fasting"],
    ("temperature", "zh"): ["体温", "度", "三十六", "三十七", "三十八", "点"],
    ("temperature", "en"): ["degrees", "thirty-six", "thirty-seven", "point", "fever"],
    ("date", "zh"): ["今天", "明天", "后天", "下周", "星期", "号", "月", "复查"],
    ("date", "en"): ["today", "tomorrow", "next week", "Monday", "Friday", "the"],
    ("free_text", "zh"): [],
    ("free_text", "en"): [],
    ("single_choice", "zh"): ["第一个", "第二个"],
    ("single_choice", "en"): ["the first one", "the second one"],
    ("multi_choice", "zh"): ["都有", "都没有"],
    ("multi_choice", "en"): ["all of them", "none of them"],
}


def expectation_vocabulary(expectation: Expectation) -> list[str]:
    """Bias words for ``expectation`` in its language, most specific first, without duplicates."""
    lang = expectation.lang
    words: list[str] = []
    for c in expectation.choices:
        words.extend(c.words)
    words.extend(_TYPE.get((expectation.type, lang), []))
    if expectation.unit:
        words.append(expectation.unit)
    words.extend(expectation.hints)
    words.extend(_GLOBAL[lang])
    seen: set[str] = set()
    out = []
    for w in words:
        w = w.strip()
        if w and w not in seen:
            seen.add(w)
            out.append(w)
    return out
