"""The words a recogniser should expect for an ``Expectation`` (Whisper hotwords, a Vosk grammar).

The understanding layer owns the real list (``dialog.nlu.expectation_vocabulary``): it knows the words each
parser accepts. ``expected_words`` uses it when it is there; the small table below is only the fallback
for an NLU without it, so the recogniser never depends on the NLU's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialog.nlu.expectation import Expectation

# Fallback vocabulary per type, kept short: a long hotword list dilutes the bias (measured: a 30-word mixed
# list turned 是的 into 吃疊).
_TYPE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "yes_no": ("是的", "对", "不是", "没有", "有", "好的"),
        "scale": ("非常满意", "满意", "比较满意", "一般", "不太满意", "很不满意", "分"),
        "number": ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "百", "点"),
        "blood_pressure": ("血压", "高压", "低压", "一百", "八十"),
        "glucose": ("血糖", "点"),
        "temperature": ("体温", "三十六", "三十七", "度"),
        "date": ("今天", "明天", "后天", "下周", "星期", "号", "复查"),
        "free_text": (),
        "single_choice": (),
        "multi_choice": (),
    },
    "en": {
        "yes_no": ("yes", "no", "not really"),
        "scale": ("very satisfied", "satisfied", "okay", "dissatisfied", "very dissatisfied"),
        "number": ("point",),
        "blood_pressure": ("blood pressure", "over"),
        "glucose": ("blood sugar", "point"),
        "temperature": ("temperature", "degrees", "point"),
        "date": ("today", "tomorrow", "next week", "Monday", "Wednesday", "Friday"),
        "free_text": (),
        "single_choice": (),
        "multi_choice": (),
    },
}
# Global intents the patient may voice at any question; the misheard ones in the notes come first.
_GLOBAL_WORDS: dict[str, tuple[str, ...]] = {
    "zh": ("转人工", "投诉", "不知道", "再说一遍", "打错了"),
    "en": ("complaint", "real person", "call me back", "wrong number", "repeat"),
}


def fallback_vocabulary(expectation: Expectation) -> list[str]:
    """A short list of words for ``expectation`` from the table above plus its choices and hints."""
    words: list[str] = []
    for option in expectation.choices:
        words.extend(option.words)
    words.extend(_TYPE_WORDS.get(expectation.lang, {}).get(expectation.type, ()))
    words.extend(expectation.hints)
    words.extend(_GLOBAL_WORDS.get(expectation.lang, ()))
    return dedupe(words)


def dedupe(words: list[str] | tuple[str, ...]) -> list[str]:
    """Words in order, blanks and repeats removed."""
    seen: set[str] = set()
    out: list[str] = []
    for w in words:
        w = str(w).strip()
        if w and w not in seen:
            seen.add(w)
            out.append(w)
    return out


def expected_words(expectation: Expectation | None) -> list[str]:
    """The biasing vocabulary for ``expectation``: the NLU's ``expectation_vocabulary`` when present."""
    if expectation is None:
        return []
    try:
        from dialog.nlu import expectation_vocabulary  # type: ignore[attr-defined]
    except ImportError:
        return fallback_vocabulary(expectation)
    return dedupe(list(expectation_vocabulary(expectation)))
