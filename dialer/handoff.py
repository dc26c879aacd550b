"""The hand-off of a live call between the dialer and the console, through the escalation row.

A patient who asks for a person is put on hold and their case — an escalation — is marked *waiting*.
Any agent may take it in the console; the dialer, polling the row, then rings the agent's phone and
bridges them in. No table is added for this: the two processes share

- the escalation's ``assignee_id`` / ``status`` (open → assigned): *who took the call*. ``take`` sets it
  with one conditional UPDATE, so two agents clicking at once cannot both get it;
- system notes on the case (``EscalationNote`` with no user), each starting with a tag
  ``[transfer:<state>]`` — ``waiting``, ``ringing``, ``connected``, ``missed``: *where the transfer is*.
  They double as the case's timeline for the people reading it.

``transfer_state`` derives what the console shows from these plus the attempt (a call that has ended is
no longer waiting, whatever the last note says). Everything here is synchronous SQLAlchemy on a Session
the caller owns; the dialer runs it in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import store
from models.calls import CallAttempt
from models.console import EscalationNote
from models.escalations import Escalation
from models.users import User

WAITING = "waiting"  # on hold, nobody has taken the case yet
RINGING = "ringing"  # taken (or a fixed agent line): the agent's phone rings
CONNECTED = "connected"  # the agent is bridged in
MISSED = "missed"  # nobody took it in time / the phone was not answered / the patient gave up: callback
ENDED = "ended"  # (derived) the call is over after a connection or while ringing
TAKEN = "taken"  # (derived) an agent took it, the dialer has not rung them yet

_TAG = re.compile(r"^\[transfer:(\w+)\]")


class CannotTake(Exception):
    """The call cannot be taken; ``status`` is the HTTP status the console answers with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Taker:
    """The agent who took the case, and where their phone is."""

    user_id: int
    name: str
    sip_endpoint: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def note(db: Session, escalation_id: int, state: str, text: str, *, release: bool = False) -> None:
    """Append the system note ``[transfer:<state>] text`` and touch the case (the live queue sees the
    change). ``release``: the case goes back to open and unassigned (a taker whose phone did not answer
    no longer owns it; anyone may call the patient back)."""
    now = _now()
    db.add(EscalationNote(escalation_id=escalation_id, user_id=None, text=f"[transfer:{state}] {text}",
                          created_at=now))
    values: dict[str, object] = {"updated_at": now}
    if release:
        values.update(status="open", assignee_id=None)
    db.execute(update(Escalation).where(Escalation.id == escalation_id, Escalation.status != "resolved")
               .values(**values))
    db.commit()


def open_waiting(
    db: Session,
    *,
    escalation_id: int | None,
    patient_id: int,
    attempt_id: int,
    kind: str,
    department: str | None,
    text: str,
    question_id: str | None,
    wait_s: float,
) -> int:
    """Mark the case waiting for an agent (creating the escalation when the dialog raised none); its id."""
    if escalation_id is None:
        escalation_id = store.record_escalation(db, patient_id=patient_id, attempt_id=attempt_id, kind=kind,
                                                department=department, text=text, question_id=question_id).id
    note(db, escalation_id, WAITING, f"患者等待人工接听（最多 {wait_s:g} 秒）/ patient on hold, waiting for an "
                                     f"agent (up to {wait_s:g} s)")
    return escalation_id


def taken_by(db: Session, escalation_id: int) -> Taker | None:
    """Who has taken the case (its assignee), or None."""
    row = db.execute(
        select(User.id, User.display_name, User.username, User.sip_endpoint)
        .join(Escalation, Escalation.assignee_id == User.id)
        .where(Escalation.id == escalation_id)
    ).first()
    if row is None:
        return None
    return Taker(row.id, row.display_name or row.username, row.sip_endpoint)


def last_state(db: Session, escalation_id: int) -> str | None:
    """The tag of the case's latest transfer note, or None when no transfer was ever attempted."""
    text = db.scalar(
        select(EscalationNote.text)
        .where(EscalationNote.escalation_id == escalation_id, EscalationNote.user_id.is_(None),
               EscalationNote.text.like("[transfer:%"))
        .order_by(EscalationNote.id.desc())
        .limit(1)
    )
    match = _TAG.match(text or "")
    return match.group(1) if match else None


def transfer_state(db: Session, escalation: Escalation) -> str | None:
    """What the console shows about the live transfer of this case: ``waiting`` (take it now), ``taken``
    (the dialer is about to ring the taker), ``ringing``, ``connected``, ``ended``, ``missed``; None when
    the case never had a live transfer."""
    state = last_state(db, escalation.id)
    if state is None:
        return None
    live = False
    if escalation.attempt_id is not None:
        attempt = db.get(CallAttempt, escalation.attempt_id)
        live = attempt is not None and attempt.ended_at is None  # (outcome is "answered" while it runs)
    if state == WAITING:
        if not live:
            return MISSED  # the call ended before the dialer could write why (it normally does)
        return TAKEN if escalation.assignee_id is not None else WAITING
    if state in (RINGING, CONNECTED):
        return state if live else ENDED
    return state


def take(db: Session, escalation: Escalation, user: User) -> None:
    """Give the waiting call to ``user`` (the console's "Take the call"): CannotTake(409) when it is not
    waiting (taken, missed, ended, resolved), CannotTake(400) when ``user`` has no phone. The caller
    commits (with its audit entry)."""
    state = transfer_state(db, escalation)
    if state != WAITING:
        reasons = {
            None: "this case has no live call waiting for an agent",
            TAKEN: "another agent has already taken this call",
            RINGING: "another agent has already taken this call",
            CONNECTED: "the call is already connected to an agent",
            ENDED: "the call has ended",
            MISSED: "the call has ended or is no longer waiting (a callback is due)",
        }
        raise CannotTake(reasons.get(state, f"the call is {state}"), 409)
    if not user.sip_endpoint:
        raise CannotTake("您的账号没有配置分机 (sip_endpoint)，无法接听 / your account has no phone "
                         "(sip_endpoint): ask an admin to set one", 400)
    now = _now()
    done = db.execute(
        update(Escalation)
        .where(Escalation.id == escalation.id, Escalation.assignee_id.is_(None), Escalation.status == "open")
        .values(assignee_id=user.id, status="assigned", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        db.rollback()
        raise CannotTake("another agent has already taken this call", 409)
    db.add(EscalationNote(escalation_id=escalation.id, user_id=user.id,
                          text=f"接听来电 / took the call ({user.sip_endpoint})", created_at=now))


def waiting_ids(db: Session, escalation_ids: list[int]) -> set[int]:
    """Which of these cases have a patient on hold that nobody has taken yet (the queue's button)."""
    if not escalation_ids:
        return set()
    rows = db.scalars(select(Escalation).where(Escalation.id.in_(escalation_ids), Escalation.status == "open",
                                               Escalation.assignee_id.is_(None),
                                               Escalation.attempt_id.is_not(None)))
    return {e.id for e in rows if transfer_state(db, e) == WAITING}
