"""The dialog manager's state machine: its phases, the events each phase accepts, every legal transition.

Rule 1: everything that decides the *phase* of a conversation lives in this module, as tables. The flow
walker (``dialog.manager``) interprets a flow and decides *which* trigger fires; it never assigns a phase
itself. It calls ``DialogState.fire(trigger)``, which looks ``(phase, trigger)`` up in ``TRANSITIONS`` and
raises ``DialogStateError`` naming both when the pair is not there.

Rule 2: an event from the outside world is checked against ``ACCEPTED_EVENTS`` before the walker sees it,
so an event that does not fit the phase — an ``Utterance`` while a transfer rings, anything after the call
ended, anything before ``start()`` — fails loudly instead of being half handled.

Theory of operation
===================

A call is a walk through the flow's steps. Most steps take no time at all (a ``say`` is a Play action, a
``branch`` looks at earlier answers, an ``escalate`` emits an Escalate action): the walker passes them in
the transient phase ``WALKING`` and moves on within the same ``start()``/``handle()`` call. A walk stops
only where the bot must wait for the outside world:

- ``IDENTIFYING`` — the identify step asked "is this 张先生?";
- ``FAMILY_CHECK`` — the answer was no: "are you a family member?";
- ``FAMILY_TIME`` — a family member answered and the flow wants a callback: "when can we reach him?";
- ``LISTENING`` — an ask step put its question;
- ``CONFIRMING`` — a low-confidence answer was read back: "you said 4, is that right?";
- ``TRANSFERRING`` — a transfer step handed the call to an agent (no agent: the walk goes on);
- ``HANDING_OVER`` — the patient asked for a person (no agent: a callback ticket, then goodbye);
- ``FINISHED`` — a Hangup action was emitted; nothing more is accepted.

So after every ``start()``/``handle()`` the machine rests in one of those waiting phases, and the last
action returned is a ``Listen`` (the five listening phases), a ``Transfer`` (the two transfer phases) or a
``Hangup`` (``FINISHED``).

The listening phases share the global-intent transitions (``_ANYWHERE``): complaint, praise and suggestion
re-ask or end the call as the flow's ``on_intent`` says; repeat and reprompts stay in the phase; a request
for a person goes to ``HANDING_OVER``; wrong person, opt-out, call back later, a patient hang-up and an
exhausted reprompt policy finish the call.

Termination: each stay in a listening phase is bounded — no-match and no-input each have a counter against
the reprompt policy's ``max``, and the turns that count against neither (repeat, feedback re-asks) are
capped by ``MAX_EXTRA_TURNS`` after which they count as no-matches — and the walk itself is bounded by
``max_step_entries``. Hence every conversation reaches ``FINISHED`` after a bounded number of events, which
``tests/dialog/test_properties.py`` checks on generated conversations.

``to_mermaid()`` draws the diagram from the same ``TRANSITIONS`` table the code runs on.
"""

from __future__ import annotations

from enum import StrEnum

from dialog.events import Dtmf, Event, Hangup, NoInput, TransferCompleted, TransferFailed, Utterance


class DialogStateError(RuntimeError):
    """An event or a transition that does not fit the dialog's current phase (a bug on one side)."""


class Phase(StrEnum):
    START = "START"
    WALKING = "WALKING"
    IDENTIFYING = "IDENTIFYING"
    FAMILY_CHECK = "FAMILY_CHECK"
    FAMILY_TIME = "FAMILY_TIME"
    LISTENING = "LISTENING"
    CONFIRMING = "CONFIRMING"
    TRANSFERRING = "TRANSFERRING"
    HANDING_OVER = "HANDING_OVER"
    FINISHED = "FINISHED"


class Trigger(StrEnum):
    """What happened, as the walker classifies it. The table below says where each leads from each phase."""

    START_CALL = "start_call"
    # Walking: entering the next step.
    PASS_STEP = "pass_step"  # say / branch / escalate: nothing to wait for
    ENTER_IDENTIFY = "enter_identify"
    ENTER_ASK = "enter_ask"
    ENTER_TRANSFER = "enter_transfer"
    ENTER_END = "enter_end"  # an end step, the end of the step list, or the step-entry guard
    # Identity.
    IDENTITY_CONFIRMED = "identity_confirmed"
    IDENTITY_DENIED = "identity_denied"
    FAMILY_CONTINUES = "family_continues"
    FAMILY_CALLBACK = "family_callback"
    FAMILY_ENDS = "family_ends"
    TIME_TAKEN = "time_taken"  # the family member said when (or we could not tell: next campaign slot)
    # Questions.
    ANSWERED = "answered"
    UNSURE = "unsure"
    CHECK_ANSWER = "check_answer"  # low confidence: read it back
    REJECTED = "rejected"  # "no, that's not what I said": ask again
    SKIPPED = "skipped"  # reprompts exhausted, policy skip or escalate: go on without an answer
    # Anywhere the bot listens.
    REPROMPT = "reprompt"
    REPEAT = "repeat"
    FEEDBACK_REASK = "feedback_reask"
    FEEDBACK_END = "feedback_end"
    GIVE_UP = "give_up"  # reprompts exhausted and the call ends
    WANTS_HUMAN = "wants_human"
    WANTS_CALLBACK = "wants_callback"
    WRONG_PERSON = "wrong_person"
    OPT_OUT = "opt_out"
    HANGUP = "hangup"
    # Transfers.
    TRANSFER_COMPLETED = "transfer_completed"
    TRANSFER_FAILED = "transfer_failed"


P, T = Phase, Trigger

# Turns at one step that count against no reprompt policy (repeat, complaint-and-re-ask) before they start
# counting as no-matches: keeps a patient who says "pardon?" forever from keeping the line open forever.
MAX_EXTRA_TURNS = 3

LISTENING_PHASES: frozenset[Phase] = frozenset(
    {P.IDENTIFYING, P.FAMILY_CHECK, P.FAMILY_TIME, P.LISTENING, P.CONFIRMING}
)
TRANSFER_PHASES: frozenset[Phase] = frozenset({P.TRANSFERRING, P.HANDING_OVER})


def _anywhere(phase: Phase) -> dict[Trigger, Phase]:
    """The transitions every listening phase has: global intents, reprompts, hang-up."""
    return {
        T.REPROMPT: phase,
        T.REPEAT: phase,
        T.FEEDBACK_REASK: phase,
        T.FEEDBACK_END: P.FINISHED,
        T.GIVE_UP: P.FINISHED,
        T.WANTS_HUMAN: P.HANDING_OVER,
        T.WANTS_CALLBACK: P.FINISHED,
        T.WRONG_PERSON: P.FINISHED,
        T.OPT_OUT: P.FINISHED,
        T.HANGUP: P.FINISHED,
    }


TRANSITIONS: dict[Phase, dict[Trigger, Phase]] = {
    P.START: {T.START_CALL: P.WALKING},
    P.WALKING: {
        T.PASS_STEP: P.WALKING,
        T.ENTER_IDENTIFY: P.IDENTIFYING,
        T.ENTER_ASK: P.LISTENING,
        T.ENTER_TRANSFER: P.TRANSFERRING,
        T.ENTER_END: P.FINISHED,
    },
    P.IDENTIFYING: {
        T.IDENTITY_CONFIRMED: P.WALKING,
        T.IDENTITY_DENIED: P.FAMILY_CHECK,
        T.FAMILY_CONTINUES: P.WALKING,
        T.FAMILY_CALLBACK: P.FAMILY_TIME,
        T.FAMILY_ENDS: P.FINISHED,
        **_anywhere(P.IDENTIFYING),
    },
    P.FAMILY_CHECK: {
        T.FAMILY_CONTINUES: P.WALKING,
        T.FAMILY_CALLBACK: P.FAMILY_TIME,
        T.FAMILY_ENDS: P.FINISHED,
        **_anywhere(P.FAMILY_CHECK),
    },
    P.FAMILY_TIME: {
        T.TIME_TAKEN: P.FINISHED,
        **_anywhere(P.FAMILY_TIME),
    },
    P.LISTENING: {
        T.ANSWERED: P.WALKING,
        T.UNSURE: P.WALKING,
        T.SKIPPED: P.WALKING,
        T.CHECK_ANSWER: P.CONFIRMING,
        **_anywhere(P.LISTENING),
    },
    P.CONFIRMING: {
        T.ANSWERED: P.WALKING,
        T.REJECTED: P.LISTENING,
        T.SKIPPED: P.WALKING,
        **_anywhere(P.CONFIRMING),
    },
    P.TRANSFERRING: {
        T.TRANSFER_COMPLETED: P.FINISHED,
        T.TRANSFER_FAILED: P.WALKING,
        T.HANGUP: P.FINISHED,
    },
    P.HANDING_OVER: {
        T.TRANSFER_COMPLETED: P.FINISHED,
        T.TRANSFER_FAILED: P.FINISHED,
        T.HANGUP: P.FINISHED,
    },
    P.FINISHED: {},
}

_LISTEN_EVENTS: frozenset[type] = frozenset({Utterance, Dtmf, NoInput, Hangup})
_TRANSFER_EVENTS: frozenset[type] = frozenset({TransferCompleted, TransferFailed, Hangup})


def _accepted(phase: Phase) -> frozenset[type]:
    # START, WALKING and FINISHED accept nothing: before start() nothing has been said, WALKING never
    # outlives a start()/handle() call, and after FINISHED the call is over.
    if phase in LISTENING_PHASES:
        return _LISTEN_EVENTS
    if phase in TRANSFER_PHASES:
        return _TRANSFER_EVENTS
    return frozenset()


# Which events ``DialogManager.handle`` accepts in each phase (in declaration order: a stable diagram).
ACCEPTED_EVENTS: dict[Phase, frozenset[type]] = {phase: _accepted(phase) for phase in Phase}

assert set(TRANSITIONS) == set(Phase) == set(ACCEPTED_EVENTS)


class DialogState:
    """The current phase, changed only through ``fire``; ``check_event`` guards ``handle``."""

    def __init__(self) -> None:
        self.phase: Phase = P.START
        # (from, trigger, to) of every transition so far: cheap, and it makes failing tests readable.
        self.history: list[tuple[Phase, Trigger, Phase]] = []

    def fire(self, trigger: Trigger) -> Phase:
        """Move along ``(phase, trigger)``; DialogStateError when the table has no such transition."""
        try:
            new = TRANSITIONS[self.phase][trigger]
        except KeyError:
            raise DialogStateError(f"can't fire {trigger} in phase {self.phase}") from None
        self.history.append((self.phase, trigger, new))
        self.phase = new
        return new

    def check_event(self, event: Event) -> None:
        """Raise DialogStateError when ``event`` does not fit the current phase."""
        if type(event) in ACCEPTED_EVENTS[self.phase]:
            return
        name = type(event).__name__
        if self.phase is P.START:
            hint = "call start() first"
        elif self.phase is P.FINISHED:
            hint = "the call has already ended"
        else:
            accepted = ", ".join(sorted(e.__name__ for e in ACCEPTED_EVENTS[self.phase]))
            hint = f"expected one of {accepted}" if accepted else "no event is expected now"
        raise DialogStateError(f"can't handle event {name} in phase {self.phase}: {hint}")

    def accepts(self, event_type: type) -> bool:
        """Whether an event of ``event_type`` would be accepted now."""
        return event_type in ACCEPTED_EVENTS[self.phase]


def to_mermaid() -> str:
    """The state machine as a Mermaid ``stateDiagram-v2``, generated from ``TRANSITIONS``.

    Transitions between the same two phases share one arrow, their triggers listed on it.
    """
    lines = ["stateDiagram-v2", "    [*] --> START"]
    for phase, table in TRANSITIONS.items():
        by_target: dict[Phase, list[str]] = {}
        for trigger, target in table.items():
            by_target.setdefault(target, []).append(trigger.value)
        for target, triggers in by_target.items():
            lines.append(f"    {phase.value} --> {target.value}: {', '.join(triggers)}")
    lines.append("    FINISHED --> [*]")
    for phase, events in ACCEPTED_EVENTS.items():
        if events:
            names = ", ".join(sorted(e.__name__ for e in events))
            lines.append(f"    note right of {phase.value}: accepts {names}")
    return "\n".join(lines) + "\n"
