"""The state table: complete, closed, every phase can finish, errors name event/trigger and phase."""

from __future__ import annotations

import pytest

from dialog.events import Dtmf, Hangup, NoInput, TransferCompleted, TransferFailed, Utterance
from dialog.state import (
    ACCEPTED_EVENTS,
    LISTENING_PHASES,
    TRANSFER_PHASES,
    TRANSITIONS,
    DialogState,
    DialogStateError,
    Phase,
    Trigger,
    to_mermaid,
)


def test_every_phase_has_a_row_and_every_target_is_a_phase():
    assert set(TRANSITIONS) == set(Phase)
    for row in TRANSITIONS.values():
        assert all(isinstance(t, Trigger) and isinstance(p, Phase) for t, p in row.items())


def test_every_trigger_is_used():
    used = {t for row in TRANSITIONS.values() for t in row}
    assert used == set(Trigger)


def test_finished_is_reachable_from_every_phase():
    def reach(start: Phase) -> set[Phase]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()].values():
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for phase in Phase:
        assert Phase.FINISHED in reach(phase), phase
    assert TRANSITIONS[Phase.FINISHED] == {}


def test_patient_can_hang_up_whenever_the_bot_waits():
    for phase in LISTENING_PHASES | TRANSFER_PHASES:
        assert TRANSITIONS[phase][Trigger.HANGUP] is Phase.FINISHED
        assert Hangup in ACCEPTED_EVENTS[phase]


def test_accepted_events():
    for phase in LISTENING_PHASES:
        assert ACCEPTED_EVENTS[phase] == {Utterance, Dtmf, NoInput, Hangup}
    for phase in TRANSFER_PHASES:
        assert ACCEPTED_EVENTS[phase] == {TransferCompleted, TransferFailed, Hangup}
    for phase in (Phase.START, Phase.WALKING, Phase.FINISHED):
        assert ACCEPTED_EVENTS[phase] == frozenset()


def test_fire_follows_the_table_and_keeps_history():
    s = DialogState()
    assert s.fire(Trigger.START_CALL) is Phase.WALKING
    assert s.fire(Trigger.ENTER_ASK) is Phase.LISTENING
    assert s.fire(Trigger.CHECK_ANSWER) is Phase.CONFIRMING
    assert s.fire(Trigger.REJECTED) is Phase.LISTENING
    assert s.history[-1] == (Phase.CONFIRMING, Trigger.REJECTED, Phase.LISTENING)


def test_illegal_trigger_names_trigger_and_phase():
    s = DialogState()
    with pytest.raises(DialogStateError, match="can't fire answered in phase START"):
        s.fire(Trigger.ANSWERED)
    assert s.phase is Phase.START  # unchanged


@pytest.mark.parametrize(
    "phase, event, hint",
    [
        (Phase.START, NoInput(), "start()"),
        (Phase.FINISHED, Utterance("hello"), "already ended"),
        (Phase.LISTENING, TransferFailed(), "Dtmf, Hangup, NoInput, Utterance"),
        (Phase.TRANSFERRING, Dtmf("1"), "Hangup, TransferCompleted, TransferFailed"),
    ],
)
def test_check_event_names_event_and_phase(phase, event, hint):
    s = DialogState()
    s.phase = phase
    with pytest.raises(DialogStateError) as err:
        s.check_event(event)
    assert type(event).__name__ in str(err.value)
    assert phase.value in str(err.value)
    assert hint in str(err.value)


def test_mermaid_draws_every_transition_from_the_table():
    text = to_mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for phase, row in TRANSITIONS.items():
        for trigger, target in row.items():
            line = next(
                ln for ln in text.splitlines() if ln.strip().startswith(f"{phase.value} --> {target.value}:")
            )
            assert trigger.value in line
    assert "[*] --> START" in text and "FINISHED --> [*]" in text
