"""Helpers for the TTS tests (imported as ``tts_helpers``): a counting synthesizer and WAV writers."""

from __future__ import annotations

import struct
import threading
import time

import numpy as np

from tts.audio import Audio


class CountingSynth:
    """A deterministic Synthesizer: a tone whose pitch and length depend on the text; counts its calls.

    ``delay_s`` widens the race window for concurrency tests.
    """

    name = "counting"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def voice_id(self, lang: str) -> str:
        return f"tone-{lang}"

    def synthesize(self, text: str, lang: str) -> Audio:
        with self._lock:
            self.calls.append((text, lang))
        if self.delay_s:
            time.sleep(self.delay_s)
        return tone_for(text)


def tone_for(text: str, rate: int = 16000) -> Audio:
    """0.1 s per character of a tone whose frequency is derived from the text."""
    freq = 200 + (sum(map(ord, text)) % 600)
    t = np.arange(int(0.1 * len(text) * rate)) / rate
    return Audio.from_float(0.4 * np.sin(2 * np.pi * freq * t), rate)


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1, bits: int = 16, fmt_tag: int = 1) -> bytes:
    """A WAV file from float samples shaped (n,) or (n, channels), in any PCM/float encoding."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1, channels)
    if fmt_tag == 3:
        payload = x.astype("<f4").tobytes()
        bits = 32
    elif bits == 8:
        payload = np.round(x * 127 + 128).astype(np.uint8).tobytes()
    elif bits == 16:
        payload = np.round(x * 32767).astype("<i2").tobytes()
    elif bits == 24:
        v = np.round(x * (2**23 - 1)).astype(np.int32).reshape(-1)
        payload = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        payload = np.round(x * (2**31 - 1)).astype("<i4").tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)
