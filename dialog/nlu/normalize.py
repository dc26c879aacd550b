"""ASR text → parse-ready text.

What the recogniser writes is not what the parsers want: Whisper mixes traditional characters, full-width
digits, punctuation of both scripts, contractions, fillers and runaway repetitions. ``normalize`` removes
that noise and nothing else. In particular it never converts Chinese numerals: 一般, 一直, 十分满意 are
words, and numerals are read only inside number slots (``dialog.nlu.numbers``).

The output keeps the structure the parsers rely on:
- clause boundaries as ``,`` (a space between two Chinese characters is a pause, so it becomes ``,`` too);
- ``?`` (a reply that is a question is not an answer); the dot of a title is dropped (Dr. Chen → dr chen);
- ``.`` and ``:`` between digits (7.2, 3:30), ``/`` (135/85, mg/dl), ``-`` inside words (so-so, mm-hmm);
- English lower-cased with contractions expanded (don't → do not, I'm → i am).
"""

from __future__ import annotations

import re
import unicodedata

import opencc

_T2S = opencc.OpenCC("t2s")
MAX_INPUT_CHARS = 1000  # Whisper can loop; nothing a patient says on a call is longer than this.

CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_CJK_CHAR = re.compile(f"[{CJK}]")

# Contractions: n't before the general rules; 's only after pronouns (elsewhere it is a possessive).
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bcan't\b", "can not"),
        (r"\bcannot\b", "can not"),
        (r"\bwon't\b", "will not"),
        (r"\bshan't\b", "shall not"),
        (r"\bain't\b", "is not"),
        (r"n't\b", " not"),
        (r"\b(i)'m\b", r"\1 am"),
        (r"'re\b", " are"),
        (r"'ve\b", " have"),
        (r"'ll\b", " will"),
        (r"'d\b", " would"),
        (r"\b(it|that|there|he|she|what|who|where|here|this|everything|nothing)'s\b", r"\1 is"),
        (r"\blet's\b", "let us"),
        (r"\b(dunno)\b", "do not know"),
        (r"\b(gonna)\b", "going to"),
        (r"\b(wanna)\b", "want to"),
        (r"\b(gotta)\b", "got to"),
        (r"\b(kinda)\b", "kind of"),
    )
)
# Whisper sometimes drops the apostrophe.
_NO_APOSTROPHE = re.compile(r"\b(dont|doesnt|didnt|isnt|wasnt|havent|hasnt|cant|wont|im|ive|id)\b")
_NO_APOSTROPHE_FIX = {
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "wasnt": "was not",
    "havent": "have not",
    "hasnt": "has not",
    "cant": "can not",
    "wont": "will not",
    "im": "i am",
    "ive": "i have",
    "id": "i would",
}

# Pure hesitation sounds. Not 嗯 (it means yes), not uh-huh / mm-hmm / uh-uh (yes / yes / no).
_EN_FILLERS = re.compile(r"(?<![\w-])(?:u+m+|u+h+|u+h+m+|e+r+m*|h+m+|a+h+|e+h+(?=[,\s]|$)(?!\?))(?![\w-])")
_ZH_FILLERS = re.compile(r"呃+|(?:^|(?<=,))额+(?=,|$)")

_AM_PM = re.compile(r"\b([ap])\.\s?m\b\.?")
# Titles keep their name: "Dr. Chen" is one phrase, not two clauses.
_TITLE_DOT = re.compile(r"\b(dr|mr|mrs|ms|prof|st)\.\s*(?=[a-z])")
_DIGIT_DOT = re.compile(r"(?<=\d)([.:])(?=\d)")
_KEEP = {"?", "/", "%", "°", "-", "'", "+"}
_SEPARATORS = set(",.!;:、。…~|\n\r\t")
_REPEAT_RUN = re.compile(r"(.{1,4}?)\1{3,}")
_MULTI_SEP = re.compile(r"\s*,[\s,]*")
_SPACES = re.compile(r"\s+")
_CJK_SPACE = re.compile(f"(?<=[{CJK}])\\s+(?=[{CJK}])")
_HYPHEN_EDGE = re.compile(r"(?<![0-9a-z])-|-(?![0-9a-z])")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s); other text unchanged."""
    return _T2S.convert(text) if _CJK_CHAR.search(text) else text


def _char_class(ch: str) -> str:
    """'k' keep, 's' clause separator, ' ' space, '' drop."""
    if ch.isalnum() or _CJK_CHAR.match(ch):
        return "k"
    if ch in _KEEP:
        return "k"
    if ch in _SEPARATORS:
        return "s"
    if ch.isspace():
        return " "
    cat = unicodedata.category(ch)
    if cat.startswith("P"):  # quotes, brackets, dashes of other kinds
        return " "
    return ""  # emoji, symbols, control characters


def normalize(text: str, lang: str = "zh") -> str:
    """Make recogniser output parse-ready (see the module docstring). ``lang`` is accepted for symmetry;
    both languages are normalised whatever it says, since patients mix them."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text[:MAX_INPUT_CHARS]).replace("\ue000", "").replace("\ue001", "")
    t = to_simplified(t).lower()
    t = t.replace("’", "'").replace("‘", "'").replace("`", "'")
    t = _AM_PM.sub(r"\1m", t)
    t = _TITLE_DOT.sub(r"\1 ", t)
    t = _DIGIT_DOT.sub(lambda m: "\ue000" if m.group(1) == "." else "\ue001", t)
    out = []
    for ch in t:
        if ch == "\ue000":
            out.append(".")
            continue
        if ch == "\ue001":
            out.append(":")
            continue
        c = _char_class(ch)
        if c == "k":
            out.append(ch)
        elif c == "s":
            out.append(",")
        elif c == " ":
            out.append(" ")
    t = "".join(out)
    t = _HYPHEN_EDGE.sub(" ", t)
    t = _REPEAT_RUN.sub(r"\1\1\1", t)
    for pat, rep in _CONTRACTIONS:
        t = pat.sub(rep, t)
    t = _NO_APOSTROPHE.sub(lambda m: _NO_APOSTROPHE_FIX[m.group(1)], t)
    t = t.replace("'", " ")
    t = _EN_FILLERS.sub(" ", t)
    t = _CJK_SPACE.sub(",", t)
    t = _SPACES.sub(" ", t)
    t = _MULTI_SEP.sub(",", t)
    t = _ZH_FILLERS.sub("", t)
    t = _MULTI_SEP.sub(",", t)
    t = re.sub(r"\s*\?\s*", "?", t)
    t = re.sub(r"\?+", "?", t)
    t = t.strip(" ,")
    # A readable comma: ", " before latin text and digits, "," between Chinese characters.
    t = re.sub(r",(?=[0-9a-z])", ", ", t)
    return t


def clauses(text: str) -> list[str]:
    """Split normalised text into clauses at ``,`` and after ``?`` (the ``?`` stays with its clause)."""
    parts: list[str] = []
    for chunk in text.split(","):
        start = 0
        for i, ch in enumerate(chunk):
            if ch == "?":
                parts.append(chunk[start : i + 1].strip())
                start = i + 1
        rest = chunk[start:].strip()
        if rest:
            parts.append(rest)
    return [p for p in parts if p]


def has_content(text: str) -> bool:
    """True when the text holds at least one letter, digit or Chinese character."""
    return any(ch.isalnum() for ch in text)
