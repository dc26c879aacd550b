"""Clauses about something other than the patient: small talk that must not answer a closed question.

A closed answer is read from the patient's words, so 今天天气真不错 must not be "yes" (不错) to 伤口还疼吗,
nor 4 on a satisfaction scale. Clauses whose subject is the weather or the world outside are dropped before
a yes/no, scale or choice answer is parsed; the rest of the reply still answers (今天天气不错，我也挺好的 → the
second clause). Dates have their own rule about third parties (``dialog.nlu.dates``).
"""

from __future__ import annotations

import re

from dialog.nlu.normalize import clauses

_OFF_TOPIC = re.compile(
    r"天气|下雨|下雪|下大雨|刮风|大风|出太阳|太阳(?:挺|很|真|好|特别)?(?:好|大|晒)|晴天|阴天|气温|雾霾|降温|升温|"
    r"外面(?:在|正在|还在|挺|很|真|好|特别|蛮)?(?:下|刮|热|冷|晒|凉快|暖和|好|不错)|"
    r"\bweather\b|\braining\b|\brainy\b|\bsunny\b|\bsnowing\b|\bsnowy\b|\bwindy\b|"
    r"\b(?:lovely|nice|beautiful|gorgeous|fine|horrible|miserable|hot|cold|sunny) (?:day|morning|afternoon|evening)\b|"
    r"\b(?:hot|cold|warm|chilly|freezing) (?:today|outside|out there)\b"
)


def is_off_topic(clause: str) -> bool:
    """True when the clause talks about the weather or the world outside, not about the patient."""
    return bool(_OFF_TOPIC.search(clause))


def drop_off_topic(text: str) -> str:
    """``text`` without its off-topic clauses (the clauses left are joined by ``,``)."""
    if not _OFF_TOPIC.search(text):
        return text
    return ",".join(c for c in clauses(text) if not is_off_topic(c))


__all__ = ["drop_off_topic", "is_off_topic"]
