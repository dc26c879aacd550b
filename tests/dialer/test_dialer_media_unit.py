"""dialer.media without Asterisk: framing, pacing and flushing (a fake transport), chan_websocket control
messages (a fake chan_websocket server) and AudioSocket (a fake Asterisk connecting to our server)."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from typing import Any, Self

import pytest
import websockets
from dialer_helpers import arun

from dialer.media import AudioSocketServer, MediaClosed, WebsocketMedia, frame_bytes_for, parse_control
from dialer.media.audiosocket import KIND_DTMF, KIND_HANGUP, KIND_UUID, encode, read_message
from dialer.media.base import MediaTransport, PlayoutClock

FRAME = 640


# ------------------------------------------------------------------------------------ pure parts

@pytest.mark.parametrize(
    ("message", "name", "fields"),
    [
        (("MEDIA_START connection_id:abc channel:WebSocket/INCOMING/0x1 channel_id:em-1 format:slin16 "
         "optimal_frame_size:640 ptime:20"), "MEDIA_START",
         {"connection_id": "abc", "channel": "WebSocket/INCOMING/0x1", "channel_id": "em-1",
          "format": "slin16", "optimal_frame_size": "640", "ptime": "20"}),
        ("MEDIA_XOFF", "MEDIA_XOFF", {}),
        ("MEDIA_MARK_PROCESSED m7", "MEDIA_MARK_PROCESSED", {"id": "m7"}),
        (("STATUS channel_id:em-1 queue_length:43 xon_level:800 xoff_level:900 queue_full:false "
         "bulk_media:false media_paused:false"), "STATUS",
         {"channel_id": "em-1", "queue_length": "43", "xon_level": "800", "xoff_level": "900",
          "queue_full": "false", "bulk_media": "false", "media_paused": "false"}),
        ("DTMF_END digit:5 channel_id:em-1", "DTMF_END", {"digit": "5", "channel_id": "em-1"}),
        ("ERROR channel_id:em-1 error_text:FLUSH_MEDIA not supported in passthrough mode", "ERROR",
         {"channel_id": "em-1", "error_text": "FLUSH_MEDIA not supported in passthrough mode"}),
        ('{"event":"MEDIA_MARK_PROCESSED","channel_id":"em-1","correlation_id":"m2"}', "MEDIA_MARK_PROCESSED",
         {"channel_id": "em-1", "correlation_id": "m2", "id": "m2"}),
    ],
)
def test_parse_control(message: str, name: str, fields: dict[str, str]) -> None:
    assert parse_control(message) == (name, fields)


def test_frame_sizes() -> None:
    assert frame_bytes_for("slin16") == 640 and frame_bytes_for("slin") == 320
    with pytest.raises(ValueError, match="ulaw"):
        frame_bytes_for("ulaw")


def test_playout_clock() -> None:
    clock = PlayoutClock()
    clock.add(1.0, now=10.0)
    clock.add(0.5, now=10.2)
    assert clock.backlog(10.5) == pytest.approx(1.0)
    clock.pause(10.5)
    clock.add(2.0, now=11.0)
    assert clock.backlog(20.0) == pytest.approx(3.0)  # paused: nothing drains
    clock.resume(20.0)
    assert clock.backlog(21.0) == pytest.approx(2.0)
    clock.reset(21.0)
    assert clock.backlog(21.0) == 0
    clock.add(0.2, now=30.0)  # after idling, the clock starts from now
    assert clock.backlog(30.1) == pytest.approx(0.1)


# ------------------------------------------------------------------------------ fake transport

class Recorder(MediaTransport):
    batch_frames = 2

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writes: list[tuple[float, bytes, float]] = []  # (time, chunk, backlog before)
        self.stall = False

    async def _write_frames(self, chunk: bytes) -> None:
        if self.stall:
            await asyncio.sleep(3600)
        self.writes.append((time.monotonic(), chunk, self.queued_ms / 1000))


def test_whole_frames_padding_and_carry() -> None:
    async def main() -> None:
        media = Recorder(max_lead_ms=10_000)
        assert await media.send_audio(b"\x01" * 1000, more=True) == FRAME  # 360 bytes held back
        assert await media.send_audio(b"\x02" * 300) == 2 * FRAME  # 660 → padded to 1280
        data = b"".join(chunk for _, chunk, _ in media.writes)
        assert data == b"\x01" * 1000 + b"\x02" * 300 + bytes(2 * FRAME - 660)
        assert all(len(chunk) % FRAME == 0 for _, chunk, _ in media.writes)
        assert media.stats.bytes_sent == 3 * FRAME and media.stats.first_audio_sent_at is not None
        assert await media.send_audio(b"") == 0

    arun(main())


def test_lead_never_exceeds_the_limit() -> None:
    async def main() -> None:
        media = Recorder(max_lead_ms=100)
        started = time.monotonic()
        assert await media.send_audio(bytes(25 * FRAME)) == 25 * FRAME  # 0.5 s
        elapsed = time.monotonic() - started
        for _, chunk, backlog in media.writes:
            assert backlog + len(chunk) / FRAME * 0.02 <= 0.1 + 1e-6
        assert elapsed >= 0.5 - 0.1 - 0.02  # it was paced, not written at once
        assert 0 < media.queued_ms <= 100

    arun(main())


def test_flush_interrupts_a_send() -> None:
    async def main() -> None:
        media = Recorder(max_lead_ms=100)
        sending = asyncio.create_task(media.send_audio(bytes(250 * FRAME)))  # 5 s
        await asyncio.sleep(0.3)
        await media.flush()
        sent = await asyncio.wait_for(sending, 2)
        assert FRAME <= sent < 50 * FRAME
        assert media.queued_ms == 0 and media.stats.flushes == 1
        assert await media.send_audio(bytes(FRAME)) == FRAME  # usable afterwards

    arun(main())


def test_stalled_write_ends_the_connection() -> None:
    async def main() -> None:
        media = Recorder(send_timeout=0.2)
        media.stall = True
        with pytest.raises(MediaClosed, match="timed out"):
            await media.send_audio(bytes(FRAME))
        assert media.closed
        with pytest.raises(MediaClosed):
            await media.send_audio(bytes(FRAME))

    arun(main())


def test_inbound_frames() -> None:
    async def main() -> None:
        media = Recorder(inbound_max_frames=3)
        assert await media.read(timeout=0.05) is None
        media._deliver(b"\x01" * (FRAME + 100))  # a frame and a short tail
        assert await media.read(0.1) == b"\x01" * FRAME
        assert await media.read(0.1) == b"\x01" * 100 + bytes(FRAME - 100)
        media._deliver(bytes(5 * FRAME))  # nobody reads: the oldest are dropped
        assert media.stats.frames_dropped == 2 and media.stats.frames_received == 7
        media._mark_closed("hang-up")
        frames = [f async for f in media.frames()]
        assert len(frames) == 3  # what was received is still delivered, then the iterator ends
        with pytest.raises(MediaClosed, match="hang-up"):
            await media.read(0.1)
        assert await media.wait_closed(0.1)

    arun(main())


# ----------------------------------------------------------------------- fake chan_websocket

class FakeChanWebsocket:
    """Just enough of chan_websocket: MEDIA_START, records what arrives, answers GET_STATUS/MARK_MEDIA,
    and lets the test send notifications."""

    def __init__(self) -> None:
        self.binary: list[bytes] = []
        self.text: list[str] = []
        self.conn: Any = None
        self.server: Any = None
        self.marks_auto = True

    async def handler(self, conn: Any) -> None:
        self.conn = conn
        await conn.send("MEDIA_START connection_id:c1 channel:WebSocket/INCOMING/0x1 channel_id:em-1 "
                        "format:slin16 optimal_frame_size:640 ptime:20")
        async for message in conn:
            if isinstance(message, bytes):
                self.binary.append(message)
                continue
            self.text.append(message)
            if message == "GET_STATUS":
                await conn.send(f"STATUS channel_id:em-1 queue_length:{len(self.binary)} xon_level:800 "
                                "xoff_level:900 queue_full:false bulk_media:false media_paused:false")
            elif message.startswith("MARK_MEDIA ") and self.marks_auto:
                await conn.send("MEDIA_MARK_PROCESSED " + message.split(" ", 1)[1])

    async def __aenter__(self) -> Self:
        self.server = await websockets.serve(self.handler, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/media/c1"


def test_websocket_media_protocol() -> None:
    async def main() -> None:
        async with FakeChanWebsocket() as fake:
            media = WebsocketMedia(fake.url, max_lead_ms=10_000)
            start = await media.connect()
            assert start["channel_id"] == "em-1" and media.channel_id == "em-1" and media.frame_bytes == 640
            await media.send_audio(bytes(12 * FRAME))
            assert await media.status() == {
                "channel_id": "em-1", "queue_length": "3", "xon_level": "800", "xoff_level": "900",
                "queue_full": "false", "bulk_media": "false", "media_paused": "false"}
            assert [len(b) for b in fake.binary] == [5 * FRAME, 5 * FRAME, 2 * FRAME]
            mark = await media.mark("p1")
            assert mark == "p1" and await media.wait_mark("p1", timeout=2) is True
            # XOFF: sending waits for XON
            await fake.conn.send("MEDIA_XOFF")
            async with asyncio.timeout(2):
                while not media.xoff:
                    await asyncio.sleep(0.01)
            sending = asyncio.create_task(media.send_audio(bytes(FRAME)))
            await asyncio.sleep(0.3)
            assert not sending.done() and len(fake.binary) == 3
            await fake.conn.send("MEDIA_XON")
            assert await asyncio.wait_for(sending, 2) == FRAME
            assert media.stats.xoff_count == 1
            # a mark Asterisk never reports (flushed with the audio) resolves False on flush
            fake.marks_auto = False
            pending = await media.mark()
            await media.flush()
            assert await media.wait_mark(pending, timeout=1) is False
            await fake.conn.send("DTMF_END digit:7 channel_id:em-1")
            await media.hangup()
            async with asyncio.timeout(2):
                while "HANGUP" not in fake.text:
                    await asyncio.sleep(0.01)
            assert fake.text == ["GET_STATUS", "MARK_MEDIA p1", f"MARK_MEDIA {pending}", "FLUSH_MEDIA", "HANGUP"]
            assert media.dtmf_digits == ["7"]
            # Asterisk closing the websocket (hang-up) ends the media
            await fake.conn.close()
            assert await media.wait_closed(2)
            with pytest.raises(MediaClosed):
                await media.send_audio(bytes(FRAME))
            await media.close()

    arun(main())


def test_websocket_media_connect_failures() -> None:
    async def main() -> None:
        media = WebsocketMedia("ws://127.0.0.1:9/media/x", connect_timeout=1)
        with pytest.raises(MediaClosed, match="connect failed"):
            await media.connect()

        async def silent(conn: Any) -> None:
            await conn.wait_closed()  # accepts, never says MEDIA_START

        server = await websockets.serve(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        media = WebsocketMedia(f"ws://127.0.0.1:{port}/media/x", connect_timeout=0.3)
        with pytest.raises(MediaClosed, match="connect failed"):  # no MEDIA_START in time
            await media.connect()
        server.close()
        await server.wait_closed()

    arun(main())


# -------------------------------------------------------------------------------- AudioSocket

async def fake_asterisk(port: int, conn_uuid: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode(KIND_UUID, uuid.UUID(conn_uuid).bytes))
    await writer.drain()
    return reader, writer


def test_audiosocket_framing() -> None:
    assert encode(0x12, b"ab") == b"\x12\x00\x02ab"
    assert encode(KIND_HANGUP) == b"\x00\x00\x00"

    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(encode(0x12, bytes(640)) + encode(KIND_DTMF, b"5"))
        reader.feed_eof()
        assert await read_message(reader) == (0x12, bytes(640))
        assert await read_message(reader) == (KIND_DTMF, b"5")
        with pytest.raises(asyncio.IncompleteReadError):
            await read_message(reader)

    arun(main())


def test_audiosocket_server_session() -> None:
    async def main() -> None:
        async with AudioSocketServer("127.0.0.1", 0) as server:
            media = server.expect(keepalive=False)
            connecting = asyncio.create_task(media.connect())
            reader, writer = await fake_asterisk(server.port, media.uuid)
            assert (await asyncio.wait_for(connecting, 2))["uuid"] == media.uuid
            # Asterisk → us: slin16 frames (kind 0x12) and a DTMF digit
            writer.write(encode(0x12, b"\x05" * 640) + encode(KIND_DTMF, b"#"))
            await writer.drain()
            assert await media.read(timeout=2) == b"\x05" * 640
            assert media.inbound_kind == 0x12
            # us → Asterisk: one 640-byte 0x12 message per 20 ms frame, paced
            started = time.monotonic()
            await media.send_audio(bytes(10 * 640))
            got = [await asyncio.wait_for(read_message(reader), 2) for _ in range(10)]
            assert got == [(0x12, bytes(640))] * 10
            assert time.monotonic() - started >= 0.2 - 0.06 - 0.02  # 10 frames, 60 ms lead
            assert media.dtmf_digits == ["#"]
            await media.hangup()
            assert await asyncio.wait_for(read_message(reader), 2) == (KIND_HANGUP, b"")
            # Asterisk hangs up: kind 0x00
            writer.write(encode(KIND_HANGUP))
            await writer.drain()
            assert await media.wait_closed(2) and "hang-up" in media.close_reason
            writer.close()

    arun(main())


def test_audiosocket_keepalive_fills_gaps_with_silence() -> None:
    async def main() -> None:
        async with AudioSocketServer("127.0.0.1", 0) as server:
            media = server.expect()
            connecting = asyncio.create_task(media.connect())
            reader, writer = await fake_asterisk(server.port, media.uuid)
            await asyncio.wait_for(connecting, 2)
            idle = [await asyncio.wait_for(read_message(reader), 2) for _ in range(5)]
            assert idle == [(0x12, bytes(640))] * 5  # silence while we have nothing to say
            await media.send_audio(b"\x01" * (5 * 640))
            got = []
            async with asyncio.timeout(3):
                while len([p for _, p in got if p != bytes(640)]) < 5:
                    got.append(await read_message(reader))
            payloads = [p for _, p in got]
            first = next(i for i, p in enumerate(payloads) if p != bytes(640))
            assert payloads[first:] == [b"\x01" * 640] * 5  # the prompt goes out in one piece
            assert media.stats.bytes_sent == 5 * 640 and media.stats.silence_frames_sent >= 5
            await media.close()
            writer.close()

    arun(main())


def test_audiosocket_rejects_unknown_connections() -> None:
    async def main() -> None:
        async with AudioSocketServer("127.0.0.1", 0, handshake_timeout=0.3) as server:
            reader, writer = await fake_asterisk(server.port, str(uuid.uuid4()))
            kind, _ = await asyncio.wait_for(read_message(reader), 2)
            assert kind == KIND_HANGUP
            # a connection that never says who it is
            _, silent = await asyncio.open_connection("127.0.0.1", server.port)
            await asyncio.sleep(0.6)
            assert server.rejected == 2
            writer.close()
            silent.close()
            media = server.expect(connect_timeout=0.2)
            with pytest.raises(MediaClosed, match="did not connect"):
                await media.connect()

    arun(main())


def test_struct_header_is_big_endian() -> None:
    assert struct.unpack(">BH", encode(0x10, bytes(320))[:3]) == (0x10, 320)
