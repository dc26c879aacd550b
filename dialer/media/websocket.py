"""chan_websocket ExternalMedia: the default media transport (Asterisk 22.6+).

We create the channel with ``transport=websocket&encapsulation=none&connection_type=server&
format=slin16`` (``AriClient.external_media`` defaults) and connect to
``ws://<ari host>/media/<MEDIA_WEBSOCKET_CONNECTION_ID>``. Asterisk then answers the channel (StasisStart)
and sends the text message ``MEDIA_START connection_id:… channel:… channel_id:… format:slin16
optimal_frame_size:640 ptime:20``. Binary messages both ways are raw slin16 little-endian.

What Asterisk 22.10's chan_websocket does with what we send (channels/chan_websocket.c):
- each binary message is cut into ``optimal_frame_size`` frames; a remainder is *dropped* (unless
  START_MEDIA_BUFFERING), so we only ever send whole frames (``send_audio`` pads or carries the tail);
- frames wait in a queue that a 20 ms timer drains: Asterisk paces, we need not. The queue holds
  1000 frames (20 s); at 900 Asterisk sends ``MEDIA_XOFF``, below 800 ``MEDIA_XON``; a message
  arriving at 1000 is dropped whole. The XOFF can come back too late to stop a burst, so
  ``send_audio`` keeps its own lead (``max_lead_ms``, default 1 s, capped at 19 s = 950 frames) and
  additionally waits while XOFF is in effect;
- text commands (plain-text format, case-sensitive): ANSWER, HANGUP, START_MEDIA_BUFFERING,
  STOP_MEDIA_BUFFERING [id], MARK_MEDIA [id], FLUSH_MEDIA, REPORT_QUEUE_DRAINED, GET_STATUS,
  PAUSE_MEDIA, CONTINUE_MEDIA (and SET_MEDIA_DIRECTION in the 22.10 build); notifications: MEDIA_START,
  MEDIA_XOFF, MEDIA_XON, QUEUE_DRAINED, STATUS …, MEDIA_MARK_PROCESSED [id],
  MEDIA_BUFFERING_COMPLETED [id], DTMF_END digit:…, ERROR ….
- FLUSH_MEDIA empties the queue (marks included): what barge-in needs. MARK_MEDIA is queued like a
  frame and answered with MEDIA_MARK_PROCESSED when play-out reaches it: ``mark()``/``wait_mark()``
  tell exactly when a prompt has been played.
- closing the websocket hangs up the channel; HANGUP does too.

Use::

    media = await open_websocket_media(client, f"em-{call}")   # creates the channel, connects
    await client.add_channel(bridge_id, [call_id, media.channel_id])
    async for frame in media.frames(): ...                     # 640-byte frames from the patient
    await media.send_audio(prompt_pcm)                         # paced; returns when handed over
    mark = await media.mark(); played = await media.wait_mark(mark, timeout=30)
    await media.flush()                                        # barge-in
    await media.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from dialer.ari import AriClient, AriConnectionError, AriError
from dialer.media.base import MediaClosed, MediaTransport

log = logging.getLogger(__name__)

_mark_ids = itertools.count(1)


def parse_control(message: str) -> tuple[str, dict[str, str]]:
    """Split a chan_websocket text message into its name and fields.

    Plain text ``MEDIA_START connection_id:x format:slin16`` → ("MEDIA_START", {"connection_id": "x", …});
    a bare word after the name (``MEDIA_MARK_PROCESSED m1``) is returned as ``{"id": "m1"}``; the JSON
    format (``{"event": "MEDIA_XOFF", …}``) is accepted too.
    """
    text = message.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text, {}
        if isinstance(data, dict):
            name = str(data.pop("event", data.pop("command", "")))
            fields = {k: str(v) for k, v in data.items() if not isinstance(v, (dict, list))}
            if "correlation_id" in fields:
                fields.setdefault("id", fields["correlation_id"])
            return name, fields
        return text, {}
    name, _, rest = text.partition(" ")
    fields: dict[str, str] = {}
    if name == "ERROR" and "error_text:" in rest:
        head, _, err = rest.partition("error_text:")
        rest = head
        fields["error_text"] = err
    for token in rest.split():
        key, sep, value = token.partition(":")
        if sep:
            fields[key] = value
        else:
            fields.setdefault("id", token)
    return name, fields


class WebsocketMedia(MediaTransport):
    """One chan_websocket media connection (see module docstring)."""

    batch_frames = 5  # 100 ms per message: few writes, still fine-grained pacing
    # Asterisk queues at most 1000 frames, and its XOFF (at 900) can come back too late to stop a burst
    # (measured: without a yield between writes a 24 s burst was all written before the XOFF was read;
    # with it, sending stopped at 920-950 frames): never lead by more than 950 frames.
    lead_cap_ms = 19_000

    def __init__(
        self,
        url: str,
        *,
        format: str = "slin16",
        max_lead_ms: int = 1000,
        connect_timeout: float = 5.0,
        send_timeout: float = 2.0,
        ping_interval: float | None = 5.0,
        ping_timeout: float | None = 5.0,
        inbound_max_frames: int = 500,
    ) -> None:
        """``url``: ``ws://127.0.0.1:8088/media/<connection id>``."""
        super().__init__(format=format, max_lead_ms=max_lead_ms, send_timeout=send_timeout,
                         inbound_max_frames=inbound_max_frames)
        self.url = url
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.channel_id: str | None = None
        self.media_start: dict[str, str] = {}
        self.last_error = ""
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ws_lock = asyncio.Lock()
        self._marks: dict[str, asyncio.Future[bool]] = {}
        self._drained: asyncio.Future[None] | None = None
        self._status: asyncio.Future[dict[str, str]] | None = None

    @classmethod
    def for_connection(cls, ari_base_url: str, connection_id: str, **kwargs: Any) -> WebsocketMedia:
        """Media for ``connection_id`` on the Asterisk whose ARI is at ``ari_base_url`` (http://…)."""
        base = ari_base_url.rstrip("/").removesuffix("/ari")
        ws_base = "ws" + base[len("http"):] if base.startswith("http") else base
        return cls(f"{ws_base}/media/{connection_id}", **kwargs)

    async def connect(self) -> dict[str, str]:
        """Connect and wait for MEDIA_START (whose fields are returned); MediaClosed on failure."""
        try:
            self._ws = await websockets.connect(
                self.url, open_timeout=self.connect_timeout, ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout, close_timeout=1.0, max_size=2**20,
            )
            async with asyncio.timeout(self.connect_timeout):
                first = await self._ws.recv()
        except Exception as exc:
            self._mark_closed(f"connect failed: {type(exc).__name__}: {exc}")
            if self._ws is not None:
                self._ws.transport.abort()
            raise MediaClosed(self.close_reason) from exc
        name, fields = parse_control(first) if isinstance(first, str) else ("", {})
        if name != "MEDIA_START":
            await self._abort(f"expected MEDIA_START, got {first[:80]!r}")
            raise MediaClosed(self.close_reason)
        self.media_start = fields
        self.channel_id = fields.get("channel_id")
        if fields.get("format") and fields["format"] != self.format:
            log.warning("media %s: format %s, expected %s", self.channel_id, fields["format"], self.format)
        size = fields.get("optimal_frame_size")
        if size and int(size) != self.frame_bytes:
            # Inbound frames and our writes follow Asterisk's frame size.
            self.frame_bytes = int(size)
        self.stats.connected_at = time.monotonic()
        self._reader = asyncio.create_task(self._read_loop(), name=f"media-ws-{self.channel_id}")
        return fields

    async def _read_loop(self) -> None:
        assert self._ws is not None
        reason = "closed by Asterisk"
        try:
            async for message in self._ws:
                if isinstance(message, bytes):
                    self._deliver(message)
                else:
                    self._on_control(message)
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except Exception as exc:  # noqa: BLE001 - connection lost
            reason = f"connection lost: {type(exc).__name__}: {exc}"
        finally:
            self._fail_waiters()
            self._mark_closed(reason)

    def _on_control(self, message: str) -> None:
        name, fields = parse_control(message)
        if name == "MEDIA_XOFF":
            self.stats.xoff_count += 1
            self._can_send.clear()
        elif name == "MEDIA_XON":
            self._can_send.set()
            self._kick()
        elif name == "MEDIA_MARK_PROCESSED":
            fut = self._marks.pop(fields.get("id", ""), None)
            if fut is not None and not fut.done():
                fut.set_result(True)
        elif name == "QUEUE_DRAINED":
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
        elif name == "STATUS":
            if self._status is not None and not self._status.done():
                self._status.set_result(fields)
        elif name == "DTMF_END":
            if fields.get("digit"):
                self.dtmf_digits.append(fields["digit"])
        elif name == "ERROR":
            self.last_error = fields.get("error_text", message)
            log.warning("media %s: Asterisk reports %s", self.channel_id, message[:200])
        else:
            log.debug("media %s: %s", self.channel_id, message[:200])

    def _fail_waiters(self) -> None:
        for fut in self._marks.values():
            if not fut.done():
                fut.set_result(False)
        self._marks.clear()
        for fut in (self._drained, self._status):
            if fut is not None and not fut.done():
                fut.set_exception(MediaClosed("closed"))

    async def _send(self, message: str | bytes) -> None:
        if self._ws is None or self.closed:
            raise MediaClosed(self.close_reason or "not connected")
        async with self._ws_lock:
            await self._ws.send(message)

    async def _write_frames(self, chunk: bytes) -> None:
        await self._send(chunk)

    async def command(self, text: str) -> None:
        """Send one text command (see module docstring), with the send time limit."""
        await self._send_guarded(self._send(text), f"send of {text.split()[0]}")

    async def _flush_remote(self) -> None:
        # Marks queued in Asterisk are flushed with the audio: they will never be reported.
        for fut in self._marks.values():
            if not fut.done():
                fut.set_result(False)
        self._marks.clear()
        self._can_send.set()
        await self.command("FLUSH_MEDIA")

    async def mark(self, mark_id: str | None = None) -> str:
        """Queue a mark after the audio sent so far; ``wait_mark`` returns True once it is played."""
        mark_id = mark_id or f"m{next(_mark_ids)}"
        async with self._send_lock:  # after any send_audio in progress
            self._marks[mark_id] = asyncio.get_running_loop().create_future()
            await self.command(f"MARK_MEDIA {mark_id}")
        return mark_id

    async def wait_mark(self, mark_id: str, timeout: float) -> bool:
        """True when play-out reached the mark; False if it was flushed or the connection closed.
        TimeoutError after ``timeout`` seconds."""
        fut = self._marks.get(mark_id)
        if fut is None:
            return False
        async with asyncio.timeout(timeout):
            return await asyncio.shield(fut)

    async def wait_drained(self, timeout: float) -> None:
        """Wait until Asterisk's queue is empty (REPORT_QUEUE_DRAINED); TimeoutError otherwise."""
        self._drained = asyncio.get_running_loop().create_future()
        await self.command("REPORT_QUEUE_DRAINED")
        async with asyncio.timeout(timeout):
            await self._drained

    async def status(self, timeout: float = 2.0) -> dict[str, str]:
        """Asterisk's view of the queue: queue_length, xon_level, xoff_level, queue_full, bulk_media,
        media_paused (GET_STATUS)."""
        self._status = asyncio.get_running_loop().create_future()
        await self.command("GET_STATUS")
        async with asyncio.timeout(timeout):
            return await self._status

    @property
    def xoff(self) -> bool:
        """True between Asterisk's MEDIA_XOFF and MEDIA_XON (its queue is nearly full)."""
        return not self._can_send.is_set()

    async def pause(self) -> None:
        """Asterisk plays silence but keeps the queue (PAUSE_MEDIA); ``resume()`` continues. While
        paused, send_audio still queues up to ``max_lead_ms`` and then waits."""
        await self.command("PAUSE_MEDIA")
        self._clock.pause(time.monotonic())

    async def resume(self) -> None:
        await self.command("CONTINUE_MEDIA")
        self._clock.resume(time.monotonic())
        self._kick()

    async def hangup(self) -> None:
        """Ask Asterisk to hang up the media channel (it closes the websocket)."""
        await self.command("HANGUP")

    async def _abort(self, reason: str) -> None:
        self._mark_closed(reason)
        if self._ws is not None:
            self._ws.transport.abort()

    async def close(self) -> None:
        """Close the websocket (Asterisk hangs up the media channel)."""
        self._mark_closed(self.close_reason or "closed")
        if self._ws is not None:
            try:
                async with asyncio.timeout(2.0):
                    await self._ws.close()
            except Exception:  # noqa: BLE001 - closing anyway
                self._ws.transport.abort()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it ends one way or another
                await self._reader
            self._reader = None


async def open_websocket_media(
    client: AriClient,
    channel_id: str,
    *,
    format: str = "slin16",
    timeout: float = 5.0,
    media_base_url: str | None = None,
    **media_kwargs: Any,
) -> WebsocketMedia:
    """Create a chan_websocket ExternalMedia channel ``channel_id``, connect to it and wait until it is
    in the application (StasisStart), so it can be added to a bridge. Hangs the channel up on failure.

    ``media_base_url``: where Asterisk's HTTP server is, if not at the ARI client's ``base_url`` (e.g.
    ARI through a proxy). ``channel_id`` must be new: never reuse the id of a channel that may still
    exist.
    """
    sub = client.subscribe(channel_id)
    media: WebsocketMedia | None = None
    try:
        em = await client.external_media(channel_id, format=format)
        if not em.connection_id:
            raise MediaClosed(f"no MEDIA_WEBSOCKET_CONNECTION_ID on {channel_id}: is chan_websocket loaded?")
        media = WebsocketMedia.for_connection(media_base_url or client.base_url, em.connection_id, format=format,
                                              **media_kwargs)
        await media.connect()
        await sub.wait_for(lambda e: e.get("type") == "StasisStart", timeout)
        return media
    except BaseException:
        if media is not None:
            await media.close()
        try:
            await client.hangup(channel_id)
        except (AriError, AriConnectionError) as exc:
            log.warning("could not hang up media channel %s: %s", channel_id, exc)
        raise
    finally:
        sub.close()
