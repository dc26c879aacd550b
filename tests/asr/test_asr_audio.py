"""asr.audio: WAV reading in any rate/width/channel layout, resampling, the phone-band simulation."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from asr_helpers import tone

from asr.audio import load_audio, pad_silence, pcm_to_float, phone_band, read_wav, resample, write_wav


def _peak_freq(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def _write_pcm(path: Path, frames: np.ndarray, rate: int, width: int, channels: int) -> None:
    """Write interleaved integer samples (already scaled) with the given sample width."""
    if width == 1:
        data = (frames + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = frames.astype("<i2").tobytes()
    elif width == 3:
        v = frames.astype(np.int32) & 0xFFFFFF
        data = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=-1).astype(np.uint8).tobytes()
    else:
        data = frames.astype("<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def test_fixture_reads_as_16k_mono_float(fixtures_dir, manifest):
    audio, rate = read_wav(fixtures_dir / "zh07.wav")
    assert rate == 16000
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / rate == pytest.approx(float(manifest["zh07"]["duration_s"]), abs=0.002)
    # The README says peak-normalised to -3 dBFS.
    assert 20 * np.log10(np.max(np.abs(audio))) == pytest.approx(-3.0, abs=0.2)


@pytest.mark.parametrize(
    ("rate", "width", "channels"),
    [(8000, 2, 1), (22050, 2, 2), (44100, 3, 1), (48000, 4, 2), (11025, 1, 1)],
)
def test_any_wav_becomes_16k_mono(tmp_path, rate, width, channels):
    t = np.arange(rate) / rate  # one second
    full = {1: 127, 2: 32767, 3: (1 << 23) - 1, 4: (1 << 31) - 1}[width]
    left = np.round(0.5 * full * np.sin(2 * np.pi * 440 * t)).astype(np.int64)
    frames = np.stack([left, left], axis=1).reshape(-1) if channels == 2 else left
    path = tmp_path / "x.wav"
    _write_pcm(path, frames, rate, width, channels)
    audio = load_audio(path)
    assert audio.dtype == np.float32
    assert len(audio) == pytest.approx(16000, abs=2)
    assert _peak_freq(audio, 16000) == pytest.approx(440, abs=3)
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=0.03)


def test_stereo_channels_are_averaged():
    # left +0.5, right -0.5 → silence; a mono mix, not the left channel.
    pcm = np.array([16384, -16384] * 100, dtype="<i2").tobytes()
    assert np.allclose(pcm_to_float(pcm, 2, 2), 0.0)


def test_write_then_read_round_trip(tmp_path):
    x = tone(300, 0.5)
    write_wav(tmp_path / "r.wav", x)
    y, rate = read_wav(tmp_path / "r.wav")
    assert rate == 16000 and len(y) == len(x)
    assert np.max(np.abs(y - x)) < 1e-4


def test_read_from_bytes_and_reject_non_wav(fixtures_dir):
    data = (fixtures_dir / "en01.wav").read_bytes()
    assert len(load_audio(data)) == len(load_audio(fixtures_dir / "en01.wav"))
    with pytest.raises(ValueError, match="WAV"):
        read_wav(b"this is not a wav file at all")


def test_resample_preserves_duration_and_pitch():
    x = tone(1000, 1.0, rate=8000)
    y = resample(x, 8000, 16000)
    assert len(y) == 16000
    assert _peak_freq(y, 16000) == pytest.approx(1000, abs=2)


def test_phone_band_removes_what_a_phone_line_cannot_carry():
    low, high = tone(1000, 1.0), tone(6000, 1.0)
    assert _rms_db(phone_band(low)[1000:-1000]) == pytest.approx(_rms_db(low[1000:-1000]), abs=0.5)
    assert _rms_db(phone_band(high)) < _rms_db(high) - 40
    assert len(phone_band(low)) == len(low)


def test_phone_band_matches_sox_like_the_manifest(tmp_path, fixtures_dir):
    assert shutil.which("sox"), "sox is a set-up dependency (deploy/bootstrap.sh)"
    src = fixtures_dir / "zh13.wav"
    subprocess.run(["sox", "-R", str(src), "-r", "8000", str(tmp_path / "a8.wav")], check=True)
    subprocess.run(["sox", "-R", str(tmp_path / "a8.wav"), "-r", "16000", str(tmp_path / "a16.wav")], check=True)
    want, _ = read_wav(tmp_path / "a16.wav")
    got = phone_band(load_audio(src))
    n = min(len(want), len(got))
    assert abs(len(want) - len(got)) <= 1
    # Same resampler (libsoxr): differences are at the level of 16-bit rounding.
    assert _rms_db(got[:n] - want[:n]) < _rms_db(want) - 60


def test_pad_silence():
    x = tone(500, 0.25)
    y = pad_silence(x, 0.5, 1.0)
    assert len(y) == 4000 + 8000 + 16000
    assert not y[:8000].any() and not y[-16000:].any()
