"""tts/cache.py: content-addressed prompt files, concurrency, recordings, and pre-rendering a flow."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import numpy as np
import pytest
from tts_helpers import CountingSynth, sine, tone_for, wav_bytes

from flows.schema import Flow
from tts.audio import Audio, parse_wav
from tts.cache import PromptCache, normalize_text, render_flow_prompts, spoken_texts
from tts.espeak import EspeakSynthesizer


def test_same_text_same_file_and_synthesised_once(tmp_path: Path, counting: CountingSynth) -> None:
    cache = PromptCache(tmp_path)
    first = cache.path_for("请问您是张先生本人吗？", "zh", counting)
    mtime = first.stat().st_mtime_ns
    again = cache.path_for("请问您是张先生本人吗？", "zh", counting)
    spaced = cache.path_for("  请问您是张先生本人吗？ ", "zh", counting)  # whitespace is not content
    assert first == again == spaced
    assert first.stat().st_mtime_ns == mtime
    assert counting.calls == [("请问您是张先生本人吗？", "zh")]
    assert (cache.stats.synthesized, cache.stats.hits) == (1, 2)
    audio = parse_wav(first.read_bytes())
    assert audio == tone_for("请问您是张先生本人吗？")
    # A fresh cache object over the same folder (another process, a restart) reuses the file.
    other = CountingSynth()
    assert PromptCache(tmp_path).path_for("请问您是张先生本人吗？", "zh", other) == first
    assert other.calls == []


def test_the_key_covers_text_language_voice_and_backend(tmp_path: Path, counting: CountingSynth) -> None:
    cache = PromptCache(tmp_path)
    base = cache.key("您好", "zh", counting)
    assert cache.key("您好！", "zh", counting) != base
    assert cache.key("您好", "en", counting) != base

    class OtherVoice(CountingSynth):
        def voice_id(self, lang: str) -> str:
            return "another-voice"

    class OtherBackend(CountingSynth):
        name = "other"

    assert cache.key("您好", "zh", OtherVoice()) != base
    assert cache.key("您好", "zh", OtherBackend()) != base
    assert PromptCache(tmp_path, sample_rate=8000).key("您好", "zh", counting) != base
    assert normalize_text("a \n\t b ") == "a b"
    assert normalize_text("满意请按1，不满意请按2。") == "满意请按1，不满意请按2。"  # full-width kept


def test_formats_for_asterisk_and_the_dialer(tmp_path: Path, counting: CountingSynth) -> None:
    cache = PromptCache(tmp_path)
    wav = cache.path_for("请稍候", "zh", counting)
    sln16 = cache.path_for("请稍候", "zh", counting, fmt="sln16")
    sln8 = cache.path_for("请稍候", "zh", counting, fmt="sln")
    assert wav.suffix == ".wav" and sln16.suffix == ".sln16" and sln8.suffix == ".sln"
    audio = parse_wav(wav.read_bytes())
    assert sln16.read_bytes() == audio.pcm  # raw copy of the same 16 kHz PCM
    assert abs(len(sln8.read_bytes()) - len(audio.pcm) // 2) <= 2  # half the samples
    assert PromptCache.load(sln8).duration == pytest.approx(audio.duration, abs=0.001)
    assert len(counting.calls) == 1
    sound = PromptCache.asterisk_sound(sln16)
    assert sound == "sound:" + str(sln16.with_suffix("")) and sound == PromptCache.asterisk_sound(sln8)
    assert not list(sln16.parent.glob("*.wav"))  # Asterisk's "wav" means 8 kHz: keep 16 kHz wavs apart
    with pytest.raises(ValueError):
        PromptCache.asterisk_sound(wav)
    with pytest.raises(ValueError):
        cache.path_for("请稍候", "zh", counting, fmt="mp3")
    assert cache.lookup("请稍候", "zh", counting) == wav
    assert cache.lookup("没说过的话", "zh", counting) is None


def test_a_partial_file_left_by_a_crash_is_rendered_again(tmp_path: Path, counting: CountingSynth) -> None:
    cache = PromptCache(tmp_path)
    target = cache.file(cache.key("您好", "zh", counting))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"RIFF")  # what a non-atomic writer could leave behind
    path = cache.path_for("您好", "zh", counting)
    assert parse_wav(path.read_bytes()) == tone_for("您好")
    assert len(counting.calls) == 1


def test_concurrent_threads_render_each_text_once_and_completely(tmp_path: Path) -> None:
    synth = CountingSynth(delay_s=0.05)  # slow enough that threads really collide
    cache = PromptCache(tmp_path)
    texts = [f"第{i}个问题：您满意吗？" for i in range(6)]
    results: list[tuple[str, Path]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(24)

    def work(i: int) -> None:
        try:
            barrier.wait()
            text = texts[i % len(texts)]
            results.append((text, cache.path_for(text, "zh", synth)))
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(t for t, _ in synth.calls) == sorted(texts)  # once per distinct text
    by_text: dict[str, set[Path]] = {}
    for text, path in results:
        by_text.setdefault(text, set()).add(path)
        assert parse_wav(path.read_bytes()) == tone_for(text)  # complete, and the right audio
    assert all(len(paths) == 1 for paths in by_text.values()) and len(by_text) == len(texts)
    assert not list(tmp_path.rglob(".tmp-*"))  # no temporary files left behind


def _render_in_process(root: str, text: str, marker_dir: str) -> str:
    class Marking(CountingSynth):
        def synthesize(self, t: str, lang: str) -> Audio:
            Path(marker_dir, f"{multiprocessing.current_process().pid}").write_text(t)
            return super().synthesize(t, lang)

    return str(PromptCache(root).path_for(text, "zh", Marking(delay_s=0.2)))


def test_concurrent_processes_render_a_text_once(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(3) as pool:
        paths = pool.starmap(_render_in_process, [(str(tmp_path / "cache"), "您好，请问方便说话吗？", str(markers))] * 3)
    assert len(set(paths)) == 1
    assert len(list(markers.iterdir())) == 1  # the flock made the other two wait and reuse the file
    assert parse_wav(Path(paths[0]).read_bytes()) == tone_for("您好，请问方便说话吗？")


def test_recorded_audio_is_preferred_and_converted(tmp_path: Path, counting: CountingSynth) -> None:
    cache = PromptCache(tmp_path / "cache")
    flow_dir = tmp_path / "flow"
    (flow_dir / "audio").mkdir(parents=True)
    rec = flow_dir / "audio" / "greeting_zh.wav"
    rec.write_bytes(wav_bytes(np.stack([sine(440, 2.0, 44100)] * 2, axis=1), 44100, channels=2))

    path = cache.resolve("您好", "zh", counting, audio="audio/greeting_zh.wav", base_dir=flow_dir)
    assert counting.calls == []  # the recording was used, not TTS
    audio = parse_wav(path.read_bytes())
    assert audio.sample_rate == 16000 and abs(audio.duration - 2.0) < 0.01
    assert cache.resolve("您好", "zh", counting, audio=str(rec)) == path  # absolute path, same content
    assert cache.recorded(rec, fmt="sln16").read_bytes() == audio.pcm

    # A re-recording (new content under the same name) is picked up, not served stale from the cache.
    rec.write_bytes(wav_bytes(sine(440, 1.0, 16000), 16000))
    newer = cache.resolve("您好", "zh", counting, audio="audio/greeting_zh.wav", base_dir=flow_dir)
    assert newer != path and abs(parse_wav(newer.read_bytes()).duration - 1.0) < 0.01

    # Named but missing: the call goes on with TTS.
    fallback = cache.resolve("您好", "zh", counting, audio="audio/missing.wav", base_dir=flow_dir)
    assert counting.calls == [("您好", "zh")]
    assert parse_wav(fallback.read_bytes()) == tone_for("您好")


FLOW = {
    "id": "discharge_test",
    "title": {"zh": "出院随访（测试）", "en": "Discharge follow-up (test)"},
    "languages": ["zh", "en"],
    "messages": {"goodbye": {"zh": "感谢您的配合，再见！", "en": "Thank you, goodbye!",
                             "audio": {"zh": "audio/goodbye_zh.wav"}}},
    "steps": [
        {"id": "identify", "identify": {
            "prompt": {"zh": "您好，这里是{hospital.name}。请问是{patient.salutation}吗？",
                       "en": "Hello, this is {hospital.name}. Am I speaking with {patient.salutation}?"},
            "family_prompt": {"zh": "请问您是患者的家属吗？", "en": "Are you a family member?"}}},
        {"id": "intro", "say": {"zh": "我们想了解一下您出院以后的恢复情况。", "en": "We'd like to ask how you are.",
                                "audio": {"zh": "audio/intro_zh.wav"}}},
        {"id": "satisfaction", "ask": {
            "type": "yes_no",
            "prompt": {"zh": "您对这次住院的护理服务满意吗？", "en": "Were you satisfied with the nursing care?"},
            "dtmf_prompt": {"zh": "满意请按1，不满意请按2。", "en": "Press 1 for yes, 2 for no."},
            "no_match": {"prompts": [{"zh": "不好意思，您满意吗？", "en": "Sorry, were you satisfied?"}]},
            "choices": []}},
        {"id": "done", "end": {"prompt": {"zh": "您的下次复查是{visit.next_visit_date}，再见！",
                                          "en": "Your next check-up is on {visit.next_visit_date}. Goodbye!"}}},
    ],
}


def _flow() -> Flow:
    return Flow.model_validate(FLOW)


def test_render_flow_prompts_fills_every_static_prompt(tmp_path: Path, counting: CountingSynth) -> None:
    flow = _flow()
    flow_dir = tmp_path / "flow"
    (flow_dir / "audio").mkdir(parents=True)
    (flow_dir / "audio" / "intro_zh.wav").write_bytes(wav_bytes(sine(300, 1.5, 22050), 22050))
    cache = PromptCache(tmp_path / "cache")
    static = {"hospital": {"name": "市第一人民医院"}}

    report = render_flow_prompts(flow, "zh", counting, cache, flow_dir=flow_dir, static_context=static)

    said = {t for t, _ in counting.calls}
    # Static flow texts, and a template whose only field is hospital-wide, are rendered ahead.
    for text in ("请问您是患者的家属吗？", "您对这次住院的护理服务满意吗？", "满意请按1，不满意请按2。",
                 "不好意思，您满意吗？", "感谢您的配合，再见！"):
        assert text in said
    assert "我们想了解一下您出院以后的恢复情况。" not in said  # recorded instead
    assert report.recorded == 1 and "audio:audio/intro_zh.wav" in report.files
    assert str(flow_dir / "audio" / "goodbye_zh.wav") in report.missing_audio  # named, absent: TTS used
    # Patient-specific prompts are left for the call.
    assert "identify" in report.dynamic and "done" in report.dynamic
    assert not any("{" in t for t in said)
    assert "您好，这里是市第一人民医院。请问是您吗？" not in said
    # Built-in system messages without patient fields are there too (the dialog's own texts).
    from dialog import messages

    assert messages.template("transfer", "zh") in said
    assert "msg.callback_at" in report.dynamic  # {callback_time} is per call
    for path in report.files.values():
        assert parse_wav(path.read_bytes()).duration > 0
    assert report.synthesized == len(counting.calls) and report.cached == 0

    # The hot path then finds them all: a second pass synthesises nothing.
    again = render_flow_prompts(flow, "zh", counting, cache, flow_dir=flow_dir, static_context=static)
    assert again.synthesized == 0 and again.cached == report.synthesized
    assert len(counting.calls) == report.synthesized
    assert cache.lookup("您对这次住院的护理服务满意吗？", "zh", counting) is not None


def test_render_flow_prompts_fills_hospital_fields_the_way_the_dialog_does(tmp_path: Path,
                                                                         counting: CountingSynth) -> None:
    from dialog.render import render

    flow = Flow.model_validate({**FLOW, "steps": [
        {"id": "hello", "say": {"zh": "这里是{hospital.name}，电话{hospital.phone}。", "en": "This is {hospital.name}."}},
        {"id": "bye", "end": {}},
    ]})
    ctx = {"hospital": {"name": "市第一人民医院", "phone": "0571-88888888"}}
    cache = PromptCache(tmp_path)
    render_flow_prompts(flow, "zh", counting, cache, static_context=ctx, include_messages=False)
    # What the dialog manager will emit for a patient (hospital fields are the same for everyone):
    at_call_time = render(flow.step("hello").say.get("zh"), {**ctx, "patient": {"name": "张伟"}}, "zh")
    assert cache.lookup(at_call_time, "zh", counting) is not None
    assert [t for t, _ in counting.calls] == [at_call_time]


def test_spoken_texts_leave_out_staff_only_texts() -> None:
    keys = [k for k, _ in spoken_texts(_flow())]
    assert keys == ["identify", "identify.family", "intro", "satisfaction", "satisfaction.dtmf",
                    "satisfaction.no_match.1", "done"]


def test_real_engine_through_the_cache(tmp_path: Path) -> None:
    espeak = EspeakSynthesizer()
    cache = PromptCache(tmp_path)
    report = render_flow_prompts(_flow(), "en", espeak, cache, include_messages=False)
    # family, intro (its recording is zh only), satisfaction, dtmf, no_match; identify and done have fields.
    assert report.synthesized == 5 and report.dynamic == ["identify", "done"]
    for text, path in report.files.items():
        audio = parse_wav(path.read_bytes())
        assert audio.sample_rate == 16000 and audio.duration > 0.5, text
