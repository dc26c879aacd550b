"""Recogniser text → text the understanding layer can parse.

Whisper writes traditional characters at times (不太滿意), ASCII punctuation inside Chinese (對,是我), spaces
between Chinese words when biased (还有 点 糖), and on bad audio it loops (暗示7要冷暗示7要冷…). This module
undoes exactly that and nothing more: numerals are left alone (一般 must not become 1般; the NLU converts
numbers inside number slots only).

The understanding layer normalises again for parsing (``dialog.nlu.normalize``: case, contractions,
fillers, clause separators); what is here is the recogniser-specific part, and it must come first: a space
between Chinese characters is a clause break to the NLU, but in Whisper's biased output it is just a word
boundary (下周 三区 复查), so it is removed here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# ASCII punctuation Whisper puts inside Chinese text → the full-width forms Chinese text uses.
_ZH_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；"})
_SPACE_BETWEEN = re.compile(r"(?<=[^\sA-Za-z0-9])\s+|\s+(?=[^\sA-Za-z0-9])")
# A unit of 2+ characters repeated 3+ times in a row (Whisper's runaway loop), and 1 character 5+ times.
_LOOP_UNIT = re.compile(r"(.{2,}?)\1{2,}", re.DOTALL)
_LOOP_CHAR = re.compile(r"(.)\1{4,}", re.DOTALL)
_LOOP_WORDS = re.compile(r"\b((?:\w+[\s,.]+){1,4}?)\1{2,}", re.IGNORECASE)


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    try:  # one OpenCC converter per process: the NLU's when it has one
        from dialog.nlu.normalize import to_simplified as nlu_to_simplified

        return nlu_to_simplified
    except ImportError:
        import opencc

        return opencc.OpenCC("t2s").convert


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s)."""
    return _t2s()(text)


def strip_loops(text: str) -> str:
    """Collapse runaway repetition: a 2+ character unit repeated 3+ times → once; one character 5+ times
    → three (对对对 is natural speech, 行行行行行行 is a decoder loop); English word groups likewise."""
    prev = None
    while prev != text:
        prev = text
        text = _LOOP_CHAR.sub(r"\1\1\1", text)
        text = _LOOP_UNIT.sub(r"\1", text)
        text = _LOOP_WORDS.sub(r"\1", text)
    return text


def normalize_transcript(text: str, lang: str) -> str:
    """Clean one recogniser transcript for parsing (see the module docstring)."""
    # NFKC folds full-width letters/digits (Ｕ０) to ASCII; Chinese punctuation is restored below.
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    if lang == "zh":
        text = to_simplified(text)
        text = _SPACE_BETWEEN.sub("", text)
        # Full-width punctuation, but keep a decimal point between digits (7.2, 36.8).
        text = text.translate(_ZH_PUNCT)
        text = re.sub(r"(?<!\d)\.|\.(?!\d)", "。", text)
    else:
        text = re.sub(r"\s+", " ", text)
    text = strip_loops(text).strip()
    return text


def bare(text: str) -> str:
    """Text without punctuation, spaces and case: for comparing hypotheses and scoring error rates."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "")
    return "".join(ch for ch in text if ch.isalnum() or ch == " ").strip()
