"""Decoding off the event loop: a bounded pool shared by every call in the process.

Two kinds, one interface (``transcribe``, ``submit``, ``idle``, ``shutdown``):

- ``ProcessDecodePool`` (the default for calls, FOLLOWUP_ASR_POOL=process): worker **processes**, each
  loading the recogniser's model once (``Recognizer.worker_spec()``), audio passed as bytes. Measured at
  50 concurrent calls: with threads the event loop (VAD, websocket frames, pacing) held the GIL ≈80 % of
  the time and starved the decode threads, while the decodes' GIL hand-offs stalled the loop (bot-audio
  gaps). Processes share nothing with the loop but the CPU.
- ``DecodePool`` (FOLLOWUP_ASR_POOL=thread): worker threads in this process. CTranslate2 releases the GIL
  while it encodes and decodes, so threads do run in parallel; any ``Recognizer`` works (no spec needed).

Both are bounded twice: ``max_workers`` decoders (FOLLOWUP_ASR_WORKERS, default 2) and, above that, at
most ``max_queue`` waiting utterances: a call that would wait longer gets ``PoolBusy`` at once instead of
piling up latency. ``submit`` returns a future that can be cancelled (speculative decoding): a decode not
yet started is dropped; one already running finishes and its result is ignored.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.recognizer import Recognizer, Transcript

if TYPE_CHECKING:
    from dialog.nlu.expectation import Expectation
    from followup.config import Settings

log = logging.getLogger(__name__)

POOL_KINDS = ("process", "thread")


class PoolBusy(RuntimeError):
    """More utterances are waiting for decoding than the pool accepts."""


class DecodePool:
    """A bounded thread executor for recogniser calls. One per process (``get_pool``) or one per test."""

    kind = "thread"

    def __init__(self, max_workers: int = 2, max_queue: int = 16) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if max_queue < 0:
            raise ValueError("max_queue must be at least 0")
        self.max_workers = max_workers
        self.max_queue = max_queue
        self._in_flight = 0  # submitted and not finished (running or queued)
        self._count_lock = threading.Lock()
        self._executor: Executor = self._make_executor()

    def _make_executor(self) -> Executor:
        return ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="asr-decode")

    @property
    def in_flight(self) -> int:
        """Utterances being decoded or waiting for a decoder."""
        return self._in_flight

    @property
    def idle(self) -> int:
        """Decoders with nothing to do right now (speculative decoding only starts when one is idle)."""
        return max(0, self.max_workers - self._in_flight)

    def submit(
        self, recognizer: Recognizer, audio: np.ndarray, lang: str, expectation: Expectation | None = None
    ) -> asyncio.Future[Transcript]:
        """Start decoding; the future resolves to the transcript. Raises PoolBusy when the queue is full.
        Must be called from the event loop's thread."""
        with self._count_lock:
            if self._in_flight >= self.max_workers + self.max_queue:
                raise PoolBusy(f"{self.max_workers} decoders busy and the queue is full")
            self._in_flight += 1
        try:
            cf = self._submit(recognizer, audio, lang, expectation)
        except BaseException:
            self._done(None)
            raise
        cf.add_done_callback(self._done)
        return asyncio.wrap_future(cf)

    def _submit(
        self, recognizer: Recognizer, audio: np.ndarray, lang: str, expectation: Expectation | None
    ) -> Future[Transcript]:
        return self._executor.submit(recognizer.transcribe, audio, lang, expectation)

    def _done(self, _cf: Future[Transcript] | None) -> None:
        with self._count_lock:
            self._in_flight -= 1

    async def transcribe(
        self,
        recognizer: Recognizer,
        audio: np.ndarray,
        lang: str,
        expectation: Expectation | None = None,
    ) -> Transcript:
        """Run ``recognizer.transcribe`` in the pool; raises PoolBusy when the queue is full."""
        return await self.submit(recognizer, audio, lang, expectation)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers (after the running decodes when ``wait``)."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


# ------------------------------------------------------------------------------------ process pool

# In a worker process: the recognisers built from specs, one per spec (so one model per process).
_WORKER_RECOGNIZERS: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}


def _spec_key(spec: tuple[str, dict[str, Any]]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    factory, kwargs = spec
    return factory, tuple(sorted(kwargs.items()))


def _worker_recognizer(spec: tuple[str, dict[str, Any]]) -> Any:
    key = _spec_key(spec)
    rec = _WORKER_RECOGNIZERS.get(key)
    if rec is None:
        module, _, name = spec[0].partition(":")
        rec = getattr(importlib.import_module(module), name)(**spec[1])
        warm = getattr(rec, "warm_up", None)
        if warm is not None:
            warm()
        _WORKER_RECOGNIZERS[key] = rec
    return rec


_WORKER_BARRIER: Any = None


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent died (SIGKILL, crash: no orderly shutdown) would wait on its queue forever,
    holding a model in memory: leave as soon as it has been re-parented."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _worker_init(spec: tuple[str, dict[str, Any]] | None, nice: int, barrier: Any) -> None:
    global _WORKER_BARRIER
    _WORKER_BARRIER = barrier
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    if nice:
        os.nice(nice)
    if spec is not None:
        _worker_recognizer(spec)


def _worker_ready(timeout: float) -> int:
    # Every worker must be inside this call at once for the barrier to open: so each of the
    # ``max_workers`` pings runs in a different worker, after that worker loaded its model.
    _WORKER_BARRIER.wait(timeout)
    return os.getpid()


def _worker_transcribe(
    spec: tuple[str, dict[str, Any]], audio: bytes, lang: str, expectation: Expectation | None
) -> Transcript:
    return _worker_recognizer(spec).transcribe(np.frombuffer(audio, dtype=np.float32), lang, expectation)


class ProcessDecodePool(DecodePool):
    """Decoding in worker processes (see the module docstring).

    ``spec``: the recogniser to load in every worker as it starts (``Recognizer.worker_spec()``); other
    recognisers passed to ``transcribe`` are loaded on first use. ``nice``: added to the workers' nice
    value (0: same priority as the event loop). ``start()`` spawns the workers and waits until their
    models are loaded, so the first call does not pay for it.
    """

    kind = "process"

    def __init__(
        self,
        max_workers: int = 2,
        max_queue: int = 16,
        *,
        spec: tuple[str, dict[str, Any]] | None = None,
        nice: int = 0,
    ) -> None:
        self.spec = spec
        self.nice = nice
        self._ctx = multiprocessing.get_context("spawn")
        self._barrier = self._ctx.Barrier(max(1, max_workers))
        super().__init__(max_workers, max_queue)

    def _make_executor(self) -> Executor:
        # spawn: the parent runs an event loop and threads, which fork would copy in an arbitrary state.
        return ProcessPoolExecutor(max_workers=self.max_workers, mp_context=self._ctx,
                                   initializer=_worker_init, initargs=(self.spec, self.nice, self._barrier))

    def start(self, timeout: float = 120.0) -> list[int]:
        """Spawn every worker and wait until each has loaded its model; returns the workers' pids."""
        futures = [self._executor.submit(_worker_ready, timeout) for _ in range(self.max_workers)]
        return sorted({f.result(timeout=timeout + 5) for f in futures})

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes (for CPU/RSS accounting)."""
        procs = getattr(self._executor, "_processes", None) or {}
        return sorted(procs)

    def _submit(
        self, recognizer: Recognizer, audio: np.ndarray, lang: str, expectation: Expectation | None
    ) -> Future[Transcript]:
        spec_of = getattr(recognizer, "worker_spec", None)
        if spec_of is None:
            raise TypeError(f"{type(recognizer).__name__} has no worker_spec(): use the thread DecodePool for it")
        data = np.ascontiguousarray(audio, dtype=np.float32).tobytes()
        try:
            return self._executor.submit(_worker_transcribe, spec_of(), data, lang, expectation)
        except BrokenExecutor:
            # A worker died (killed, out of memory): the executor refuses everything from then on.
            # Start a fresh one (its workers load the model as they start) rather than fail every call.
            log.error("decode worker pool broken: starting new worker processes")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._make_executor()
            return self._executor.submit(_worker_transcribe, spec_of(), data, lang, expectation)


# ------------------------------------------------------------------------------- process-wide pool

_POOL: DecodePool | None = None
_POOL_LOCK = threading.Lock()


def make_decode_pool(
    recognizer: Recognizer | None = None,
    settings: Settings | None = None,
    *,
    kind: str | None = None,
    max_workers: int | None = None,
    max_queue: int = 16,
    start: bool = True,
) -> DecodePool:
    """The pool FOLLOWUP_ASR_POOL names (``process`` unless the recogniser cannot run in a worker
    process, i.e. has no ``worker_spec``), with FOLLOWUP_ASR_WORKERS decoders. A process pool is started
    (models loaded in its workers) before it is returned when ``start``."""
    if settings is None:
        from followup.config import get_settings

        settings = get_settings()
    kind = kind or settings.asr_pool
    if kind not in POOL_KINDS:
        raise ValueError(f"FOLLOWUP_ASR_POOL must be one of {', '.join(POOL_KINDS)}, got {kind!r}")
    workers = max(1, max_workers if max_workers is not None else settings.asr_workers)
    spec_of = getattr(recognizer, "worker_spec", None)
    if kind == "process" and (recognizer is None or spec_of is not None):
        pool = ProcessDecodePool(workers, max_queue, spec=spec_of() if spec_of is not None else None,
                                 nice=settings.asr_nice)
        if start:
            pool.start()
        return pool
    return DecodePool(workers, max_queue)


def get_pool(max_workers: int | None = None) -> DecodePool:
    """The process-wide thread pool; ``max_workers`` (FOLLOWUP_ASR_WORKERS) applies when it is first
    created. (Calls get a pool from ``make_decode_pool``; this one serves anything without a pool.)"""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            if max_workers is None:
                from followup.config import get_settings

                max_workers = get_settings().asr_workers
            _POOL = DecodePool(max_workers=max_workers)
        return _POOL


async def transcribe_async(
    recognizer: Recognizer,
    audio: np.ndarray,
    lang: str,
    expectation: Expectation | None = None,
    pool: DecodePool | None = None,
) -> Transcript:
    """Recognise one utterance without blocking the event loop (the process-wide pool by default)."""
    return await (pool or get_pool()).transcribe(recognizer, audio, lang, expectation)
