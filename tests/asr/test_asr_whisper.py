"""asr.whisper with the real Whisper base model: transcripts, biasing, the gates against invented text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr_helpers import tone, white_noise

from asr.audio import load_audio, pad_silence, phone_band
from asr.models import ModelMissing, whisper_model_dir
from asr.normalize import bare
from asr.recognizer import Recognizer
from asr.vad import speech_span
from asr.whisper import WhisperRecognizer, _is_echo, load_model
from dialog.nlu.expectation import Expectation


def _phone_span(fixtures_dir: Path, fid: str) -> np.ndarray:
    span = speech_span(phone_band(load_audio(fixtures_dir / f"{fid}.wav")))
    assert span is not None
    return span


# -- model location ---------------------------------------------------------------------------------------


def test_missing_cache_says_how_to_set_up(tmp_path):
    with pytest.raises(ModelMissing, match="make models"):
        whisper_model_dir(None, tmp_path)


def test_incomplete_cache_is_missing(tmp_path, whisper_dir):
    target = tmp_path / "models" / "whisper-base-ct2"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    (target / ".followup-complete").write_text("x")  # marker but no model.bin
    with pytest.raises(ModelMissing):
        whisper_model_dir(None, tmp_path)


def test_configured_path_wins_and_is_checked(tmp_path, whisper_dir):
    assert whisper_model_dir(str(whisper_dir), tmp_path / "elsewhere") == whisper_dir
    with pytest.raises(ModelMissing, match="FOLLOWUP_WHISPER_MODEL"):
        whisper_model_dir(str(tmp_path), None)


def test_joined_model_is_complete(whisper_dir):
    assert (whisper_dir / "model.bin").stat().st_size == 145217532
    for f in ("config.json", "tokenizer.json", "vocabulary.txt", ".followup-complete"):
        assert (whisper_dir / f).is_file()


def test_model_is_loaded_once_per_process(recognizer, whisper_dir):
    other = WhisperRecognizer(whisper_dir, workers=2)
    assert other.model is recognizer.model
    assert load_model(whisper_dir, "int8", 1, 2) is recognizer.model
    assert isinstance(recognizer, Recognizer)


# -- transcripts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fid", "lang"), [("en07", "en"), ("en14", "en"), ("zh19", "zh"), ("zh18", "zh")])
def test_clean_fixture_is_transcribed(recognizer, fixtures_dir, manifest, fid, lang):
    audio = load_audio(fixtures_dir / f"{fid}.wav")
    tr = recognizer.transcribe(audio, lang)
    assert bare(tr.text).replace(" ", "") == bare(manifest[fid]["text"]).replace(" ", "")
    assert 0.0 < tr.confidence <= 1.0
    assert tr.no_speech_prob < 0.5
    assert tr.duration_s == pytest.approx(len(audio) / 16000, abs=0.01)
    assert tr.decode_s > 0


def test_transcript_becomes_a_dialog_utterance(recognizer, fixtures_dir):
    tr = recognizer.transcribe(_phone_span(fixtures_dir, "en10"), "en", Expectation(type="scale", lang="en"))
    u = tr.as_utterance()
    assert (u.text, u.confidence, u.alternatives) == (tr.text, tr.confidence, tr.alternatives)


def test_chinese_output_is_simplified(recognizer, fixtures_dir):
    # Whisper base writes 你打錯了 for this file (manifest); the transcript must not.
    tr = recognizer.transcribe(_phone_span(fixtures_dir, "zh19"), "zh")
    assert "錯" not in tr.text and "打错" in tr.text


def test_biasing_recovers_an_expected_phrase(recognizer, fixtures_dir):
    # Plain Whisper base hears 转人工 over a phone line as 戰員攻擊 (manifest); with the expectation's
    # vocabulary as hotwords it should hear the phrase.
    tr = recognizer.transcribe(_phone_span(fixtures_dir, "zh17"), "zh", Expectation(type="scale", lang="zh"))
    assert "转人工" in tr.text
    assert tr.plain_text is not None


def test_alternatives_are_distinct_hypotheses(recognizer, fixtures_dir):
    tr = recognizer.transcribe(_phone_span(fixtures_dir, "zh07"), "zh", Expectation(type="scale", lang="zh"))
    keys = [bare(t) for t in (tr.text, *tr.alternatives)]
    assert tr.alternatives, "beam search keeps more than one hypothesis"
    assert len(keys) == len(set(keys))
    assert all(keys)
    if tr.plain_text and bare(tr.plain_text) != bare(tr.text):
        assert tr.plain_text in tr.alternatives


def test_no_plain_decoding_when_disabled(whisper_dir, fixtures_dir):
    rec = WhisperRecognizer(whisper_dir, workers=2, decode_plain=False)
    tr = rec.transcribe(_phone_span(fixtures_dir, "en07"), "en", Expectation(type="scale", lang="en"))
    assert tr.plain_text is None and tr.text


def test_unknown_language_is_refused(recognizer):
    with pytest.raises(ValueError, match="lang"):
        recognizer.transcribe(np.zeros(16000, np.float32), "fr")


# -- gates: nothing invented on silence or noise -----------------------------------------------------------

SIGNALS = {
    "digital silence": lambda: np.zeros(3 * 16000, np.float32),
    "white noise -40 dBFS": lambda: white_noise(3.0, -40, seed=1),
    "white noise -30 dBFS": lambda: white_noise(3.0, -30, seed=2),
    "white noise -20 dBFS": lambda: white_noise(3.0, -20, seed=3),
    "mains hum": lambda: tone(50, 3.0, level=0.05) + tone(150, 3.0, level=0.02),
}


@pytest.mark.parametrize("name", list(SIGNALS))
@pytest.mark.parametrize(("lang", "expect"), [("zh", "scale"), ("en", "yes_no")])
@pytest.mark.parametrize("vad_gate", [True, False], ids=["vad+no_speech", "no_speech only"])
def test_no_text_from_silence_or_noise(whisper_dir, name, lang, expect, vad_gate):
    # Biased decoding invented 转人工 on silence in the notes; both gates must hold, and the
    # no_speech_prob gate alone too (VAD off).
    rec = WhisperRecognizer(whisper_dir, workers=2, min_voiced_ms=100 if vad_gate else 0)
    tr = rec.transcribe(SIGNALS[name](), lang, Expectation(type=expect, lang=lang))
    assert tr.text == "" and tr.alternatives == ()
    assert tr.confidence == 0.0
    assert tr.no_speech_prob > 0.5


def test_speech_between_silences_is_still_heard(recognizer, fixtures_dir):
    # The gates must not eat real speech that comes with a lot of silence around it.
    audio = pad_silence(phone_band(load_audio(fixtures_dir / "en11.wav")), 2.0, 2.0)
    tr = recognizer.transcribe(audio, "en", Expectation(type="yes_no", lang="en"))
    assert "real person" in tr.text.lower()


@pytest.mark.parametrize(
    ("text", "words", "echo"),
    [
        ("非常满意满意比较满意", ["非常满意", "满意", "比较满意", "一般"], True),
        ("满意比较满意一般", ["非常满意", "满意", "比较满意", "一般"], True),
        ("非常满意", ["非常满意", "满意", "比较满意"], False),  # one expected word is an answer
        ("比较满意一般", ["非常满意", "满意", "比较满意", "一般"], False),
        ("yes no not really", ["yes", "no", "not really"], True),
        ("", ["yes"], False),
    ],
)
def test_echo_of_the_prompt_is_recognised(text, words, echo):
    assert _is_echo(text, words) is echo
