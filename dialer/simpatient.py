"""Simulated patients: turn a JSON patient script into the deploy's script format and reply audio.

The project's Asterisk simulates patients in its dialplan (docs/asterisk.md, "Simulated patients"): the
number ``sim-<id>`` follows ``<scripts>/<id>.txt``, one action per bot prompt that expects an answer. This
module writes those files from the JSON form ``followup call --patient-script`` takes::

    [{"say": "reply1.wav"}, {"say": "r2.wav", "barge_in_ms": 800}, {"silence": true}, {"dtmf": "1"},
     {"hangup": true}]
    {"busy": true}   {"no_answer": true}   {"voicemail": "greeting.wav"}

Extras (not needed by the contract, handy in tests): ``{"say": …, "now": true}`` (play at once, without
waiting for a prompt), ``{"wait": 1.5}``, ``{"ring": 2}`` (ring first; only as the first action),
``{"hangup": true, "barge_in_ms": N}``, ``{"dtmf": "5", "barge_in_ms": N}``.

WAV files may have any rate, width or channel count: they are converted to 8 kHz 16-bit mono ``.wav``
(telephone band; Asterisk's ``wav`` format means 8 kHz) in the patient-audio directory.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts.audio import AudioFormatError, read_audio_file

PHONE_RATE = 8000
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]+$")


class PatientScriptError(ValueError):
    """The JSON patient script is malformed (the message names the action)."""


@dataclass(frozen=True)
class PatientCall:
    """What to dial for one simulated patient: ``number`` (``Local/<number>@patients``) and the script lines."""

    number: str
    lines: tuple[str, ...]
    kind: str  # "conversation" | "busy" | "no_answer" | "voicemail"
    audio: tuple[Path, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"Local/{self.number}@patients"


@dataclass
class SimulatedPatients:
    """Writes scripts into ``scripts_dir`` and reply audio into ``audio_dir`` (host paths of the chroot's
    shared directories); ``cleanup()`` removes what it wrote."""

    scripts_dir: Path
    audio_dir: Path
    created: list[Path] = field(default_factory=list)

    def add_audio(self, source: str | Path, name: str) -> str:
        """Convert a WAV (any rate) to 8 kHz mono 16-bit in the patient-audio dir; returns the name to use
        in a script line."""
        src = Path(source)
        try:
            audio = read_audio_file(src, PHONE_RATE)
        except (OSError, EOFError, ValueError, AudioFormatError) as exc:
            raise PatientScriptError(f"{src}: not a readable audio file ({exc})") from exc
        target = self.audio_dir / f"{name}.wav"
        target.write_bytes(audio.to_wav())
        target.chmod(0o644)
        self.created.append(target)
        return name

    def write_script(self, ident: str, lines: Sequence[str]) -> str:
        """Write ``<scripts>/<ident>.txt``; returns the number to dial (``sim-<ident>``)."""
        if not _SAFE.match(ident):
            raise ValueError(f"bad script id {ident!r}: letters, digits, - and _ only")
        path = self.scripts_dir / f"{ident}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        path.chmod(0o644)
        self.created.append(path)
        return f"sim-{ident}"

    def prepare(self, script: Any, ident: str | None = None, base_dir: str | Path | None = None) -> PatientCall:
        """Write the patient for a JSON script (already parsed: a list of actions or a top-level dict).

        Relative WAV paths are taken from the working directory, else from ``base_dir`` (the script
        file's folder). Raises PatientScriptError for anything malformed.
        """
        ident = ident or f"p{uuid.uuid4().hex[:12]}"
        lines, kind, sources = script_lines(script, lambda path, i: self._audio_name(path, ident, i, base_dir))
        number = self.write_script(ident, lines)
        return PatientCall(number, tuple(lines), kind, tuple(sources))

    def _audio_name(self, path: Any, ident: str, index: int, base_dir: str | Path | None) -> tuple[str, Path]:
        if not isinstance(path, str) or not path:
            raise PatientScriptError(f"action {index + 1}: a WAV path is required, got {path!r}")
        src = Path(path).expanduser()
        if not src.is_absolute() and not src.is_file() and base_dir is not None:
            src = Path(base_dir) / src
        if not src.is_file():
            raise PatientScriptError(f"action {index + 1}: {path}: no such file")
        return self.add_audio(src, f"{ident}-{index + 1}"), src

    def cleanup(self) -> None:
        """Remove every file this object wrote."""
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()


def _barge(action: Mapping[str, Any], index: int) -> str:
    if action.get("now"):
        return " now"
    ms = action.get("barge_in_ms")
    if ms is None:
        return ""
    if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
        raise PatientScriptError(f"action {index + 1}: barge_in_ms must be a number of milliseconds, got {ms!r}")
    return f" barge={int(ms)}"


def script_lines(script: Any, audio_name: Any) -> tuple[list[str], str, list[Path]]:
    """The deploy script lines for a JSON patient script; ``audio_name(path, index)`` converts a WAV and
    returns (script name, source path). Returns (lines, kind, WAV sources)."""
    sources: list[Path] = []
    if isinstance(script, Mapping):
        if script.get("busy"):
            return ["busy"], "busy", sources
        if script.get("no_answer"):
            return ["noanswer"], "no_answer", sources
        if "voicemail" in script:
            name, src = audio_name(script["voicemail"], 0)
            sources.append(src)
            seconds = script.get("message_s")
            return [f"voicemail {name}" + (f" {int(seconds)}" if seconds else "")], "voicemail", sources
        if "actions" in script:
            return script_lines(script["actions"], audio_name)
        raise PatientScriptError('a top-level object must be {"busy": true}, {"no_answer": true} or '
                                 '{"voicemail": "PATH.wav"}')
    if not isinstance(script, Sequence) or isinstance(script, str | bytes):
        raise PatientScriptError("a patient script is a JSON list of actions (or a top-level object)")
    lines: list[str] = []
    for i, action in enumerate(script):
        if not isinstance(action, Mapping):
            raise PatientScriptError(f"action {i + 1}: expected an object, got {action!r}")
        if "say" in action:
            name, src = audio_name(action["say"], i)
            sources.append(src)
            lines.append(f"say {name}{_barge(action, i)}")
        elif action.get("silence"):
            lines.append("silence")
        elif "dtmf" in action:
            digits = str(action["dtmf"])
            if not re.fullmatch(r"[0-9*#A-Da-d]+", digits):
                raise PatientScriptError(f"action {i + 1}: dtmf must be digits 0-9 * # A-D, got {digits!r}")
            lines.append(f"dtmf {digits}{_barge(action, i)}")
        elif action.get("hangup"):
            lines.append(f"hangup{_barge(action, i)}")
        elif "wait" in action:
            lines.append(f"wait {float(action['wait']):g}")
        elif "ring" in action:
            if lines:
                raise PatientScriptError(f"action {i + 1}: ring must come first")
            lines.append(f"ring {float(action['ring']):g}")
        else:
            raise PatientScriptError(f"action {i + 1}: unknown action {dict(action)!r}; expected say, silence, "
                                     "dtmf or hangup")
    return lines, "conversation", sources
