"""tts/pyttsx3_backend.py: pyttsx3's racy save_to_file made reliable (verify, retry, fall back)."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from tts_helpers import sine, wav_bytes

from tts.audio import parse_wav
from tts.base import SynthesisError
from tts.cache import PromptCache
from tts.espeak import EspeakSynthesizer
from tts.pyttsx3_backend import Pyttsx3Synthesizer

PROMPTS_ZH = [
    "您好，这里是市第一人民医院随访中心。",
    "请问您是张先生本人吗？",
    "您对这次住院的护理服务满意吗？",
    "满意请按1，不满意请按2。",
    "请问您出院以后伤口还疼吗？",
    "请问您最近测的血压是多少？",
    "您有没有按时服药？",
    "请问您最近有没有发烧？",
    "您下次复查的时间还记得吗？",
    "好的，今天的回访就到这里，祝您早日康复，再见！",
]
PROMPTS_EN = [
    "Hello, this is the follow-up team at City First Hospital.",
    "Am I speaking with Mr Zhang?",
    "How satisfied were you with the nursing care during your stay?",
    "Press one for yes, or two for no.",
    "Have you had a fever since you went home?",
]


def test_fifty_prompts_all_complete_and_as_long_as_espeak_makes_them(tmp_path: Path) -> None:
    """The demonstration: ~50 renders through pyttsx3, every file checked on disk.

    Plain save_to_file + runAndWait returns before the file is written and cancels utterances after a
    property change (see the module docstring); here every file must be complete and match the length espeak-ng's command line gives for the same
    voice and speed (within 10 %: the driver drops a short pause chunk at the end).
    """
    synth = Pyttsx3Synthesizer()
    reference = EspeakSynthesizer(speed=synth.speed)
    cache = PromptCache(tmp_path)
    # 50 distinct texts (prompts with added endings), so each one is really rendered, not a cache hit.
    endings = {"zh": ["", "谢谢。", "好的。", "请稍等。"], "en": ["", " Thank you.", " Okay.", " Please wait."]}
    base = [(t, "zh") for t in PROMPTS_ZH] + [(t, "en") for t in PROMPTS_EN]
    jobs = [(t + endings[lang][k], lang) for k in range(4) for t, lang in base][:50]
    assert len(set(jobs)) == 50
    paths = [cache.path_for(t, lang, synth) for t, lang in jobs]
    assert cache.stats.synthesized == len(jobs)
    for (text, lang), path in zip(jobs, paths, strict=True):
        audio = parse_wav(path.read_bytes(), source=str(path))  # raises on a truncated file
        assert audio.sample_rate == 16000
        expected = reference.synthesize(text, lang).duration
        assert abs(audio.duration - expected) / expected < 0.10, (text, audio.duration, expected)
        assert audio.peak() > 3000
    assert synth.stats.rendered == len(jobs)
    # Plain save_to_file/runAndWait gets ≈1 in 40 files header-only; waiting properly needs no retry.
    assert (synth.stats.retried, synth.stats.fell_back) == (0, 0)


def test_threads_sharing_the_engine_get_their_own_audio() -> None:
    # The espeak driver is one per process: without the backend's lock, concurrent saves mix buffers.
    synth = Pyttsx3Synthesizer(fallback=False)
    reference = EspeakSynthesizer(speed=synth.speed)
    texts = ["Yes.", "Please hold while I put you through to a nurse.", "请问您是张先生本人吗？", "不满意"]
    results: dict[int, float] = {}

    def work(i: int) -> None:
        results[i] = synth.synthesize(texts[i % 4], "en" if i % 4 < 2 else "zh").duration

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, duration in results.items():
        expected = reference.synthesize(texts[i % 4], "en" if i % 4 < 2 else "zh").duration
        assert abs(duration - expected) / expected < 0.10
    assert len(results) == 12


class FlakySaver:
    """Stands in for pyttsx3: each call behaves as the next item of ``modes`` says."""

    def __init__(self, *modes: str) -> None:
        self.modes = itertools.chain(modes, itertools.repeat(modes[-1]))
        self.calls = 0
        self.good = wav_bytes(sine(220, 3.0, 22050), 22050)

    def __call__(self, text: str, voice: str, rate: int, path: str) -> None:
        self.calls += 1
        mode = next(self.modes)
        if mode == "missing":
            return
        data = {"ok": self.good, "header": self.good[:44], "truncated": self.good[: len(self.good) // 2],
                "short": wav_bytes(sine(220, 0.2, 22050), 22050)}[mode]
        Path(path).write_bytes(data)


@pytest.mark.parametrize("failure", ["missing", "header", "truncated", "short"])
def test_a_bad_first_file_is_detected_and_retried(failure: str) -> None:
    saver = FlakySaver(failure, "ok")
    synth = Pyttsx3Synthesizer(save=saver, fallback=False)
    audio = synth.synthesize("您对这次住院的护理服务满意吗？", "zh")
    assert abs(audio.duration - 3.0) < 0.01 and audio.sample_rate == 16000
    assert saver.calls == 2
    assert (synth.stats.retried, synth.stats.fell_back, synth.stats.rendered) == (1, 0, 1)


def test_two_bad_files_fall_back_to_espeak_ng() -> None:
    saver = FlakySaver("missing", "header")
    synth = Pyttsx3Synthesizer(save=saver)
    audio = synth.synthesize("您对这次住院的护理服务满意吗？", "zh")
    expected = EspeakSynthesizer(speed=synth.speed).synthesize("您对这次住院的护理服务满意吗？", "zh")
    assert saver.calls == 2
    assert synth.stats.fell_back == 1
    assert audio == expected  # the command line is deterministic: byte-identical audio


def test_without_fallback_two_bad_files_raise() -> None:
    synth = Pyttsx3Synthesizer(save=FlakySaver("truncated"), fallback=False)
    with pytest.raises(SynthesisError, match="pyttsx3 failed twice.*truncated"):
        synth.synthesize("您对这次住院的护理服务满意吗？", "zh")
