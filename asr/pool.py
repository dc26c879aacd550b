"""Decoding off the event loop: a small bounded thread pool shared by every call in the process.

CTranslate2 releases the GIL while it encodes and decodes, so threads give real parallelism (up to the
model's ``workers``) and the loop stays responsive. The pool is bounded twice: ``max_workers`` threads
(setting FOLLOWUP_ASR_WORKERS, default 2) and, above that, at most ``max_queue`` waiting utterances: a
call that would wait longer gets ``PoolBusy`` at once instead of piling up latency.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from asr.recognizer import Recognizer, Transcript

if TYPE_CHECKING:
    from dialog.nlu.expectation import Expectation


class PoolBusy(RuntimeError):
    """More utterances are waiting for decoding than the pool accepts."""


class DecodePool:
    """A bounded executor for recogniser calls. One per process (``get_pool``) or one per test."""

    def __init__(self, max_workers: int = 2, max_queue: int = 16) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="asr-decode")
        self._slots = threading.BoundedSemaphore(max_workers + max_queue)

    async def transcribe(
        self,
        recognizer: Recognizer,
        audio: np.ndarray,
        lang: str,
        expectation: Expectation | None = None,
    ) -> Transcript:
        """Run ``recognizer.transcribe`` in the pool; raises PoolBusy when the queue is full."""
        if not self._slots.acquire(blocking=False):
            raise PoolBusy(f"{self.max_workers} decoders busy and the queue is full")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, recognizer.transcribe, audio, lang, expectation)
        finally:
            self._slots.release()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the worker threads (after the running decodes when ``wait``)."""
        self._executor.shutdown(wait=wait)


_POOL: DecodePool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(max_workers: int | None = None) -> DecodePool:
    """The process-wide pool; ``max_workers`` (FOLLOWUP_ASR_WORKERS) applies when it is first created."""
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
