"""Bot audio for a call: ``Play`` actions → 16 kHz signed-linear PCM, through the prompt cache.

Static prompts of a flow are rendered before the first call (``prerender``); patient-specific texts
(the greeting with the patient's name, a read-back of their answer) are synthesised on first use and
cached by content like everything else (tts/cache.py). All file and synthesis work runs in threads
(``asyncio.to_thread``): the event loop only ever waits. Recently used prompts stay in memory (a small
LRU of PCM bytes) so a busy dialer reads each file once.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dialog.actions import Play
from flows.schema import Flow
from tts.base import Synthesizer
from tts.cache import FlowRender, PromptCache, render_flow_prompts

SLIN16_RATE = 16000

# Prompt files are on the latency path: they get threads of their own, never queued behind database
# writes or other work in asyncio's default executor.
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="prompt-audio")


class PromptAudio:
    """Resolves ``Play`` actions of one flow and language to slin16 PCM bytes (what the media socket sends).

    One instance can serve every call of a flow; it is safe to use from several tasks.
    """

    def __init__(self, cache: PromptCache, synthesizer: Synthesizer, lang: str, flow_dir: str | Path | None = None,
                 *, memory_items: int = 256) -> None:
        self.cache = cache
        self.synthesizer = synthesizer
        self.lang = lang
        self.flow_dir = Path(flow_dir) if flow_dir is not None else None
        self._memory: collections.OrderedDict[Path, bytes] = collections.OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()

    def _resolve(self, play: Play) -> bytes:
        path = self.cache.resolve(play.text, self.lang, self.synthesizer, play.audio, self.flow_dir, fmt="sln16")
        with self._lock:
            pcm = self._memory.get(path)
            if pcm is not None:
                self._memory.move_to_end(path)
                return pcm
        pcm = path.read_bytes()
        with self._lock:
            self._memory[path] = pcm
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        return pcm

    async def pcm(self, play: Play) -> bytes:
        """The prompt's audio as 16 kHz mono 16-bit little-endian PCM (synthesised first if needed)."""
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, self._resolve, play)

    async def prerender(self, flow: Flow, context: Mapping[str, Any] | None = None) -> FlowRender:
        """Put every static prompt of ``flow`` in the cache (hospital fields from ``context`` count as
        static: they are the same for every patient)."""
        static = {"hospital": dict((context or {}).get("hospital") or {})}
        return await asyncio.to_thread(render_flow_prompts, flow, self.lang, self.synthesizer, self.cache,
                                       self.flow_dir, static)


def silence(ms: int, rate: int = SLIN16_RATE) -> bytes:
    """``ms`` milliseconds of 16-bit silence."""
    return bytes(rate * ms // 1000 * 2)
