"""The ``Recognizer`` protocol: audio in, a ``Transcript`` out. Backends: ``asr.whisper`` (default),
``asr.vosk`` (streaming, grammar-constrained).

Audio is always float32 mono at 16 kHz (``asr.audio`` converts). ``expectation`` is what the dialog expects
next (``dialog.nlu.Expectation``); a backend uses it to bias decoding towards the expected words, never to
invent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from dialog.events import Utterance
    from dialog.nlu.expectation import Expectation


@dataclass(frozen=True)
class Transcript:
    """What a recogniser heard.

    ``text`` is normalised for parsing (simplified Chinese, full-width Chinese punctuation, loops removed);
    "" means nothing was heard (silence, noise, or output the gates rejected). ``alternatives`` are other
    distinct hypotheses, best first (n-best and, for Whisper, the unbiased decoding). ``confidence`` is in
    [0, 1]. ``no_speech_prob`` is the recogniser's own estimate that there was no speech (1.0 when a gate
    decided that without decoding). ``duration_s`` is the audio's length, ``decode_s`` the time spent.
    """

    text: str
    confidence: float
    alternatives: tuple[str, ...] = ()
    no_speech_prob: float = 0.0
    duration_s: float = 0.0
    decode_s: float = 0.0
    # The unbiased (plain) top hypothesis when the backend decoded one; for benchmarks and logs.
    plain_text: str | None = None

    @property
    def empty(self) -> bool:
        return not self.text

    def as_utterance(self) -> Utterance:
        """The dialog event for this transcript."""
        from dialog.events import Utterance

        return Utterance(text=self.text, confidence=self.confidence, alternatives=self.alternatives)


@runtime_checkable
class Recognizer(Protocol):
    """Whole-utterance speech recognition. Implementations must be safe to call from worker threads."""

    def transcribe(
        self, audio: np.ndarray, lang: str, expectation: Expectation | None = None
    ) -> Transcript:  # pragma: no cover - protocol
        """Recognise one utterance (float32 mono 16 kHz) in ``lang`` ("zh" | "en")."""
        ...


def silent_transcript(duration_s: float, decode_s: float = 0.0) -> Transcript:
    """The transcript of audio that held no speech."""
    return Transcript(text="", confidence=0.0, no_speech_prob=1.0, duration_s=duration_s, decode_s=decode_s)
