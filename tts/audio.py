"""Audio as the speech side of the system uses it: 16 kHz mono signed 16-bit little-endian PCM.

Everything a synthesizer returns and everything the prompt cache stores is an ``Audio`` at
``SAMPLE_RATE``; this module converts what engines and recordings produce (22.05/24/44.1 kHz, stereo,
8/24/32-bit or float WAV) into that, and back out to a WAV container or raw ``.sln16``/``.sln`` files.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # what the dialer streams over chan_websocket (slin16)
PHONE_RATE = 8000  # narrowband (sln / ulaw legs)

# Raw signed-linear extensions Asterisk understands, by sample rate.
RAW_EXTENSIONS: dict[str, int] = {".sln": 8000, ".raw": 8000, ".sln8": 8000, ".sln16": 16000,
                                  ".sln24": 24000, ".sln32": 32000, ".sln44": 44100, ".sln48": 48000}


class AudioFormatError(ValueError):
    """Bytes that are not audio we can read (bad or truncated RIFF header, unsupported encoding)."""


@dataclass(frozen=True)
class Audio:
    """Mono signed 16-bit little-endian PCM at ``sample_rate`` Hz."""

    pcm: bytes
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        if len(self.pcm) % 2:
            raise AudioFormatError(f"16-bit PCM must have an even byte count, got {len(self.pcm)}")
        if self.sample_rate <= 0:
            raise AudioFormatError(f"bad sample rate {self.sample_rate}")

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def samples(self) -> np.ndarray:
        """The samples as a read-only int16 array (no copy)."""
        return np.frombuffer(self.pcm, dtype="<i2")

    def peak(self) -> int:
        """Largest absolute sample value (0 for silence or empty audio)."""
        s = self.samples()
        return int(np.abs(s.astype(np.int32)).max()) if s.size else 0

    def resampled(self, rate: int) -> Audio:
        """This audio at ``rate`` Hz (itself when already there)."""
        if rate == self.sample_rate:
            return self
        return Audio(float_to_pcm16(resample(self.samples().astype(np.float32) / 32768.0, self.sample_rate, rate)),
                     rate)

    def to_wav(self) -> bytes:
        """A canonical 44-byte-header RIFF/WAVE file of this audio."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self.pcm)
        return buf.getvalue()

    @classmethod
    def from_float(cls, samples: np.ndarray, sample_rate: int) -> Audio:
        """From float samples in [-1, 1] (clipped)."""
        return cls(float_to_pcm16(samples), sample_rate)


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] → int16 little-endian bytes, clipped rather than wrapped."""
    x = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    return np.round(x * 32767.0).astype("<i2").tobytes()


# --- resampling -------------------------------------------------------------------------------------------

def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of float samples.

    Uses soxr (libsoxr, high quality) when it is installed, otherwise ``resample_poly`` below; both
    low-pass below the lower Nyquist frequency, so 22.05 kHz → 16 kHz and 16 kHz → 8 kHz don't alias.
    """
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate or x.size == 0:
        return x
    try:
        import soxr
    except ImportError:  # optional: the numpy path is slower but equivalent for speech
        return resample_poly(x, from_rate, to_rate)
    return soxr.resample(x, from_rate, to_rate, quality="HQ")


def resample_poly(x: np.ndarray, from_rate: int, to_rate: int, zero_crossings: int = 16) -> np.ndarray:
    """Polyphase windowed-sinc resampler in numpy (rational ratio to_rate/from_rate).

    Conceptually: insert ``up - 1`` zeros between samples, low-pass at the lower of the two Nyquist
    frequencies (Kaiser-windowed sinc, ``zero_crossings`` lobes each side), keep every ``down``-th sample.
    Only the filter taps that meet a non-zero input sample are computed.
    """
    x = np.asarray(x, dtype=np.float64)
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    m = max(up, down)
    half = zero_crossings * m
    n = np.arange(-half, half + 1)
    cutoff = 0.95  # a little under Nyquist: the Kaiser transition band then stays out of the alias region
    h = (cutoff / m) * np.sinc(cutoff * n / m) * np.kaiser(n.size, 8.6) * up
    ntaps = -(-h.size // up)  # taps of one polyphase branch, rounded up
    h = np.concatenate([h, np.zeros(ntaps * up - h.size)])
    n_out = -(-x.size * up // down)
    t = np.arange(n_out, dtype=np.int64) * down + half  # output positions on the upsampled grid (+ delay)
    j = (t // up)[:, None] - np.arange(ntaps)[None, :]  # input samples under the filter
    taps = h[t[:, None] - j * up]
    valid = (j >= 0) & (j < x.size)
    xs = np.where(valid, x[np.clip(j, 0, x.size - 1)], 0.0)
    return (xs * taps).sum(axis=1).astype(np.float32)


# --- reading ----------------------------------------------------------------------------------------------

_FMT_PCM, _FMT_FLOAT, _FMT_EXTENSIBLE = 1, 3, 0xFFFE


def parse_wav(data: bytes, *, source: str = "WAV data") -> Audio:
    """Decode a RIFF/WAVE file (PCM 8/16/24/32-bit or float, any channel count) into mono 16-bit PCM.

    The sample rate is kept as it is. Raises ``AudioFormatError`` naming ``source`` for a bad header,
    a missing or empty ``data`` chunk, or a ``data`` chunk shorter than its header says (a truncated
    write: the failure mode of engines that return before their file is complete).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError(f"{source}: not a RIFF/WAVE file ({len(data)} bytes)")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioFormatError(f"{source}: short fmt chunk")
            fmt = struct.unpack_from("<HHIIHH", body)
            if fmt[0] == _FMT_EXTENSIBLE and len(body) >= 26:
                fmt = (struct.unpack_from("<H", body, 24)[0],) + fmt[1:]
        elif cid == b"data":
            # Streamed WAVs (espeak-ng --stdout, sox -) carry a placeholder size: take what is there.
            if size >= 0x7FFFF000:
                body = data[pos + 8:]
            elif len(body) < size:
                raise AudioFormatError(f"{source}: data chunk truncated ({len(body)} of {size} bytes)")
            payload = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFormatError(f"{source}: no fmt chunk")
    if payload is None:
        raise AudioFormatError(f"{source}: no data chunk")
    tag, channels, rate, _, _, bits = fmt
    if channels < 1 or rate < 1:
        raise AudioFormatError(f"{source}: bad header ({channels} channels, {rate} Hz)")
    width = bits // 8
    frame = width * channels
    if frame == 0:
        raise AudioFormatError(f"{source}: bad sample width {bits} bits")
    payload = payload[: len(payload) - len(payload) % frame]
    if not payload:
        raise AudioFormatError(f"{source}: empty data chunk")
    x = _decode_samples(payload, tag, width, source)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if tag == _FMT_PCM and width == 2 and channels == 1:
        return Audio(bytes(payload), rate)  # already what we want: no float round trip
    return Audio(float_to_pcm16(x), rate)


def _decode_samples(payload: bytes, tag: int, width: int, source: str) -> np.ndarray:
    if tag == _FMT_FLOAT and width in (4, 8):
        return np.frombuffer(payload, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
    if tag != _FMT_PCM:
        raise AudioFormatError(f"{source}: unsupported WAV encoding {tag:#x} (want PCM or float)")
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(payload, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(payload, dtype="<i2").astype(np.float64) / 32768.0
    if width == 3:
        b = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    if width == 4:
        return np.frombuffer(payload, dtype="<i4").astype(np.float64) / float(1 << 31)
    raise AudioFormatError(f"{source}: unsupported sample width {width * 8} bits")


def read_audio_file(path: str | Path, sample_rate: int = SAMPLE_RATE) -> Audio:
    """Load a recorded prompt as mono 16-bit PCM at ``sample_rate``.

    WAV (any PCM/float variant) and Asterisk raw signed-linear files (.sln, .sln16, …, rate from the
    extension) are read here; anything else (mp3, ogg, m4a) is decoded with PyAV when it is installed
    (faster-whisper brings it).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in RAW_EXTENSIONS:
        data = p.read_bytes()
        if not data:
            raise AudioFormatError(f"{p}: empty file")
        return Audio(data[: len(data) - len(data) % 2], RAW_EXTENSIONS[suffix]).resampled(sample_rate)
    data = p.read_bytes()
    if data[:4] == b"RIFF":
        return parse_wav(data, source=str(p)).resampled(sample_rate)
    return _decode_with_av(p, sample_rate)


def _decode_with_av(path: Path, sample_rate: int) -> Audio:
    try:
        import av
    except ImportError as e:
        raise AudioFormatError(f"{path}: not WAV or raw sln, and PyAV is not installed to decode it") from e
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().tobytes())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().tobytes())
    except (av.error.FFmpegError, IndexError) as e:  # IndexError: no audio stream
        raise AudioFormatError(f"{path}: cannot decode audio ({e})") from e
    pcm = b"".join(chunks)
    if not pcm:
        raise AudioFormatError(f"{path}: no audio decoded")
    return Audio(pcm, sample_rate)
