"""The small value every slot parser returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parse:
    """A parsed answer: ``value`` typed for its slot, ``confidence`` in 0..1.

    ``value`` is None only when ``reason`` says why a number was heard but rejected (``out_of_range``):
    the dialog treats that as no match.
    """

    value: Any
    confidence: float
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None
