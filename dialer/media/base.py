"""What every media transport shares: 20 ms framing, the inbound frame queue, paced sending, counters.

A transport subclass provides ``_write_frames(chunk)`` (hand whole frames to Asterisk) and
``_flush_remote()`` (drop what Asterisk has queued, if it can), and feeds inbound audio through
``_deliver(pcm)`` and the end of the connection through ``_mark_closed(reason)``.

Pacing: ``send_audio`` keeps a *play-out clock* (``PlayoutClock``) — the monotonic time at which Asterisk
will have played everything handed to it so far (``max(clock, now) + 20 ms`` per frame) — and never lets
it run more than ``max_lead_ms`` ahead of now. For chan_websocket (Asterisk re-times what it gets) a lead of about
a second rides out event-loop stalls while keeping barge-in cheap; for AudioSocket (no queue in
Asterisk: frames are played as they arrive) the lead is a few frames.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FRAME_MS = 20

SAMPLE_RATES = {"slin": 8000, "slin12": 12000, "slin16": 16000, "slin24": 24000, "slin32": 32000,
                "slin44": 44100, "slin48": 48000, "slin96": 96000, "slin192": 192000}


def frame_bytes_for(format: str) -> int:
    """Bytes of one 20 ms frame of signed 16-bit mono PCM in Asterisk format ``format``."""
    try:
        rate = SAMPLE_RATES[format]
    except KeyError:
        raise ValueError(f"unsupported media format {format!r}: use one of {sorted(SAMPLE_RATES)}") from None
    return rate * 2 * FRAME_MS // 1000


class PlayoutClock:
    """When Asterisk will have played everything handed to it so far (monotonic seconds).

    Paused (chan_websocket PAUSE_MEDIA) it stops draining: the backlog only grows until ``resume``.
    """

    def __init__(self) -> None:
        self._end = 0.0
        self._paused_backlog: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused_backlog is not None

    def backlog(self, now: float) -> float:
        """Seconds handed over and not yet played."""
        if self._paused_backlog is not None:
            return self._paused_backlog
        return max(0.0, self._end - now)

    def add(self, seconds: float, now: float) -> None:
        if self._paused_backlog is not None:
            self._paused_backlog += seconds
        else:
            self._end = max(self._end, now) + seconds

    def pause(self, now: float) -> None:
        if self._paused_backlog is None:
            self._paused_backlog = max(0.0, self._end - now)

    def resume(self, now: float) -> None:
        if self._paused_backlog is not None:
            self._end = now + self._paused_backlog
            self._paused_backlog = None

    def reset(self, now: float) -> None:
        """Everything queued was dropped (flush)."""
        self._end = now
        if self._paused_backlog is not None:
            self._paused_backlog = 0.0


class MediaClosed(Exception):
    """The media connection is closed (hang-up, network failure or close())."""


@dataclass
class MediaStats:
    """Counters and timestamps (``time.monotonic()``) of one media connection.

    ``first_audio_sent_at``: when the first bot audio frame was handed to Asterisk (voice-to-voice latency
    = this minus the end of the patient's speech). ``first_audio_sent_at`` is per connection;
    ``last_send_started_at`` is reset by every ``send_audio`` call that starts from silence.
    """

    connected_at: float | None = None
    first_audio_sent_at: float | None = None
    last_send_started_at: float | None = None
    first_frame_received_at: float | None = None
    last_frame_received_at: float | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    frames_received: int = 0
    frames_dropped: int = 0  # inbound frames dropped because nobody read them (queue full)
    flushes: int = 0
    xoff_count: int = 0
    silence_frames_sent: int = 0  # AudioSocket keep-alive frames (not counted in bytes_sent)


class MediaTransport:
    """Base class of ``WebsocketMedia`` and ``AudioSocketMedia`` (see ``dialer.media``)."""

    #: frames per write; subclasses override
    batch_frames = 1
    #: the largest lead the transport's far end can hold (None: no limit)
    lead_cap_ms: int | None = None

    def __init__(self, *, format: str = "slin16", max_lead_ms: int = 1000, send_timeout: float = 2.0,
                 inbound_max_frames: int = 500) -> None:
        self.format = format
        self.frame_bytes = frame_bytes_for(format)
        self.sample_rate = SAMPLE_RATES[format]
        if self.lead_cap_ms is not None:
            max_lead_ms = min(max_lead_ms, self.lead_cap_ms)
        self.max_lead_s = max(max_lead_ms, FRAME_MS * self.batch_frames) / 1000
        self.send_timeout = send_timeout
        self.stats = MediaStats()
        self.closed = False
        self.close_reason = ""
        self.dtmf_digits: list[str] = []
        self._inbound: collections.deque[bytes] = collections.deque(maxlen=inbound_max_frames)
        self._inbound_ready = asyncio.Event()
        self._closed_event = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._carry = b""
        self._clock = PlayoutClock()
        self._generation = 0
        self._wake = asyncio.Event()
        self._can_send = asyncio.Event()  # cleared while Asterisk says XOFF
        self._can_send.set()

    # ------------------------------------------------------------------------------------ inbound

    def _deliver(self, pcm: bytes) -> None:
        """Queue inbound audio as whole frames (a short tail is padded with silence)."""
        now = time.monotonic()
        if self.stats.first_frame_received_at is None:
            self.stats.first_frame_received_at = now
        self.stats.last_frame_received_at = now
        self.stats.bytes_received += len(pcm)
        fb = self.frame_bytes
        for off in range(0, len(pcm), fb):
            frame = pcm[off:off + fb]
            if len(frame) < fb:
                frame += bytes(fb - len(frame))
            if len(self._inbound) == self._inbound.maxlen:
                self.stats.frames_dropped += 1
            self._inbound.append(frame)
            self.stats.frames_received += 1
        self._inbound_ready.set()

    async def read(self, timeout: float | None = None) -> bytes | None:
        """The next inbound 20 ms frame; None after ``timeout`` seconds without one.

        Raises MediaClosed once the connection is closed and every received frame has been read.
        Asterisk sends nothing while the other party is silent on some paths (Local channels), so do
        not use frame arrival as a clock.
        """
        if self._inbound:
            return self._inbound.popleft()  # the common case under load: no timer, no waiting
        try:
            async with asyncio.timeout(timeout):
                while not self._inbound:
                    if self.closed:
                        raise MediaClosed(self.close_reason or "closed")
                    self._inbound_ready.clear()
                    await self._inbound_ready.wait()  # set by _deliver and by _mark_closed
        except TimeoutError:
            return None
        return self._inbound.popleft()

    async def frames(self) -> AsyncIterator[bytes]:
        """Inbound 20 ms PCM frames (``frame_bytes`` each) until the connection closes."""
        while True:
            try:
                frame = await self.read()
            except MediaClosed:
                return
            if frame is not None:
                yield frame

    # ----------------------------------------------------------------------------------- outbound

    @property
    def queued_ms(self) -> float:
        """Estimated audio handed to Asterisk but not yet played (from the play-out clock)."""
        return self._clock.backlog(time.monotonic()) * 1000

    async def send_audio(self, pcm: bytes, *, more: bool = False) -> int:
        """Send signed 16-bit little-endian mono PCM at ``sample_rate``; returns once it is all handed to
        Asterisk, paced so that at most ``max_lead_ms`` is queued ahead of play-out.

        ``more=True``: the audio continues in the next call, so a partial last frame is kept back (TTS
        streaming in odd chunk sizes); otherwise it is padded with silence. Concurrent calls are
        serialised. Returns the bytes sent — fewer than given when ``flush()`` interrupted it.
        Raises MediaClosed if the connection ends.
        """
        async with self._send_lock:
            if self.closed:
                raise MediaClosed(self.close_reason or "closed")
            generation = self._generation
            fb = self.frame_bytes
            data = self._carry + pcm
            whole = len(data) // fb * fb
            if more:
                self._carry, data = data[whole:], data[:whole]
            else:
                self._carry = b""
                if len(data) > whole:
                    data += bytes(fb - (len(data) - whole))
            if not data:
                return 0
            now = time.monotonic()
            if self._clock.backlog(now) == 0:
                self.stats.last_send_started_at = now
            step = fb * self.batch_frames
            sent = 0
            for off in range(0, len(data), step):
                chunk = data[off:off + step]
                frames = len(chunk) // fb
                if not await self._wait_for_room(generation, frames):
                    break
                await self._write_checked(chunk)
                now = time.monotonic()
                if self.stats.first_audio_sent_at is None:
                    self.stats.first_audio_sent_at = now
                self._clock.add(frames * FRAME_MS / 1000, now)
                self.stats.bytes_sent += len(chunk)
                sent += len(chunk)
                # Let the reader run between writes: an XOFF must be seen before we overrun the queue.
                await asyncio.sleep(0)
            return sent

    async def _wait_for_room(self, generation: int, frames: int) -> bool:
        """Wait until ``frames`` more fit under the lead limit and Asterisk accepts media. False when a
        flush happened meanwhile (stop sending this audio)."""
        while True:
            if self.closed:
                raise MediaClosed(self.close_reason or "closed")
            if generation != self._generation:
                return False
            wake = self._wake
            if not self._can_send.is_set():
                # XOFF: Asterisk's queue is nearly full; wait for XON (or a flush).
                await self._wait_any(wake, self._can_send, timeout=1.0)
                continue
            excess = self._clock.backlog(time.monotonic()) + frames * FRAME_MS / 1000 - self.max_lead_s
            if excess <= 0:
                return True
            # Paused, the backlog does not drain: wait for resume()/flush() (re-checking now and then).
            await self._wait_any(wake, timeout=1.0 if self._clock.paused else excess)

    async def _wait_any(self, *events: asyncio.Event, timeout: float) -> None:
        waits = [asyncio.ensure_future(e.wait()) for e in (*events, self._closed_event)]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _write_checked(self, chunk: bytes) -> None:
        await self._send_guarded(self._write_frames(chunk), "send")

    async def _send_guarded(self, send: Awaitable[None], what: str) -> None:
        """Await one send within the send time limit; a send that fails or times out closes the media."""
        try:
            async with asyncio.timeout(self.send_timeout):
                await send
        except TimeoutError:
            # A send that cannot complete means a dead peer: give up on the connection.
            await self._abort(f"{what} timed out after {self.send_timeout} s")
            raise MediaClosed(self.close_reason) from None
        except MediaClosed:
            raise
        except Exception as exc:
            await self._abort(f"send failed: {type(exc).__name__}: {exc}")
            raise MediaClosed(self.close_reason) from exc

    async def flush(self) -> None:
        """Barge-in: stop the audio being sent and drop what Asterisk has queued but not played."""
        self._generation += 1
        self._carry = b""
        self._kick()
        self.stats.flushes += 1
        self._clock.reset(time.monotonic())
        if not self.closed:
            await self._flush_remote()

    def _kick(self) -> None:
        """Wake a send_audio waiting for room (after a flush, resume or XON)."""
        self._wake.set()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------------------- subclass API

    async def _write_frames(self, chunk: bytes) -> None:
        raise NotImplementedError

    async def _flush_remote(self) -> None:
        """Drop audio queued on Asterisk's side (no-op where the transport cannot)."""

    async def _abort(self, reason: str) -> None:
        self._mark_closed(reason)

    def _mark_closed(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            log.debug("media closed: %s", reason)
        self._closed_event.set()
        self._inbound_ready.set()
        self._wake.set()

    async def wait_closed(self, timeout: float) -> bool:
        """Wait until the connection has ended (e.g. the call hung up); False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._closed_event.wait()
        except TimeoutError:
            return False
        return True
