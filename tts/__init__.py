"""Offline speech synthesis: ``Synthesizer`` backends, audio conversion and the prompt cache.

See docs/tts.md for the backends, their settings, licences and measured intelligibility.
"""

from tts.audio import SAMPLE_RATE, Audio
from tts.base import SynthesisError, Synthesizer, UnsupportedLanguage

__all__ = ["SAMPLE_RATE", "Audio", "SynthesisError", "Synthesizer", "UnsupportedLanguage"]
