"""Voice activity detection and endpointing with the WebRTC VAD (PyPI ``webrtcvad-wheels``).

``Endpointer`` is the streaming form the live call path uses: feed it audio as it arrives (any chunk size),
it answers with ``SpeechStarted`` / ``SpeechEnded`` events carrying stream timestamps, and a
``SpeechEnded`` carries the utterance's audio (with a little context either side) ready for a recogniser.
``trim`` runs the same endpointer over a whole recording.

Theory of operation: the WebRTC VAD labels each 20 ms frame voiced or not (mode 3, the most aggressive,
rejects 97–99 % of -30 dBFS white-noise frames and keeps 97–100 % of speech frames on this machine). Single
labels flicker, so decisions look at a window: speech starts when ``min_speech_ms`` of voiced frames fall
within ``start_window_ms``, and ends when the last ``trailing_silence_ms`` hold at most 10 % voiced frames
(so the end is announced 0.9–1.0 × ``trailing_silence_ms`` after the last voiced frame). The start is dated
at the first voiced frame of the window, the end just after the last voiced frame.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from asr.audio import SAMPLE_RATE, float_to_pcm16

VAD_RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``at_s`` seconds from the start of the stream."""

    at_s: float


@dataclass(frozen=True)
class SpeechPaused:
    """Speech has paused for ``pause_ms`` (``Endpointer(pause_ms=…)``) but the utterance is not over yet.

    ``audio`` is exactly what ``SpeechEnded.audio`` will be if the speech does not resume before the
    endpoint (``end_s`` equal): a recogniser can start on it early (speculative decoding) and its result
    be used when the ``SpeechEnded`` with the same ``start_s``/``end_s`` arrives.
    """

    start_s: float
    end_s: float
    audio: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class SpeechEnded:
    """Speech from ``start_s`` to ``end_s`` (stream seconds); ``audio`` is that span plus ``pad_ms`` each side
    (float32 at the endpointer's rate). ``forced`` is True when ``max_speech_s`` cut the utterance."""

    start_s: float
    end_s: float
    audio: np.ndarray = field(repr=False, compare=False)
    forced: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Segment:
    """A stretch of speech in a recording, in seconds."""

    start_s: float
    end_s: float


EndpointEvent = SpeechStarted | SpeechPaused | SpeechEnded


class Endpointer:
    """Streaming speech start/end detection. Not thread-safe: one per audio stream.

    ``feed()`` takes float32 samples or 16-bit little-endian PCM bytes at ``sample_rate`` and returns the
    events that the new audio completed; ``flush()`` ends the stream (closing an open utterance).
    ``pause_ms`` > 0 adds a ``SpeechPaused`` event once per pause of that length inside an utterance
    (it should be ≥ ``pad_ms`` so that its audio is the final one); ``trailing_silence_ms`` can be changed
    between utterances (``set_trailing_silence``).

    Per frame the work is one WebRTC VAD call on a slice of the PCM bytes and a few counters: frames are
    kept as bytes and turned into float32 only when an utterance's audio is handed out (this runs on the
    event loop for every 20 ms of every call).
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        mode: int = 3,
        frame_ms: int = 20,
        trailing_silence_ms: int = 600,
        min_speech_ms: int = 200,
        start_window_ms: int = 300,
        pad_ms: int = 200,
        max_speech_s: float = 15.0,
        pause_ms: int = 0,
    ) -> None:
        if sample_rate not in VAD_RATES:
            raise ValueError(f"the WebRTC VAD needs a rate in {VAD_RATES}, got {sample_rate}")
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"the WebRTC VAD needs 10, 20 or 30 ms frames, got {frame_ms}")
        if not 0 <= mode <= 3:
            raise ValueError(f"VAD mode must be 0..3, got {mode}")
        if pause_ms < 0:
            raise ValueError(f"pause_ms must be ≥ 0, got {pause_ms}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self._vad = webrtcvad.Vad(mode)
        self._frame_len = sample_rate * frame_ms // 1000
        self._frame_b = 2 * self._frame_len
        self._frame_s = frame_ms / 1000.0
        self._min_speech = max(1, min_speech_ms // frame_ms)
        self._start_window = max(self._min_speech, start_window_ms // frame_ms)
        self._pad = pad_ms // frame_ms
        self._pause = pause_ms // frame_ms if pause_ms else 0
        self._max_frames = int(max_speech_s * 1000) // frame_ms
        self._pending = b""
        self._frames_seen = 0
        # Before a start: recent (voiced, frame) pairs — the start window plus the padding kept before it —
        # and the voiced flags of the start window with their running sum.
        self._history: collections.deque[tuple[bool, bytes]] = collections.deque(
            maxlen=self._start_window + self._pad
        )
        self._window: collections.deque[bool] = collections.deque(maxlen=self._start_window)
        self._window_sum = 0
        self._in_speech = False
        self._start_frame = 0
        self._last_voiced_frame = 0
        self._trailing = 1
        self._recent: collections.deque[bool] = collections.deque(maxlen=1)
        self._recent_sum = 0
        self.set_trailing_silence(trailing_silence_ms)
        self._utterance: list[bytes] = []
        self._utt_first_frame = 0
        self._paused_at = -1  # last voiced frame when SpeechPaused was last announced
        self.voiced_run = 0  # consecutive voiced frames up to the last frame fed
        self.last_voiced = False  # the VAD's verdict on the last frame fed

    @property
    def in_speech(self) -> bool:
        """True between a ``SpeechStarted`` and its ``SpeechEnded``."""
        return self._in_speech

    @property
    def trailing_silence_ms(self) -> int:
        return self._trailing * self.frame_ms

    def set_trailing_silence(self, ms: int) -> None:
        """Trailing silence that ends an utterance from now on (an utterance in progress keeps the frames
        it has seen)."""
        trailing = max(1, ms // self.frame_ms)
        if trailing == self._trailing:
            return
        recent = list(self._recent)[-trailing:]
        self._trailing = trailing
        self._recent = collections.deque(recent, maxlen=trailing)
        self._recent_sum = sum(recent)

    def feed(self, audio: np.ndarray | bytes) -> list[EndpointEvent]:
        """Add audio; return the events it completed, in order."""
        if isinstance(audio, (bytes, bytearray, memoryview)):
            pcm = bytes(audio)
        else:
            pcm = float_to_pcm16(audio)
        buf = self._pending + pcm if self._pending else pcm
        fb = self._frame_b
        n = len(buf) // fb
        events: list[EndpointEvent] = []
        for i in range(n):
            ev = self._frame(buf[i * fb : (i + 1) * fb] if n > 1 or len(buf) != fb else buf)
            if ev:
                events.extend(ev)
        self._pending = buf[n * fb :]
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an utterance in progress. The endpointer can then be reused."""
        events: list[EndpointEvent] = []
        if self._in_speech:
            events.append(self._end(forced=False))
        self._pending = b""
        self._history.clear()
        self._window.clear()
        self._window_sum = 0
        self.voiced_run = 0
        return events

    def is_speech(self, frame: np.ndarray) -> bool:
        """The VAD's verdict on one frame of exactly ``frame_ms`` (float32)."""
        return self._vad.is_speech(float_to_pcm16(frame), self.sample_rate)

    def _frame(self, frame: bytes) -> list[EndpointEvent] | None:
        idx = self._frames_seen
        self._frames_seen += 1
        voiced = self._vad.is_speech(frame, self.sample_rate)
        self.last_voiced = voiced
        self.voiced_run = self.voiced_run + 1 if voiced else 0
        if not self._in_speech:
            self._history.append((voiced, frame))
            window = self._window
            if len(window) == window.maxlen and window[0]:
                self._window_sum -= 1
            window.append(voiced)
            self._window_sum += voiced
            if self._window_sum < self._min_speech:
                return None
            return [self._start(idx)]
        self._utterance.append(frame)
        recent = self._recent
        if len(recent) == recent.maxlen and recent[0]:
            self._recent_sum -= 1
        recent.append(voiced)
        self._recent_sum += voiced
        if voiced:
            self._last_voiced_frame = idx
        if idx - self._start_frame + 1 >= self._max_frames:
            self._last_voiced_frame = idx  # cut here: the speech goes on
            return [self._end(forced=True)]
        if len(recent) == self._trailing and self._recent_sum <= self._trailing // 10:
            return [self._end(forced=False)]
        if (self._pause and not voiced and idx - self._last_voiced_frame == self._pause
                and self._paused_at != self._last_voiced_frame):
            self._paused_at = self._last_voiced_frame
            start_s, end_s, audio = self._span()
            return [SpeechPaused(start_s=start_s, end_s=end_s, audio=audio)]
        return None

    def _start(self, idx: int) -> SpeechStarted:
        # Date the start at the first voiced frame of the window, keep pad frames before it.
        hist = list(self._history)
        window = list(self._window)
        first = window.index(True)
        first_in_hist = len(hist) - len(window) + first
        keep_from = max(0, first_in_hist - self._pad)
        self._utterance = [f for _, f in hist[keep_from:]]
        self._utt_first_frame = idx - (len(hist) - 1 - keep_from)
        self._start_frame = idx - (len(hist) - 1 - first_in_hist)
        self._last_voiced_frame = idx
        self._paused_at = -1
        self._in_speech = True
        self._recent.clear()
        self._recent_sum = 0
        self._history.clear()
        self._window.clear()
        self._window_sum = 0
        return SpeechStarted(at_s=round(self._start_frame * self._frame_s, 3))

    def _span(self) -> tuple[float, float, np.ndarray]:
        end_frame = self._last_voiced_frame + 1  # exclusive
        # Audio: from the first kept frame to pad frames after the last voiced one (what has arrived).
        stop = min(len(self._utterance), end_frame - self._utt_first_frame + self._pad)
        pcm = b"".join(self._utterance[:stop]) if stop > 0 else b""
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return round(self._start_frame * self._frame_s, 3), round(end_frame * self._frame_s, 3), audio

    def _end(self, forced: bool) -> SpeechEnded:
        start_s, end_s, audio = self._span()
        self._in_speech = False
        self._utterance = []
        self._recent.clear()
        self._recent_sum = 0
        return SpeechEnded(start_s=start_s, end_s=end_s, audio=audio, forced=forced)


def trim(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, **endpointer_options: float) -> list[Segment]:
    """The speech segments of a whole recording (float32 mono), in order; [] when there is no speech."""
    ep = Endpointer(sample_rate=sample_rate, **endpointer_options)  # type: ignore[arg-type]
    events = ep.feed(audio) + ep.flush()
    return [Segment(e.start_s, e.end_s) for e in events if isinstance(e, SpeechEnded)]


def speech_span(
    audio: np.ndarray, sample_rate: int = SAMPLE_RATE, pad_s: float = 0.2, **endpointer_options: float
) -> np.ndarray | None:
    """The audio from the first speech start to the last speech end, ``pad_s`` either side; None if silent.

    A reply with a pause in it ("我在开车，晚点再打") stays one piece: only the silence around it goes.
    """
    segments = trim(audio, sample_rate, **endpointer_options)
    if not segments:
        return None
    a = max(0, int((segments[0].start_s - pad_s) * sample_rate))
    b = min(len(audio), int((segments[-1].end_s + pad_s) * sample_rate))
    return np.asarray(audio[a:b], dtype=np.float32)


def voiced_ms(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, mode: int = 3, frame_ms: int = 20) -> int:
    """Milliseconds of frames the VAD calls voiced (a cheap gate before decoding)."""
    vad = webrtcvad.Vad(mode)
    n = sample_rate * frame_ms // 1000
    pcm = float_to_pcm16(audio)
    count = 0
    for i in range(len(audio) // n):
        if vad.is_speech(pcm[2 * i * n : 2 * (i + 1) * n], sample_rate):
            count += 1
    return count * frame_ms
