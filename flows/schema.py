"""The flow format: typed models a flow YAML file is validated into.

A flow names *what* to ask, never how: the walker lives in ``dialog/``. One file per flow, with prompts
for every declared language side by side. The structural rules that span steps (references, reachability,
loops, branch conditions against question types) are checked in ``flows.validate``; this module holds the
shapes only. See docs/flow-format.md for the format with examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = ("zh", "en")

QUESTION_TYPES: tuple[str, ...] = (
    "yes_no",
    "single_choice",
    "multi_choice",
    "scale",
    "number",
    "blood_pressure",
    "glucose",
    "temperature",
    "date",
    "free_text",
)
QuestionType = Literal[
    "yes_no",
    "single_choice",
    "multi_choice",
    "scale",
    "number",
    "blood_pressure",
    "glucose",
    "temperature",
    "date",
    "free_text",
]
# Types that have a finite answer set and therefore a DTMF alternative.
CLOSED_TYPES: frozenset[str] = frozenset({"yes_no", "single_choice", "multi_choice", "scale"})

# Template variables a prompt may use, e.g. "{patient.name}".
TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {
        "patient.name",
        "patient.salutation",  # 张先生 / Mr Zhang: what a nurse calls the patient
        "patient.age",
        "visit.department",
        "visit.doctor",
        "visit.ward",
        "visit.diagnosis",
        "visit.procedure",
        "visit.visit_date",
        "visit.discharge_date",
        "visit.next_visit_date",
        "hospital.name",
        "hospital.phone",
    }
)


class _Strict(BaseModel):
    # A number where text is expected (``dtmf: 1``, ``id: 2``) is read as text: YAML authors rarely quote.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Text(_Strict):
    """A prompt in each language, optionally with a recorded audio file per language.

    ``audio`` paths are relative to the flow file's folder; the file is played instead of TTS when it exists.
    """

    zh: str | None = None
    en: str | None = None
    audio: dict[Lang, str] = Field(default_factory=dict)

    def get(self, lang: str) -> str | None:
        return getattr(self, lang, None)


class Reprompt(_Strict):
    """What to do when the patient says nothing (no_input) or nothing we understand (no_match).

    ``prompts`` are said in turn on each retry (the last one repeats); after ``max`` failed tries the
    question is skipped, escalated to a human, or the call ends, as ``then`` says.
    """

    prompts: list[Text] = Field(default_factory=list)
    max: int = Field(default=2, ge=0, le=5)
    then: Literal["skip", "escalate", "end"] = "skip"


class Choice(_Strict):
    """One answer of a single/multiple choice question: an id (the stored value), its label and synonyms."""

    id: str
    label: Text
    synonyms: dict[Lang, list[str]] = Field(default_factory=dict)
    dtmf: str | None = Field(default=None, pattern=r"^[0-9*#]$")


class Alarm(_Strict):
    """An answer that must reach a human (a high blood pressure, a fever): raises an ``alarm`` escalation.

    For blood pressure, ``above``/``below`` apply to the systolic value and ``diastolic_above`` to the
    diastolic one. ``equals`` matches closed answers (e.g. ``true`` for "do you have a fever?").
    """

    above: float | None = None
    below: float | None = None
    diastolic_above: float | None = None
    equals: Any = None
    department: str | None = None
    reason: Text | None = None


class Ask(_Strict):
    type: QuestionType
    prompt: Text
    # Spoken DTMF alternative, e.g. "满意请按1，不满意请按2". Required for closed questions (validated).
    dtmf_prompt: Text | None = None
    choices: list[Choice] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    unit: Text | None = None
    allow_unsure: bool = True
    # Below this recogniser/understanding confidence the answer is read back for confirmation.
    confirm_below: float = Field(default=0.55, ge=0.0, le=1.0)
    no_input: Reprompt = Field(default_factory=Reprompt)
    no_match: Reprompt = Field(default_factory=Reprompt)
    alarm: Alarm | None = None


class When(_Strict):
    """A condition on an earlier answer. Exactly one operator besides ``answer``."""

    answer: str  # the question (ask step) id
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    above: float | None = None
    below: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    contains: str | None = None  # multi_choice: the choice id is among the answers
    unsure: bool | None = None  # the patient said they don't know
    skipped: bool | None = None  # no usable answer after the reprompts

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True)

    OPERATORS: ClassVar[tuple[str, ...]] = (
        "equals",
        "in_",
        "above",
        "below",
        "at_least",
        "at_most",
        "contains",
        "unsure",
        "skipped",
    )

    @model_validator(mode="after")
    def _one_operator(self) -> When:
        given = [op for op in self.OPERATORS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(
                "a condition needs exactly one of equals, in, above, below, at_least, at_most, contains, "
                f"unsure, skipped (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def operator(self) -> str:
        return next(op for op in self.OPERATORS if getattr(self, op) is not None)


class Rule(_Strict):
    when: When
    goto: str


class Identify(_Strict):
    """The privacy check every call starts with: is this the patient? If not, a family member?

    ``family``: what happens when a family member answers — ``continue`` (they answer for the patient),
    ``callback`` (ask when the patient can be reached and schedule a callback) or ``end``.
    """

    prompt: Text
    family_prompt: Text
    family: Literal["continue", "callback", "end"] = "continue"
    family_continue_prompt: Text | None = None


class EscalateSpec(_Strict):
    kind: Literal["complaint", "praise", "suggestion", "alarm", "request_human", "clinical"] = "clinical"
    department: str | None = None
    reason: Text | None = None
    prompt: Text | None = None  # said to the patient, e.g. "a nurse will call you back today"


class TransferSpec(_Strict):
    prompt: Text | None = None  # "正在为您转接人工，请稍候"


class EndSpec(_Strict):
    prompt: Text | None = None
    outcome: Literal["completed", "partial", "escalated", "wrong_person", "opt_out", "callback_requested"] = (
        "completed"
    )


class Step(_Strict):
    """One node of the flow. Exactly one of say/ask/identify/branch/escalate/transfer/end."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    say: Text | None = None
    ask: Ask | None = None
    identify: Identify | None = None
    branch: list[Rule] | None = None
    escalate: EscalateSpec | None = None
    transfer: TransferSpec | None = None
    end: EndSpec | None = None
    # Where to go next; defaults to the following step in the file. For a branch: where to go when no rule
    # matches. For a transfer: where to go when no agent answers.
    next: str | None = None

    KINDS: ClassVar[tuple[str, ...]] = ("say", "ask", "identify", "branch", "escalate", "transfer", "end")

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        given = [k for k in self.KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step needs exactly one of {', '.join(self.KINDS)} (got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)


FeedbackPolicy = Literal["continue", "end"]


class IntentPolicy(_Strict):
    """How the flow treats the global intents (understood at every step)."""

    complaint: FeedbackPolicy = "continue"
    praise: FeedbackPolicy = "continue"
    suggestion: FeedbackPolicy = "continue"
    # request_human: try a live transfer; when no agent is free a callback ticket is created.
    request_human: Literal["transfer", "callback"] = "transfer"


class Flow(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    description: Text | None = None
    version: int = 1
    languages: list[Lang] = Field(min_length=1)
    # Default department escalations are routed to; may be a template such as "{visit.department}".
    department: str = "{visit.department}"
    on_intent: IntentPolicy = Field(default_factory=IntentPolicy)
    # Overrides of the built-in system messages (dialog/messages.py), by message key.
    messages: dict[str, Text] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    # The file the flow was loaded from (set by flows.loader; None for a flow built in code). Recorded audio
    # paths are relative to its folder.
    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The YAML file this flow was loaded from, if any."""
        return self._path

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def questions(self) -> list[Step]:
        return [s for s in self.steps if s.ask is not None]

    def next_of(self, step: Step) -> str | None:
        """The id of the step after ``step``: its ``next`` or the following step in the file."""
        if step.next is not None:
            return step.next
        i = self.steps.index(step)
        return self.steps[i + 1].id if i + 1 < len(self.steps) else None


# Keys of the built-in system messages (their zh/en texts live in dialog/messages.py); a flow may override
# any of them under ``messages:``. Message texts may use the template fields plus {callback_time},
# {department}, {answer} where noted in dialog/messages.py.
MESSAGE_KEYS: frozenset[str] = frozenset(
    {
        "goodbye",  # end of a completed call
        "wrong_person",  # apology when we reached the wrong person
        "opt_out",  # do-not-call confirmation and polite goodbye
        "callback_at",  # "we'll call you back at {callback_time}"
        "callback_later",  # no time given
        "family_ask_time",  # a family member answered: when can the patient be reached?
        "transfer",  # "transferring you to a person, please hold"
        "no_agent",  # nobody free: a callback ticket was created
        "complaint_ack",  # "sorry, recorded, passed to {department}"
        "praise_ack",
        "suggestion_ack",
        "confirm",  # read back a low-confidence answer: "you said {answer}, is that right?"
        "repeat",  # preface before repeating the last prompt
        "unsure_ack",  # "that's all right"
        "no_input",  # default no-input reprompt preface
        "no_match",  # default no-match reprompt preface
        "hangup_no_input",  # ending after the patient stayed silent too long
        "family_continue",  # a family member answers for the patient (identify step gives no text)
        "family_end",  # a family member answered and the flow ends the call
    }
)
