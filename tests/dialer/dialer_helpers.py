"""Helpers for the dialer tests: running coroutines with a time bound, audio analysis (numpy), simulated
patients (scripts + reply audio in the Asterisk root), and a TCP proxy that can cut connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import uuid
import wave
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "asterisk.sh"
FIXTURES = REPO / "tests" / "fixtures" / "speech"  # a copy of shared/fixtures/speech
APP = "followup-test"

T = TypeVar("T")


def arun(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one test coroutine on a fresh event loop, failing (TimeoutError) after ``timeout`` s."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def run_script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """deploy/asterisk.sh with a time bound (the environment passes through: FOLLOWUP_* settings)."""
    return subprocess.run(["bash", str(SCRIPT), *args], check=False, capture_output=True, text=True,
                          timeout=timeout)


@dataclass(frozen=True)
class Asterisk:
    """The running test Asterisk: ARI URL/credentials and host paths of its shared directories."""

    ari_url: str
    user: str
    password: str
    dirs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def from_paths(cls, paths: dict[str, Any]) -> Asterisk:
        return cls(paths["ari_url"], paths["ari_user"], paths["ari_password"],
                   {k: Path(v["host"]) for k, v in paths["dirs"].items()})

    @staticmethod
    def paths() -> dict[str, Any]:
        out = run_script("paths", timeout=30)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def new_id() -> str:
    return uuid.uuid4().hex[:10]


# ------------------------------------------------------------------------------------------- audio

def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit WAV as float64 samples and its rate."""
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        return data, w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes())


def _lowpass(x: np.ndarray, cutoff_hz: float, rate: int, taps: int = 129) -> np.ndarray:
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / rate * n) * np.hamming(taps)
    return np.convolve(x, h / h.sum(), mode="same")


def to_8k(x: np.ndarray, rate: int) -> np.ndarray:
    """Telephone band: low-pass at 3.6 kHz and decimate 16 kHz → 8 kHz (8 kHz input is returned as is)."""
    if rate == 8000:
        return x
    assert rate == 16000, rate
    return _lowpass(x, 3600, 16000)[::2]


def pcm_to_array(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, "<i2").astype(np.float64)


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amplitude: float = 8000.0) -> bytes:
    """A sine tone with 10 ms fades, as slin little-endian bytes."""
    t = np.arange(int(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * freq * t)
    fade = min(len(x) // 2, rate // 100)
    ramp = np.linspace(0, 1, fade)
    x[:fade] *= ramp
    x[len(x) - fade:] *= ramp[::-1]
    return x.astype("<i2").tobytes()


def best_alignment(received: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Normalised correlation of ``reference`` with the part of ``received`` it best lines up with,
    and that lag (samples into ``received``)."""
    n = len(received) + len(reference)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(received, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([np.arange(0, len(received)), np.arange(-len(reference) + 1, 0)])
    values = np.concatenate([xc[:len(received)], xc[size - len(reference) + 1:]])
    lag = int(lags[int(np.argmax(values))])
    if lag >= 0:
        a = received[lag:lag + len(reference)]
        b = reference[:len(a)]
    else:
        b = reference[-lag:]
        a = received[:len(b)]
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return (float(np.dot(a, b) / denom) if denom else 0.0), lag


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def tone_seconds(x: np.ndarray, rate: int, freq: float = 440.0, min_rms: float = 500.0) -> float:
    """Seconds of 20 ms frames dominated by ``freq`` (≥ 80 % of the frame's energy) and loud enough."""
    n = rate // 50
    count = 0
    for off in range(0, len(x) - n + 1, n):
        frame = x[off:off + n]
        if rms(frame) < min_rms:
            continue
        spectrum = np.abs(np.fft.rfft(frame * np.hanning(n))) ** 2
        bins = np.fft.rfftfreq(n, 1 / rate)
        near = spectrum[np.abs(bins - freq) <= 75].sum()
        if near >= 0.8 * spectrum.sum():
            count += 1
    return count * 0.02


def speech_seconds(x: np.ndarray, rate: int, min_rms: float = 300.0) -> float:
    """Seconds of 20 ms frames louder than ``min_rms``."""
    n = rate // 50
    return sum(rms(x[o:o + n]) >= min_rms for o in range(0, len(x) - n + 1, n)) * 0.02


# ------------------------------------------------------------------------------- simulated patients

# Ids of the test calls that may have been answered (their MixMonitor files are removed after the test).
CALLS: list[str] = []


@dataclass
class Patients:
    """Writes simulated-patient scripts and reply audio into the Asterisk root (docs/asterisk.md)."""

    scripts: Path
    audio: Path
    recordings: Path
    created: list[Path] = field(default_factory=list)

    def reply_audio(self, fixture_id: str) -> tuple[str, np.ndarray]:
        """Put fixture ``fixture_id`` (16 kHz) into the patient audio dir as 8 kHz WAV; returns the name
        to use in a script and the 8 kHz samples."""
        samples, rate = read_wav(FIXTURES / f"{fixture_id}.wav")
        band = to_8k(samples, rate)
        name = f"dlr-{fixture_id}-{new_id()}"
        path = self.audio / f"{name}.wav"
        write_wav(path, band, 8000)
        self.created.append(path)
        return name, band

    def script(self, *lines: str) -> str:
        """A script file; returns the number to dial (``Local/<number>@patients``)."""
        ident = f"dlr{new_id()}"
        path = self.scripts / f"{ident}.txt"
        path.write_text("\n".join(lines) + "\n")
        self.created.append(path)
        return f"sim-{ident}"

    def recording(self, call_id: str, part: str = "") -> Path:
        """MixMonitor file of a call: part "" (both), "heard" (what the patient heard), "said"."""
        return self.recordings / (f"{call_id}.{part}.wav" if part else f"{call_id}.wav")

    async def wait_recording_done(self, call_id: str, timeout: float = 10.0) -> None:
        """MixMonitor writes <call>.done once its files are closed (after the patient side hangs up)."""
        done = self.recordings / f"{call_id}.done"
        async with asyncio.timeout(timeout):
            while not done.exists():
                await asyncio.sleep(0.05)
        self.created.extend(self.recordings.glob(f"{call_id}*"))

    def cleanup(self) -> None:
        """Remove what the test wrote and the recordings of its calls (waiting briefly for MixMonitor
        to close them)."""
        deadline = time.monotonic() + 3
        for call_id in CALLS:
            if (self.recordings / f"{call_id}.wav").exists():
                while not (self.recordings / f"{call_id}.done").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            self.created.extend(self.recordings.glob(f"{call_id}.*"))
        CALLS.clear()
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()


# ------------------------------------------------------------------------------------- TCP proxy

class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target, and can cut its connections as a network failure would:
    ``kill(refuse_for)`` aborts every connection and refuses new ones for a while; ``blackhole()`` keeps
    the connections open but stops forwarding (a half-dead TCP connection)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._refuse_until = 0.0
        self._blackholed: set[int] = set()
        self.accepted = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refuse_until:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            async with asyncio.timeout(3):
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        self.accepted += 1
        pair = (writer, up_writer)
        self._conns.add(pair)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst, id(pair)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, key: int) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                if key in self._blackholed:
                    continue  # swallowed: neither side hears the other any more
                dst.write(data)
                await dst.drain()
        dst.transport.abort()

    def kill(self, refuse_for: float = 0.0) -> int:
        """Abort every open connection; refuse new ones for ``refuse_for`` seconds. Returns how many."""
        self._refuse_until = time.monotonic() + refuse_for
        killed = len(self._conns)
        for a, b in self._conns:
            a.transport.abort()
            b.transport.abort()
        self._conns.clear()
        return killed

    def blackhole(self) -> int:
        """Stop forwarding on every open connection without closing it. Returns how many."""
        for pair in self._conns:
            self._blackholed.add(id(pair))
        return len(self._conns)

    async def close(self) -> None:
        self.kill()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for off in range(0, len(data), size):
        yield data[off:off + size]


# ----------------------------------------------------------------------------------- call set-up

@dataclass
class Call:
    """One originated test call: ids, its event subscription and outcome tracker."""

    call_id: str
    patient_id: str
    bridge_id: str
    media_id: str
    sub: Any
    tracker: Any
    originated_at: float = 0.0
    answered_at: float = 0.0


async def originate_answered(client: Any, number: str, *, timeout: float = 10.0) -> Call:
    """Dial ``Local/<number>@patients`` and wait for the answer (fails on any other outcome)."""
    from dialer.outcome import OutcomeTracker

    n = new_id()
    call = Call(f"call-{n}", f"patient-{n}", f"br-{n}", f"em-{n}", None, OutcomeTracker(f"call-{n}"))
    call.sub = client.subscribe(call.call_id, call.patient_id, call.bridge_id)
    CALLS.append(call.call_id)
    call.originated_at = time.monotonic()
    await client.originate(f"Local/{number}@patients", channel_id=call.call_id,
                           other_channel_id=call.patient_id, app_args="outbound", timeout=int(timeout))
    async with asyncio.timeout(timeout):
        while not call.tracker.answered:
            step = call.tracker.feed(await call.sub.get())
            assert step != "ended", f"call ended unanswered: {call.tracker.result()}"
    call.answered_at = time.monotonic()
    return call


async def hang_up(client: Any, call: Call, timeout: float = 5.0) -> None:
    """Hang up our side (if still there), wait for its ChannelDestroyed, remove the bridge."""
    if not call.tracker.final:
        call.tracker.local_hangup()
        await client.hangup(call.call_id)
        async with asyncio.timeout(timeout):
            while not call.tracker.final:
                call.tracker.feed(await call.sub.get())
    await client.destroy_bridge(call.bridge_id)
    await client.hangup(call.media_id)
    call.sub.close()


async def collect_reply(media: Any, *, first_timeout: float, gap: float = 1.5, max_s: float = 20.0,
                        quiet_rms: float = 100.0) -> tuple[bytes, list[float]]:
    """Read inbound frames until the patient's reply is over: ``gap`` seconds without a frame (the
    patient side of a Local channel sends nothing while silent) or, when frames keep coming (a bridge
    with a recorder sends continuous audio), ``gap`` seconds of quiet frames after some speech.
    Returns the audio up to that point and the frames' arrival times."""
    frames: list[bytes] = []
    arrivals: list[float] = []
    quiet_needed = int(gap * 50)
    quiet = 0
    heard = False
    deadline = time.monotonic() + max_s
    frame = await media.read(timeout=first_timeout)
    while frame is not None and time.monotonic() < deadline:
        frames.append(frame)
        arrivals.append(time.monotonic())
        loud = rms(pcm_to_array(frame)) >= quiet_rms
        heard = heard or loud
        quiet = 0 if loud else quiet + 1
        if heard and quiet >= quiet_needed:
            break
        frame = await media.read(timeout=gap)
    return b"".join(frames), arrivals
