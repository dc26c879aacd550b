"""Hedges (应该是吧, 好像, 大概, I think, probably): the patient answers but is not sure of it.

A hedged answer is still an answer; only its confidence drops, so the dialog reads it back.
"""

from __future__ import annotations

import re

HEDGE_FACTOR = 0.8

_HEDGES = re.compile(
    r"应该|好像|大概|可能|估计|也许|或许|似乎|大约|差不多|貌似|我觉得|我感觉|感觉是|我记得|印象中|没准|"
    r"\b(?:i think|i guess|i believe|probably|maybe|perhaps|i suppose|might be|about|around|roughly|"
    r"approximately|sort of|kind of|i would say|pretty sure|if i remember|i reckon)\b"
)


def hedge_factor(text: str) -> float:
    """Confidence factor for a hedged reply: 0.8 when a hedge word is present, else 1.0."""
    return HEDGE_FACTOR if _HEDGES.search(text) else 1.0
