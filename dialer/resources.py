"""What every call of one engine process shares: the recogniser (loaded once), the bounded decode pool, the
synthesiser and prompt cache, and one ``PromptAudio`` per flow and language, pre-rendered before its first
call. Built once at start-up (``CallResources.from_settings``) and handed to each ``CallSession``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.pool import DecodePool
from dialer.prompts import PromptAudio
from flows.schema import Flow
from tts.cache import PromptCache


@dataclass
class CallResources:
    """Shared per engine. ``recordings_dir``: Asterisk's recording directory as seen from this host."""

    recognizer: Any
    pool: DecodePool
    synthesizer: Any
    cache: PromptCache
    recordings_dir: Path | None = None
    _flows: dict[str, Flow] = field(default_factory=dict)
    _prompts: dict[tuple[str, str], PromptAudio] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any, *, max_calls: int, recordings_dir: Path | None = None) -> CallResources:
        """The configured recogniser (Whisper loaded once), the decode pool FOLLOWUP_ASR_POOL names (worker
        processes by default, started here) with a queue that holds one utterance per possible call, the
        configured voices and the prompt cache."""
        from asr.backends import make_recognizer
        from asr.pool import make_decode_pool
        from tts.factory import prompt_cache_from_settings, synthesizer_from_settings

        recognizer = make_recognizer(settings)
        pool = make_decode_pool(recognizer, settings, max_queue=max(16, 2 * max_calls))
        return cls(recognizer, pool, synthesizer_from_settings(settings), prompt_cache_from_settings(settings),
                   recordings_dir)

    def flow(self, flow_id: str) -> Flow:
        """A flow by library id or path, loaded once (a campaign's flow does not change under a run)."""
        flow = self._flows.get(flow_id)
        if flow is None:
            from flows.loader import find_flow

            flow = find_flow(flow_id)
            self._flows[flow_id] = flow
        return flow

    async def prompts(self, flow: Flow, lang: str, context: Mapping[str, Any]) -> PromptAudio:
        """The flow's ``PromptAudio`` in ``lang``; its static prompts are rendered before the first call."""
        key = (flow.id, lang)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            audio = self._prompts.get(key)
            if audio is None:
                audio = PromptAudio(self.cache, self.synthesizer, lang,
                                    flow.path.parent if flow.path is not None else None)
                await audio.prerender(flow, context)
                self._prompts[key] = audio
        return audio

    def close(self) -> None:
        """Stop the decode threads and the synthesiser's workers."""
        self.pool.shutdown(wait=False)
        close = getattr(self.synthesizer, "close", None)
        if close is not None:
            close()
