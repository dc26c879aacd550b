"""asr.hear: the live-call speech path on fixture recordings over a simulated phone line, end to end
through the NLU; the alternatives fallback; batches; the ``followup hear`` command."""

from __future__ import annotations

import argparse
import io
import json
from datetime import datetime

import numpy as np
import pytest

from asr.audio import load_audio, pad_silence, write_wav
from asr.hear import hear, hear_batch, understand_transcript
from asr.recognizer import Transcript
from dialog.nlu.expectation import Expectation

NOW = datetime(2026, 11, 25, 10, 0, 0)  # a Wednesday

# Robust fixtures (meaning kept in every bench run); the full set is bench/asr_fixtures.py.
CASES = [
    ("zh07", "zh", "scale", "answer", 5),  # 非常满意 (plain Whisper: 非常埋意)
    ("zh17", "zh", "scale", "request_human", None),  # 转人工 (plain Whisper: 戰員攻擊)
    ("zh13", "zh", "blood_pressure", "answer", {"systolic": 135, "diastolic": 85}),
    ("zh01", "zh", "yes_no", "answer", True),
    ("en10", "en", "scale", "complaint", None),  # plain Whisper: "make it complete"
    ("en07", "en", "scale", "answer", 5),
    ("en13", "en", "blood_pressure", "answer", {"systolic": 135, "diastolic": 85}),
]


def _value_ok(want, got) -> bool:  # type: ignore[no-untyped-def]
    if want is None:
        return True
    if isinstance(want, dict):
        return isinstance(got, dict) and all(got.get(k) == v for k, v in want.items())
    return got == want and type(got) is type(want)


class NeverCalled:
    def transcribe(self, audio, lang, expectation=None):  # type: ignore[no-untyped-def]
        raise AssertionError("silence must not reach the recogniser")


class Fixed:
    """A recogniser that always hears the same thing (to test what hear does with it)."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def transcribe(self, audio, lang, expectation=None):  # type: ignore[no-untyped-def]
        return self.transcript


@pytest.mark.parametrize(("fid", "lang", "expect", "intent", "value"), CASES, ids=[c[0] for c in CASES])
def test_fixture_over_the_phone(recognizer, fixtures_dir, fid, lang, expect, intent, value):
    result = hear(fixtures_dir / f"{fid}.wav", lang, expect, phone=True, now=NOW, recognizer=recognizer)
    assert set(result) == {"text", "intent", "value", "confidence"}
    assert result["intent"] == intent, result
    assert _value_ok(value, result["value"]), result
    assert 0.0 < result["confidence"] <= 1.0
    assert result["text"]


def test_silence_is_no_match_without_decoding(tmp_path):
    path = tmp_path / "silence.wav"
    write_wav(path, np.zeros(3 * 16000, np.float32))
    assert hear(path, "zh", "yes_no", phone=True, recognizer=NeverCalled()) == {
        "text": "",
        "intent": "no_match",
        "value": None,
        "confidence": 0.0,
    }


def test_recogniser_hearing_nothing_is_no_match(fixtures_dir):
    empty = Transcript(text="", confidence=0.0, no_speech_prob=0.9)
    result = hear(fixtures_dir / "zh01.wav", "zh", "yes_no", recognizer=Fixed(empty))
    assert result["intent"] == "no_match" and result["text"] == ""


def test_an_alternative_answers_when_the_best_means_nothing():
    exp = Expectation(type="scale", lang="zh")
    direct = understand_transcript(Transcript("非常满意", 0.8), exp, NOW)
    assert direct["intent"] == "answer" and direct["value"] == 5
    fallback = understand_transcript(Transcript("今天下雨", 0.8, alternatives=("哦哦", "非常满意")), exp, NOW)
    assert fallback["intent"] == "answer" and fallback["value"] == 5
    assert fallback["text"] == "非常满意"
    assert fallback["confidence"] < direct["confidence"]
    nothing = understand_transcript(Transcript("今天下雨", 0.8, alternatives=("哦哦",)), exp, NOW)
    assert nothing["intent"] == "no_match" and nothing["text"] == "今天下雨"


def test_the_best_hypothesis_wins_when_it_means_something():
    exp = Expectation(type="scale", lang="zh")
    r = understand_transcript(Transcript("非常满意", 0.8, alternatives=("一般",)), exp, NOW)
    assert r["value"] == 5 and r["text"] == "非常满意"


def test_agreeing_hypotheses_raise_confidence():
    exp = Expectation(type="scale", lang="zh")
    alone = understand_transcript(Transcript("非常满意", 0.6), exp, NOW)
    agreed = understand_transcript(Transcript("非常满意", 0.6, alternatives=("非常满意了",)), exp, NOW)
    assert agreed["value"] == alone["value"] == 5
    assert agreed["confidence"] > alone["confidence"]


def test_array_input_and_padding(recognizer, fixtures_dir):
    audio = pad_silence(load_audio(fixtures_dir / "en07.wav"), 1.5, 1.5)
    result = hear(audio, "en", "scale", phone=True, now=NOW, recognizer=recognizer)
    assert result["intent"] == "answer" and result["value"] == 5


def test_batch_keeps_order_and_reports_bad_lines(recognizer, fixtures_dir, tmp_path):
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(16000, np.float32))
    lines = [
        json.dumps({"lang": "zh", "expect": "scale", "audio": str(fixtures_dir / "zh07.wav")}),
        "",
        json.dumps({"lang": "zh", "expect": "yes_no"}),  # no audio
        json.dumps({"lang": "en", "expect": "yes_no", "audio": "silent.wav", "now": "2026-11-25T10:00:00"}),
        "not json",
        json.dumps({"lang": "en", "expect": "yes_no", "audio": "nowhere.wav"}),
    ]
    out = list(hear_batch(lines, phone=True, base_dir=tmp_path, recognizer=recognizer))
    assert len(out) == 5
    assert out[0]["intent"] == "answer" and out[0]["value"] == 5
    assert "error" in out[1] and out[1]["error"].startswith("line 3:")
    assert out[2] == {"text": "", "intent": "no_match", "value": None, "confidence": 0.0}
    assert "error" in out[3] and out[3]["error"].startswith("line 5:")
    assert "error" in out[4] and "nowhere.wav" in out[4]["error"]


def test_cli_prints_json(fixtures_dir, whisper_dir, tmp_path):
    from asr.cli import cmd_hear

    out = io.StringIO()
    args = argparse.Namespace(
        lang="zh", expect="scale", phone=True, now="2026-11-25T10:00:00", batch=None,
        file=str(fixtures_dir / "zh17.wav"),
    )
    assert cmd_hear(args, out=out) == 0
    result = json.loads(out.getvalue())
    assert result["intent"] == "request_human"

    batch = tmp_path / "b.jsonl"
    batch.write_text(
        json.dumps({"lang": "en", "expect": "scale", "audio": str(fixtures_dir / "en07.wav")}) + "\n"
        + json.dumps({"lang": "en", "expect": "scale"}) + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    args = argparse.Namespace(lang=None, expect=None, phone=True, now=None, batch=str(batch), file=None)
    assert cmd_hear(args, out=out) == 1  # one bad line
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["value"] == 5 and "error" in rows[1]

    usage = argparse.Namespace(lang="zh", expect=None, phone=False, now=None, batch=None, file=None)
    assert cmd_hear(usage, out=io.StringIO()) == 2
