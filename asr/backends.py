"""Build the configured recogniser from settings (the one place that reads the ASR settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asr.recognizer import Recognizer

if TYPE_CHECKING:
    from followup.config import Settings

BACKENDS = ("whisper", "vosk")


def make_recognizer(settings: Settings | None = None) -> Recognizer:
    """The recogniser FOLLOWUP_ASR_BACKEND names, with its model from FOLLOWUP_WHISPER_MODEL /
    FOLLOWUP_VOSK_MODEL (Whisper: else the base model joined into FOLLOWUP_CACHE_DIR by set-up).
    The Whisper model is loaded once per process however often this is called."""
    if settings is None:
        from followup.config import get_settings

        settings = get_settings()
    backend = settings.asr_backend
    if backend == "whisper":
        from asr.models import whisper_model_dir
        from asr.whisper import WhisperRecognizer

        model_dir = whisper_model_dir(settings.whisper_model or None, settings.cache_dir)
        return WhisperRecognizer(model_dir, workers=max(1, settings.asr_workers), window_s=settings.whisper_window_s)
    if backend == "vosk":
        from asr.vosk import VoskRecognizer

        return VoskRecognizer(settings.vosk_model or None)
    raise ValueError(f"FOLLOWUP_ASR_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
