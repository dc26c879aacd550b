"""How an originated call went, from the ARI events of its channel. Sans-IO: feed event dicts, read state.

Rules (measured on Asterisk 22.10 with Local-channel patients, see docs/asterisk.md):

- **answered**: ``StasisStart`` on our channel (an originated channel enters the application when it is
  answered), a ``ChannelStateChange`` to ``Up``, or a ``Dial`` event with ``dialstatus`` ANSWER.
- **busy**: shows *only* in the ``Dial`` event (``dialstatus`` BUSY); the ``ChannelDestroyed`` that
  follows has cause 0. Cause 17 (user busy) and 21 (call rejected: declined while ringing) also count.
- **no_answer**: ``dialstatus`` NOANSWER, or ``ChannelDestroyed`` cause 19 (the originate ``timeout``
  ran out) / 18 (no user responding).
- **failed**: the originate request itself failed (``originate_failed()``), the channel died unanswered
  with any other cause (1 unallocated number — even though Dial then says NOANSWER —, 34 no circuit,
  38 network out of order), ``dialstatus`` CONGESTION / CHANUNAVAIL / INVALIDARGS, or cause 0 with no
  dial status at all (e.g. no such extension).
- **hung_up**: the patient ended an answered call: ``ChannelDestroyed`` after answer while we had not
  asked for a hang-up (call ``local_hangup()`` *before* ``AriClient.hangup`` so the end is ours).
  A call we ended keeps the outcome **answered** (the dialog's outcome is recorded elsewhere).

Values are those of ``models.vocab.ATTEMPT_OUTCOMES``.

Use (a CallSession)::

    tracker = OutcomeTracker(call_id)
    sub = client.subscribe(call_id)
    await client.originate(..., channel_id=call_id)        # on AriError: tracker.originate_failed(err)
    while not tracker.final:
        step = tracker.feed(await sub.get(timeout=...))    # "answered" / "ended" / None
        if step == "answered": ... set up media, start the dialog ...
    result = tracker.result()                              # CallResult: outcome, cause, ended_by, ...

A synthetic ``ChannelDestroyed`` from the ARI client's reconciliation (``"reconciled": True``) ends the
call too; ``CallResult.reconciled`` then says the cause is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANSWERED = "answered"
BUSY = "busy"
NO_ANSWER = "no_answer"
FAILED = "failed"
HUNG_UP = "hung_up"

BUSY_CAUSES = frozenset({17, 21})
NO_ANSWER_CAUSES = frozenset({18, 19})
NORMAL_CLEARING = 16
DIALSTATUS_OUTCOMES = {
    "BUSY": BUSY,
    "NOANSWER": NO_ANSWER,
    "CONGESTION": FAILED,
    "CHANUNAVAIL": FAILED,
    "INVALIDARGS": FAILED,
}


@dataclass(frozen=True)
class CallResult:
    """The outcome of one call attempt.

    ``outcome``: answered / busy / no_answer / failed / hung_up, or None while it is still undecided.
    ``ended_by``: "patient", "us" or None (not ended, or never answered). ``cause``: the Q.850 cause of
    ``ChannelDestroyed`` (or of the hang-up request when that was more telling). ``answered_at`` /
    ``ended_at``: ARI event timestamps.
    """

    outcome: str | None
    answered: bool
    ended: bool
    ended_by: str | None
    cause: int | None
    cause_txt: str
    dialstatus: str
    answered_at: str | None
    ended_at: str | None
    reconciled: bool
    error: str


class OutcomeTracker:
    """Follows one originated channel (``channel_id``) through its events."""

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        self.answered = False
        self.final = False
        self.outcome: str | None = None
        self.dialstatus = ""
        self.cause: int | None = None
        self.cause_txt = ""
        self.hangup_request_cause: int | None = None
        self.answered_at: str | None = None
        self.ended_at: str | None = None
        self.ended_by: str | None = None
        self.reconciled = False
        self.error = ""
        self._local_hangup = False

    def concerns(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` is about our channel (Dial events name it as ``peer``)."""
        for key in ("channel", "peer"):
            obj = event.get(key)
            if isinstance(obj, Mapping) and obj.get("id") == self.channel_id:
                return key == "channel" or event.get("type") == "Dial"
        return False

    def local_hangup(self) -> None:
        """We are about to hang up (or cancel) the call: its end is not the patient's doing."""
        self._local_hangup = True

    def originate_failed(self, error: str) -> str:
        """The originate request failed (AriError / connection error): the attempt failed."""
        self.error = error
        self._finish(FAILED, None)
        return "ended"

    def feed(self, event: Mapping[str, Any]) -> str | None:
        """Take one event; returns "answered" or "ended" when the call just reached that point."""
        if self.final or not self.concerns(event):
            return None
        etype = event.get("type")
        if etype == "Dial":
            status = str(event.get("dialstatus") or "")
            if status:
                self.dialstatus = status
            if status == "ANSWER":
                return self._answer(event)
            return None
        if etype == "StasisStart":
            return self._answer(event)
        if etype == "ChannelStateChange":
            if (event.get("channel") or {}).get("state") == "Up":
                return self._answer(event)
            return None
        if etype == "ChannelHangupRequest":
            cause = event.get("cause")
            if isinstance(cause, int) and cause:
                self.hangup_request_cause = cause
            return None
        if etype == "ChannelDestroyed":
            self.reconciled = bool(event.get("reconciled"))
            cause = event.get("cause")
            self.cause = cause if isinstance(cause, int) else None
            self.cause_txt = str(event.get("cause_txt") or "")
            self.ended_at = event.get("timestamp")
            if self.answered:
                self.ended_by = "us" if self._local_hangup else "patient"
                self._finish(ANSWERED if self._local_hangup else HUNG_UP, self.cause)
            else:
                self._finish(self._unanswered_outcome(), self.cause)
            return "ended"
        return None

    def _answer(self, event: Mapping[str, Any]) -> str | None:
        if self.answered:
            return None
        self.answered = True
        self.outcome = ANSWERED
        self.answered_at = event.get("timestamp")
        return "answered"

    def _unanswered_outcome(self) -> str:
        # Order matters (recorded on 22.10): busy shows only as dialstatus (cause 0); no answer is
        # cause 19 with dialstatus RINGING; an unallocated number is cause 1 with dialstatus NOANSWER.
        if self.dialstatus == "BUSY":
            return BUSY
        causes = [c for c in (self.cause, self.hangup_request_cause) if c]
        for cause in causes:
            if cause in BUSY_CAUSES:
                return BUSY
            if cause in NO_ANSWER_CAUSES:
                return NO_ANSWER
        if any(c != NORMAL_CLEARING for c in causes):
            return FAILED
        return DIALSTATUS_OUTCOMES.get(self.dialstatus, FAILED)

    def _finish(self, outcome: str, cause: int | None) -> None:
        self.final = True
        self.outcome = outcome
        if cause is not None and self.cause is None:
            self.cause = cause

    def result(self) -> CallResult:
        """The state so far as a value (``outcome`` None while ringing)."""
        return CallResult(
            outcome=self.outcome,
            answered=self.answered,
            ended=self.final,
            ended_by=self.ended_by,
            cause=self.cause,
            cause_txt=self.cause_txt,
            dialstatus=self.dialstatus,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            reconciled=self.reconciled,
            error=self.error,
        )
