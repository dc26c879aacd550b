"""Media transports against the real Asterisk: a simulated patient hears our prompt and answers with a
fixture recording; we check both directions, barge-in flushing, flow control and bridge recording."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import numpy as np
import pytest
from dialer_helpers import (
    APP,
    Asterisk,
    Patients,
    arun,
    best_alignment,
    collect_reply,
    hang_up,
    originate_answered,
    pcm_to_array,
    read_wav,
    rms,
    speech_seconds,
    to_8k,
    tone,
    tone_seconds,
)

from dialer.ari import AriClient
from dialer.media import AudioSocketServer, MediaTransport, open_audiosocket_media, open_websocket_media

TRANSPORTS = ["websocket", "audiosocket"]


async def open_media(kind: str, client: AriClient, server: AudioSocketServer | None, channel_id: str,
                     **kwargs: Any) -> MediaTransport:
    if kind == "websocket":
        return await open_websocket_media(client, channel_id, **kwargs)
    assert server is not None
    return await open_audiosocket_media(client, server, channel_id, **kwargs)


@contextlib.asynccontextmanager
async def session(asterisk: Asterisk, kind: str):
    async with AriClient(asterisk.ari_url, asterisk.user, asterisk.password, APP) as client:
        if kind == "audiosocket":
            async with AudioSocketServer("127.0.0.1", 0) as server:
                yield client, server
        else:
            yield client, None


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_prompt_and_reply_round_trip(asterisk: Asterisk, patients: Patients, kind: str) -> None:
    """(a)/(b) Our 1 s prompt reaches the patient; the patient's spoken reply reaches us intact."""
    reply_name, reply_8k = patients.reply_audio("zh02")
    number = patients.script(f"say {reply_name}")

    async def main() -> None:
        async with session(asterisk, kind) as (client, server):
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            media = await open_media(kind, client, server, call.media_id)
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            sent = await media.send_audio(tone(1.0))
            assert sent == 32000 and media.stats.bytes_sent == 32000
            assert media.stats.first_audio_sent_at is not None
            # The patient waits for our prompt to end (1 s of silence), then plays its reply.
            audio, arrivals = await collect_reply(media, first_timeout=10)
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)
            await patients.wait_recording_done(call.call_id)

            received = to_8k(pcm_to_array(audio), 16000)
            corr, lag = best_alignment(received, reply_8k)
            assert corr >= 0.99, f"reply correlation {corr:.3f}"  # measured 0.9999
            aligned = received[max(lag, 0):max(lag, 0) + len(reply_8k)]
            ratio_db = 20 * np.log10(rms(aligned) / rms(reply_8k))
            assert abs(ratio_db) < 3, f"reply level changed by {ratio_db:.1f} dB"
            assert len(audio) % media.frame_bytes == 0
            assert abs(len(received) - len(reply_8k)) / 8000 < 0.2
            assert len(arrivals) == len(audio) // media.frame_bytes
            # What the patient heard: our 1 s tone (its MixMonitor "heard" side, 8 kHz).
            heard, rate = read_wav(patients.recording(call.call_id, "heard"))
            assert 0.8 <= tone_seconds(heard, rate) <= 1.2

    arun(main(), timeout=45)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_flush_stops_queued_prompt(asterisk: Asterisk, patients: Patients, kind: str) -> None:
    """(c) Barge-in: 5 s of prompt queued, flushed after 0.5 s: the patient hears about 0.5 s of it."""
    number = patients.script("silence")

    async def main() -> None:
        async with session(asterisk, kind) as (client, server):
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            # WebsocketMedia: let the whole 5 s go to Asterisk's queue at once, so FLUSH_MEDIA has work.
            extra = {"max_lead_ms": 10_000} if kind == "websocket" else {}
            media = await open_media(kind, client, server, call.media_id, **extra)
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            sending = asyncio.create_task(media.send_audio(tone(5.0)))
            await asyncio.sleep(0.5)
            await media.flush()
            sent = await asyncio.wait_for(sending, 5)
            if kind == "websocket":
                assert sent == 5 * 32000  # all of it was in Asterisk's queue ...
                status = await media.status()
                assert status["queue_length"] == "0"  # ... and is gone
            else:
                assert sent < 1.0 * 32000  # AudioSocket: we pace, so the rest was never sent
            assert media.stats.flushes == 1 and media.queued_ms == 0
            await asyncio.sleep(1.0)  # anything left would be playing now
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)
            await patients.wait_recording_done(call.call_id)
            heard, rate = read_wav(patients.recording(call.call_id, "heard"))
            played = tone_seconds(heard, rate)
            assert 0.3 <= played <= 1.5, f"patient heard {played:.2f} s of a 5 s prompt"

    arun(main(), timeout=45)


def test_websocket_flow_control_xoff_xon(asterisk: Asterisk, patients: Patients) -> None:
    """send_audio never overruns Asterisk's 1000-frame queue: its lead is capped at 950 frames, and
    Asterisk's MEDIA_XOFF (at 900 queued) / MEDIA_XON (below 800) are honoured."""
    number = patients.script("silence")

    async def main() -> None:
        async with session(asterisk, "websocket") as (client, _):
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            media = await open_websocket_media(client, call.media_id, max_lead_ms=60_000)
            assert media.max_lead_s == 19.0  # capped
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            await media.pause()  # Asterisk plays silence: the queue only fills
            sending = asyncio.create_task(media.send_audio(tone(24.0)))
            async with asyncio.timeout(10):
                while not media.xoff:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            held = media.stats.bytes_sent // media.frame_bytes
            # stopped by the XOFF (at >= 900 queued) or at the 950-frame cap, short of Asterisk's 1000
            assert 900 <= held <= 950 and not sending.done(), held
            status = await media.status()
            assert status["queue_full"] == "true" and status["media_paused"] == "true"
            assert int(status["queue_length"]) == held  # nothing was dropped
            await media.resume()  # play-out drains the queue below 800 frames (3 s) → MEDIA_XON
            async with asyncio.timeout(10):
                while media.xoff or media.stats.bytes_sent // media.frame_bytes <= held:
                    await asyncio.sleep(0.05)
            assert media.stats.xoff_count >= 1  # (refilling to 950 frames brings XOFF again)
            await media.flush()
            await asyncio.wait_for(sending, 5)
            assert (await media.status())["queue_length"] == "0"
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)

    arun(main(), timeout=45)


def test_websocket_marks_report_play_out(asterisk: Asterisk, patients: Patients) -> None:
    """A mark after a prompt is reported when the prompt has been played, not when it was sent."""
    number = patients.script("silence")

    async def main() -> None:
        async with session(asterisk, "websocket") as (client, _):
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            media = await open_websocket_media(client, call.media_id, max_lead_ms=5_000)
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            t0 = time.monotonic()
            await media.send_audio(tone(2.0))
            handed_over = time.monotonic() - t0
            mark = await media.mark()
            assert await media.wait_mark(mark, timeout=5)
            played = time.monotonic() - t0
            # send_audio returned once the audio was queued; the mark only once it had been played
            assert played >= 1.8 and played - handed_over >= 1.5, (handed_over, played)
            # A mark behind flushed audio is never played: wait_mark says False.
            await media.send_audio(tone(3.0))
            second = await media.mark()
            await media.flush()
            assert await media.wait_mark(second, timeout=1) is False
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)

    arun(main(), timeout=30)


def test_bridge_recording_has_both_parties(asterisk: Asterisk, patients: Patients) -> None:
    """(g) Recording the bridge keeps both sides: our prompt tone and the patient's reply."""
    reply_name, reply_8k = patients.reply_audio("en03")
    number = patients.script(f"say {reply_name}")
    recordings = asterisk.dirs["recordings"]

    async def main() -> None:
        async with session(asterisk, "websocket") as (client, _):
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            media = await open_websocket_media(client, call.media_id)
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            name = f"rec-{call.call_id}"
            live = await client.record(call.bridge_id, name)
            assert live["name"] == name and live["state"] in ("queued", "recording")
            await media.send_audio(tone(1.0))
            await collect_reply(media, first_timeout=10)
            await client.stop_recording(name)
            await call.sub.wait_for(lambda e: e.get("type") == "RecordingFinished", 5)
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)
            stored = await client.get_stored_recording(name)
            assert stored["format"] == "wav"
            path = recordings / f"{name}.wav"
            try:
                samples, rate = read_wav(path)
                data = await client.fetch_recording(name)
                assert data[:4] == b"RIFF" and len(data) == path.stat().st_size
            finally:
                await client.delete_recording(name)
            assert not path.exists()
            assert 0.8 <= tone_seconds(samples, rate) <= 1.2  # our side
            reply_s = len(reply_8k) / 8000
            # their side: about as much speech as the fixture holds (its padding is silent)
            assert speech_seconds(samples, rate) - tone_seconds(samples, rate) >= 0.5 * (reply_s - 1.1)
            assert len(samples) / rate >= 1.0 + reply_s - 0.5

    arun(main(), timeout=45)
