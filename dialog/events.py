"""Events the dialog manager receives: small immutable values, nothing else.

The I/O side (a live call, ``followup simulate``, a test) turns what happened into one of these and feeds
it to ``DialogManager.handle``; the manager answers with actions (``dialog.actions``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Utterance:
    """The patient said something. ``alternatives`` are other recogniser hypotheses (n-best), best first."""

    text: str
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dtmf:
    """The patient pressed a key (one of 0-9, *, #)."""

    digit: str


@dataclass(frozen=True)
class NoInput:
    """The listen timeout passed with no speech and no key."""


@dataclass(frozen=True)
class Hangup:
    """The patient hung up."""


@dataclass(frozen=True)
class TransferFailed:
    """A ``Transfer`` could not reach an agent (none free, none answered in time)."""


@dataclass(frozen=True)
class TransferCompleted:
    """A ``Transfer`` bridged the patient to an agent: the bot's part of the call is over."""


Event = Utterance | Dtmf | NoInput | Hangup | TransferFailed | TransferCompleted
