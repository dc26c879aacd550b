"""pyttsx3 (espeak driver), the engine the product card names, made reliable.

What goes wrong with plain ``engine.setProperty(...); engine.save_to_file(text, path); engine.runAndWait()``
(pyttsx3 2.99; measured here: 4–5 of 200 files header-only, and the first save of a process missing):
- ``runAndWait`` returns as soon as synthesis has *started*: the driver runs its own ``endLoop`` command
  before the audio exists, and espeak-ng (retrieval mode) renders on its own thread, which writes the
  WAV later. A caller that reads the file at once may find it missing or incomplete.
- ``runAndWait`` calls ``driver.stop()`` first, which cancels whatever espeak reports as busy. espeak-ng
  queues parameter changes (rate) on its synthesis thread, and ``engine.setProperty`` defers them into
  that same ``runAndWait``: the new utterance is then cancelled and the file is header-only.
- the driver is a process-wide singleton (one espeak instance, one callback): two threads using it at
  once mix their audio; and the last audio chunk of an utterance is appended after the file is written.

What this backend does: one process-wide lock around the engine; voice and rate set on the driver
directly, then wait until espeak is idle; wait for the driver's ``finished-utterance`` notification (sent
after the file is closed) and for espeak to go idle again, instead of trusting ``runAndWait``; verify
every file (RIFF header, complete data chunk, 22.05 kHz, plausible duration, not silent); retry once;
then fall back to espeak-ng's command line (same voice and speed, tts/espeak.py). Measured: 0 retries in
200 renders with both cores busy. The lost tail chunk is pause, not speech (``ENDPAUSE``).
Note pyttsx3 prints "Audio saved to …" on stdout for each file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts.audio import SAMPLE_RATE, Audio
from tts.base import SynthesisError, UnsupportedLanguage
from tts.espeak import DEFAULT_VOICES, ESPEAK_RATE, EspeakSynthesizer, check_output

log = logging.getLogger(__name__)

# The espeak driver keeps one espeak-ng instance and one callback per process: every use goes through this.
_ENGINE_LOCK = threading.Lock()
_ENGINE = None  # strong reference: pyttsx3.init() caches engines in a WeakValueDictionary


def _engine() -> Any:  # pyttsx3 has no type hints
    global _ENGINE
    if _ENGINE is None:
        import pyttsx3

        _ENGINE = pyttsx3.init("espeak")
    return _ENGINE


@dataclass
class Pyttsx3Stats:
    """What happened to the prompts this backend rendered (for tests, logs and the benchmark)."""

    rendered: int = 0  # prompts returned
    retried: int = 0  # first pyttsx3 attempt unusable
    fell_back: int = 0  # both pyttsx3 attempts unusable: espeak-ng CLI used


# A save function: (text, voice, rate, path) → renders ``text`` into ``path``; returns when it claims done.
SaveFn = Callable[[str, str, int, str], None]


class Pyttsx3Synthesizer:
    """pyttsx3 + espeak driver with verified output, one retry and an espeak-ng fallback.

    ``speed``: words per minute (pyttsx3's default 200). ``wait_s``: how long to wait for the driver to
    finish one file. ``fallback``: use espeak-ng's command line when pyttsx3 fails twice (else raise).
    ``save``: replaces the pyttsx3 call (tests inject faulty savers through it).
    """

    name = "pyttsx3-espeak"

    def __init__(self, voices: dict[str, str] | None = None, speed: int = 200, wait_s: float = 30.0,
                 fallback: bool = True, sample_rate: int = SAMPLE_RATE, save: SaveFn | None = None) -> None:
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        self.speed = speed
        self.wait_s = wait_s
        self.sample_rate = sample_rate
        self._save = save or self._save_with_pyttsx3
        self._fallback = EspeakSynthesizer(self.voices, speed=speed, sample_rate=sample_rate) if fallback else None
        self.stats = Pyttsx3Stats()
        self._stats_lock = threading.Lock()

    def voice_id(self, lang: str) -> str:
        # Same voice and speed as espeak-ng's CLI, so a fallback render sounds like the pyttsx3 one.
        try:
            return f"{self.voices[lang]}@{self.speed}"
        except KeyError:
            raise UnsupportedLanguage(f"pyttsx3: no voice configured for {lang!r}") from None

    def synthesize(self, text: str, lang: str) -> Audio:
        self.voice_id(lang)
        if not text.strip():
            raise SynthesisError("nothing to say: empty text")
        errors = []
        for attempt in (1, 2):
            try:
                audio = self._attempt(text, self.voices[lang])
            except SynthesisError as e:
                errors.append(str(e))
                log.warning("pyttsx3 attempt %d failed: %s", attempt, e)
                if attempt == 1:
                    self._count("retried")
                continue
            self._count("rendered")
            return audio.resampled(self.sample_rate)
        if self._fallback is None:
            raise SynthesisError("pyttsx3 failed twice: " + " | ".join(errors))
        log.warning("pyttsx3 failed twice, falling back to espeak-ng: %s", " | ".join(errors))
        audio = self._fallback.synthesize(text, lang)
        self._count("fell_back")
        self._count("rendered")
        return audio

    def _count(self, field: str) -> None:
        with self._stats_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    def _attempt(self, text: str, voice: str) -> Audio:
        fd, tmp = tempfile.mkstemp(prefix="pyttsx3-", suffix=".wav")
        os.close(fd)
        os.unlink(tmp)  # the driver creates it; an existing empty file would hide a missing save
        try:
            self._save(text, voice, self.speed, tmp)
            path = Path(tmp)
            if not path.exists():
                raise SynthesisError("pyttsx3 wrote no file")
            return check_output(path.read_bytes(), text, source="pyttsx3 output", expected_rate=ESPEAK_RATE)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _save_with_pyttsx3(self, text: str, voice: str, rate: int, path: str) -> None:
        from pyttsx3.drivers import _espeak

        done = threading.Event()
        outcome: dict[str, bool] = {}

        def on_finished(name: object = None, completed: bool = True) -> None:
            outcome["completed"] = completed
            done.set()

        with _ENGINE_LOCK:
            engine = _engine()
            # runAndWait calls driver.stop() before it starts, and stop() cancels whatever espeak reports
            # as busy. espeak-ng queues parameter changes (the rate) on its synthesis thread like speech,
            # and engine.setProperty defers them into that same runAndWait: so the new utterance got
            # cancelled (header-only file) whenever a property was set. Set them on the driver directly
            # and let espeak go idle first.
            from pyttsx3.drivers.espeak import EspeakDriver

            if engine.getProperty("voice") != voice:
                EspeakDriver.setProperty("voice", voice)
            if engine.getProperty("rate") != rate:
                EspeakDriver.setProperty("rate", rate)
            _wait_idle(_espeak, self.wait_s)
            token = engine.connect("finished-utterance", on_finished)
            try:
                engine.save_to_file(text, path)
                engine.runAndWait()  # returns once synthesis has started, not when the file exists
                if not done.wait(self.wait_s):
                    engine.stop()
                    raise SynthesisError(f"pyttsx3 did not finish within {self.wait_s} s")
                _wait_idle(_espeak, self.wait_s)
            finally:
                engine.disconnect(token)
        if not outcome.get("completed", False):
            raise SynthesisError("pyttsx3 cancelled the utterance")


def _wait_idle(espeak_lib: Any, timeout_s: float) -> None:
    """Wait until espeak-ng's synthesis thread has nothing queued or playing."""
    deadline = time.monotonic() + timeout_s
    while espeak_lib.IsPlaying():
        if time.monotonic() > deadline:
            raise SynthesisError(f"espeak-ng stayed busy for {timeout_s} s")
        time.sleep(0.002)
