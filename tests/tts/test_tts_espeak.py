"""tts/espeak.py: the espeak-ng command-line backend (needs the Debian package espeak-ng)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tts_helpers import sine, wav_bytes

from tts.base import SynthesisError, Synthesizer, UnsupportedLanguage
from tts.espeak import EspeakSynthesizer, check_output, min_plausible_duration


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer()


@pytest.mark.parametrize(
    ("lang", "text", "low", "high"),
    [
        ("zh", "请问您是张先生本人吗？", 1.5, 8.0),
        ("zh", "您对这次住院的护理服务满意吗？满意请按1，不满意请按2。", 3.0, 16.0),
        ("en", "Hello, this is the follow-up team of City First Hospital.", 2.0, 8.0),
        ("en", "Yes.", 0.2, 2.0),
    ],
)
def test_espeak_speaks_16k_audio_of_plausible_length(espeak: EspeakSynthesizer, lang: str, text: str,
                                                     low: float, high: float) -> None:
    audio = espeak.synthesize(text, lang)
    assert audio.sample_rate == 16000
    assert low < audio.duration < high
    assert audio.peak() > 3000  # speech, not silence


def test_espeak_is_a_synthesizer_with_distinct_voices(espeak: EspeakSynthesizer) -> None:
    assert isinstance(espeak, Synthesizer)
    assert espeak.voice_id("zh") != espeak.voice_id("en")
    assert EspeakSynthesizer(speed=140).voice_id("zh") != espeak.voice_id("zh")  # speed changes the audio
    with pytest.raises(UnsupportedLanguage):
        espeak.voice_id("fr")
    with pytest.raises(UnsupportedLanguage):
        espeak.synthesize("bonjour", "fr")
    with pytest.raises(SynthesisError, match="empty"):
        espeak.synthesize("   ", "en")


def test_longer_text_gives_longer_audio_and_dash_is_not_an_option(espeak: EspeakSynthesizer) -> None:
    short = espeak.synthesize("Thank you.", "en")
    long = espeak.synthesize("Thank you. We will call you again next week at the same time.", "en")
    assert long.duration > 2 * short.duration
    assert espeak.synthesize("-v", "en").duration > 0.2  # read from stdin, never parsed as a flag


def _fake_espeak(tmp_path: Path, body: str) -> str:
    script = tmp_path / "espeak-ng"
    script.write_text("#!/bin/bash\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_failing_run_is_retried_once_then_reported_clearly(tmp_path: Path) -> None:
    count = tmp_path / "count"
    exe = _fake_espeak(tmp_path, f'echo x >> {count}\necho "voice exploded" >&2\nexit 3\n')
    with pytest.raises(SynthesisError, match="failed twice.*exited with 3: voice exploded"):
        EspeakSynthesizer(executable=exe).synthesize("你好", "zh")
    assert count.read_text().count("x") == 2


def test_a_transient_bad_file_is_retried_and_recovered(tmp_path: Path) -> None:
    # First run writes a header-only file, the second a real one: the caller sees only the good audio.
    good = tmp_path / "good.wav"
    good.write_bytes(wav_bytes(sine(300, 2.0, 22050), 22050))
    count = tmp_path / "count"
    body = (
        'out=""; while [ $# -gt 0 ]; do [ "$1" = -w ] && out="$2"; shift; done\n'
        f'echo x >> {count}\n'
        f'if [ "$(wc -l < {count})" -eq 1 ]; then head -c 44 {good} > "$out"; else cp {good} "$out"; fi\n'
    )
    exe = _fake_espeak(tmp_path, body)
    audio = EspeakSynthesizer(executable=exe).synthesize("你好", "zh")
    assert audio.sample_rate == 16000 and abs(audio.duration - 2.0) < 0.01
    assert count.read_text().count("x") == 2


def test_missing_executable_is_a_clear_error() -> None:
    with pytest.raises(SynthesisError, match="apt-get install|espeak-ng"):
        EspeakSynthesizer(executable="/nonexistent/espeak-ng")


def test_check_output_catches_truncated_and_silent_output() -> None:
    text = "您对这次住院的护理服务满意吗？"
    assert min_plausible_duration(text) > 0.5
    with pytest.raises(SynthesisError, match="truncated"):
        check_output(wav_bytes(sine(300, 0.3, 22050), 22050), text, source="t")
    with pytest.raises(SynthesisError, match="silent"):
        check_output(wav_bytes(sine(300, 3.0, 22050, amp=0.0), 22050), text, source="t")
    with pytest.raises(SynthesisError, match="sample rate"):
        check_output(wav_bytes(sine(300, 3.0, 16000), 16000), text, source="t", expected_rate=22050)
    assert check_output(wav_bytes(sine(300, 3.0, 22050), 22050), text, source="t").duration == pytest.approx(3.0)
