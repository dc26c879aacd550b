"""CallSession: one live call — where media, endpointing, recognition, the dialog and persistence meet.

Theory of operation
-------------------
``await CallSession(...).run()`` places the call and returns a ``CallReport`` when it is over. Inside,
four things run on the event loop, none of them ever blocking it:

- **events** (``_pump_events``): the ARI subscription for this call's ids feeds ``dialer.outcome``'s
  tracker (answer, busy, no answer, hang-up), turns ``ChannelDtmfReceived`` into key presses, and
  notices recording ends and events-websocket drops;
- **media in** (``_pump_media``): 20 ms slin16 frames from the ExternalMedia channel go through the
  WebRTC-VAD ``Endpointer``. Where a Local channel sends nothing (silence), silence is fed in so the
  stream clock keeps up with the wall clock. Speech starts/ends, barge-in and an over-long first
  utterance (voicemail) become items in the session's *inbox*;
- **the dialog** (``_converse``): ``DialogManager`` actions are carried out in order — persistence at
  once (queued, ``dialer.persist``), the ``Play`` actions of one turn spoken as **one** audio stream
  (pieces joined by ``prompt_gap_ms`` of silence, so the simulated patient's WaitForSilence sees one
  prompt), then ``Listen``: an utterance (recognised off the loop in the bounded decode pool, biased with
  the Listen's expectation), a key, ``NoInput`` when no speech starts within the listen timeout after
  the prompt finished playing, or the patient hanging up. **Speculative decoding**: when the patient
  pauses for ``speculate_ms`` (the endpointer's ``SpeechPaused``, whose audio is what the utterance will
  be if nothing follows) and a decoder is idle, decoding starts at once; at the endpoint
  (``endpoint_silence_ms`` later, or ``endpoint_closed_ms`` for closed questions) the result is used if
  the span and the expectation are the same, else it is dropped and the utterance decoded afresh;
- **watchdog** (``_watch``): while the ARI events websocket is down (the client reconnects and
  reconciles by itself) the call channel is polled over REST, so a hang-up during the outage is noticed
  within a second or two instead of after the reconnection.

Barge-in: while a prompt that allows it plays and a Listen follows, patient speech stops the prompt
(stop sending + FLUSH_MEDIA) and the utterance is recognised as the reply. Safeguards against the bot's
own audio (no echo with Local channels, but a SIP phone may echo): nothing in the first
``barge_in_ignore_ms`` of a prompt counts, and it takes ``barge_in_frames`` consecutive voiced frames
while the endpointer is in speech. A key press during a prompt stops it too.

Timing: turn ``start_ms``/``end_ms`` are offsets from the start of the bridge recording (the monotonic
time its request returned). Voice-to-voice latency of a turn = first bot audio frame handed to the
media socket − end of the patient's speech (the endpointer's speech end, mapped from stream time to the
wall clock), which includes the endpointing delay (≈0.6 s), recognition not yet done when the endpoint
is reached (a speculative decode may have finished already) and the dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from asr.pool import DecodePool, PoolBusy, get_pool
from asr.recognizer import Recognizer, Transcript
from asr.vad import Endpointer, SpeechEnded, SpeechPaused, SpeechStarted
from dialer.ari import (
    EVENTS_DISCONNECTED,
    EVENTS_RECONNECTED,
    AriClient,
    AriConnectionError,
    AriError,
    AriNotFound,
)
from dialer.media import MediaClosed, MediaTransport, open_audiosocket_media, open_websocket_media
from dialer.media.audiosocket import AudioSocketServer
from dialer.outcome import OutcomeTracker
from dialer.persist import AttemptLog
from dialer.prompts import PromptAudio, silence
from dialer.transfer import LiveTransfer
from dialer.voicemail import GREETING, VOICEMAIL, classify_first_utterance
from dialog.actions import (
    Action,
    AddDoNotCall,
    CaptureAnswer,
    Escalate,
    Hangup,
    Listen,
    Play,
    ScheduleCallback,
    Transfer,
)
from dialog.events import Dtmf, Event, NoInput, TransferCompleted, TransferFailed, Utterance
from dialog.events import Hangup as HangupEvent
from dialog.manager import DialogManager
from flows.schema import Flow

log = logging.getLogger(__name__)

FRAME_S = 0.02
SLIN16 = 16000
# Questions whose answers are a word or two (yes/no, a score, one choice): they may use a shorter endpoint.
CLOSED_TYPES = frozenset({"yes_no", "scale", "single_choice"})


@dataclass(frozen=True)
class SessionOptions:
    """Knobs of a CallSession (the defaults are what ``followup call`` uses)."""

    originate_timeout_s: int = 30  # ringing before giving up (no_answer)
    transport: str = "websocket"  # "websocket" (chan_websocket, default) or "audiosocket"
    record: bool = True  # bridge recording of both parties
    media_lead_ms: int = 1000  # how far ahead of play-out bot audio is handed to Asterisk
    prompt_gap_ms: int = 300  # silence between the pieces of one bot turn (< the simulator's 1 s)
    endpoint_silence_ms: int = 600  # trailing silence that ends an utterance (asr.vad.Endpointer)
    endpoint_closed_ms: int | None = None  # the same for closed questions (CLOSED_TYPES); None: as above
    speculate_ms: int = 220  # start decoding after this much trailing silence (0: only at the endpoint)
    barge_in: bool = True
    barge_in_ignore_ms: int = 300  # speech in the first part of a prompt never barges in
    barge_in_frames: int = 6  # consecutive voiced 20 ms frames needed to barge in
    voicemail_detection: bool = True
    voicemail_speech_s: float = 4.0  # a first utterance this long without a pause is a machine
    voicemail_window_s: float = 30.0  # only the first utterance within this long after answer
    asr_timeout_s: float = 30.0
    setup_timeout_s: float = 10.0  # bridge + media + recording after answer
    max_call_s: float = 900.0
    agent_endpoint: str | None = None  # a fixed agent line ("PJSIP/agent1") rung at once on a Transfer
    agent_timeout_s: int = 20  # the agent's phone rings this long
    agent_wait_s: float = 0.0  # on hold until an agent takes the case in the console (0: callback at once)
    timezone: str = "Asia/Shanghai"  # of ScheduleCallback times (hospital-local)
    finish_task: bool = True  # set the task done/failed at the end (ad-hoc calls; the engine decides otherwise)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> SessionOptions:
        """Options with the FOLLOWUP_* call settings (endpointing, speculation, time zone) applied."""
        values: dict[str, Any] = {
            "endpoint_silence_ms": settings.endpoint_silence_ms,
            "endpoint_closed_ms": settings.endpoint_closed_ms,
            "speculate_ms": settings.speculate_ms,
            "timezone": settings.timezone,
            "agent_wait_s": settings.agent_wait_s,
            "agent_timeout_s": settings.agent_timeout_s,
        }
        values.update(overrides)
        return cls(**values)


@dataclass
class TurnLog:
    """One turn as the report shows it (the database has the same, through ``AttemptLog``)."""

    speaker: str
    text: str
    start_ms: int | None
    end_ms: int | None
    source: str = "speech"
    question_id: str | None = None
    confidence: float | None = None
    prompt_key: str | None = None
    interrupted: bool = False  # bot turn cut short by barge-in or a key
    sent_bytes: int = 0  # bot turn: audio handed to Asterisk
    prompt_bytes: int = 0  # bot turn: the turn's full audio

    def contract(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "text": self.text, "start_ms": self.start_ms, "end_ms": self.end_ms}


@dataclass
class LatencySample:
    """One voice-to-voice measurement (ms): total, and where it went."""

    total_ms: float
    endpoint_ms: float  # speech end → endpointer decision
    asr_ms: float  # decision → transcript
    respond_ms: float  # transcript → first bot frame (dialog, prompt resolution, send)


@dataclass
class CallReport:
    """How a call went. ``to_contract()`` is the JSON of ``followup call --json``."""

    call_id: str
    outcome: str
    answered: bool = False
    dialog_outcome: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    turns: list[TurnLog] = field(default_factory=list)
    latencies: list[LatencySample] = field(default_factory=list)
    recording: str | None = None
    recording_name: str | None = None
    attempt_id: int | None = None
    hangup_cause: int | None = None
    ended_by: str | None = None
    barge_ins: int = 0
    voicemail: bool = False
    greetings: int = 0
    callback_at: str | None = None
    do_not_call: bool = False
    asr: list[tuple[float, float]] = field(default_factory=list)  # (speech s, decode s) per utterance
    send_chunks: int = 0
    # Speculative decoding: started on a pause, used at the endpoint, dropped (speech resumed, other
    # expectation); decodes started at the endpoint instead.
    speculative_started: int = 0
    speculative_used: int = 0
    speculative_wasted: int = 0
    underruns: list[float] = field(default_factory=list)  # ms of bot-audio gaps > 40 ms mid-turn
    max_send_interval_ms: float = 0.0
    events_reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def latency_ms(self) -> list[int]:
        return [round(s.total_ms) for s in self.latencies]

    def to_contract(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "answers": self.answers,
            "escalations": self.escalations,
            "turns": [t.contract() for t in self.turns],
            "latency_ms": self.latency_ms,
            "recording": self.recording,
        }


# Sentinels returned by _listen besides dialog events.
_VOICEMAIL = object()
_GREETING = object()
_MEDIA_LOST = object()


@dataclass
class _Item:
    """An inbox item: what the event/media tasks tell the dialog task."""

    kind: str  # speech_start, speech_end, barge, dtmf, hangup, media_closed, long_speech
    t: float
    speech: SpeechEnded | None = None
    start_t: float = 0.0  # speech_end: wall (monotonic) time of the speech start / end
    end_t: float = 0.0
    digit: str = ""


@dataclass
class _Speculation:
    """A decode started when the patient paused (``SpeechPaused``); valid for the same span and
    expectation."""

    start_s: float
    end_s: float
    expectation: Any
    future: asyncio.Future[Transcript]


@dataclass
class _Plan:
    plays: list[Play] = field(default_factory=list)
    listen: Listen | None = None
    transfer: Transfer | None = None
    escalation: asyncio.Future[Any] | None = None  # the row id of the turn's (last) escalation
    hangup: str | None = None


@dataclass
class _Spoken:
    """What happened while a bot turn played."""

    start_t: float | None = None  # first frame handed over
    end_t: float = 0.0
    interrupt: _Item | None = None
    sent_bytes: int = 0
    prompt_bytes: int = 0


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a speculative decode's outcome so an unused failure is not reported as unhandled."""
    if not future.cancelled():
        future.exception()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class CallSession:
    """One outbound call from dial to hang-up (see the module docstring).

    ``endpoint``: what to dial (``Local/sim-x@patients``, ``PJSIP/…``). ``log``: the attempt's
    ``AttemptLog`` (None: nothing is written). ``recordings_dir``: Asterisk's recording directory as seen
    from this host (its path is stored on the attempt; None: the ARI recording name is stored).
    ``audiosocket``: the shared ``AudioSocketServer`` when ``options.transport == "audiosocket"``.
    """

    def __init__(
        self,
        client: AriClient,
        *,
        endpoint: str,
        flow: Flow,
        lang: str,
        context: Mapping[str, Any],
        recognizer: Recognizer,
        prompts: PromptAudio,
        now: datetime | None = None,
        log: AttemptLog | None = None,
        options: SessionOptions | None = None,
        pool: DecodePool | None = None,
        call_id: str | None = None,
        recordings_dir: str | Path | None = None,
        audiosocket: AudioSocketServer | None = None,
        on_turn: Callable[[TurnLog], None] | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.flow = flow
        self.lang = lang
        self.context = dict(context)
        self.recognizer = recognizer
        self.prompts = prompts
        self.now = now
        self.log = log
        self.opt = options or SessionOptions()
        self.pool = pool
        self.recordings_dir = Path(recordings_dir) if recordings_dir else None
        self.audiosocket = audiosocket
        self.on_turn = on_turn
        suffix = (call_id or f"call-{uuid.uuid4().hex[:12]}").removeprefix("call-")
        self.call_id = f"call-{suffix}"
        self.patient_chan = f"patient-{suffix}"
        self.bridge_id = f"br-{suffix}"
        self.media_id = f"em-{suffix}"
        self.agent_chan = f"agent-{suffix}"
        self.recording_name = f"rec-{suffix}"
        self.report = CallReport(call_id=self.call_id, outcome="failed")
        self.tracker = OutcomeTracker(self.call_id)
        self.dm: DialogManager | None = None
        self.media: MediaTransport | None = None
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue()
        self._answered = asyncio.Event()
        self._ended = asyncio.Event()
        self._rec_done = asyncio.Event()
        self._agent_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._events_down = False
        self._rec_t0: float | None = None
        self._answered_at = 0.0
        # media-in state
        self._endpointer = Endpointer(sample_rate=SLIN16, trailing_silence_ms=self.opt.endpoint_silence_ms,
                                      pause_ms=self.opt.speculate_ms)
        self._stream_t0 = 0.0
        self._stream_s = 0.0
        self._armed_frames = 0  # frames fed since barge-in was armed
        self._spec: _Speculation | None = None
        self._spec_listen: Listen | None = None  # the Listen an utterance now would answer
        self._first_listen = True
        self._speech_started_s: float | None = None
        self._pump_waiting = False
        # speaking state
        self._barge_armed = False
        self._barge_fired = False
        self._prompt_started_at: float | None = None
        self._pred_end = 0.0
        self._first_turn: tuple[float, float] | None = None
        # listening state
        self._first_pending = True  # no utterance/key yet: the voicemail check is armed
        self._long_fired = False
        self._anchor: tuple[float, float, float] | None = None  # (speech end, decided, transcript done)
        self._last_patient_turn: asyncio.Future[int | None] | None = None
        self._stash: list[_Item] = []
        self._listening: Listen | None = None
        self._callback_at: datetime | None = None
        self._transferred = False
        self._live_transfer: LiveTransfer | None = None

    # ------------------------------------------------------------------------------------------ run

    async def run(self) -> CallReport:
        """Place the call, hold the conversation, hang up, write the outcome; returns the report."""
        t0 = time.monotonic()
        sub = self.client.subscribe(self.call_id, self.patient_chan, self.bridge_id, self.media_id,
                                    self.agent_chan, self.recording_name)
        self._sub = sub
        self._tasks.append(asyncio.create_task(self._pump_events(), name=f"{self.call_id}-events"))
        reconnects0 = self.client.reconnects
        try:
            async with asyncio.timeout(self.opt.max_call_s):
                await self._place_and_talk()
        except TimeoutError:
            self.report.errors.append(f"call exceeded {self.opt.max_call_s} s")
            log.error("%s: call exceeded %s s: hanging up", self.call_id, self.opt.max_call_s)
            await self._hang_up()
        except Exception as exc:
            self.report.errors.append(f"{type(exc).__name__}: {exc}")
            log.exception("%s: call failed", self.call_id)
            await self._hang_up()
        finally:
            self._drop_speculation()
            await self._cleanup()
            self.report.events_reconnects = self.client.reconnects - reconnects0
            await self._finish()
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            sub.close()
            if self.log is not None:
                await self.log.close()
                self.report.errors.extend(f"db: {e}" for e in self.log.errors)
            self.report.duration_s = round(time.monotonic() - t0, 3)
        return self.report

    async def _place_and_talk(self) -> None:
        try:
            await self.client.originate(self.endpoint, channel_id=self.call_id, other_channel_id=self.patient_chan,
                                        app_args="outbound", timeout=self.opt.originate_timeout_s,
                                        formats="slin16")
        except (AriError, AriConnectionError) as exc:
            self.tracker.originate_failed(str(exc))
            self.report.errors.append(f"originate: {exc}")
            return
        log.info("%s: dialling", self.call_id)
        answered = asyncio.ensure_future(self._answered.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({answered, ended}, timeout=self.opt.originate_timeout_s + 15,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            ended.cancel()
        if not self.tracker.answered:
            if not self.tracker.final:
                self.report.errors.append("no answer/hang-up event in time")
                self.tracker.local_hangup()
                await self._safe(self.client.hangup(self.call_id))
            return
        self.report.answered = True
        self._answered_at = time.monotonic()
        log.info("%s: answered", self.call_id)
        if self.log is not None:
            self.log.answered()
        if self.tracker.final:
            return  # hung up already
        try:
            async with asyncio.timeout(self.opt.setup_timeout_s):
                await self._set_up_media()
        except (AriError, AriConnectionError, MediaClosed, TimeoutError) as exc:
            if self.tracker.final:
                return  # the patient hung up during set-up
            raise RuntimeError(f"media set-up failed: {exc}") from exc
        await self._converse()

    async def _set_up_media(self) -> None:
        await self.client.create_bridge(self.bridge_id)
        if self.opt.transport == "audiosocket":
            if self.audiosocket is None:
                raise ValueError("transport audiosocket needs an AudioSocketServer")
            self.media = await open_audiosocket_media(self.client, self.audiosocket, self.media_id)
        else:
            self.media = await open_websocket_media(self.client, self.media_id, max_lead_ms=self.opt.media_lead_ms)
        await self.client.add_channel(self.bridge_id, [self.call_id, self.media_id])
        if self.opt.record:
            await self.client.record(self.bridge_id, self.recording_name, format="wav", if_exists="overwrite")
            self.report.recording_name = self.recording_name
            self.report.recording = (str(self.recordings_dir / f"{self.recording_name}.wav") if self.recordings_dir
                                     else f"ari:{self.recording_name}")
        now = time.monotonic()
        self._rec_t0 = now
        self._stream_t0 = now
        self._tasks.append(asyncio.create_task(self._pump_media(), name=f"{self.call_id}-media"))
        self._tasks.append(asyncio.create_task(self._watch(), name=f"{self.call_id}-watch"))

    # -------------------------------------------------------------------------------------- dialog

    async def _converse(self) -> None:
        dm = DialogManager(self.flow, self.lang, self.context, now=self.now)
        self.dm = dm
        plan = self._carry_out(dm, dm.start())
        first = True
        replays = 0
        while True:
            spoken = _Spoken(end_t=time.monotonic())
            self._first_listen = first
            self._expect(plan.listen)
            if plan.plays:
                spoken = await self._speak(plan.plays, plan.listen)
                if first and spoken.start_t is not None:
                    self._first_turn = (spoken.start_t, spoken.end_t)
            event: Any
            stop = spoken.interrupt.kind if spoken.interrupt is not None else ""
            if stop in ("hangup", "media_closed"):
                event = HangupEvent() if stop == "hangup" else _MEDIA_LOST
            elif stop == "long_speech":
                event = _VOICEMAIL
            elif plan.hangup is not None:
                await self._hang_up()
                return
            elif plan.transfer is not None:
                event = await self._transfer(plan.transfer, plan.escalation)
            elif plan.listen is None:
                self.report.errors.append("the dialog neither listens nor hangs up")
                await self._hang_up()
                return
            else:
                event = await self._listen(plan.listen, spoken, first)
            if event is _GREETING and replays < 1:
                replays += 1
                self.report.greetings += 1
                continue  # a person said hello over the first prompt: say it again from the start
            if event is _GREETING:
                event = Utterance("", 0.0)
            first = False
            self._expect(None)
            if event is _VOICEMAIL:
                self.report.voicemail = True
                log.info("%s: voicemail detected: hanging up", self.call_id)
                await self._hang_up()
                return
            if event is _MEDIA_LOST or isinstance(event, HangupEvent):
                if event is _MEDIA_LOST:
                    self.report.errors.append(f"media lost: {self.media.close_reason if self.media else ''}")
                if dm.accepts(HangupEvent):
                    self._carry_out(dm, dm.handle(HangupEvent()))
                if event is _MEDIA_LOST:
                    await self._hang_up()
                return
            if isinstance(event, TransferCompleted):
                self._carry_out(dm, dm.handle(event))
                await self._hold_transferred()
                return
            plan = self._carry_out(dm, dm.handle(event))

    def _carry_out(self, dm: DialogManager, actions: list[Action]) -> _Plan:
        """Persist what the actions record; return what is to be said and awaited."""
        plan = _Plan()
        for a in actions:
            if isinstance(a, Play):
                plan.plays.append(a)
            elif isinstance(a, Listen):
                plan.listen = a
            elif isinstance(a, CaptureAnswer):
                if self.log is not None:
                    self.log.answer(a, turn=self._last_patient_turn)
            elif isinstance(a, Escalate):
                if self._live_transfer is not None and self._live_transfer.absorbs(a):
                    continue  # the transfer's waiting case already stands for it (dialer.transfer)
                self.report.escalations.append({"kind": a.kind, "department": a.department, "text": a.text,
                                                "question_id": a.question_id})
                if self.log is not None:
                    plan.escalation = self.log.escalation(a)
            elif isinstance(a, ScheduleCallback):
                self.report.callback_at = a.at.isoformat() if a.at is not None else None
                self._callback_at = a.at
            elif isinstance(a, AddDoNotCall):
                self.report.do_not_call = True
                if self.log is not None:
                    self.log.do_not_call(a)
            elif isinstance(a, Transfer):
                plan.transfer = a
            elif isinstance(a, Hangup):
                plan.hangup = a.outcome
        console_wait = self.opt.agent_wait_s > 0 and self.log is not None
        if plan.transfer is not None and not (self.opt.agent_endpoint or console_wait) \
                and dm.accepts(TransferFailed):
            # No agent line and no console to wait for: the transfer fails at once; what the dialog says
            # next is spoken in the same turn as the transfer message.
            more = self._carry_out(dm, dm.handle(TransferFailed()))
            plan = _Plan(plan.plays + more.plays, more.listen, more.transfer, more.escalation, more.hangup)
        return plan

    # ------------------------------------------------------------------------------------ speaking

    async def _speak(self, plays: list[Play], listen: Listen | None) -> _Spoken:
        """Say one bot turn (its Plays as one stream); returns early on barge-in, a key or a hang-up."""
        spoken = _Spoken()
        resolving = [asyncio.create_task(self.prompts.pcm(p)) for p in plays]
        self._barge_fired = False
        self._prompt_started_at = None
        sender = asyncio.create_task(self._send_turn(plays, resolving, spoken, listen is not None))
        interrupt: _Item | None = None
        try:
            while not sender.done():
                item = await self._next(until=sender)
                if item is None:
                    continue
                stops = ("barge", "hangup", "media_closed", "long_speech") + (("dtmf",) if listen else ())
                if item.kind in stops:
                    interrupt = item
                elif item.kind == "speech_end":
                    self._stash_if_reply(item, listen)
                if interrupt is not None:
                    break
        finally:
            self._barge_armed = False
            if not sender.done():
                if interrupt is not None and interrupt.kind != "hangup" and self.media is not None:
                    with contextlib.suppress(MediaClosed):
                        await self.media.flush()
                sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaClosed):
                await sender
            for task in resolving:
                if not task.done():
                    task.cancel()
        if sender.done() and not sender.cancelled() and sender.exception() is not None:
            exc = sender.exception()
            if isinstance(exc, MediaClosed):
                interrupt = interrupt or _Item("media_closed", time.monotonic())
            else:
                raise exc  # type: ignore[misc]
        spoken.interrupt = interrupt
        spoken.end_t = interrupt.t if interrupt is not None and interrupt.kind != "hangup" else time.monotonic()
        if interrupt is not None and interrupt.kind in ("barge", "dtmf"):
            self.report.barge_ins += 1
        spoken.prompt_bytes = sum(len(t.result()) for t in resolving if t.done() and not t.cancelled()
                                  and t.exception() is None) + self._gap_bytes() * (len(plays) - 1)
        text = self._join(p.text for p in plays)
        keys = ",".join(p.prompt_key for p in plays if p.prompt_key)[:200] or None
        self._turn(TurnLog(
            "bot", text, self._ms(spoken.start_t), self._ms(spoken.end_t) if spoken.start_t else None,
            source="tts", question_id=listen.question_id if listen else None, prompt_key=keys,
            interrupted=interrupt is not None and interrupt.kind in ("barge", "dtmf", "long_speech"),
            sent_bytes=spoken.sent_bytes, prompt_bytes=spoken.prompt_bytes))
        return spoken

    def _gap_bytes(self) -> int:
        return len(silence(self.opt.prompt_gap_ms))

    async def _send_turn(self, plays: list[Play], resolving: list[asyncio.Task[bytes]], spoken: _Spoken,
                         listen_follows: bool) -> None:
        media = self.media
        assert media is not None
        chunk = media.frame_bytes * 5  # 100 ms per send
        rate_bytes = media.sample_rate * 2
        last_return = 0.0
        for i, (play, task) in enumerate(zip(plays, resolving, strict=True)):
            pcm = await task
            data = (silence(self.opt.prompt_gap_ms) if i else b"") + pcm
            data += bytes(-len(data) % media.frame_bytes)  # whole frames: a short send means a flush
            self._barge_armed = self.opt.barge_in and listen_follows and play.barge_in
            for off in range(0, len(data), chunk):
                piece = data[off:off + chunk]
                t = time.monotonic()
                if spoken.start_t is not None:
                    gap = t - self._pred_end
                    if gap > 0.04:
                        self.report.underruns.append(round(gap * 1000, 1))
                sent = await media.send_audio(piece, more=True)
                now = time.monotonic()
                self.report.send_chunks += 1
                if spoken.start_t is None:
                    spoken.start_t = now
                    self._prompt_started_at = now
                    self._pred_end = now
                    self._record_latency(now)
                else:
                    self.report.max_send_interval_ms = max(self.report.max_send_interval_ms,
                                                           round((now - last_return) * 1000, 1))
                last_return = now
                self._pred_end = max(self._pred_end, t) + len(piece) / rate_bytes
                spoken.sent_bytes += sent
                if sent < len(piece):
                    return  # flushed (barge-in)
        # Everything is handed over: the prompt ends when Asterisk has played it.
        await asyncio.sleep(media.queued_ms / 1000)

    def _stash_if_reply(self, item: _Item, listen: Listen | None) -> None:
        """An utterance that ended while a prompt played without barging in (too short to trigger it):
        keep it as the reply if it started after the ignore window of a prompt that allows barge-in."""
        started = self._prompt_started_at
        if listen is None or started is None or not self.opt.barge_in:
            return
        if item.start_t >= started + self.opt.barge_in_ignore_ms / 1000:
            self._stash.append(item)

    def _record_latency(self, first_frame_at: float) -> None:
        if self._anchor is None:
            return
        end, decided, transcribed = self._anchor
        self._anchor = None
        self.report.latencies.append(LatencySample(
            total_ms=round((first_frame_at - end) * 1000, 1),
            endpoint_ms=round((decided - end) * 1000, 1),
            asr_ms=round((transcribed - decided) * 1000, 1),
            respond_ms=round((first_frame_at - transcribed) * 1000, 1),
        ))

    # ----------------------------------------------------------------------------------- listening

    async def _listen(self, listen: Listen, spoken: _Spoken, first: bool) -> Any:
        """Wait for the reply to ``listen``: an Event, or one of the sentinels."""
        self._listening = listen
        interrupt = spoken.interrupt
        if interrupt is not None and interrupt.kind == "dtmf":
            return self._key(interrupt)
        deadline = spoken.end_t + listen.timeout_s
        stash, self._stash = self._stash, []
        for item in stash:
            result = await self._recognise(item, listen, first)
            if result is not None:
                return result
        while True:
            now = time.monotonic()
            if self._endpointer.in_speech:
                wait = 0.5
            else:
                if now >= deadline:
                    return NoInput()
                wait = deadline - now
            item = await self._next(timeout=wait)
            if item is None:
                continue
            if item.kind == "speech_end":
                result = await self._recognise(item, listen, first)
                if result is not None:
                    return result
                deadline = max(deadline, time.monotonic() + 1.0)  # noise: keep listening a little
            elif item.kind == "dtmf":
                return self._key(item)
            elif item.kind == "hangup":
                return HangupEvent()
            elif item.kind == "media_closed":
                return _MEDIA_LOST
            elif item.kind == "long_speech":
                return _VOICEMAIL

    def _key(self, item: _Item) -> Dtmf:
        self._first_pending = False
        self._last_patient_turn = self._turn(TurnLog("patient", item.digit, self._ms(item.t), self._ms(item.t),
                                                     source="dtmf", question_id=self._question_id()))
        return Dtmf(item.digit)

    def _question_id(self) -> str | None:
        return self._listening.question_id if self._listening is not None else None

    async def _recognise(self, item: _Item, listen: Listen, first: bool) -> Any:
        """ASR of one utterance → Utterance (None: nothing was said after all), or a sentinel."""
        speech = item.speech
        assert speech is not None
        during_first = (first and self._first_turn is not None
                        and self._first_turn[0] <= item.start_t <= self._first_turn[1] + 0.3)
        check_voicemail = (self.opt.voicemail_detection and self._first_pending
                           and item.start_t - self._answered_at <= self.opt.voicemail_window_s)
        # A greeting spoken over the first prompt is not an answer to it: decode it without bias.
        expectation = None if during_first else listen.expectation
        decided = item.t
        transcript: Transcript | None
        spec, self._spec = self._spec, None
        try:
            if (spec is not None and spec.start_s == speech.start_s and spec.end_s == speech.end_s
                    and spec.expectation is expectation and not spec.future.cancelled()):
                future = spec.future  # decoded while the endpointer waited out the trailing silence
                self.report.speculative_used += 1
            else:
                if spec is not None:
                    self._spec = spec
                    if spec.start_s <= speech.start_s:  # else: it is for a later utterance, keep it
                        self._drop_speculation()
                future = self._decode_pool().submit(self.recognizer, speech.audio, self.lang, expectation)
            transcript = await asyncio.wait_for(future, self.opt.asr_timeout_s)
        except PoolBusy:
            self.report.errors.append("asr: decode pool busy")
            transcript = None
        except TimeoutError:
            self.report.errors.append(f"asr: no transcript within {self.opt.asr_timeout_s} s")
            transcript = None
        except (BrokenExecutor, OSError, RuntimeError) as exc:
            # A decode worker died (e.g. out of memory): this reply is a no-match, the pool replaces it.
            self.report.errors.append(f"asr: decoding failed: {type(exc).__name__}: {exc}")
            log.error("%s: decoding failed: %s", self.call_id, exc)
            transcript = None
        done = time.monotonic()
        if transcript is not None:
            self.report.asr.append((transcript.duration_s, transcript.decode_s))
        text = transcript.text if transcript is not None else ""
        if check_voicemail and transcript is not None and not transcript.empty:
            verdict = classify_first_utterance(text, speech.duration_s, self.opt.voicemail_speech_s)
            self._first_pending = False
            if verdict == VOICEMAIL:
                self._turn(TurnLog("patient", text, self._ms(item.start_t), self._ms(item.end_t),
                                   confidence=transcript.confidence))
                return _VOICEMAIL
            if verdict == GREETING and during_first:
                self._turn(TurnLog("patient", text, self._ms(item.start_t), self._ms(item.end_t),
                                   confidence=transcript.confidence))
                return _GREETING
        if transcript is not None and transcript.empty:
            return None
        self._first_pending = False
        confidence = transcript.confidence if transcript is not None else 0.0
        self._last_patient_turn = self._turn(TurnLog(
            "patient", text, self._ms(item.start_t), self._ms(item.end_t), confidence=confidence,
            question_id=listen.question_id))
        self._anchor = (item.end_t, decided, done)
        if transcript is None:
            return Utterance("", 0.0)
        return transcript.as_utterance()

    async def _next(self, timeout: float | None = None, until: asyncio.Future[Any] | None = None) -> _Item | None:
        """The next inbox item; None after ``timeout`` or when ``until`` completes first."""
        if not self._inbox.empty():
            return self._inbox.get_nowait()
        getter = asyncio.ensure_future(self._inbox.get())
        waits: set[asyncio.Future[Any]] = {getter}
        if until is not None:
            waits.add(until)
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        return None

    # ---------------------------------------------------------------------------------- transfers

    async def _transfer(self, action: Transfer, escalation: asyncio.Future[Any] | None) -> Event:
        """Hold, wait for an agent (fixed line or taken in the console), bridge them in: see
        ``dialer.transfer``. TransferCompleted, TransferFailed or Hangup."""
        self._live_transfer = LiveTransfer(self, action, escalation)
        return await self._live_transfer.run()

    async def _hold_transferred(self) -> None:
        """After a transfer: wait until the patient or the agent hangs up, then end the other side."""
        while not self.tracker.final:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), 1.0)
            try:
                await self.client.get_channel(self.agent_chan)
            except AriNotFound:
                break
            except AriConnectionError:
                continue
        await self._hang_up()

    # ----------------------------------------------------------------------------- event pumps

    async def _pump_events(self) -> None:
        while True:
            event = await self._sub.get()
            etype = event.get("type")
            channel = (event.get("channel") or {}).get("id")
            if channel == self.agent_chan or (event.get("peer") or {}).get("id") == self.agent_chan:
                self._agent_events.put_nowait(event)
            step = self.tracker.feed(event)
            if step == "answered":
                self._answered.set()
            elif step == "ended":
                self._ended.set()
                self._inbox.put_nowait(_Item("hangup", time.monotonic()))
            if etype == "ChannelDtmfReceived" and channel == self.call_id:
                self._inbox.put_nowait(_Item("dtmf", time.monotonic(), digit=str(event.get("digit", ""))))
            elif etype in ("RecordingFinished", "RecordingFailed"):
                self._rec_done.set()
            elif etype == EVENTS_DISCONNECTED:
                self._events_down = True
                log.warning("%s: ARI events websocket down; the call goes on", self.call_id)
            elif etype == EVENTS_RECONNECTED:
                self._events_down = False

    async def _watch(self) -> None:
        """While the events websocket is down, poll the call channel so a hang-up is still noticed."""
        while not self.tracker.final:
            await asyncio.sleep(1.0)
            if self.client.connected or self.tracker.final:
                continue
            try:
                await self.client.get_channel(self.call_id)
            except AriNotFound:
                if not self.tracker.final:
                    log.info("%s: channel gone while events were down", self.call_id)
                    self._sub.put({"type": "ChannelDestroyed", "cause": 0, "reconciled": True, "synthetic": True,
                                   "cause_txt": "found gone by polling while the events websocket was down",
                                   "channel": {"id": self.call_id}})
            except AriConnectionError:
                pass

    async def _pump_media(self) -> None:
        media = self.media
        assert media is not None
        padder = asyncio.create_task(self._pad_silence(), name=f"{self.call_id}-pad")
        caught_up = 0
        try:
            while True:
                self._pump_waiting = True
                try:
                    frame = await media.read()
                except MediaClosed:
                    if not self._transferred:
                        self._inbox.put_nowait(_Item("media_closed", time.monotonic()))
                    return
                self._pump_waiting = False
                if frame is None:
                    continue
                self._feed(frame, time.monotonic())
                caught_up += 1
                if caught_up >= 5:
                    # read() returns queued frames without yielding: after a stall, let the sender and
                    # the other calls run between every 100 ms of audio caught up.
                    caught_up = 0
                    await asyncio.sleep(0)
        finally:
            padder.cancel()

    async def _pad_silence(self) -> None:
        """A Local channel sends nothing while the patient is silent: keep the stream clock going by
        feeding silence — but only when the pump is idle (no frame waiting to be read), nothing has
        arrived for a while, and this ticker ran on time (after a stall, frames may simply not have been
        read off the socket yet, and silence inserted then would cut into the patient's speech)."""
        media = self.media
        assert media is not None
        silent = bytes(media.frame_bytes)
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.06)
            now = time.monotonic()
            on_time, last = now - last < 0.15, now
            if not (on_time and self._pump_waiting):
                continue
            received = media.stats.last_frame_received_at or 0.0
            behind = (now - self._stream_t0) - self._stream_s
            if behind > 0.12 and now - received > 0.12:
                for _ in range(int((behind - 0.06) / FRAME_S)):
                    self._feed(silent, now)

    def _feed(self, frame: bytes, now: float) -> None:
        self._stream_s += FRAME_S
        ep = self._endpointer
        events = ep.feed(frame)
        if self._barge_armed and not self._barge_fired:
            self._armed_frames += 1
        else:
            self._armed_frames = 0
        if self._spec is not None and ep.last_voiced and ep.in_speech:
            self._drop_speculation()  # the patient goes on: the span decoded is not the utterance
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._speech_started_s = ev.at_s
                self._inbox.put_nowait(_Item("speech_start", self._wall(ev.at_s, now)))
            elif isinstance(ev, SpeechPaused):
                self._speculate(ev, now)
            elif isinstance(ev, SpeechEnded):
                self._speech_started_s = None
                self._inbox.put_nowait(_Item("speech_end", now, speech=ev, start_t=self._wall(ev.start_s, now),
                                             end_t=self._wall(ev.end_s, now)))
        in_speech = ep.in_speech
        # Consecutive voiced frames since barge-in was armed (the endpointer's VAD verdicts: one VAD pass).
        voiced_run = min(ep.voiced_run, self._armed_frames)
        if (self._barge_armed and not self._barge_fired and in_speech
                and voiced_run >= self.opt.barge_in_frames and self._prompt_started_at is not None
                and now - self._prompt_started_at >= self.opt.barge_in_ignore_ms / 1000):
            self._barge_fired = True
            self._inbox.put_nowait(_Item("barge", now))
        if (self.opt.voicemail_detection and self._first_pending and not self._long_fired and in_speech
                and self._speech_started_s is not None
                and self._stream_s - self._speech_started_s >= self.opt.voicemail_speech_s
                and now - self._answered_at <= self.opt.voicemail_window_s):
            self._long_fired = True
            self._inbox.put_nowait(_Item("long_speech", now))

    # ------------------------------------------------------------------- speculative decoding

    def _expect(self, listen: Listen | None) -> None:
        """``listen`` is what an utterance from now on answers: its endpoint and speculation follow it."""
        self._spec_listen = listen
        if listen is None:
            return
        ms = self.opt.endpoint_silence_ms
        if self.opt.endpoint_closed_ms is not None and listen.expectation.type in CLOSED_TYPES:
            ms = self.opt.endpoint_closed_ms
        self._endpointer.set_trailing_silence(ms)

    def _decode_pool(self) -> DecodePool:
        return self.pool or get_pool()

    def _expectation_for(self, start_t: float, listen: Listen, first: bool) -> Any:
        """The expectation an utterance starting at ``start_t`` is decoded with: none for a greeting
        said over the first prompt (it is not an answer to it), else the Listen's."""
        if first:
            if self._first_turn is not None:
                if self._first_turn[0] <= start_t <= self._first_turn[1] + 0.3:
                    return None
            elif self._prompt_started_at is not None and start_t >= self._prompt_started_at:
                return None  # the first prompt is still playing
        return listen.expectation

    def _speculate(self, ev: SpeechPaused, now: float) -> None:
        """The patient paused: decode what was said so far if a decoder is idle; ``_recognise`` uses the
        result if the utterance ends right here (same span, same expectation)."""
        listen = self._spec_listen
        self._drop_speculation()
        if listen is None or not self.opt.speculate_ms:
            return
        pool = self._decode_pool()
        if pool.idle < 1:
            return  # only spare capacity: under load a wasted decode would delay someone's answer
        expectation = self._expectation_for(self._wall(ev.start_s, now), listen, self._first_listen)
        try:
            future = pool.submit(self.recognizer, ev.audio, self.lang, expectation)
        except (PoolBusy, BrokenExecutor, OSError, RuntimeError):
            return
        future.add_done_callback(_consume)
        self._spec = _Speculation(ev.start_s, ev.end_s, expectation, future)
        self.report.speculative_started += 1

    def _drop_speculation(self) -> None:
        spec, self._spec = self._spec, None
        if spec is not None:
            spec.future.cancel()  # not started yet: dropped; running: finishes, result ignored
            self.report.speculative_wasted += 1

    def _wall(self, stream_s: float, now: float) -> float:
        """Monotonic time of stream position ``stream_s`` (the current frame ends at ``now``)."""
        return now - (self._stream_s - stream_s)

    # -------------------------------------------------------------------------------- ending

    async def _hang_up(self) -> None:
        """Hang up the call from our side (if it is still up) and wait for its end."""
        if self.tracker.final:
            return
        self.tracker.local_hangup()
        await self._safe(self.client.hangup(self.call_id))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), 5.0)

    async def _cleanup(self) -> None:
        if self.report.recording_name is not None:
            await self._safe(self.client.stop_recording(self.recording_name))
            if not self._rec_done.is_set() and self.client.connected:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._rec_done.wait(), 3.0)
        if self.media is not None:
            with contextlib.suppress(Exception):
                await self.media.close()
        await self._safe(self.client.hangup(self.media_id))
        if self._transferred:
            await self._safe(self.client.hangup(self.agent_chan))
        if self.report.answered:
            await self._safe(self.client.destroy_bridge(self.bridge_id))

    async def _finish(self) -> None:
        result = self.tracker.result()
        rep = self.report
        rep.hangup_cause = result.cause
        rep.ended_by = result.ended_by
        if self.dm is not None:
            rep.dialog_outcome = self.dm.outcome
            rep.answers = _jsonable(self.dm.answers)
            rep.statuses = self.dm.statuses
        if not result.answered:
            rep.outcome = result.outcome or "failed"
        elif rep.voicemail:
            rep.outcome = "voicemail"
        elif self.dm is not None and self.dm.outcome is not None:
            rep.outcome = self.dm.outcome
        elif result.ended_by == "patient":
            rep.outcome = "hung_up"
        else:
            rep.outcome = "partial"
        log.info("%s: outcome %s", self.call_id, rep.outcome)
        if self.log is not None:
            callback = self._callback_at
            fields: dict[str, Any] = {
                "hangup_cause": str(result.cause) if result.cause is not None else None,
                "recording_path": rep.recording,
            }
            if callback is not None:
                fields["callback_at"] = callback.replace(tzinfo=ZoneInfo(self.opt.timezone)).astimezone(UTC) \
                    if callback.tzinfo is None else callback
            if self.opt.finish_task:
                fields["task_status"] = "done" if result.answered else "failed"
            self.log.finish(rep.outcome, **fields)

    # ---------------------------------------------------------------------------------- helpers

    def _turn(self, turn: TurnLog) -> asyncio.Future[int | None] | None:
        self.report.turns.append(turn)
        if self.on_turn is not None:
            self.on_turn(turn)
        if self.log is None:
            return None
        return self.log.turn(turn.speaker, turn.text, source=turn.source, confidence=turn.confidence,
                             start_ms=turn.start_ms, end_ms=turn.end_ms, question_id=turn.question_id,
                             prompt_key=turn.prompt_key)

    def _ms(self, t: float | None) -> int | None:
        if t is None or self._rec_t0 is None:
            return None
        return max(0, round((t - self._rec_t0) * 1000))

    def _join(self, texts: Any) -> str:
        return ("" if self.lang == "zh" else " ").join(t for t in texts if t)

    async def _safe(self, coro: Any) -> Any:
        try:
            return await coro
        except (AriError, AriConnectionError) as exc:
            log.debug("%s: %s", self.call_id, exc)
            return None

