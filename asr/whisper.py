"""Whisper (faster-whisper / CTranslate2, int8 on CPU) behind the ``Recognizer`` protocol.

One utterance costs one encoder pass and two short decoder passes over the same encoder output:
- **biased**: the expected words (``asr.vocab.expected_words``) as Whisper ``hotwords`` (the
  previous-text slot). Measured on the fixtures at 8 kHz: zh meaning kept 23/24 vs 18/24 plain; it also
  fixes 转人工 (plain: 戰員攻擊) and "make a complaint" (plain: "make it complete").
- **plain**: no prompt. Biasing breaks some words (不太满意 → 不太买意) and can invent expected words on
  silence, so the plain decoding is kept as an alternative and as a cross-check.
The encoder dominates (a 30 s window whatever the utterance length), so the second decoding adds only
≈0.1–0.2 s. Beam search keeps ``n_best`` hypotheses of each; distinct ones become ``alternatives``.

Guards against invented text (biased decoding wrote 转人工 on 4 of 5 silent inputs in the notes):
1. VAD: fewer than ``min_voiced_ms`` of voiced 20 ms frames → no decoding at all.
2. ``no_speech_prob``: above ``no_speech_threshold`` (either decoding) → nothing heard. Echoed prompts had
   0.60–0.94, real utterances ≤ 0.33.
3. Echo: a biased output that is a run of 3+ hotwords in prompt order is the prompt, not the patient.
4. Runaway: ``max_length`` scales with the audio's duration, and loops are collapsed afterwards.
No temperature fallback (it cost 0.75–1.9 s and flipped answers in the notes).

The model is loaded once per process and shared (``load_model``): CTranslate2 releases the GIL and, with
``workers`` > 1, decodes that many utterances in parallel from different threads (see ``asr.pool``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.audio import SAMPLE_RATE
from asr.models import whisper_model_dir
from asr.normalize import bare, normalize_transcript
from asr.recognizer import Transcript, silent_transcript
from asr.vad import voiced_ms
from asr.vocab import expected_words

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from dialog.nlu.expectation import Expectation

_MODELS: dict[tuple[str, str, int, int], WhisperModel] = {}
_MODELS_LOCK = threading.Lock()

# Known Whisper hallucinations on silence/noise (subtitle credits from its training data).
_HALLUCINATIONS = (
    "字幕",
    "订阅",
    "点赞",
    "明镜",
    "amara",
    "thank you for watching",
    "thanks for watching",
    "please subscribe",
)


def load_model(model_dir: str | Path, compute_type: str = "int8", cpu_threads: int = 1, workers: int = 1):  # type: ignore[no-untyped-def]
    """The process-wide faster-whisper model for these options, loaded on first use."""
    key = (str(Path(model_dir).resolve()), compute_type, cpu_threads, workers)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                key[0], device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=workers
            )
            _MODELS[key] = model
        return model


@dataclass(frozen=True)
class _Decoding:
    hypotheses: tuple[tuple[str, float], ...]  # (normalised text, avg log-prob), best first
    no_speech_prob: float


class WhisperRecognizer:
    """faster-whisper recogniser with expectation biasing; see the module docstring.

    ``model_dir``: a CTranslate2 Whisper directory (None: ``whisper_model_dir(None, cache_dir)``, the joined
    Whisper base). ``workers``: how many threads may decode at once (setting FOLLOWUP_ASR_WORKERS);
    ``cpu_threads``: threads per decode. ``window_s``: encoder window; 30 s is what Whisper was trained on.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        cache_dir: str | Path | None = None,
        compute_type: str = "int8",
        cpu_threads: int = 1,
        workers: int = 1,
        beam_size: int = 5,
        n_best: int = 3,
        decode_plain: bool = True,
        no_speech_threshold: float = 0.5,
        min_voiced_ms: int = 100,
        window_s: float = 30.0,
        max_hotword_tokens: int = 96,
        plain_below: float | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else whisper_model_dir(None, cache_dir)
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.workers = workers
        self.window_s = window_s
        self._model: WhisperModel | None = None
        self.beam_size = beam_size
        self.n_best = max(1, min(n_best, beam_size))
        self.decode_plain = decode_plain
        self.no_speech_threshold = no_speech_threshold
        self.min_voiced_ms = min_voiced_ms
        self.n_frames = int(window_s * 100)  # 10 ms mel frames
        self.max_hotword_tokens = max_hotword_tokens
        self.plain_below = plain_below
        self._tokenizers: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------------

    @property
    def model(self) -> WhisperModel:
        """The faster-whisper model, loaded on first use (a process that only hands audio to decode
        worker processes never loads it)."""
        if self._model is None:
            self._model = load_model(self.model_dir, self.compute_type, self.cpu_threads, self.workers)
        return self._model

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        """How a decode worker process builds the same recogniser (``asr.pool.ProcessDecodePool``):
        same model and options, so a transcript is identical whichever process decoded it."""
        return ("asr.whisper:WhisperRecognizer", {
            "model_dir": str(self.model_dir), "compute_type": self.compute_type, "cpu_threads": self.cpu_threads,
            "workers": 1, "beam_size": self.beam_size, "n_best": self.n_best, "decode_plain": self.decode_plain,
            "no_speech_threshold": self.no_speech_threshold, "min_voiced_ms": self.min_voiced_ms,
            "window_s": self.window_s, "max_hotword_tokens": self.max_hotword_tokens,
            "plain_below": self.plain_below,
        })

    def warm_up(self) -> None:
        """Load the model and run one short decode per language (the first decode pays for allocations)."""
        noise = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE // 2).astype(np.float32)
        for lang in ("zh", "en"):
            self._tokenizer(lang)
        self._encode(noise)

    def transcribe(self, audio: np.ndarray, lang: str, expectation: Expectation | None = None) -> Transcript:
        """Recognise one utterance (float32 mono 16 kHz); see the module docstring for what happens."""
        t0 = time.perf_counter()
        audio = np.asarray(audio, dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be zh or en, got {lang!r}")
        if duration < 0.1 or voiced_ms(audio) < self.min_voiced_ms:
            return silent_transcript(duration, time.perf_counter() - t0)

        tokenizer, suppress = self._tokenizer(lang)
        encoder_output = self._encode(audio)
        words = expected_words(expectation)
        biased = self._decode(encoder_output, tokenizer, suppress, lang, duration, words) if words else None
        plain = None
        if biased is None or (self.decode_plain and not self._confident(biased)):
            plain = self._decode(encoder_output, tokenizer, suppress, lang, duration, [])
        decode_s = time.perf_counter() - t0

        no_speech = max(d.no_speech_prob for d in (biased, plain) if d is not None)
        if no_speech > self.no_speech_threshold:
            return Transcript("", 0.0, (), no_speech, duration, decode_s)
        if biased is not None and _is_echo(biased.hypotheses[0][0] if biased.hypotheses else "", words):
            biased = None

        ordered: list[tuple[str, float]] = []
        if biased is not None and biased.hypotheses:
            ordered.append(biased.hypotheses[0])
        if plain is not None and plain.hypotheses:
            ordered.append(plain.hypotheses[0])
        for d in (biased, plain):
            if d is not None:
                ordered.extend(d.hypotheses[1:])
        texts: list[tuple[str, float]] = []
        seen: set[str] = set()
        for text, logprob in ordered:
            key = bare(text)
            if key and key not in seen and not _is_hallucination(key):
                seen.add(key)
                texts.append((text, logprob))
        if not texts:
            return Transcript("", 0.0, (), no_speech, duration, decode_s)
        best_text, best_logprob = texts[0]
        confidence = math.exp(best_logprob) * (1.0 - no_speech)
        plain_text = plain.hypotheses[0][0] if plain is not None and plain.hypotheses else None
        return Transcript(
            text=best_text,
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            alternatives=tuple(t for t, _ in texts[1:]),
            no_speech_prob=round(no_speech, 4),
            duration_s=round(duration, 3),
            decode_s=round(decode_s, 4),
            plain_text=plain_text,
        )

    # -- internals ------------------------------------------------------------------------------------

    def _confident(self, biased: _Decoding) -> bool:
        """The biased decoding alone will do (``plain_below`` set and its confidence at least that)."""
        if self.plain_below is None or not biased.hypotheses:
            return False
        return math.exp(biased.hypotheses[0][1]) * (1.0 - biased.no_speech_prob) >= self.plain_below

    def _tokenizer(self, lang: str) -> tuple[Any, list[int]]:
        with self._lock:
            cached = self._tokenizers.get(lang)
            if cached is None:
                from faster_whisper.tokenizer import Tokenizer
                from faster_whisper.transcribe import get_suppressed_tokens

                tok = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=lang)
                cached = (tok, list(get_suppressed_tokens(tok, [-1])))
                self._tokenizers[lang] = cached
            return cached

    def _encode(self, audio: np.ndarray):  # type: ignore[no-untyped-def]
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(audio)
        return self.model.encode(pad_or_trim(features, self.n_frames))

    def _decode(
        self,
        encoder_output: Any,
        tokenizer: Any,
        suppress: list[int],
        lang: str,
        duration: float,
        words: list[str],
    ) -> _Decoding:
        prompt = [tokenizer.sot_prev] if words else []
        if words:
            # Same layout as faster-whisper's ``hotwords`` option: <|startofprev|> words <|sot|>…
            prompt.extend(tokenizer.encode(" " + " ".join(words))[: self.max_hotword_tokens])
        prompt.extend(tokenizer.sot_sequence)
        prompt.append(tokenizer.no_timestamps)
        # Runaway guard: ~20 tokens per second of audio is far above real speech (Chinese ≈ 5–8 chars/s).
        max_new = min(10 + int(duration * 20), 200)
        result = self.model.model.generate(
            encoder_output,
            [prompt],
            beam_size=self.beam_size,
            num_hypotheses=self.n_best,
            return_scores=True,
            return_no_speech_prob=True,
            max_length=min(len(prompt) + max_new, self.model.max_length),
            suppress_blank=True,
            suppress_tokens=suppress,
        )[0]
        hyps: list[tuple[str, float]] = []
        for ids, score in zip(result.sequences_ids, result.scores):
            text = normalize_transcript(tokenizer.decode(ids), lang)
            # CTranslate2 returns the length-normalised log-prob (length_penalty 1); like faster-whisper,
            # count the end-of-text token too.
            n = len(ids)
            avg_logprob = score * n / (n + 1) if n else -10.0
            hyps.append((text, avg_logprob))
        return _Decoding(tuple(hyps), float(result.no_speech_prob))


def _is_hallucination(key: str) -> bool:
    return any(h in key for h in _HALLUCINATIONS)


def _is_echo(text: str, words: list[str]) -> bool:
    """True when ``text`` is three or more consecutive hotwords (the prompt read back)."""
    if not words or not text:
        return False
    target = bare(text).replace(" ", "")
    keys = [bare(w).replace(" ", "") for w in words]
    for i in range(len(keys)):
        joined = ""
        for j in range(i, len(keys)):
            joined += keys[j]
            if j - i >= 2 and joined == target:
                return True
            if len(joined) > len(target):
                break
    return False
