"""What the dialog expects the patient to say next.

An ``Expectation`` travels with every ``Listen`` action: the understanding layer parses against it, and the
recogniser uses ``vocabulary()`` to bias decoding (Whisper hotwords, a Vosk grammar).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Types accepted by the ``followup understand`` contract; flows add single_choice and multi_choice.
CLI_TYPES: tuple[str, ...] = (
    "yes_no",
    "scale",
    "number",
    "blood_pressure",
    "glucose",
    "temperature",
    "date",
    "free_text",
)
ALL_TYPES: tuple[str, ...] = CLI_TYPES + ("single_choice", "multi_choice")


@dataclass(frozen=True)
class ChoiceOption:
    """One answer of a choice question: ``id`` is the stored value; ``words`` are its label and synonyms."""

    id: str
    words: tuple[str, ...]
    dtmf: str | None = None


@dataclass(frozen=True)
class Expectation:
    type: str  # one of ALL_TYPES
    lang: str = "zh"  # "zh" | "en"
    choices: tuple[ChoiceOption, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    allow_unsure: bool = True
    # Extra words the recogniser should expect (e.g. the question's key nouns). Not used for parsing.
    hints: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.type not in ALL_TYPES:
            raise ValueError(
                f"unknown expectation type {self.type!r}; expected one of {', '.join(ALL_TYPES)}"
            )
        if self.lang not in ("zh", "en"):
            raise ValueError(f"unknown language {self.lang!r}; expected zh or en")
