"""Forward-maximum-matching over a reply: the tokenizer the yes/no and scale parsers share.

A reply is a sequence of units — one Chinese character, one latin word, one number. A lexicon maps phrases
(Chinese strings, or English words joined by single spaces) to a label; scanning left to right, the
longest phrase starting at each unit wins, so 不满意 is one token and never 不 + 满意.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_UNIT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]|[a-z]+(?:-[a-z]+)*|\d+(?:\.\d+)?|\?")


@dataclass(frozen=True)
class Token:
    text: str
    label: Any  # the lexicon's label, or None for a unit the lexicon does not know
    start: int  # index of the first unit
    end: int  # index after the last unit


def units(text: str) -> list[str]:
    """Split normalised text into units."""
    return _UNIT.findall(text)


def join_units(us: list[str]) -> str:
    """Units back to text: latin words and numbers separated by one space, Chinese characters joined."""
    out = []
    for i, u in enumerate(us):
        if (
            i
            and (u[0].isascii() and u[0].isalnum())
            and (us[i - 1][-1].isascii() and us[i - 1][-1].isalnum())
        ):
            out.append(" ")
        out.append(u)
    return "".join(out)


class Lexicon:
    """Phrases → labels, scanned by forward maximum matching."""

    def __init__(self, entries: Mapping[str, Any]):
        self.entries: dict[str, Any] = {}
        self.maxlen = 1
        for phrase, label in entries.items():
            us = units(phrase.lower())
            if not us:
                continue
            self.entries[join_units(us)] = label
            self.maxlen = max(self.maxlen, len(us))

    def scan(self, us: list[str]) -> list[Token]:
        out: list[Token] = []
        i, n = 0, len(us)
        entries = self.entries
        while i < n:
            for L in range(min(self.maxlen, n - i), 0, -1):
                k = join_units(us[i : i + L])
                if k in entries:
                    out.append(Token(k, entries[k], i, i + L))
                    i += L
                    break
            else:
                out.append(Token(us[i], None, i, i + 1))
                i += 1
        return out
