"""asr.pool: real Whisper decodes run in parallel worker threads while the event loop keeps running."""

from __future__ import annotations

import asyncio
import threading

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
