"""Live transfer of a call to a human agent (the dialog's ``Transfer`` action), carried out over ARI.

The dialog has already said its transfer message ("please hold"). Then:

1. **the case**: the escalation the dialog raised in the same turn (a complaint), else a new
   ``request_human`` one, is marked waiting (``dialer.handoff``) — it appears in every agent's queue;
2. **hold**: music on hold (class ``default``) on the call's bridge, so the patient hears it and the
   recording shows the wait;
3. **an agent**: with a fixed ``agent_endpoint`` that line rings at once; otherwise the escalation row is
   polled every ``POLL_S`` for up to ``agent_wait_s`` until someone takes the case in the console, and the
   taker's ``sip_endpoint`` rings (``agent_timeout_s``);
4. **answer**: the hold music stops, the agent joins the bridge, the bot leaves it (its media socket
   closes); the recording goes on — ``TransferCompleted`` (outcome ``transferred``);
5. **nobody** (not taken in time, the phone not answered, a failed originate): the music stops and
   ``TransferFailed`` goes to the dialog, whose no-agent path promises a call back (its ``Escalate`` is
   folded into the waiting case, see ``absorbs``; its ``ScheduleCallback`` sets the task's callback).
   The case stays open (released again if a taker's phone did not answer) with a note.

A patient who hangs up while waiting or ringing gives ``Hangup`` (the agent's leg is hung up).
Database work runs in worker threads; a failing database turns the console wait into a plain callback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from dialer import handoff
from dialer.ari import AriConnectionError, AriError
from dialer.outcome import OutcomeTracker
from dialog.actions import Escalate, Transfer
from dialog.events import Event, TransferCompleted, TransferFailed
from dialog.events import Hangup as HangupEvent

if TYPE_CHECKING:
    from dialer.session import CallSession

log = logging.getLogger(__name__)

POLL_S = 0.3  # how often the escalation row is read while the patient waits
MOH_CLASS = "default"  # deploy/asterisk/templates/musiconhold.conf
# Kinds of escalation a transfer may stand for: one raised in the same turn becomes the waiting case.
CASE_KINDS = frozenset({"request_human", "complaint", "clinical", "alarm"})


class LiveTransfer:
    """One transfer attempt of ``session`` (see the module docstring). ``escalation``: the future of
    the escalation row the dialog wrote in the transfer's turn, if any."""

    def __init__(self, session: CallSession, action: Transfer,
                 escalation: asyncio.Future[Any] | None = None) -> None:
        self.s = session
        self.action = action
        self.escalation_future = escalation
        self.escalation_id: int | None = None
        self.agent_endpoint: str | None = None
        self._moh = False

    def absorbs(self, esc: Escalate) -> bool:
        """Whether the dialog's ``Escalate`` after the transfer (no agent, or the patient hung up while
        waiting) is this transfer's case, already written: then no second row is made."""
        return self.escalation_id is not None and esc.kind == "request_human"

    # ----------------------------------------------------------------------------------------- run

    async def run(self) -> Event:
        """Hold, find an agent, ring, bridge: TransferCompleted, TransferFailed or Hangup."""
        s = self.s
        log.info("%s: transferring (%s)", s.call_id, self.action.reason)
        try:
            await self._open_case()
            await self._hold(True)
            endpoint = s.opt.agent_endpoint or await self._wait_for_taker()
            if s.tracker.final:
                return await self._fail("患者已挂断 / the patient hung up while waiting", hung_up=True)
            if endpoint is None:
                return await self._fail("没有坐席接听 / no agent took the call in time: call back", hung_up=False)
            self.agent_endpoint = endpoint
            await self._note(handoff.RINGING, f"正在呼叫坐席 / ringing {endpoint}")
            answered = await self._ring(endpoint)
            if s.tracker.final:
                await s._safe(s.client.hangup(s.agent_chan))
                return await self._fail("患者已挂断 / the patient hung up while the agent's phone rang",
                                        hung_up=True)
            if not answered:
                return await self._fail(f"坐席未接听 / {endpoint} did not answer: call back", hung_up=False,
                                        release=True)
            await self._hold(False)
            await s.client.add_channel(s.bridge_id, [s.agent_chan])
        except (AriError, AriConnectionError) as exc:
            s.report.errors.append(f"transfer: {exc}")
            await s._safe(s.client.hangup(s.agent_chan))
            if s.tracker.final:
                return await self._fail("患者已挂断 / the patient hung up", hung_up=True)
            return await self._fail(f"转接失败 / transfer failed ({exc}): call back", hung_up=False, release=True)
        # The bot leaves the bridge: patient and agent talk (the recording goes on).
        s._transferred = True
        if s.media is not None:
            await s.media.close()
        await s._safe(s.client.hangup(s.media_id))
        await self._note(handoff.CONNECTED, f"已接通 / connected to {endpoint}")
        log.info("%s: transferred to %s", s.call_id, endpoint)
        return TransferCompleted()

    # ----------------------------------------------------------------------------------- the case

    async def _open_case(self) -> None:
        """Mark the case waiting (console mode only: a fixed agent line needs no queue entry)."""
        s = self.s
        if s.opt.agent_endpoint or s.log is None:
            return
        existing = None
        if self.escalation_future is not None:
            existing = await self.escalation_future  # the writer resolves it in order; None if it failed
        kind, department, text, question_id = "request_human", None, "", None
        if s.dm is not None:
            # The department the dialog routes this call's escalations to (the flow's, rendered).
            department = getattr(s.dm, "_department", None)
        patient = [t for t in s.report.turns if t.speaker == "patient"]
        if patient:
            text, question_id = patient[-1].text, patient[-1].question_id
        log_ = s.log
        self.escalation_id = await self._db(lambda db: handoff.open_waiting(
            db, escalation_id=existing, patient_id=log_.patient_id, attempt_id=log_.attempt_id, kind=kind,
            department=department, text=text, question_id=question_id, wait_s=s.opt.agent_wait_s))
        if self.escalation_id is not None and existing is None:
            s.report.escalations.append({"kind": kind, "department": department, "text": text,
                                         "question_id": question_id})

    async def _wait_for_taker(self) -> str | None:
        """Poll the case until an agent with a phone takes it, the patient hangs up or the wait ends."""
        s = self.s
        if self.escalation_id is None:
            return None
        case_id = self.escalation_id
        deadline = time.monotonic() + s.opt.agent_wait_s
        while not s.tracker.final:
            taker = await self._db(lambda db: handoff.taken_by(db, case_id))
            if taker is not None and taker.sip_endpoint:
                log.info("%s: taken by %s (%s)", s.call_id, taker.name, taker.sip_endpoint)
                return taker.sip_endpoint
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_S)
        return None

    # ---------------------------------------------------------------------------------- telephony

    async def _hold(self, on: bool) -> None:
        """Music on hold on the call's bridge (everyone in it hears it: the patient, and the recording)."""
        s = self.s
        if on == self._moh:
            return
        path = f"/bridges/{quote(s.bridge_id)}/moh"
        if on:
            try:
                await s.client.request("POST", path, params={"mohClass": MOH_CLASS})
                self._moh = True
            except (AriError, AriConnectionError) as exc:
                s.report.errors.append(f"transfer: hold music: {exc}")  # the wait goes on in silence
        else:
            self._moh = False
            await s._safe(s.client.request("DELETE", path))

    async def _ring(self, endpoint: str) -> bool:
        """Dial the agent; True once they answer (False: no answer, busy, failed, or the patient left)."""
        s = self.s
        await s.client.originate(endpoint, channel_id=s.agent_chan, app_args="agent",
                                 timeout=s.opt.agent_timeout_s, formats="slin16")
        agent = OutcomeTracker(s.agent_chan)
        deadline = time.monotonic() + s.opt.agent_timeout_s + 5
        while not agent.answered and not agent.final:
            if s.tracker.final:
                return False
            try:
                event = await asyncio.wait_for(s._agent_events.get(), min(0.5, max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    break
                continue
            agent.feed(event)
        if not agent.answered:
            await s._safe(s.client.hangup(s.agent_chan))
            return False
        return True

    async def _fail(self, why: str, *, hung_up: bool, release: bool = False) -> Event:
        await self._hold(False)
        await self._note(handoff.MISSED, why, release=release)
        self._drop_stale_speech()
        return HangupEvent() if hung_up else TransferFailed()

    def _drop_stale_speech(self) -> None:
        """What the media pump heard during the hold (the music) is no reply to what the bot says next."""
        s = self.s
        keep = []
        while not s._inbox.empty():
            item = s._inbox.get_nowait()
            if item.kind in ("hangup", "media_closed"):
                keep.append(item)
        for item in keep:
            s._inbox.put_nowait(item)
        s._stash.clear()

    # --------------------------------------------------------------------------------- database

    async def _note(self, state: str, text: str, *, release: bool = False) -> None:
        if self.escalation_id is None:
            return
        case_id = self.escalation_id
        await self._db(lambda db: handoff.note(db, case_id, state, text, release=release))

    async def _db(self, fn: Any) -> Any:
        """``fn(session)`` in a worker thread; None (and an error on the report) if the database fails."""
        s = self.s
        if s.log is None:
            return None

        def job() -> Any:
            with s.log.sessions() as db:  # type: ignore[union-attr]
                return fn(db)

        try:
            return await asyncio.to_thread(job)
        except Exception as exc:  # noqa: BLE001 - the patient is on the line: fall back to a callback
            s.report.errors.append(f"transfer: database: {type(exc).__name__}: {exc}")
            log.error("%s: transfer database step failed: %s", s.call_id, exc)
            return None
