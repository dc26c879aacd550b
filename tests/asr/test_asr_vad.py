"""asr.vad: streaming endpointing on fixture speech padded with silence, at 16 kHz and at phone rate."""

from __future__ import annotations

import numpy as np
import pytest
from asr_helpers import tone, white_noise

from asr.audio import load_audio, pad_silence, phone_band, resample
from asr.vad import Endpointer, SpeechEnded, SpeechPaused, SpeechStarted, speech_span, trim, voiced_ms

# The fixtures hold 0.3 s of digital silence before the speech and 0.8 s after it (fixtures README).
LEAD_S, TAIL_S = 0.3, 0.8
# Endpoints within 120 ms: two 20 ms frames of VAD granularity, plus the 10/20 ms fades and soft onsets.
TOL_S = 0.12


def _feed_in_chunks(ep: Endpointer, audio: np.ndarray, chunk: int) -> list[tuple[float, object]]:
    """Feed ``audio`` in ``chunk``-sample pieces; each event with the stream time when it was emitted."""
    out: list[tuple[float, object]] = []
    for i in range(0, len(audio), chunk):
        for ev in ep.feed(audio[i : i + chunk]):
            out.append(((i + chunk) / ep.sample_rate, ev))
    for ev in ep.flush():
        out.append((len(audio) / ep.sample_rate, ev))
    return out


@pytest.mark.parametrize("fid", ["zh01", "zh07", "zh13", "zh18", "en01", "en05", "en13"])
@pytest.mark.parametrize("rate", [16000, 8000])
def test_endpoints_of_padded_fixture(fixtures_dir, manifest, fid, rate):
    speech = load_audio(fixtures_dir / f"{fid}.wav")
    before, after = 1.0, 1.5
    audio = pad_silence(phone_band(speech) if rate == 8000 else speech, before, after)
    if rate == 8000:
        audio = resample(audio, 16000, 8000)
    true_start = before + LEAD_S
    true_end = before + float(manifest[fid]["duration_s"]) - TAIL_S

    ep = Endpointer(sample_rate=rate, trailing_silence_ms=600)
    timed = _feed_in_chunks(ep, audio, chunk=333 if rate == 16000 else 171)  # odd sizes: not frame-aligned
    events = [ev for _, ev in timed]
    # One utterance, even with a pause inside (zh18: 我在开车，晚点再打).
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded], events
    start, end = events[0], events[1]
    assert isinstance(start, SpeechStarted) and isinstance(end, SpeechEnded)
    assert start.at_s == pytest.approx(true_start, abs=TOL_S)
    assert end.start_s == start.at_s
    assert end.end_s == pytest.approx(true_end, abs=TOL_S)
    # The end is announced once the trailing silence (600 ms, ≤ 10 % voiced frames) has passed, not at the
    # end of the stream; the chunking adds up to one chunk of delay.
    emitted_at = timed[1][0]
    assert end.end_s + 0.9 * 0.6 <= emitted_at < end.end_s + 0.6 + 0.05
    assert not end.forced
    # The utterance audio spans the speech plus 200 ms of padding each side.
    assert len(end.audio) / rate == pytest.approx(end.end_s - end.start_s + 0.4, abs=0.05)


def test_two_utterances_are_two_segments(fixtures_dir):
    a = load_audio(fixtures_dir / "zh07.wav")
    b = load_audio(fixtures_dir / "en10.wav")
    # Silence between the two speeches: 0.8 s (a's tail) + 1.0 s + 0.3 s (b's lead) = 2.1 s.
    audio = np.concatenate([pad_silence(a, 0.5, 0.0), np.zeros(16000, np.float32), pad_silence(b, 0.0, 1.0)])
    segs = trim(audio)
    assert len(segs) == 2
    assert segs[0].end_s < segs[1].start_s
    assert segs[1].start_s - segs[0].end_s == pytest.approx(2.1, abs=2 * TOL_S)
    # A trailing-silence setting longer than the gap joins them.
    assert len(trim(audio, trailing_silence_ms=2500)) == 1


def test_silence_and_noise_give_no_speech():
    assert trim(np.zeros(16000 * 3, np.float32)) == []
    for seed in range(3):
        noise = white_noise(4.0, -30, seed=seed)
        assert trim(noise) == [], f"seed {seed}"
    assert speech_span(white_noise(2.0, -30)) is None


def test_short_click_is_not_speech():
    # 60 ms of a loud tone: below min_speech_ms (200 ms).
    click = pad_silence(tone(440, 0.06, level=0.8), 1.0, 1.0)
    assert trim(click) == []


def test_long_speech_is_cut_at_max_speech(fixtures_dir):
    speech = load_audio(fixtures_dir / "zh16.wav")  # 3.9 s with padding
    ep = Endpointer(max_speech_s=1.0)
    ends = [e for e in ep.feed(pad_silence(speech, 0.5, 1.0)) + ep.flush() if isinstance(e, SpeechEnded)]
    assert ends and ends[0].forced
    assert ends[0].end_s - ends[0].start_s == pytest.approx(1.0, abs=0.03)


def test_flush_closes_an_open_utterance(fixtures_dir):
    speech = load_audio(fixtures_dir / "en05.wav")
    cut = speech[: int(1.2 * 16000)]  # stream ends mid-speech
    ep = Endpointer()
    events = ep.feed(cut)
    assert [type(e) for e in events] == [SpeechStarted]
    assert ep.in_speech
    tail = ep.flush()
    assert [type(e) for e in tail] == [SpeechEnded]
    assert not ep.in_speech


def test_bytes_and_floats_give_the_same_events(fixtures_dir):
    speech = pad_silence(load_audio(fixtures_dir / "zh07.wav"), 0.5, 1.0)
    pcm = (np.clip(speech, -1, 1) * 32767).round().astype("<i2").tobytes()
    a, b = Endpointer(), Endpointer()
    ev_a = [(type(e), getattr(e, "at_s", None), getattr(e, "end_s", None)) for e in a.feed(speech) + a.flush()]
    ev_b = [(type(e), getattr(e, "at_s", None), getattr(e, "end_s", None)) for e in b.feed(pcm) + b.flush()]
    assert ev_a == ev_b and len(ev_a) == 2


def test_speech_span_keeps_the_pause_inside(fixtures_dir, manifest):
    speech = load_audio(fixtures_dir / "zh18.wav")
    span = speech_span(pad_silence(speech, 2.0, 2.0), pad_s=0.2)
    assert span is not None
    speech_len = float(manifest["zh18"]["duration_s"]) - LEAD_S - TAIL_S
    assert len(span) / 16000 == pytest.approx(speech_len + 0.4, abs=2 * TOL_S)


def test_voiced_ms_counts_speech_not_silence(fixtures_dir, manifest):
    speech = load_audio(fixtures_dir / "zh13.wav")
    speech_len_ms = (float(manifest["zh13"]["duration_s"]) - LEAD_S - TAIL_S) * 1000
    assert voiced_ms(np.zeros(32000, np.float32)) == 0
    assert 0.7 * speech_len_ms <= voiced_ms(speech) <= speech_len_ms + 100


def _pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes()


@pytest.mark.parametrize("fid", ["zh07", "en10", "zh13"])
def test_a_pause_announces_exactly_the_audio_the_end_will_carry(fixtures_dir, fid):
    """Speculative decoding relies on this: SpeechPaused (after pause_ms of quiet) carries the same span
    and the same samples as the SpeechEnded that follows when the patient says no more."""
    pcm = _pcm(pad_silence(phone_band(load_audio(fixtures_dir / f"{fid}.wav")), 0.5, 1.0))
    ep = Endpointer(pause_ms=220)
    timed = []
    for i in range(0, len(pcm), 640):  # 20 ms frames at 16 kHz, as a call delivers them
        timed.extend((i / 32000, e) for e in ep.feed(pcm[i:i + 640]))
    kinds = [type(e) for _, e in timed]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechEnded
    pauses = [(t, e) for t, e in timed if isinstance(e, SpeechPaused)]
    end_t, end = timed[-1]
    assert pauses, "a pause before the endpoint"
    t_pause, last = pauses[-1]
    assert (last.start_s, last.end_s) == (end.start_s, end.end_s)
    assert np.array_equal(last.audio, end.audio)
    # Announced 220 ms after the last voiced frame, i.e. ≈ 360 ms before the 600 ms endpoint.
    assert t_pause - last.end_s == pytest.approx(0.22, abs=0.03)
    assert end_t - t_pause >= 0.3


def test_a_pause_inside_a_reply_is_announced_then_superseded(fixtures_dir):
    a = load_audio(fixtures_dir / "zh07.wav")
    b = load_audio(fixtures_dir / "zh01.wav")
    # 0.4 s of quiet between two phrases (0.1 s of a's tail, 0.25 s, 0.05 s of b's lead): longer than
    # pause_ms, shorter than the endpoint.
    gap = np.zeros(int(0.25 * 16000), np.float32)
    audio = np.concatenate([pad_silence(a, 0.5, 0.0)[: -int(0.7 * 16000)], gap, b[int(0.25 * 16000):],
                            np.zeros(16000, np.float32)])
    ep = Endpointer(pause_ms=220)
    events = ep.feed(_pcm(audio)) + ep.flush()
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    pauses = [e for e in events if isinstance(e, SpeechPaused)]
    assert len(ends) == 1, "one utterance"
    assert len(pauses) >= 2
    assert pauses[0].end_s < ends[0].end_s  # the first pause's span is not the utterance
    assert pauses[-1].end_s == ends[0].end_s


def test_no_pause_events_by_default_and_trailing_silence_can_change(fixtures_dir):
    speech = pad_silence(load_audio(fixtures_dir / "zh07.wav"), 0.5, 1.5)
    ep = Endpointer()
    assert not any(isinstance(e, SpeechPaused) for e in ep.feed(speech) + ep.flush())
    ep = Endpointer()
    ep.set_trailing_silence(1200)
    assert ep.trailing_silence_ms == 1200
    timed = _feed_in_chunks(ep, speech, 320)
    end_t, end = timed[-1]
    assert isinstance(end, SpeechEnded)
    assert end_t - end.end_s >= 0.9 * 1.2 - 0.02


@pytest.mark.parametrize(
    "kwargs", [{"sample_rate": 11025}, {"frame_ms": 25}, {"mode": 4}, {"pause_ms": -1}]
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Endpointer(**kwargs)
