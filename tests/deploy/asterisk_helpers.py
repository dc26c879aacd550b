"""Helpers for the tests of the project-provisioned Asterisk: running deploy/asterisk.sh, a tiny ARI
client (httpx + websockets; for these tests, not the real dialer) and WAV helpers.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import math
import os
import subprocess
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
import websockets

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "asterisk.sh"
# The speech fixtures live in the shared folder beside the clone (CI copies shared/ there too).
FIXTURES = next(
    (d for d in (REPO / "tests" / "fixtures" / "speech", REPO.parent / "shared" / "fixtures" / "speech",
                 Path("/work/shared/fixtures/speech")) if (d / "manifest.tsv").is_file()),
    Path("/work/shared/fixtures/speech"),
)


def script_env() -> dict[str, str]:
    """The environment for deploy/asterisk.sh: ours, minus the external-Asterisk switch."""
    env = dict(os.environ)
    env.pop("FOLLOWUP_ARI_URL", None)
    return env


def run_script(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run deploy/asterisk.sh with a time bound; output captured as text."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else script_env(),
    )


@dataclass(frozen=True)
class Asterisk:
    """Where the running test Asterisk is: ARI URL/credentials and host paths of its shared dirs."""

    ari_url: str
    user: str
    password: str
    root: Path
    pid_file: Path
    dirs: dict[str, Path]          # host paths: recordings, patient_recordings, prompts, patient_audio, ...
    inner: dict[str, str]          # the same dirs as Asterisk sees them (inside the root)

    @property
    def port(self) -> int:
        """The ARI (HTTP) port."""
        return int(self.ari_url.rsplit(":", 1)[1])


# ------------------------------------------------------------------------------------------ ARI helper

Event = dict[str, Any]


class AriTestClient:
    """REST calls plus one events websocket for one Stasis application; events land in a queue."""

    def __init__(self, ast: Asterisk, app: str) -> None:
        self.ast = ast
        self.app = app
        self.http = httpx.AsyncClient(base_url=ast.ari_url + "/ari", auth=(ast.user, ast.password), timeout=10)
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.seen: list[Event] = []
        self._ws: Any = None
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        ws_url = self.ast.ari_url.replace("http://", "ws://") + (
            f"/ari/events?app={self.app}&subscribeAll=false&api_key={self.ast.user}:{self.ast.password}"
        )
        self._ws = await asyncio.wait_for(websockets.connect(ws_url), 10)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await asyncio.wait_for(self._ws.close(), 5)
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await self._reader
        await self.http.aclose()

    async def _read(self) -> None:
        async for message in self._ws:
            event = json.loads(message)
            self.seen.append(event)
            await self.events.put(event)

    async def request(self, method: str, path: str, **params: Any) -> httpx.Response:
        """One ARI call; fails the test unless it is 2xx."""
        response = await self.http.request(method, path, params=params)
        assert response.is_success, f"{method} {path} {params} -> {response.status_code} {response.text}"
        return response

    async def originate(self, number: str, call_id: str, timeout: int = 30) -> None:
        """Call a simulated patient the way the dialer will (Local channel, slin16)."""
        await self.request(
            "POST", "/channels", endpoint=f"Local/{number}@patients", app=self.app, channelId=call_id,
            otherChannelId=f"patient-{call_id}", timeout=timeout, formats="slin16",
        )

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> Event:
        """The first event (already seen or coming) that satisfies ``predicate``, within ``timeout`` s."""
        for event in self.seen:
            if predicate(event):
                return event

        async def _next() -> Event:
            while True:
                event = await self.events.get()
                if predicate(event):
                    return event

        try:
            return await asyncio.wait_for(_next(), timeout)
        except TimeoutError:
            kinds = [(e.get("type"), e.get("channel", {}).get("id")) for e in self.seen]
            raise AssertionError(f"no matching ARI event within {timeout} s; seen: {kinds}") from None

    async def hangup(self, channel_id: str) -> None:
        """Hang up if still there (404 means it is already gone)."""
        response = await self.http.delete(f"/channels/{channel_id}")
        assert response.status_code in (204, 404), response.text


def of(kind: str, channel_id: str | None = None) -> Callable[[Event], bool]:
    """Predicate: an event of type ``kind`` (about ``channel_id`` if given)."""
    def match(event: Event) -> bool:
        if event.get("type") != kind:
            return False
        if channel_id is None:
            return True
        chan = event.get("channel") or event.get("peer") or {}
        return chan.get("id") == channel_id
    return match


def new_call_id() -> str:
    """A unique channel id for one test call (also the simulated patient's script id)."""
    return f"test-{uuid.uuid4().hex[:10]}"


def run(coro: Any, timeout: float) -> Any:
    """Run one async scenario with a hard time bound."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


# ---------------------------------------------------------------------------------------- audio helpers

def read_wav(path: Path) -> tuple[array.array, int]:
    """Mono 16-bit samples and the sample rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, f"{path}: not mono 16-bit"
        samples = array.array("h", w.readframes(w.getnframes()))
        return samples, w.getframerate()


def write_wav(path: Path, samples: array.array, rate: int) -> None:
    """Write mono 16-bit PCM."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def downsample_2x(samples: array.array) -> array.array:
    """16 kHz -> 8 kHz: windowed-sinc low-pass at 3.6 kHz, then keep every other sample."""
    taps = 31
    mid = taps // 2
    cutoff = 3600 / 16000
    kernel = []
    for n in range(taps):
        k = n - mid
        sinc = 2 * cutoff if k == 0 else math.sin(2 * math.pi * cutoff * k) / (math.pi * k)
        kernel.append(sinc * (0.54 - 0.46 * math.cos(2 * math.pi * n / (taps - 1))))
    total = sum(kernel)
    kernel = [c / total for c in kernel]
    out = array.array("h")
    n_in = len(samples)
    for i in range(0, n_in, 2):
        acc = 0.0
        for j, c in enumerate(kernel):
            idx = i + j - mid
            if 0 <= idx < n_in:
                acc += c * samples[idx]
        out.append(max(-32768, min(32767, round(acc))))
    return out


def frame_rms(samples: array.array, rate: int, frame_ms: int = 20) -> list[float]:
    """RMS of consecutive frames."""
    size = rate * frame_ms // 1000
    return [
        math.sqrt(sum(s * s for s in samples[i:i + size]) / size)
        for i in range(0, len(samples) - size + 1, size)
    ]


def active_span(samples: array.array, rate: int, threshold: float = 300.0) -> tuple[float, float, float]:
    """(first, last, total) seconds of 20 ms frames whose RMS exceeds ``threshold``; (-1, -1, 0) if none."""
    rms = frame_rms(samples, rate)
    loud = [i for i, r in enumerate(rms) if r > threshold]
    if not loud:
        return -1.0, -1.0, 0.0
    return loud[0] * 0.02, (loud[-1] + 1) * 0.02, len(loud) * 0.02


@dataclass(frozen=True)
class Installed:
    """A fixture installed into a shared dir: Asterisk-side path (no extension) and its speech timing."""

    path: str
    duration: float
    first: float      # first loud frame (s)
    last: float       # end of the last loud frame (s)
    loud: float       # total loud time (s)


def install_8k(ast: Asterisk, fixture_id: str, dir_key: str, name: str) -> Installed:
    """Put fixture ``fixture_id`` (16 kHz) as an 8 kHz WAV named ``name`` into a shared dir."""
    samples, rate = read_wav(FIXTURES / f"{fixture_id}.wav")
    assert rate == 16000
    low = downsample_2x(samples)
    write_wav(ast.dirs[dir_key] / f"{name}.wav", low, 8000)
    return Installed(f"{ast.inner[dir_key]}/{name}", len(low) / 8000, *active_span(low, 8000))
