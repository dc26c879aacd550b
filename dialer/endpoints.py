"""What the engine dials for a patient: a trunk endpoint, or a simulated patient.

- ``TrunkEndpoints``: real deployments. The template (setting FOLLOWUP_DIAL_TEMPLATE) is filled with
  the patient's number: ``PJSIP/{number}@trunk`` (``{number}`` = E.164 with ``+``, ``{digits}`` =
  without, ``{national}`` = without the country code 86 for a mainland trunk that wants ``0``-less
  national numbers).
- ``SimulatedEndpoints``: test and demo campaigns (``followup run --simulate PATH``). Each patient's
  phone maps to a patient script in the ``followup call --patient-script`` JSON format; for every dial
  the script is written as ``sim-<ident>`` and the engine dials ``Local/sim-<ident>@patients``
  (docs/asterisk.md). A script may differ per attempt: ``{"attempts": [SCRIPT1, SCRIPT2, …]}`` (the
  last one repeats), e.g. busy on the first attempt and answering on the retry.

``PATH`` is a JSON file ``{"+8613800000001": SCRIPT, …}`` or a directory of ``<E.164>.json`` files
(``+8613800000001.json`` or ``8613800000001.json``). Relative WAV paths are taken from the file's
folder. A patient without a script is dialled anyway and the call fails (unallocated number), as a
wrong number in an export would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dialer.simpatient import PatientScriptError, SimulatedPatients, script_lines


@dataclass(frozen=True)
class Dial:
    """One prepared dial: the ARI endpoint, and the files to remove after the call."""

    endpoint: str
    files: tuple[Path, ...] = ()
    simulated: str | None = None  # the simulated patient's kind (conversation, busy, …) or None


class Endpoints(Protocol):
    """How the engine turns a patient's number into something to originate."""

    def prepare(self, phone: str, ident: str, attempt: int) -> Dial:
        """The dial for attempt ``attempt`` of ``phone``; ``ident`` is unique per dial ([A-Za-z0-9]+)."""
        ...

    def done(self, dial: Dial) -> None:
        """The call is over: remove what ``prepare`` wrote."""
        ...

    def close(self) -> None:
        """The engine stops."""
        ...


@dataclass(frozen=True)
class TrunkEndpoints:
    """``template.format(number=…, digits=…, national=…)``."""

    template: str

    def __post_init__(self) -> None:
        try:
            self.template.format(number="+8613800000000", digits="8613800000000", national="13800000000")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"FOLLOWUP_DIAL_TEMPLATE {self.template!r}: {exc}; use {{number}}, {{digits}} "
                             "or {national}") from None
        if "{" not in self.template:
            raise ValueError(f"FOLLOWUP_DIAL_TEMPLATE {self.template!r} has no {{number}}")

    def prepare(self, phone: str, ident: str, attempt: int) -> Dial:
        digits = phone.lstrip("+")
        national = digits.removeprefix("86")
        return Dial(self.template.format(number=phone, digits=digits, national=national))

    def done(self, dial: Dial) -> None:
        return None

    def close(self) -> None:
        return None


def _phone_key(name: str) -> str:
    return "+" + name.lstrip("+")


def load_scripts(path: str | Path) -> tuple[dict[str, Any], Path]:
    """The phone → script mapping of a ``--simulate`` file or directory, and the folder relative WAV
    paths are resolved from. Raises PatientScriptError naming the file."""
    src = Path(path)
    scripts: dict[str, Any] = {}
    if src.is_dir():
        for f in sorted(src.glob("*.json")):
            try:
                scripts[_phone_key(f.stem)] = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise PatientScriptError(f"{f}: {exc}") from exc
        return scripts, src
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PatientScriptError(f"{src}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PatientScriptError(f"{src}: expected a JSON object {{phone: script}}")
    for phone, script in data.items():
        scripts[_phone_key(str(phone))] = script
    return scripts, src.parent


def script_for(entry: Any, attempt: int) -> Any:
    """The script of attempt ``attempt`` (1-based) from a mapping entry (``{"attempts": [...]}`` or one
    script for every attempt)."""
    if isinstance(entry, Mapping) and "attempts" in entry:
        seq = entry["attempts"]
        if not isinstance(seq, list) or not seq:
            raise PatientScriptError('"attempts" must be a non-empty list of scripts')
        return seq[min(attempt, len(seq)) - 1]
    return entry


@dataclass
class SimulatedEndpoints:
    """Simulated patients for a campaign (see the module docstring). ``patients`` writes into the
    Asterisk root's shared script and patient-audio directories."""

    scripts: Mapping[str, Any]
    patients: SimulatedPatients
    base_dir: Path | None = None
    tag: str = ""  # names this engine's audio files apart (another engine's clean-up must not remove them)
    _audio: dict[Path, str] = field(default_factory=dict)

    def check(self) -> None:
        """Parse every script once (bad ones raise PatientScriptError naming the phone) and convert the
        audio, so a mistake shows at start-up and not on the thousandth call."""
        for phone, entry in self.scripts.items():
            seq = entry["attempts"] if isinstance(entry, Mapping) and "attempts" in entry else [entry]
            for n, _ in enumerate(seq, start=1):
                try:
                    script_lines(script_for(entry, n), self._audio_name)
                except PatientScriptError as exc:
                    raise PatientScriptError(f"{phone}: attempt {n}: {exc}") from exc

    def _audio_name(self, path: Any, index: int) -> tuple[str, Path]:
        if not isinstance(path, str) or not path:
            raise PatientScriptError(f"action {index + 1}: a WAV path is required, got {path!r}")
        src = Path(path).expanduser()
        if not src.is_absolute() and self.base_dir is not None and not src.is_file():
            src = self.base_dir / src
        src = src.resolve()
        if not src.is_file():
            raise PatientScriptError(f"action {index + 1}: {path}: no such file")
        name = self._audio.get(src)
        if name is None:
            # Converted once per engine and shared by every call that says it (named by content).
            digest = hashlib.sha1(src.read_bytes()).hexdigest()[:16]
            name = self.patients.add_audio(src, f"eng{self.tag}-{digest}")
            self._audio[src] = name
        return name, src

    def prepare(self, phone: str, ident: str, attempt: int) -> Dial:
        entry = self.scripts.get(phone)
        if entry is None:
            # No script: the dialplan answers "unallocated number" (cause 1): the call fails.
            return Dial(f"Local/sim-{ident}@patients", simulated="none")
        lines, kind, _ = script_lines(script_for(entry, attempt), self._audio_name)
        number = self.patients.write_script(ident, lines)
        path = self.patients.scripts_dir / f"{ident}.txt"
        return Dial(f"Local/{number}@patients", (path,), kind)

    def done(self, dial: Dial) -> None:
        for path in dial.files:
            path.unlink(missing_ok=True)
            if path in self.patients.created:
                self.patients.created.remove(path)

    def close(self) -> None:
        self.patients.cleanup()
        self._audio.clear()
