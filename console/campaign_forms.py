"""The supervisor's campaign wizard behind the pages: uploaded patient lists, the create form, import reports.

1. **Upload.** The file goes to ``<data_dir>/uploads/<32 hex>.<csv|xlsx>`` with a sidecar ``.json`` (original
   name, size, who). Its type is checked by extension *and* content (an XLSX is a ZIP: ``PK\\x03\\x04``; a
   CSV has no NUL bytes), then ``models.imports.preview`` must find a header row; otherwise the upload is
   refused naming the field ``file`` and the stored copy is deleted.
2. **Create.** The form (``parse_create_form``) is read field by field into the keyword arguments of
   ``dialer.campaigns.create_campaign``; unknown fields are refused; every problem is a ``FieldError``
   naming the form field. ``create_campaign`` itself validates the values and raises ValueError naming its
   field, which the page shows as is.
3. **Import** with ``models.imports.import_file`` (small files, in the request) or as an rq job through
   ``dialer.jobs.enqueue_import`` (files over ``BACKGROUND_IMPORT_BYTES``). The report is kept as JSON in
   ``<data_dir>/imports/campaign-<id>.json`` so the campaign page can show its row error table later.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.retry import RETRYABLE_OUTCOMES, RetryPolicy
from dialer.windows import PRESETS, WEEKDAYS
from models.imports import FIELDS, ImportFileError, Preview, preview
from models.vocab import LANGUAGES, VISIT_KINDS

ALLOWED_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
BACKGROUND_IMPORT_BYTES = 5 * 1024 * 1024  # bigger files import as an rq job, the page polls its progress
REPORT_ROWS_SHOWN = 500
CUSTOM_WINDOWS = "custom"

# The create form's fixed fields (the column mapping adds map_0 … map_<n-1>, one per header).
_RETRY_FIELDS = tuple(f"retry_{o}_{part}" for o in RETRYABLE_OUTCOMES for part in ("max", "intervals"))
FORM_FIELDS: frozenset[str] = frozenset(
    {
        "csrf_token",
        "name",
        "description",
        "flow_id",
        "language",
        "windows_preset",
        *(f"win_{d}" for d in WEEKDAYS),
        "start_date",
        "end_date",
        "concurrency",
        "priority",
        "max_attempts",
        "max_callbacks",
        *_RETRY_FIELDS,
        "caller_id",
        "days_after_discharge",
        "department",
        "visit_kind",
    }
)
_MAP_FIELD = re.compile(r"^map_(\d{1,3})$")


class FieldError(ValueError):
    """A form value that cannot be used: ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Upload:
    """A stored upload: its id, file and original name."""

    id: str
    path: Path
    filename: str
    size: int


# --- uploads --------------------------------------------------------------------------------------------


def uploads_dir(data_dir: str | Path) -> Path:
    """Where uploads are kept (created on first use)."""
    path = Path(data_dir) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_type(filename: str, head: bytes) -> str:
    """The upload's suffix (``.csv``/``.xlsx``) if its name and first bytes agree; FieldError("file") otherwise."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise FieldError("file", f"only .csv or .xlsx files are accepted, got {suffix or 'no extension'!r}")
    if not head:
        raise FieldError("file", "the file is empty")
    if suffix == ".xlsx" and not head.startswith(b"PK\x03\x04"):
        raise FieldError("file", "not an XLSX workbook (the content is not a ZIP archive)")
    if suffix == ".csv" and b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FieldError("file", "not a text CSV file (binary content)")
    return suffix


def save_upload(data_dir: str | Path, filename: str, data: bytes, user_id: int) -> tuple[Upload, Preview]:
    """Check and store an uploaded patient list; returns it with its column preview. FieldError("file")
    when it is not a usable CSV/XLSX (nothing is kept then)."""
    suffix = check_type(filename, data[:4096])
    upload_id = secrets.token_hex(16)
    folder = uploads_dir(data_dir)
    path = folder / f"{upload_id}{suffix}"
    path.write_bytes(data)
    try:
        shown = preview(path)
    except (ImportFileError, UnicodeError, ValueError, KeyError, OSError) as exc:
        path.unlink(missing_ok=True)
        raise FieldError("file", f"cannot read {Path(filename).name}: {_plain_reason(exc, path)}") from None
    except Exception as exc:  # noqa: BLE001 - a malformed XLSX raises whatever openpyxl/zipfile meets first
        path.unlink(missing_ok=True)
        raise FieldError("file", f"cannot read {Path(filename).name}: {type(exc).__name__}") from None
    meta = {"filename": Path(filename).name, "size": len(data), "user_id": user_id}
    (folder / f"{upload_id}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return Upload(upload_id, path, meta["filename"], len(data)), shown


def _plain_reason(exc: Exception, path: Path) -> str:
    # The stored name means nothing to the user: leave only the reason.
    return str(exc).replace(f"{path}: ", "").replace(str(path), "the file")


def find_upload(data_dir: str | Path, upload_id: str) -> Upload | None:
    """A stored upload by id (None for a malformed or unknown id: no path is built from user text)."""
    if not UPLOAD_ID.match(upload_id):
        return None
    folder = uploads_dir(data_dir)
    meta_file = folder / f"{upload_id}.json"
    for suffix in ALLOWED_SUFFIXES:
        path = folder / f"{upload_id}{suffix}"
        if path.is_file() and meta_file.is_file():
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            return Upload(upload_id, path, meta.get("filename", path.name), int(meta.get("size", 0)))
    return None


# --- the create form ------------------------------------------------------------------------------------


def default_form(flow_ids: list[str]) -> dict[str, str]:
    """The create form's initial values: default windows and retry policy, 3/7/30 days after discharge."""
    values = {
        "name": "",
        "flow_id": flow_ids[0] if flow_ids else "",
        "language": "",
        "windows_preset": "default",
        "concurrency": "10",
        "priority": "0",
        "max_attempts": "3",
        "max_callbacks": "3",
        "days_after_discharge": "",
        "caller_id": "",
        "department": "",
        "visit_kind": "",
        "start_date": "",
        "end_date": "",
        "description": "",
    }
    for day in WEEKDAYS:
        values[f"win_{day}"] = format_windows(PRESETS["default"].get(day, []))
    for outcome, retry in RetryPolicy.default().by_outcome.items():
        values[f"retry_{outcome}_max"] = str(retry.max)
        values[f"retry_{outcome}_intervals"] = ",".join(str(v) for v in retry.intervals_min)
    return values


def format_windows(windows: list[list[str]]) -> str:
    """``[["09:00", "11:30"], ["14:00", "17:30"]]`` → ``09:00-11:30, 14:00-17:30``."""
    return ", ".join(f"{a}-{b}" for a, b in windows)


def _windows(field: str, text: str) -> list[list[str]]:
    out = []
    for part in re.split(r"[,，;；\s]+", text.strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d{1,2}:\d{2})[-–~～](\d{1,2}:\d{2})", part)
        if m is None:
            raise FieldError(field, f"expected HH:MM-HH:MM ranges separated by commas, got {part!r}")
        out.append([m.group(1).zfill(5), m.group(2).zfill(5)])
    return out


def _int(field: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FieldError(field, f"expected a whole number, got {text!r}") from None


def _ints(field: str, text: str) -> list[int]:
    return [_int(field, part) for part in re.split(r"[,，\s]+", text.strip()) if part]


def _text(values: dict[str, str], key: str) -> str | None:
    value = values.get(key, "").strip()
    return value or None


def parse_create_form(
    form: dict[str, str], headers: list[str]
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The submitted form → (``create_campaign`` keyword arguments, the column mapping ``{header: field}``).

    FieldError names the first bad field: an unknown field, a mapping to an unknown import field, a number
    that is not one, a malformed window. Range checks are ``create_campaign``'s (ValueError naming it).
    """
    for key in form:
        m = _MAP_FIELD.match(key)
        if key not in FORM_FIELDS and (m is None or int(m.group(1)) >= len(headers)):
            raise FieldError(key[:64], "unknown form field")
    mapping: dict[str, str | None] = {}
    for i, header in enumerate(headers):
        target = form.get(f"map_{i}", "").strip()
        if target and target not in FIELDS:
            raise FieldError(f"map_{i}", f"{target!r} is not an import field ({', '.join(FIELDS)})")
        mapping[header] = target or None
    language = _text(form, "language")
    if language is not None and language not in LANGUAGES:
        raise FieldError("language", f"expected one of {', '.join(LANGUAGES)} or empty")
    visit_kind = _text(form, "visit_kind")
    if visit_kind is not None and visit_kind not in VISIT_KINDS:
        raise FieldError("visit_kind", f"expected one of {', '.join(VISIT_KINDS)} or empty")
    preset = form.get("windows_preset", "default").strip() or "default"
    if preset == CUSTOM_WINDOWS:
        windows: Any = {d: w for d in WEEKDAYS if (w := _windows(f"win_{d}", form.get(f"win_{d}", "")))}
    elif preset in PRESETS:
        windows = preset
    else:
        raise FieldError("windows_preset", f"expected one of {', '.join((*PRESETS, CUSTOM_WINDOWS))}")
    retry: dict[str, Any] = {}
    for outcome in RETRYABLE_OUTCOMES:
        max_text = form.get(f"retry_{outcome}_max", "").strip()
        if not max_text:
            continue
        retry[outcome] = {
            "max": _int(f"retry_{outcome}_max", max_text),
            "intervals_min": _ints(f"retry_{outcome}_intervals", form.get(f"retry_{outcome}_intervals", "")),
        }
    if _text(form, "max_callbacks") is not None:
        retry["max_callbacks"] = _int("max_callbacks", form["max_callbacks"])
    days = _text(form, "days_after_discharge")
    kwargs: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": _text(form, "description"),
        "flow_id": form.get("flow_id", "").strip(),
        "language": language,
        "windows": windows,
        "start_date": _text(form, "start_date"),
        "end_date": _text(form, "end_date"),
        "max_concurrent_calls": _int("concurrency", form.get("concurrency", "10") or "10"),
        "priority": _int("priority", form.get("priority", "0") or "0"),
        "max_attempts": _int("max_attempts", form.get("max_attempts", "3") or "3"),
        "retry_policy": retry,
        "caller_id": _text(form, "caller_id"),
        "days_after_discharge": _ints("days_after_discharge", days) if days else None,
        "department": _text(form, "department"),
        "visit_kind": visit_kind,
    }
    return kwargs, mapping


def error_field(message: str) -> str:
    """The field a ``create_campaign`` ValueError names: the text before the first colon."""
    return message.split(":", 1)[0].strip() if ":" in message else "form"


# --- import reports -------------------------------------------------------------------------------------


def report_file(data_dir: str | Path, campaign_id: int) -> Path:
    """Where a campaign's last import report is kept."""
    folder = Path(data_dir) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"campaign-{int(campaign_id)}.json"


def save_report(data_dir: str | Path, campaign_id: int, data: dict[str, Any]) -> None:
    """Keep ``data`` (an ImportReport dict, or ``{"job_id": ...}`` for a background import)."""
    report_file(data_dir, campaign_id).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def load_report(data_dir: str | Path, campaign_id: int) -> dict[str, Any] | None:
    """The campaign's last import report, if any."""
    path = report_file(data_dir, campaign_id)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
