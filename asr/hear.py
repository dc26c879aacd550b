"""``hear``: the live call's speech path, run on a recording.

load → (phone band, when simulating a phone line) → VAD: keep first speech start … last speech end →
recogniser, biased towards the expectation → normalised text → ``dialog.nlu.understand`` →
``{"text", "intent", "value", "confidence"}``.

Alternatives are used the way the dialog would: when the best hypothesis means nothing (``no_match``) but
another one (the unbiased decoding or the n-best) gives an answer, that one is taken with a lower
confidence. Pinyin matching of near-homophones (蛮意 → 满意) belongs to the NLU, not here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.audio import load_audio, phone_band
from asr.recognizer import Recognizer, Transcript
from asr.vad import speech_span

if TYPE_CHECKING:
    from dialog.nlu.expectation import Expectation

# A reading taken from an alternative instead of the best hypothesis: trust it less.
ALTERNATIVE_PENALTY = 0.7
# Confidence given to "nothing heard" results.
NOTHING_HEARD = {"text": "", "intent": "no_match", "value": None, "confidence": 0.0}


@dataclass(frozen=True)
class Heard:
    """The full result of ``hear_audio``: the dict ``hear`` prints plus the transcript behind it."""

    result: dict[str, Any]
    transcript: Transcript | None

    def to_json(self) -> dict[str, Any]:
        return self.result


def _understand(text: str, expectation: Expectation, now: datetime | None) -> dict[str, Any]:
    from dialog.nlu import understand

    return dict(understand(text, expectation, now).to_json())


def _same_meaning(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("intent") == b.get("intent") and a.get("value") == b.get("value")


def combine_confidence(asr: float, nlu: float, agreed: bool) -> float:
    """One confidence for the dialog from the recogniser's and the understanding's.

    ``agreed``: another hypothesis (in practice the unbiased decoding) means the same thing. Two decodings
    that differ in their prompt yet agree in meaning are strong evidence, so they halve the recogniser's
    doubt. The result is the geometric mean with the NLU's confidence: one weak factor lowers it without
    sinking a reading that both sides support.
    """
    asr = min(1.0, max(0.0, asr))
    if agreed:
        asr = 1.0 - (1.0 - asr) / 2.0
    return round(float(np.sqrt(asr * min(1.0, max(0.0, nlu)))), 3)


def understand_transcript(
    transcript: Transcript, expectation: Expectation, now: datetime | None = None
) -> dict[str, Any]:
    """Understand a transcript, falling back to its alternatives when the best one means nothing."""
    if transcript.empty:
        return dict(NOTHING_HEARD)
    best = _understand(transcript.text, expectation, now)
    readings = [(transcript.text, best)]
    for alt in transcript.alternatives:
        readings.append((alt, _understand(alt, expectation, now)))
    chosen_text, chosen = transcript.text, best
    from_alternative = False
    if best.get("intent") == "no_match":
        for alt, meaning in readings[1:]:
            if meaning.get("intent") != "no_match":
                chosen_text, chosen, from_alternative = alt, meaning, True
                break
    agreed = any(_same_meaning(chosen, m) for t, m in readings if t != chosen_text)
    if chosen.get("intent") == "no_match":
        confidence = float(chosen.get("confidence", 0.0))
    else:
        confidence = combine_confidence(transcript.confidence, float(chosen.get("confidence", 0.0)), agreed)
        if from_alternative:
            confidence = round(confidence * ALTERNATIVE_PENALTY, 3)
    return {
        "text": chosen_text,
        "intent": chosen.get("intent"),
        "value": chosen.get("value"),
        "confidence": confidence,
    }


def hear_audio(
    audio: str | Path | bytes | np.ndarray,
    lang: str,
    expectation: Expectation,
    now: datetime | None = None,
    *,
    phone: bool = False,
    recognizer: Recognizer | None = None,
) -> Heard:
    """``hear`` with a ready ``Expectation`` and the transcript kept (benchmarks, the live path's logs)."""
    x = audio if isinstance(audio, np.ndarray) else load_audio(audio)
    x = np.asarray(x, dtype=np.float32)
    if phone:
        x = phone_band(x)
    span = speech_span(x)
    if span is None:
        return Heard(dict(NOTHING_HEARD), None)
    if recognizer is None:
        from asr.backends import make_recognizer

        recognizer = make_recognizer()
    transcript = recognizer.transcribe(span, lang, expectation)
    return Heard(understand_transcript(transcript, expectation, now), transcript)


def hear(
    path_or_audio: str | Path | bytes | np.ndarray,
    lang: str,
    expect_type: str,
    phone: bool = False,
    now: datetime | None = None,
    *,
    recognizer: Recognizer | None = None,
) -> dict[str, Any]:
    """Run a recording (WAV path/bytes, or float32 mono 16 kHz samples) through the live-call speech path.

    Returns ``{"text", "intent", "value", "confidence"}``; silence gives intent ``no_match`` and text "".
    ``recognizer`` defaults to the configured one (``asr.backends.make_recognizer``).
    """
    from dialog.nlu.expectation import Expectation

    return hear_audio(
        path_or_audio, lang, Expectation(type=expect_type, lang=lang), now, phone=phone, recognizer=recognizer
    ).result


def hear_batch(
    lines: Iterable[str],
    *,
    phone: bool = False,
    base_dir: str | Path | None = None,
    recognizer: Recognizer | None = None,
    parse_now: Any = None,
) -> Iterator[dict[str, Any]]:
    """``hear`` for JSON lines ``{"lang", "expect", "audio", "now"?, "phone"?}``: one dict per non-blank line,
    in order, with the model loaded once. A bad line yields ``no_match`` with an ``error`` naming the line.

    Relative ``audio`` paths are taken from ``base_dir`` (the batch file's folder) when not found as given.
    ``parse_now`` turns the ``now`` string into a datetime (default: ``datetime.fromisoformat``).
    """
    to_time = parse_now or (lambda s: datetime.fromisoformat(s) if s else None)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("expected a JSON object")  # noqa: TRY004 - reported per line, like bad JSON
            missing = [k for k in ("lang", "expect", "audio") if k not in item]
            if missing:
                raise ValueError(f"missing field(s): {', '.join(missing)}")
            path = Path(str(item["audio"]))
            if not path.is_absolute() and not path.exists() and base_dir is not None:
                path = Path(base_dir) / path
            if not path.is_file():
                raise FileNotFoundError(f"no such audio file: {item['audio']}")
            if recognizer is None:
                from asr.backends import make_recognizer

                recognizer = make_recognizer()
            yield hear(
                path,
                str(item["lang"]),
                str(item["expect"]),
                bool(item.get("phone", phone)),
                to_time(item.get("now")),
                recognizer=recognizer,
            )
        except (ValueError, OSError) as exc:
            yield {**NOTHING_HEARD, "error": f"line {lineno}: {exc}"}
