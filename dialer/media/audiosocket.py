"""AudioSocket ExternalMedia: the alternative transport (TCP; Asterisk connects to *us*).

Protocol (res_audiosocket): every message is ``kind`` (1 byte) + payload length (2 bytes, big-endian) +
payload. Kinds: 0x00 hang-up, 0x01 the connection's UUID (16 bytes; Asterisk's first message), 0x03 a
DTMF digit, 0x10 slin 8 kHz, 0x11 slin12, 0x12 slin16, … 0x18 slin192 (Asterisk 22.10 sends 0x12 for
slin16), 0xff error. Audio is signed 16-bit little-endian.

Unlike chan_websocket, Asterisk has no queue for what we send: each frame is played as it arrives, so
``send_audio`` paces itself at 20 ms per frame with only a few frames of lead (``max_lead_ms``), and
``flush()`` can only drop what we have not sent yet (at most that lead is already out).

Between prompts we keep sending silence (``keepalive``, one frame per 20 ms), as AudioSocket expects a
continuous stream. Seen once on 22.10.1 (in ~170 sequential calls that sent nothing on the socket and
hung up right after bridging): ``DELETE /channels/<call>`` hung until our TCP connection closed — the
stall reported as asterisk#2078; asterisk#2089 (res_audiosocket's header poll loop waiting for data)
is a likely cause. Not seen with the keep-alive, but not reproducible on demand either, so: close the
media (``close()``) before hanging up the call, and treat a hang-up time-out as "close media, retry".

One ``AudioSocketServer`` listens for all calls; each call registers the UUID it passes as ``data`` to
ExternalMedia and gets an ``AudioSocketMedia`` with the same interface as ``WebsocketMedia``::

    server = AudioSocketServer("127.0.0.1", 0); await server.start()
    media = await open_audiosocket_media(client, server, f"em-{call}")
    await client.add_channel(bridge_id, [call_id, media.channel_id])
    ... media.frames() / send_audio() / flush() / close() ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid as uuid_mod
from typing import Any, Self

from dialer.ari import AriClient, AriConnectionError, AriError
from dialer.media.base import SAMPLE_RATES, MediaClosed, MediaTransport

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_ERROR = 0xFF
AUDIO_KINDS = {0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100,
               0x16: 48000, 0x17: 96000, 0x18: 192000}
KIND_FOR_RATE = {rate: kind for kind, rate in AUDIO_KINDS.items()}


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message."""
    return struct.pack(">BH", kind, len(payload)) + payload


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one message; IncompleteReadError at end of stream."""
    header = await reader.readexactly(3)
    kind, length = struct.unpack(">BH", header)
    payload = await reader.readexactly(length) if length else b""
    return kind, payload


class AudioSocketMedia(MediaTransport):
    """One AudioSocket connection (created by ``AudioSocketServer.expect``)."""

    batch_frames = 1

    def __init__(self, server: AudioSocketServer, connection_uuid: str, *, format: str = "slin16",
                 max_lead_ms: int = 60, connect_timeout: float = 5.0, send_timeout: float = 2.0,
                 inbound_max_frames: int = 500, keepalive: bool = True) -> None:
        super().__init__(format=format, max_lead_ms=max_lead_ms, send_timeout=send_timeout,
                         inbound_max_frames=inbound_max_frames)
        self.keepalive = keepalive
        self._keepalive_task: asyncio.Task[None] | None = None
        self.server = server
        self.uuid = connection_uuid
        self.connect_timeout = connect_timeout
        self.channel_id: str | None = None
        self.audio_kind = KIND_FOR_RATE[SAMPLE_RATES[format]]
        self.inbound_kind: int | None = None
        self.last_error = b""
        self._attached = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    def _attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self.stats.connected_at = time.monotonic()
        self._task = asyncio.create_task(self._read_loop(), name=f"audiosocket-{self.uuid}")
        if self.keepalive:
            self._keepalive_task = asyncio.create_task(self._send_silence(), name=f"audiosocket-ka-{self.uuid}")
        self._attached.set()

    async def _send_silence(self) -> None:
        """Keep one or two frames of silence ahead of play-out whenever no audio is being sent."""
        silence = bytes(self.frame_bytes)
        frame_s = self.frame_bytes / (2 * self.sample_rate)
        try:
            while not self.closed:
                backlog = self._clock.backlog(time.monotonic())
                if backlog > frame_s or self._send_lock.locked():
                    await asyncio.sleep(max(backlog - frame_s, 0.005))
                    continue
                await self._write_checked(silence)
                self._clock.add(frame_s, time.monotonic())
                self.stats.silence_frames_sent += 1
        except MediaClosed:
            pass

    async def connect(self) -> dict[str, str]:
        """Wait until Asterisk has connected and sent our UUID; MediaClosed on timeout."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._attached.wait()
        except TimeoutError:
            self.server._forget(self.uuid)
            self._mark_closed(f"Asterisk did not connect within {self.connect_timeout} s")
            raise MediaClosed(self.close_reason) from None
        return {"uuid": self.uuid, "format": self.format}

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "closed by Asterisk"
        try:
            while True:
                kind, payload = await read_message(self._reader)
                if kind in AUDIO_KINDS:
                    if self.inbound_kind is None:
                        self.inbound_kind = kind
                        if AUDIO_KINDS[kind] != self.sample_rate:
                            log.warning("audiosocket %s: Asterisk sends %d Hz, expected %d Hz",
                                        self.uuid, AUDIO_KINDS[kind], self.sample_rate)
                    self._deliver(payload)
                elif kind == KIND_DTMF:
                    self.dtmf_digits.append(payload.decode("ascii", "replace"))
                elif kind == KIND_HANGUP:
                    reason = "hang-up from Asterisk"
                    break
                elif kind == KIND_ERROR:
                    self.last_error = payload
                    log.warning("audiosocket %s: error from Asterisk %r", self.uuid, payload[:32])
                else:
                    log.debug("audiosocket %s: ignoring kind 0x%02x", self.uuid, kind)
        except asyncio.IncompleteReadError:
            pass
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except Exception as exc:  # noqa: BLE001 - connection lost
            reason = f"connection lost: {type(exc).__name__}: {exc}"
        finally:
            self._mark_closed(reason)
            self.server._forget(self.uuid)

    async def _write_frames(self, chunk: bytes) -> None:
        if self._writer is None or self.closed:
            raise MediaClosed(self.close_reason or "not connected")
        fb = self.frame_bytes
        self._writer.write(b"".join(encode(self.audio_kind, chunk[i:i + fb]) for i in range(0, len(chunk), fb)))
        await self._writer.drain()

    async def hangup(self) -> None:
        """Ask Asterisk to hang up the channel (kind 0x00)."""
        if self._writer is not None and not self.closed:
            self._writer.write(encode(KIND_HANGUP))
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self._writer.drain()
            except (TimeoutError, ConnectionError):
                await self._abort("hang-up could not be sent")

    async def _abort(self, reason: str) -> None:
        self._mark_closed(reason)
        if self._writer is not None:
            self._writer.transport.abort()

    async def close(self) -> None:
        """Close the TCP connection (Asterisk hangs up the media channel)."""
        self._mark_closed(self.close_reason or "closed")
        self.server._forget(self.uuid)
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it ends one way or another
                await self._keepalive_task
            self._keepalive_task = None
        if self._writer is not None:
            self._writer.close()
            try:
                async with asyncio.timeout(2.0):
                    await self._writer.wait_closed()
            except Exception:  # noqa: BLE001 - closing anyway
                self._writer.transport.abort()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it ends one way or another
                await self._task
            self._task = None


class AudioSocketServer:
    """The TCP listener Asterisk's AudioSocket channels connect to; routes connections by UUID."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, handshake_timeout: float = 5.0) -> None:
        """``host``/``port``: where to listen (port 0: any free port; see ``address``). Asterisk must be
        able to reach it: ExternalMedia gets ``external_host=<advertised host>:<port>``."""
        self.host = host
        self.port = port
        self.handshake_timeout = handshake_timeout
        self._server: asyncio.Server | None = None
        self._pending: dict[str, AudioSocketMedia] = {}
        self.rejected = 0

    @property
    def address(self) -> str:
        """``host:port`` for ExternalMedia's external_host."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
            except TimeoutError:
                pass  # connections still open: they are closed by their media objects
            self._server = None
        for media in list(self._pending.values()):
            await media.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def expect(self, connection_uuid: str | None = None, **media_kwargs: Any) -> AudioSocketMedia:
        """Register a connection to come (``connection_uuid``: new UUID4 if None)."""
        key = str(uuid_mod.UUID(connection_uuid)) if connection_uuid else str(uuid_mod.uuid4())
        media = AudioSocketMedia(self, key, **media_kwargs)
        self._pending[key] = media
        return media

    def _forget(self, key: str) -> None:
        self._pending.pop(key, None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.handshake_timeout):
                kind, payload = await read_message(reader)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            log.warning("audiosocket: no UUID from %s (%r)", writer.get_extra_info("peername"), exc)
            self.rejected += 1
            writer.transport.abort()
            return
        key = str(uuid_mod.UUID(bytes=payload)) if kind == KIND_UUID and len(payload) == 16 else ""
        media = self._pending.get(key)
        if media is None or media._attached.is_set():
            log.warning("audiosocket: unexpected connection (kind 0x%02x, uuid %r)", kind, key)
            self.rejected += 1
            writer.write(encode(KIND_HANGUP))
            writer.transport.abort()
            return
        media._attach(reader, writer)


async def open_audiosocket_media(
    client: AriClient,
    server: AudioSocketServer,
    channel_id: str,
    *,
    format: str = "slin16",
    advertise_host: str | None = None,
    timeout: float = 5.0,
    **media_kwargs: Any,
) -> AudioSocketMedia:
    """Create an AudioSocket ExternalMedia channel that connects to ``server``, wait for the connection
    and for the channel's StasisStart. ``advertise_host``: the address Asterisk should dial (default:
    the server's listen host). Hangs the channel up on failure."""
    media = server.expect(format=format, connect_timeout=timeout, **media_kwargs)
    sub = client.subscribe(channel_id)
    try:
        await client.external_media(
            channel_id, transport="tcp", encapsulation="audiosocket", format=format,
            external_host=f"{advertise_host or server.host}:{server.port}", data=media.uuid,
        )
        media.channel_id = channel_id
        await media.connect()
        await sub.wait_for(lambda e: e.get("type") == "StasisStart", timeout)
        return media
    except BaseException:
        await media.close()
        try:
            await client.hangup(channel_id)
        except (AriError, AriConnectionError) as exc:
            log.warning("could not hang up media channel %s: %s", channel_id, exc)
        raise
    finally:
        sub.close()
