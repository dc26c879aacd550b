"""Actions the dialog manager asks the I/O side to carry out, in order.

A live call plays prompts through Asterisk and writes answers to the database; ``followup simulate`` prints
them. The manager never waits for an action to finish: after ``Listen`` it expects the next event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialog.nlu.expectation import Expectation

# How a call ended, as far as the dialog knows. The dialer adds the unreached outcomes (busy, no_answer,
# failed, voicemail) itself.
OUTCOMES: tuple[str, ...] = (
    "completed",  # every question reached (answered, unsure or skipped by policy)
    "partial",  # the patient hung up, or the flow ended early
    "escalated",  # the flow ended on an escalation (e.g. a complaint with on_intent: end)
    "transferred",  # handed to a human agent
    "wrong_person",
    "opt_out",
    "callback_requested",
)


@dataclass(frozen=True)
class Play:
    """Say ``text`` (already rendered in the call's language), or play ``audio`` when the flow has it.

    ``prompt_key`` names where the text came from (``step_id`` / ``step_id.no_match.1`` / ``msg.goodbye``)
    so a prompt cache can be keyed on it. ``barge_in``: patient speech may interrupt it.
    """

    text: str
    audio: str | None = None
    prompt_key: str = ""
    barge_in: bool = True


@dataclass(frozen=True)
class Listen:
    """Wait for the patient: an utterance, a DTMF key, or ``NoInput`` after ``timeout_s``.

    ``dtmf``: digit → the answer value that key means for this question (empty when keys are not answers).
    """

    expectation: Expectation
    question_id: str | None = None
    timeout_s: float = 6.0
    dtmf: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureAnswer:
    """Store an answer now (not at the end of the call).

    ``status``: ``answered`` (value set), ``unsure`` (the patient does not know), ``skipped`` (no usable
    answer after the reprompts). ``source``: ``speech`` or ``dtmf``. ``respondent``: ``patient``, or
    ``family`` when a family member answers for the patient (the flow's identify step allowed it).
    """

    question_id: str
    value: Any
    raw_text: str
    confidence: float
    status: str = "answered"
    source: str = "speech"
    respondent: str = "patient"


@dataclass(frozen=True)
class Escalate:
    """Create an escalation/feedback record routed to ``department``.

    ``kind``: complaint, praise, suggestion, alarm (an alarming answer), request_human, clinical (a flow's
    escalate step), no_answer (a question that needs a human after failed reprompts).
    """

    kind: str
    department: str | None
    text: str
    question_id: str | None = None


@dataclass(frozen=True)
class Transfer:
    """Hand the patient to a human agent now. The I/O side answers with TransferCompleted/TransferFailed."""

    reason: str


@dataclass(frozen=True)
class ScheduleCallback:
    """Call again at ``at`` (hospital local time), or at the campaign's next slot when ``at`` is None."""

    at: datetime | None
    reason: str


@dataclass(frozen=True)
class AddDoNotCall:
    """The patient asked not to be called again."""

    reason: str


@dataclass(frozen=True)
class Hangup:
    """End the call with ``outcome`` (one of OUTCOMES)."""

    outcome: str


Action = Play | Listen | CaptureAnswer | Escalate | Transfer | ScheduleCallback | AddDoNotCall | Hangup
