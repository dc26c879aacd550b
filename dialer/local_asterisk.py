"""The project's own Asterisk (deploy/asterisk.sh): start it when needed and find its shared directories.

Only for development, tests, benchmarks and ``followup call``: a site with its own Asterisk sets
FOLLOWUP_ARI_URL, and then nothing here runs (``deploy/asterisk.sh`` does nothing either).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "asterisk.sh"


class AsteriskUnavailable(RuntimeError):
    """The project's Asterisk could not be started or described (message says why)."""


@dataclass(frozen=True)
class LocalAsterisk:
    """ARI URL and credentials of the project's Asterisk, and host paths of its shared directories
    (``recordings``, ``patient_recordings``, ``patient_audio``, ``scripts``, ``prompts``)."""

    ari_url: str
    user: str
    password: str
    dirs: dict[str, Path] = field(default_factory=dict)
    pid_file: Path | None = None

    @property
    def pid(self) -> int | None:
        """Asterisk's PID (from its PID file), None if unknown."""
        try:
            return int(self.pid_file.read_text().strip()) if self.pid_file else None
        except (OSError, ValueError):
            return None


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.is_file():
        raise AsteriskUnavailable(f"{SCRIPT} not found: `followup call` needs a source checkout")
    try:
        return subprocess.run(["bash", str(SCRIPT), *args], check=False, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AsteriskUnavailable(f"deploy/asterisk.sh {' '.join(args)} did not finish in {timeout} s") from exc


def describe() -> dict[str, Any]:
    """``deploy/asterisk.sh paths`` as a dict (``{"external": true, …}`` when FOLLOWUP_ARI_URL is set)."""
    out = _run("paths", timeout=30)
    if out.returncode != 0:
        raise AsteriskUnavailable(f"deploy/asterisk.sh paths failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout)


def ensure_started(timeout: float = 900) -> LocalAsterisk:
    """Start the project's Asterisk if it is not running (building it the first time) and describe it.

    Raises AsteriskUnavailable when FOLLOWUP_ARI_URL points elsewhere (its simulated patients cannot be
    scripted from here) or when it does not start.
    """
    info = describe()
    if info.get("external"):
        raise AsteriskUnavailable("FOLLOWUP_ARI_URL points at an external Asterisk: simulated patients need the "
                                  "project's own (unset FOLLOWUP_ARI_URL)")
    started = _run("start", timeout=timeout)
    if started.returncode != 0:
        raise AsteriskUnavailable(f"deploy/asterisk.sh start failed:\n{started.stdout[-1500:]}\n"
                                  f"{started.stderr[-1500:]}")
    return from_paths(describe())


def from_paths(info: dict[str, Any]) -> LocalAsterisk:
    """A LocalAsterisk from the JSON of ``deploy/asterisk.sh paths``."""
    return LocalAsterisk(
        ari_url=info["ari_url"],
        user=info["ari_user"],
        password=info["ari_password"],
        dirs={name: Path(d["host"]) for name, d in info.get("dirs", {}).items()},
        pid_file=Path(info["pid_file"]) if info.get("pid_file") else None,
    )


def is_running() -> bool:
    """Whether the project's Asterisk runs and answers ARI (``deploy/asterisk.sh status``)."""
    return _run("status", timeout=30).returncode == 0


def stop() -> None:
    """Stop the project's Asterisk (``deploy/asterisk.sh stop``)."""
    _run("stop", timeout=60)
