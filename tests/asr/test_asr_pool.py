"""asr.pool: real Whisper decodes run in parallel worker threads while the event loop keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from asr.audio import load_audio, phone_band
from asr.pool import DecodePool, PoolBusy, transcribe_async
from asr.recognizer import Transcript
from dialog.nlu.expectation import Expectation


class Watched:
    """Wraps a recogniser and records how many calls run at once."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.active = 0
        self.max_active = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def transcribe(self, audio, lang, expectation=None):  # type: ignore[no-untyped-def]
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.threads.add(threading.get_ident())
        try:
            return self.inner.transcribe(audio, lang, expectation)
        finally:
            with self._lock:
                self.active -= 1


def test_decodes_run_concurrently_and_the_loop_keeps_ticking(recognizer, fixtures_dir):
    ids = ["zh07", "en10", "zh17", "en07"]
    audios = {fid: phone_band(load_audio(fixtures_dir / f"{fid}.wav")) for fid in ids}
    exps = {fid: Expectation(type="scale", lang=fid[:2]) for fid in ids}
    sequential = {fid: recognizer.transcribe(audios[fid], fid[:2], exps[fid]).text for fid in ids}
    watched = Watched(recognizer)
    pool = DecodePool(max_workers=2)
    ticks_during_decode = 0
    loop_thread = 0

    async def main() -> list[Transcript]:
        nonlocal ticks_during_decode, loop_thread
        loop_thread = threading.get_ident()
        jobs = [
            asyncio.ensure_future(transcribe_async(watched, audios[f], f[:2], exps[f], pool=pool)) for f in ids
        ]
        # The ticker can only count while a decode is in progress if decoding does not hold the loop.
        while not all(j.done() for j in jobs):
            await asyncio.sleep(0.005)
            if watched.active:
                ticks_during_decode += 1
        return [j.result() for j in jobs]

    try:
        results = asyncio.run(main())
    finally:
        pool.shutdown()
    assert [r.text for r in results] == [sequential[f] for f in ids]
    assert watched.max_active == 2, "two workers decode at the same time"
    assert loop_thread not in watched.threads
    assert ticks_during_decode >= 10


class Blocking:
    """A recogniser that waits until released (to fill the pool deterministically)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def transcribe(self, audio, lang, expectation=None):  # type: ignore[no-untyped-def]
        self.started.release()
        self.release.wait(10)
        return Transcript(text=f"{lang}:{len(audio)}", confidence=1.0)


def test_a_full_queue_is_refused_not_piled_up():
    rec = Blocking()
    pool = DecodePool(max_workers=1, max_queue=1)

    async def main() -> list[str]:
        first = asyncio.ensure_future(pool.transcribe(rec, np.zeros(10, np.float32), "zh"))
        second = asyncio.ensure_future(pool.transcribe(rec, np.zeros(20, np.float32), "en"))
        await asyncio.sleep(0)  # let both take their slots
        with pytest.raises(PoolBusy):
            await pool.transcribe(rec, np.zeros(30, np.float32), "zh")
        rec.release.set()
        return [(await first).text, (await second).text]

    try:
        assert asyncio.run(main()) == ["zh:10", "en:20"]
    finally:
        rec.release.set()
        pool.shutdown()


def test_pool_needs_a_worker():
    with pytest.raises(ValueError):
        DecodePool(max_workers=0)


# ------------------------------------------------------------------------------------ process pool


@pytest.fixture(scope="module")
def process_pool(recognizer):  # type: ignore[no-untyped-def]
    from asr.pool import ProcessDecodePool

    pool = ProcessDecodePool(2, 4, spec=recognizer.worker_spec())
    pids = pool.start()
    assert len(pids) == 2 and os.getpid() not in pids, "two worker processes, models loaded"
    yield pool
    pool.shutdown()


def test_worker_processes_give_the_same_transcripts_as_this_process(recognizer, process_pool, fixtures_dir):
    ids = ["zh07", "en10", "zh17"]
    audios = {fid: phone_band(load_audio(fixtures_dir / f"{fid}.wav")) for fid in ids}
    exps = {fid: Expectation(type="scale", lang=fid[:2]) for fid in ids}
    here = {fid: recognizer.transcribe(audios[fid], fid[:2], exps[fid]) for fid in ids}
    ticks = 0

    async def main() -> list[Transcript]:
        nonlocal ticks
        jobs = [asyncio.ensure_future(process_pool.transcribe(recognizer, audios[f], f[:2], exps[f])) for f in ids]
        await asyncio.sleep(0)
        assert process_pool.in_flight == 3 and process_pool.idle == 0
        while not all(j.done() for j in jobs):
            await asyncio.sleep(0.005)
            ticks += 1
        return [j.result() for j in jobs]

    results = asyncio.run(main())
    for fid, got in zip(ids, results, strict=True):
        want = here[fid]
        assert (got.text, got.alternatives, got.confidence, got.no_speech_prob) == (
            want.text, want.alternatives, want.confidence, want.no_speech_prob), fid
    assert process_pool.in_flight == 0 and process_pool.idle == 2
    assert ticks >= 10, "the loop ran while the workers decoded"


def test_a_queued_decode_can_be_cancelled_and_frees_its_slot(recognizer, process_pool, fixtures_dir):
    audio = phone_band(load_audio(fixtures_dir / "zh07.wav"))

    async def main() -> tuple[int, str]:
        futures = [process_pool.submit(recognizer, audio, "zh") for _ in range(4)]
        assert process_pool.in_flight == 4
        # 2 workers + max_queue 4 = 6 slots: two more fit, the third is refused.
        futures += [process_pool.submit(recognizer, audio, "zh") for _ in range(2)]
        with pytest.raises(PoolBusy):
            process_pool.submit(recognizer, audio, "zh")
        for f in futures[3:]:
            f.cancel()  # still queued: dropped without decoding
        await asyncio.sleep(0.05)
        texts = [(await f).text for f in futures[:2]]
        for f in futures[2:]:
            with contextlib.suppress(asyncio.CancelledError):
                await f
        # A cancelled decode that had already reached a worker finishes there; its slot is freed then.
        for _ in range(600):
            if process_pool.in_flight == 0:
                break
            await asyncio.sleep(0.1)
        return process_pool.in_flight, texts[0]

    in_flight, text = asyncio.run(main())
    assert text == recognizer.transcribe(audio, "zh").text
    assert in_flight == 0


def test_the_process_pool_needs_a_recogniser_with_a_spec(process_pool):
    async def main() -> None:
        await process_pool.transcribe(Blocking(), np.zeros(10, np.float32), "zh")

    with pytest.raises(TypeError, match="worker_spec"):
        asyncio.run(main())
    assert process_pool.in_flight == 0


def test_make_decode_pool_follows_the_settings(recognizer):
    from asr.pool import ProcessDecodePool, make_decode_pool
    from followup.config import Settings

    thread = make_decode_pool(recognizer, Settings(asr_pool="thread", asr_workers=3))
    assert type(thread) is DecodePool and thread.max_workers == 3
    thread.shutdown()
    # A recogniser without worker_spec (test doubles, custom backends) gets threads even when processes
    # are configured; processes are not started here (start=False) to keep the test light.
    assert type(make_decode_pool(Blocking(), Settings(asr_pool="process"), start=False)) is DecodePool
    proc = make_decode_pool(recognizer, Settings(asr_pool="process", asr_workers=1), start=False)
    assert isinstance(proc, ProcessDecodePool) and proc.spec == recognizer.worker_spec()
    proc.shutdown()
    with pytest.raises(ValueError, match="FOLLOWUP_ASR_POOL"):
        make_decode_pool(recognizer, Settings(asr_pool="gpu"))


def test_a_killed_worker_is_replaced(recognizer, fixtures_dir):
    import signal
    from concurrent.futures import BrokenExecutor

    from asr.pool import ProcessDecodePool

    audio = phone_band(load_audio(fixtures_dir / "zh07.wav"))
    pool = ProcessDecodePool(1, 4, spec=recognizer.worker_spec())
    try:
        (pid,) = pool.start()
        os.kill(pid, signal.SIGKILL)

        async def main() -> str:
            # The executor notices the death asynchronously: a decode submitted meanwhile may fail with
            # BrokenExecutor (the session counts that reply as a no-match); the next one gets new workers.
            for _ in range(50):
                try:
                    return (await pool.transcribe(recognizer, audio, "zh")).text
                except BrokenExecutor:
                    await asyncio.sleep(0.1)
            raise AssertionError("the pool never recovered")

        assert asyncio.run(main()) == recognizer.transcribe(audio, "zh").text
        assert pid not in pool.worker_pids()
    finally:
        pool.shutdown()


def test_workers_leave_when_their_parent_is_killed(whisper_dir, tmp_path):
    """An engine killed with SIGKILL must not leave decode workers (each holding a model) behind."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from asr.pool import ProcessDecodePool\n"
        "from asr.whisper import WhisperRecognizer\n"
        "if __name__ == '__main__':\n"
        f"    rec = WhisperRecognizer({str(whisper_dir)!r})\n"
        "    pool = ProcessDecodePool(2, spec=rec.worker_spec())\n"
        "    print(' '.join(map(str, pool.start())), flush=True)\n"
        "    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        alive = pids
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [p for p in pids if Path(f"/proc/{p}").exists()
                     and "Z" not in Path(f"/proc/{p}/stat").read_text().split(") ")[1][:1]]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
