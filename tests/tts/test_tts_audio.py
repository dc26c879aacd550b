"""tts/audio.py: WAV parsing in every encoding, resampling, and loading recordings."""

from __future__ import annotations

import numpy as np
import pytest
from tts_helpers import sine, wav_bytes

from tts.audio import Audio, AudioFormatError, parse_wav, read_audio_file, resample, resample_poly


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[100:n - 100], b[100:n - 100])[0, 1])


@pytest.mark.parametrize(
    ("bits", "fmt_tag", "channels"),
    [(8, 1, 1), (16, 1, 1), (24, 1, 1), (32, 1, 1), (32, 3, 1), (16, 1, 2), (24, 1, 2)],
)
def test_parse_wav_any_pcm_or_float_encoding_gives_mono_int16(bits: int, fmt_tag: int, channels: int) -> None:
    x = sine(440, 0.5, 22050)
    frames = np.stack([x] * channels, axis=1) if channels > 1 else x
    audio = parse_wav(wav_bytes(frames, 22050, channels, bits, fmt_tag))
    assert audio.sample_rate == 22050
    assert audio.num_samples == x.size
    got = audio.samples() / 32768.0
    tolerance = 0.02 if bits == 8 else 1e-3
    assert np.max(np.abs(got - x)) < tolerance


def test_parse_wav_rejects_what_is_not_complete_audio() -> None:
    good = wav_bytes(sine(440, 0.2, 16000), 16000)
    with pytest.raises(AudioFormatError, match="not a RIFF"):
        parse_wav(b"ID3" + good[3:])
    with pytest.raises(AudioFormatError, match="truncated"):
        parse_wav(good[:-100])  # the data chunk says more than is there: a half-written file
    with pytest.raises(AudioFormatError, match="no data chunk"):
        parse_wav(good[:36])  # header only
    empty = wav_bytes(np.zeros(0), 16000)
    with pytest.raises(AudioFormatError, match="empty"):
        parse_wav(empty)


def test_parse_wav_accepts_streamed_placeholder_sizes() -> None:
    # espeak-ng --stdout and sox write 0x7ffff000-ish sizes when they can't seek back.
    data = bytearray(wav_bytes(sine(440, 0.2, 22050), 22050))
    data[40:44] = (0x7FFFF000).to_bytes(4, "little")
    assert parse_wav(bytes(data)).num_samples == int(0.2 * 22050)


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (24000, 16000), (16000, 8000), (8000, 16000), (44100, 16000)])
def test_numpy_resampler_matches_soxr_and_keeps_length(src: int, dst: int) -> None:
    x = sine(1000, 1.0, src).astype(np.float32)
    ours = resample_poly(x, src, dst)
    assert abs(len(ours) - dst) <= 1
    expected = sine(1000, 1.0, dst)
    assert _corr(ours, expected) > 0.999
    assert abs(np.sqrt(np.mean(ours[200:-200] ** 2)) - 0.5 / np.sqrt(2)) < 0.01  # gain kept
    assert _corr(resample(x, src, dst), expected) > 0.999  # whichever implementation is installed


def test_resampling_down_removes_what_the_new_rate_cannot_carry() -> None:
    # A 9 kHz tone at 22.05 kHz has no place at 16 kHz (Nyquist 8 kHz): it must vanish, not alias to 7 kHz.
    x = sine(9000, 1.0, 22050).astype(np.float32)
    for y in (resample_poly(x, 22050, 16000), resample(x, 22050, 16000)):
        assert np.sqrt(np.mean(y[500:-500] ** 2)) < 1e-3


def test_audio_resampled_and_wav_round_trip() -> None:
    a = Audio.from_float(sine(300, 0.75, 22050), 22050)
    b = a.resampled(16000)
    assert b.sample_rate == 16000 and abs(b.duration - 0.75) < 0.001
    back = parse_wav(b.to_wav())
    assert back == b
    assert Audio(b"\x01\x00" * 10, 8000).duration == pytest.approx(10 / 8000)
    with pytest.raises(AudioFormatError):
        Audio(b"\x00\x00\x00", 16000)


def test_read_audio_file_converts_recordings_to_16k_mono(tmp_path) -> None:
    stereo = tmp_path / "greeting.wav"
    stereo.write_bytes(wav_bytes(np.stack([sine(500, 1.5, 44100)] * 2, axis=1), 44100, channels=2, bits=24))
    a = read_audio_file(stereo)
    assert a.sample_rate == 16000 and abs(a.duration - 1.5) < 0.01
    assert _corr(a.samples() / 32768.0, sine(500, 1.5, 16000)) > 0.999

    raw8 = tmp_path / "prompt.sln"
    raw8.write_bytes(Audio.from_float(sine(500, 2.0, 8000), 8000).pcm)
    b = read_audio_file(raw8)
    assert b.sample_rate == 16000 and abs(b.duration - 2.0) < 0.01

    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(AudioFormatError):
        read_audio_file(bad)
