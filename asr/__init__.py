"""Offline speech recognition: audio helpers, VAD endpointing, recognisers behind the ``Recognizer``
protocol (Whisper by default, Vosk for streaming grammars), and ``hear`` — the live-call speech path run on
a recording. See docs/asr.md."""
