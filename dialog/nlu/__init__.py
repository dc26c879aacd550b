"""The understanding layer of the dialog manager: pure functions from a patient's reply to its meaning.

``understand(text, expectation, now)`` → ``Understanding(intent, value, confidence, feedback, text)``.
Rules and priorities: docs/nlu.md.
"""

from dialog.nlu.expectation import ChoiceOption, Expectation
from dialog.nlu.family import is_family_member
from dialog.nlu.normalize import normalize
from dialog.nlu.understand import FEEDBACK_INTENTS, GLOBAL_INTENTS, Understanding, understand
from dialog.nlu.vocabulary import expectation_vocabulary

__all__ = [
    "FEEDBACK_INTENTS",
    "GLOBAL_INTENTS",
    "ChoiceOption",
    "Expectation",
    "Understanding",
    "expectation_vocabulary",
    "is_family_member",
    "normalize",
    "understand",
]
