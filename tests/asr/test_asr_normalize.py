"""asr.normalize: what Whisper writes → what the NLU parses. Numerals stay as they are."""

from __future__ import annotations

import pytest

from asr.normalize import bare, normalize_transcript, strip_loops

CASES = [
    # (recogniser output, lang, expected)
    ("對,是我", "zh", "对，是我"),  # traditional + ASCII comma (manifest zh02)
    ("不太滿意", "zh", "不太满意"),
    ("還有 點 糖", "zh", "还有点糖"),  # biased decoding spaces words apart: not pauses
    ("下周 三区 复查", "zh", "下周三区复查"),
    ("高壓135 低壓85", "zh", "高压135低压85"),
    ("135 85", "zh", "135 85"),  # a space between numbers separates them
    ("卸糖7.2", "zh", "卸糖7.2"),  # decimal point kept, numerals untouched
    ("體溫36度吧.", "zh", "体温36度吧。"),
    ("你说什么?再说一遍!", "zh", "你说什么？再说一遍！"),
    ("一般吧", "zh", "一般吧"),  # never 1般
    ("十分满意", "zh", "十分满意"),
    ("ｙｅｓ，好的", "zh", "yes，好的"),  # full-width latin folded
    ("暗示7要冷暗示7要冷暗示7要冷暗示7要冷暗", "zh", "暗示7要冷暗"),  # decoder loop
    ("行行行行行行行行", "zh", "行行行"),
    ("对对对", "zh", "对对对"),  # natural repetition survives
    ("  Much better.   Thank you. ", "en", "Much better. Thank you."),
    ("I'd give it a 4.", "en", "I'd give it a 4."),
    ("no no no no no no", "en", "no no"),
    ("", "zh", ""),
]


@pytest.mark.parametrize(("raw", "lang", "want"), CASES)
def test_normalize_transcript(raw, lang, want):
    assert normalize_transcript(raw, lang) == want


def test_strip_loops_is_idempotent():
    for raw, _, _ in CASES:
        once = strip_loops(raw)
        assert strip_loops(once) == once


@pytest.mark.parametrize(
    ("a", "b"), [("對,是我", "對 是我"), ("Yes, speaking.", "yes speaking"), ("I'd", "id")]
)
def test_bare_ignores_punctuation_case_and_apostrophes(a, b):
    assert bare(a).replace(" ", "") == bare(b).replace(" ", "")
