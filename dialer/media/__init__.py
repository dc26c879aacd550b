"""Media transports between Asterisk and a CallSession: 20 ms slin16 frames both ways.

- ``WebsocketMedia`` (``dialer.media.websocket``): chan_websocket ExternalMedia — the default. We connect
  to Asterisk; Asterisk paces what we send and can flush it (barge-in).
- ``AudioSocketMedia`` + ``AudioSocketServer`` (``dialer.media.audiosocket``): AudioSocket over TCP —
  Asterisk connects to us; we pace what we send and fill pauses with silence (keep-alive).
- RTP ExternalMedia is deliberately absent: Asterisk 22 silently drops slin16 sent back to it over RTP.

Both transports share one interface (``MediaTransport`` in ``dialer.media.base``):

``await connect()``
    Finish the connection (the ``open_*_media`` helpers do this and wait for StasisStart).
``async for frame in frames()`` / ``await read(timeout)``
    Inbound 20 ms frames (``frame_bytes`` = 640 for slin16), ending when the connection closes.
``await send_audio(pcm, more=False)``
    Outbound PCM, paced to at most ``max_lead_ms`` ahead of play-out; returns when handed to Asterisk;
    returns early (fewer bytes) when ``flush()`` interrupts it.
``await flush()``
    Barge-in: drop what is still to be played.
``await hangup()`` / ``await close()``
    End the media channel (closing the connection also hangs it up: ChannelDestroyed). Close the media
    before hanging up the call.
``stats``
    ``MediaStats``: bytes/frames sent and received, ``first_audio_sent_at`` (monotonic) for
    voice-to-voice latency, flushes, XOFFs, inbound frames dropped because nobody read them.
``queued_ms``
    Estimated audio handed over but not yet played (how much of a prompt a barge-in cut off).
``dtmf_digits``, ``closed``, ``close_reason``, ``channel_id``.

chan_websocket only: ``mark()``/``wait_mark()`` (exact end of play-out), ``wait_drained()``,
``status()``, ``pause()``/``resume()``, ``xoff``.

Measured on this machine (Asterisk 22.10, Local-channel echo patients, mixing bridge, 20 ms frames both
ways): inbound inter-arrival p50 20.0 ms, p99 20.5–21.7 ms; 10 calls cost Asterisk ~9 % of a core and
this process ~14–18 %; 30 calls 23 % / 26 % (max gap 50 ms).
"""

from dialer.media.audiosocket import AudioSocketMedia, AudioSocketServer, open_audiosocket_media
from dialer.media.base import FRAME_MS, MediaClosed, MediaStats, MediaTransport, frame_bytes_for
from dialer.media.websocket import WebsocketMedia, open_websocket_media, parse_control

__all__ = [
    "FRAME_MS",
    "AudioSocketMedia",
    "AudioSocketServer",
    "MediaClosed",
    "MediaStats",
    "MediaTransport",
    "WebsocketMedia",
    "frame_bytes_for",
    "open_audiosocket_media",
    "open_websocket_media",
    "parse_control",
]
