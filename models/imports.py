"""Importing a patient list: patients and visits from a hospital system's CSV or XLSX export, and the
follow-up call tasks of a campaign for them.

Theory of operation (docs/import.md has the user's view):

1. **Read.** A CSV's encoding is detected (UTF-8, UTF-8 with BOM, UTF-16 with BOM, else GB18030 — a
   superset of the GBK that Chinese HIS exports use — else charset-normalizer's guess) and its delimiter
   guessed from the first line; rows carry their *physical* line number (header = line 1; a quoted
   field spanning lines counts all of them). An XLSX is streamed with openpyxl in read-only mode; rows
   carry the sheet's row number. The header is the first row (among the first ten) that names at least
   two known fields, so a title row above it does not confuse the import.
2. **Map.** Each header is matched against Chinese and English synonyms (``FIELDS``); an explicit mapping
   (``{header: field}``, or ``{field: header}``) overrides the guess. A missing required column (name,
   phone) is a file-level ``ImportFileError`` that names it and lists the headers found.
3. **Validate** each row into a patient (and a visit when the row has visit columns). A row is imported
   whole or not at all: every problem becomes a ``RowError(line, field, value, reason)`` and the row is
   left out; nothing is dropped without a line in the report.
4. **Write** in batches (``batch_rows``, default 2,000) through SQLAlchemy Core: existing patients, visits
   and task keys are fetched per batch with ``IN`` queries, new rows go in with one executemany INSERT
   … RETURNING, changed ones with one executemany UPDATE; each batch commits (a dry run rolls the whole
   import back instead). A patient is the same patient by HIS id, else by phone + name; a visit by HIS
   id, else by (patient, kind, visit date, department). The same visit twice in a file is reported as a
   duplicate and imported once; importing the same file again creates nothing.
5. **Queue** (with a campaign): one ``CallTask`` per imported visit and day offset N in
   ``campaign.days_after_discharge``, due at local midnight of discharge date + N in the campaign's time
   zone (the engine waits for the calling window), or due ``now`` when the campaign has no offsets or the
   visit no discharge date. ``dedupe_key`` (``visit:<HIS id>:day<N>``, ``visit#<db id>:day<N>`` without
   a HIS id, ``patient:…`` for rows without a visit) makes a re-import queue nothing twice. Visits outside
   the campaign's department / visit kind, numbers on the do-not-call list and deceased patients get no
   task (counted and noted). When several offsets of a visit are already past, only the latest is
   queued: a patient discharged 40 days ago gets the day-30 call, not three calls at once.

Phone numbers appear in the report only masked (last four digits).
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import json
import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.campaigns import CallTask, Campaign
from models.do_not_call import DoNotCall
from models.patients import Patient, Visit
from models.phones import PhoneError, mask_phone, parse_phone, phone_hasher
from models.types import utcnow
from models.vocab import LANGUAGES, VISIT_KINDS

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "ImportFileError",
    "ImportProgress",
    "ImportReport",
    "Preview",
    "RowError",
    "guess_mapping",
    "import_file",
    "load_mapping",
    "parse_date",
    "preview",
]

# --- the columns ----------------------------------------------------------------------------------------

# field → header synonyms (compared after normalize_header: NFKC, lower case, no spaces/_/-/*, no
# bracketed notes such as "(必填)"). birth_year, birth_date and age all fill Patient.birth_year.
# fmt: off
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "患者姓名", "病人姓名", "患者", "病人", "name", "patientname", "fullname"),
    "phone": (
        "手机", "手机号", "手机号码", "联系电话", "电话", "电话号码", "联系方式", "移动电话", "患者电话",
        "联系人电话", "phone", "mobile", "mobilephone", "phonenumber", "tel", "telephone", "cellphone",
    ),
    "gender": ("性别", "gender", "sex"),
    "birth_year": ("出生年份", "出生年", "birthyear", "yearofbirth"),
    "birth_date": ("出生日期", "生日", "birthdate", "dateofbirth", "dob", "birthday"),
    "age": ("年龄", "age"),
    "patient_id": (
        "病人id", "患者id", "病历号", "患者编号", "病人编号", "病案号", "登记号", "patientid", "patientno",
        "mrn", "medicalrecordnumber",
    ),
    "visit_id": (
        "住院号", "门诊号", "就诊号", "就诊id", "就诊流水号", "住院流水号", "visitid", "visitno",
        "admissionid", "admissionno", "encounterid",
    ),
    "kind": ("类型", "就诊类型", "就诊类别", "患者类型", "kind", "visittype", "visitkind", "type"),
    "department": ("科室", "就诊科室", "出院科室", "住院科室", "department", "dept"),
    "doctor": ("医生", "主治医生", "主治医师", "医师", "接诊医生", "doctor", "physician", "attending"),
    "ward": ("病区", "病房", "ward"),
    "diagnosis": ("诊断", "出院诊断", "主要诊断", "门诊诊断", "diagnosis"),
    "procedure": ("手术", "手术名称", "术式", "procedure", "surgery", "operation"),
    "visit_date": (
        "就诊日期", "入院日期", "就诊时间", "入院时间", "门诊日期", "体检日期", "手术日期", "visitdate",
        "admissiondate", "admitdate", "date",
    ),
    "discharge_date": ("出院日期", "出院时间", "dischargedate", "discharge"),
    "language": ("语言", "语种", "language", "lang"),
    "salutation": ("称呼", "尊称", "salutation", "title"),
}
REQUIRED_FIELDS: tuple[str, ...] = ("name", "phone")
_VISIT_FIELDS = (
    "visit_id", "kind", "department", "doctor", "ward", "diagnosis", "procedure", "visit_date", "discharge_date",
)
_MAX_LEN = {
    "name": 100, "patient_id": 64, "visit_id": 64, "department": 100, "doctor": 100, "ward": 100,
    "salutation": 32,
}

_GENDERS = {
    "男": "male", "男性": "male", "m": "male", "male": "male", "1": "male",
    "女": "female", "女性": "female", "f": "female", "female": "female", "2": "female",
    # GB/T 2261.1: 0 unknown, 9 unspecified
    "未知": "unknown", "不详": "unknown", "u": "unknown", "unknown": "unknown", "0": "unknown", "9": "unknown",
}
_KINDS = {
    "门诊": "outpatient", "急诊": "outpatient", "outpatient": "outpatient", "op": "outpatient",
    "住院": "inpatient", "出院": "inpatient", "inpatient": "inpatient", "ip": "inpatient",
    "体检": "checkup", "健康体检": "checkup", "checkup": "checkup", "check-up": "checkup",
    "手术": "surgery", "日间手术": "surgery", "surgery": "surgery",
}
_LANGUAGES = {
    "中文": "zh", "普通话": "zh", "汉语": "zh", "国语": "zh", "华语": "zh", "zh": "zh", "zh-cn": "zh",
    "cn": "zh", "chinese": "zh", "mandarin": "zh",
    "英语": "en", "英文": "en", "en": "en", "en-us": "en", "en-gb": "en", "english": "en",
}
# fmt: on
# What HIS exports put in an empty cell.
_BLANKS = frozenset({"", "null", "none", "nan", "n/a", "na", "-", "--", "—", "/", "无", "空"})


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, not CSV/XLSX, required column missing, unknown
    campaign); nothing was written."""


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem (or notice) about one source row: ``line`` is the CSV physical line (header = 1) or
    the XLSX row number; ``value`` is the cell as read (phones masked)."""

    line: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = f" ({self.value})" if self.value else ""
        return f"line {self.line}: {self.field}{shown}: {self.reason}"


@dataclass(frozen=True)
class ImportProgress:
    """Where a running import is: after each batch. ``fraction`` of the file read, when known."""

    rows_done: int
    errors: int
    elapsed_s: float
    fraction: float | None = None

    @property
    def rate(self) -> float:
        """Rows per second so far."""
        return self.rows_done / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class ImportReport:
    """What an import did. ``rows_read`` counts data rows (not the header, not blank rows); every row is
    either imported, a duplicate, or has entries in ``errors``. ``notes`` are rows imported with a remark
    (duplicate visit, do-not-call, extension dropped, …)."""

    path: str
    campaign_id: int | None = None
    dry_run: bool = False
    encoding: str | None = None
    header_line: int = 1
    mapping: dict[str, str | None] = field(default_factory=dict)
    rows_read: int = 0
    rows_imported: int = 0
    rows_failed: int = 0
    blank_rows: int = 0
    patients_created: int = 0
    patients_updated: int = 0
    visits_created: int = 0
    visits_updated: int = 0
    tasks_created: int = 0
    tasks_existing: int = 0
    tasks_filtered: int = 0
    tasks_superseded: int = 0
    duplicates: int = 0
    skipped_do_not_call: int = 0
    skipped_deceased: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[RowError] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        """Import speed."""
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        data["rows_per_s"] = round(self.rows_per_s, 1)
        return data

    def to_json(self) -> str:
        """The report as a JSON object (UTF-8 text, Chinese kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass
class Preview:
    """What the console shows before an import: headers, the guessed mapping ``{header: field or None}``,
    required fields not mapped, and the first rows as text (phone column masked)."""

    headers: list[str]
    mapping: dict[str, str | None]
    missing: list[str]
    rows: list[list[str]]
    header_line: int
    encoding: str | None
    fields: list[str] = field(default_factory=lambda: list(FIELDS))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


# --- reading --------------------------------------------------------------------------------------------


@dataclass
class _Source:
    rows: Iterator[tuple[int, list[Any]]]  # (line or row number, cells)
    fraction: Callable[[], float | None]
    encoding: str | None
    spreadsheet: bool = False  # rows end at their last filled cell; cells right of the header are ignored


def _detect_encoding(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # A strict decode of the whole file: a few milliseconds for 10 MB, and a UTF-8 check of only the
    # first kilobytes would pass a GBK file whose first rows happen to be ASCII.
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    from charset_normalizer import from_path

    best = from_path(path, steps=5, chunk_size=4096).best()
    if best is None:
        raise ImportFileError(f"{path}: cannot tell the text encoding (not UTF-8, GBK/GB18030)")
    return best.encoding


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@contextmanager
def _open_csv(path: Path) -> Iterator[_Source]:
    encoding = _detect_encoding(path)
    size = path.stat().st_size or 1
    raw = path.open("rb")
    try:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        first = text.readline()
        delimiter = _guess_delimiter(first)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)

        def rows() -> Iterator[tuple[int, list[Any]]]:
            line = 1
            try:
                for cells in reader:
                    yield line, cells
                    line = reader.line_num + 1  # the next row starts after the lines this one used
            except csv.Error as exc:
                raise ImportFileError(f"{path}:{line}: unreadable CSV ({exc})") from None

        yield _Source(rows(), lambda: min(raw.tell() / size, 1.0), encoding)
    finally:
        raw.close()


@contextmanager
def _open_xlsx(path: Path) -> Iterator[_Source]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises zipfile/KeyError/InvalidFile… when damaged
        raise ImportFileError(f"{path}: not a readable XLSX workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        total = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
        # Some writers store a wrong <dimension>; without it openpyxl reads every row that is there.
        sheet.reset_dimensions()
        done = [0]

        def rows() -> Iterator[tuple[int, list[Any]]]:
            for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                done[0] = number
                yield number, list(cells)

        yield _Source(rows(), lambda: min(done[0] / total, 1.0) if total else None, None, spreadsheet=True)
    finally:
        workbook.close()


@contextmanager
def _open(path: str | Path) -> Iterator[_Source]:
    p = Path(path)
    if not p.is_file():
        raise ImportFileError(f"{p}: no such file")
    with p.open("rb") as fh:
        magic = fh.read(8)
    suffix = p.suffix.lower()
    if suffix == ".xls" or magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(f"{p}: old binary Excel (.xls) is not supported; save it as .xlsx or .csv")
    opener = _open_xlsx if suffix in (".xlsx", ".xlsm") or magic.startswith(b"PK\x03\x04") else _open_csv
    try:
        with opener(p) as source:
            yield source
    except OSError as exc:
        raise ImportFileError(f"{p}: cannot read ({exc.strerror or exc})") from None


# --- headers and the mapping ----------------------------------------------------------------------------

_SYNONYMS: dict[str, str] = {}


def normalize_header(header: object) -> str:
    """A header as compared with the synonyms: NFKC, lower case, without spaces, ``_ - * :``, and
    without a bracketed remark (``联系电话(手机)`` → ``联系电话``)."""
    text = unicodedata.normalize("NFKC", "" if header is None else str(header)).strip().lower()
    text = re.sub(r"[(\[][^)\]]*[)\]]", "", text)
    return re.sub(r"[\s_\-*:.]", "", text)


for _field, _names in FIELDS.items():
    for _name in (_field, *_names):
        _SYNONYMS.setdefault(normalize_header(_name), _field)


def guess_mapping(headers: list[str]) -> dict[str, str | None]:
    """``{header: field or None}`` from the synonyms; a field already taken by an earlier column is not
    given to a later one (that column maps to None)."""
    taken: set[str] = set()
    mapping: dict[str, str | None] = {}
    for header in headers:
        if header in mapping:
            continue  # a repeated header: the first column with it decides
        guess = _SYNONYMS.get(normalize_header(header))
        if guess in taken:
            guess = None
        if guess:
            taken.add(guess)
        mapping[header] = guess
    return mapping


def load_mapping(path: str | Path) -> dict[str, str | None]:
    """A mapping from a JSON file: an object ``{header: field}`` (or ``{field: header}``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{path}: not a readable JSON mapping ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ImportFileError(f"{path}: the mapping must be a JSON object {{header: field}}")
    return data


def _apply_mapping(headers: list[str], override: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The guessed mapping with ``override`` applied; unknown headers or fields are a file-level error."""
    mapping = guess_mapping(headers)
    if not override:
        return mapping
    by_norm = {normalize_header(h): h for h in headers}
    explicit: dict[str, str | None] = {}
    for key, value in override.items():
        header = key if key in mapping else by_norm.get(normalize_header(key))
        if header is not None:
            target = value or None
            if target is not None and target not in FIELDS:
                raise ImportFileError(
                    f"mapping: {key!r} → {value!r}: unknown field; fields are {', '.join(FIELDS)}"
                )
            explicit[header] = target
        elif key in FIELDS and isinstance(value, str):
            header = value if value in mapping else by_norm.get(normalize_header(value))
            if header is None:
                raise ImportFileError(f"mapping: {key!r} → {value!r}: no such column; headers: {headers}")
            explicit[header] = key
        else:
            raise ImportFileError(
                f"mapping: {key!r} is neither a column of the file nor a field; headers found: {headers}"
            )
    # An explicit choice of a field takes it away from any guessed column.
    chosen = {f for f in explicit.values() if f}
    for header in mapping:
        if header in explicit:
            mapping[header] = explicit[header]
        elif mapping[header] in chosen:
            mapping[header] = None
    return mapping


def _is_blank_row(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _find_header(rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, list[str], int, list, list[int]]:
    """The header row: the first of the first ten non-blank rows naming two known fields, else the first
    non-blank row. Returns (line, headers, blank rows skipped, rows read past it to re-read, lines of the
    non-blank rows above it — a title — that are skipped)."""
    seen: list[tuple[int, list[Any]]] = []
    blanks = 0
    for line, cells in rows:
        if _is_blank_row(cells):
            blanks += 1
            continue
        seen.append((line, cells))
        headers = [("" if c is None else str(c)).strip() for c in cells]
        known = {_SYNONYMS.get(normalize_header(h)) for h in headers} - {None}
        if len(known) >= 2:
            return line, headers, blanks, [], [n for n, _ in seen[:-1]]
        if len(seen) >= 10:
            break
    if not seen:
        raise ImportFileError("the file is empty (no header row)")
    line, cells = seen[0]
    return line, [("" if c is None else str(c)).strip() for c in cells], blanks, seen[1:], []


# --- values ---------------------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT].*)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{4}(?:\d{2})?)?")


def parse_date(value: object) -> date:
    """A date as HIS exports write it: ``2026-11-20``, ``2026/11/20``, ``2026.11.20``, ``20261120``,
    ``2026年11月20日``, any of them followed by a time, or an Excel date cell / serial number. Raises
    ValueError saying why not."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            value = str(int(value))
        elif 1 <= value < 2958466:  # an Excel serial day number in a cell without a date format
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date()
        else:
            raise ValueError(f"not a date: {value!r}")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _DATE.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    if not match:
        raise ValueError("not a date (use 2026-11-20, 2026/11/20, 20261120 or 2026年11月20日)")
    year, month, day = (int(g) for g in match.groups())
    if not 1900 <= year <= 2100:
        raise ValueError(f"year {year} is out of range")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"no such day: {year}-{month:02d}-{day:02d}") from None


def _text(value: Any) -> str | None:
    """A cell as text, or None when blank. Integral numbers lose the ``.0`` spreadsheets add."""
    if value is None:
        return None
    if type(value) is str:  # the common case, kept cheap
        text = value.strip()
        return None if not text or (len(text) <= 4 and text.lower() in _BLANKS) else text
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return None if text.lower() in _BLANKS else text


def _birth_year(kind: str, value: Any, at: date | None, today: date) -> int:
    """The birth year from a birth date, a year, or an age (at ``at``, the visit date, else today)."""
    if kind == "birth_date":
        year = parse_date(value).year
    elif kind == "birth_year":
        text = unicodedata.normalize("NFKC", str(value)).strip().removesuffix("年")
        if not re.fullmatch(r"\d{4}(\.0)?", text):
            raise ValueError("not a year (e.g. 1956)")
        year = int(float(text))
    else:  # age: 65, 65岁, 65.0; months or days (infants) are age 0
        text = unicodedata.normalize("NFKC", str(value)).strip().lower()
        match = re.fullmatch(r"(\d{1,3})(?:\.0)?\s*(岁|周岁|y|years?)?", text)
        if match:
            year = (at or today).year - int(match.group(1))
        elif re.fullmatch(r"\d{1,2}\s*(个月|月|天|日|周|m|d|w)", text):
            year = (at or today).year
        else:
            raise ValueError("not an age (e.g. 65 or 65岁)")
    if not 1880 <= year <= today.year:
        raise ValueError(f"birth year {year} is out of range")
    return year


# --- rows -----------------------------------------------------------------------------------------------


@dataclass
class _Record:
    line: int
    patient: dict[str, Any]  # external_id, name, phone, phone_hash, gender, birth_year, language, salutation
    visit: dict[str, Any] | None  # external_id, kind, department, ..., visit_date, discharge_date
    note: str | None = None  # e.g. phone extension dropped
    duplicate: bool = False  # the same visit (or patient, for rows without a visit) as an earlier row
    failed: bool = False  # refused while writing (e.g. a HIS visit id of another patient)

    @property
    def patient_key(self) -> tuple:
        ext = self.patient["external_id"]
        return ("ext", ext) if ext else ("pn", self.patient["phone"], self.patient["name"])


class _RowReader:
    """Turns source rows into records (or RowErrors) for a fixed column layout."""

    def __init__(
        self,
        headers: list[str],
        mapping: dict[str, str | None],
        hash_key: str,
        today: date,
        spreadsheet: bool,
    ) -> None:
        self.width = len(headers)
        self.spreadsheet = spreadsheet
        self.columns: dict[str, int] = {}
        for i, h in enumerate(headers):
            if f := mapping.get(h):
                self.columns.setdefault(f, i)  # two columns with the same header: the first one
        self.hash = phone_hasher(hash_key)
        self.today = today
        self.dates: dict[Any, date | str] = {}  # cell → date or the reason it is none (dates repeat a lot)
        self.has_visit_columns = any(f in self.columns for f in _VISIT_FIELDS)
        birth = [f for f in ("birth_date", "birth_year", "age") if f in self.columns]
        self.birth_field = birth[0] if birth else None

    def read(self, line: int, cells: list[Any], errors: list[RowError]) -> _Record | None:
        """A record, or None after appending this row's errors."""
        start = len(errors)
        if self.spreadsheet:
            cells = cells[: self.width] + [None] * (self.width - len(cells))
        extra = cells[self.width :]
        if len(cells) < self.width or any(c not in (None, "") for c in extra):
            # Trailing empty cells (a trailing comma) are harmless; anything else means shifted columns.
            errors.append(RowError(line, "row", "", f"expected {self.width} columns, got {len(cells)}"))
            return None
        cols = self.columns

        def text(f: str) -> str | None:
            i = cols.get(f)
            if i is None:
                return None
            value = _text(cells[i])
            limit = _MAX_LEN.get(f)
            if value is not None and limit and len(value) > limit:
                errors.append(RowError(line, f, value[:20] + "…", f"longer than {limit} characters"))
                return None
            return value

        def fail(f: str, value: Any, reason: str) -> None:
            errors.append(RowError(line, f, "" if value is None else str(value), reason))

        name = text("name")
        if name is None and len(errors) == start:
            fail("name", None, "empty")
        raw_phone = cells[cols["phone"]]
        if isinstance(raw_phone, str) and _text(raw_phone) is None:
            raw_phone = None  # "NULL", "-", "无": empty, not a malformed number
        phone = note = None
        try:
            parsed = parse_phone(raw_phone)
            phone, note = parsed.e164, parsed.note
        except PhoneError as exc:
            fail("phone", mask_phone(_text(raw_phone) or ""), str(exc))

        patient: dict[str, Any] = {"external_id": text("patient_id"), "name": name, "phone": phone}
        if "gender" in cols and (g := _text(cells[cols["gender"]])) is not None:
            gender = _GENDERS.get(g.lower())
            if gender is None:
                fail("gender", g, "not a gender (男/女/M/F)")
            patient["gender"] = gender
        if "language" in cols and (lang := _text(cells[cols["language"]])) is not None:
            code = _LANGUAGES.get(lang.lower())
            if code not in LANGUAGES:
                fail("language", lang, f"not a supported language ({'/'.join(LANGUAGES)}: 中文/英语)")
            patient["language"] = code
        if (s := text("salutation")) is not None:
            patient["salutation"] = s

        visit: dict[str, Any] | None = None
        dates: dict[str, date] = {}
        for f in ("visit_date", "discharge_date"):
            if f in cols and (v := cells[cols[f]]) is not None and _text(v) is not None:
                day = self.dates.get(v)
                if day is None:
                    try:
                        day = parse_date(v)
                    except ValueError as exc:
                        day = str(exc)
                    if len(self.dates) > 50_000:
                        self.dates.clear()
                    self.dates[v] = day
                if isinstance(day, str):
                    fail(f, _text(v), day)
                else:
                    dates[f] = day
        if self.birth_field and (b := cells[cols[self.birth_field]]) is not None and _text(b) is not None:
            try:
                patient["birth_year"] = _birth_year(self.birth_field, b, dates.get("visit_date"), self.today)
            except ValueError as exc:
                fail(self.birth_field, _text(b), str(exc))

        if self.has_visit_columns:
            visit = {
                "external_id": text("visit_id"),
                "department": text("department"),
                "doctor": text("doctor"),
                "ward": text("ward"),
                "diagnosis": text("diagnosis"),
                "procedure": text("procedure"),
            }
            kind_text = text("kind")
            discharge = dates.get("discharge_date")
            if kind_text is not None:
                kind = _KINDS.get(kind_text.lower())
                if kind not in VISIT_KINDS:
                    fail("kind", kind_text, "not a visit kind (门诊/住院/体检/手术)")
            else:
                kind = "inpatient" if discharge else "outpatient"
            if not any(visit.values()) and not dates and kind_text is None:
                visit = None  # the row has no visit, only a patient
            else:
                visit_date = dates.get("visit_date") or discharge
                if visit_date is None and not any(
                    e.line == line and "date" in e.field for e in errors[start:]
                ):
                    fail("visit_date", None, "a visit needs a visit date or a discharge date")
                if discharge and dates.get("visit_date") and discharge < dates["visit_date"]:
                    fail("discharge_date", discharge.isoformat(), f"before the visit date {visit_date}")
                visit.update(kind=kind, visit_date=visit_date, discharge_date=discharge)

        if len(errors) > start:
            return None
        patient["phone_hash"] = self.hash(phone)  # type: ignore[arg-type]
        return _Record(line, patient, visit, note)


# --- writing --------------------------------------------------------------------------------------------

_PATIENT_COLUMNS = (
    "name",
    "phone",
    "phone_hash",
    "external_id",
    "gender",
    "birth_year",
    "language",
    "salutation",
)
_VISIT_COLUMNS = (
    "kind",
    "department",
    "doctor",
    "ward",
    "diagnosis",
    "procedure",
    "visit_date",
    "discharge_date",
)


_TASK_COLUMNS = [
    "campaign_id", "patient_id", "visit_id", "dedupe_key", "status", "due_at", "priority", "attempts_made",
    "max_attempts", "created_at", "updated_at",
]  # fmt: skip


@dataclass
class _CampaignRules:
    id: int
    offsets: list[int]
    zone: ZoneInfo
    department: str | None
    visit_kind: str | None
    priority: int
    max_attempts: int


def _campaign_rules(session: Session, campaign_id: int) -> _CampaignRules:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise ImportFileError(f"campaign {campaign_id} does not exist")
    offsets = campaign.days_after_discharge or []
    if not isinstance(offsets, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in offsets
    ):
        raise ImportFileError(
            f"campaign {campaign_id}: days_after_discharge must be a list of whole days ≥ 0, got {offsets!r}"
        )
    try:
        zone = ZoneInfo(campaign.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFileError(f"campaign {campaign_id}: unknown time zone {campaign.timezone!r}") from None
    return _CampaignRules(
        id=campaign.id,
        offsets=sorted(set(offsets)),
        zone=zone,
        department=(campaign.department or "").strip() or None,
        visit_kind=campaign.visit_kind or None,
        priority=campaign.priority,
        max_attempts=campaign.max_attempts,
    )


def _bulk_insert(
    conn: Connection, table: Table, columns: list[str], rows: list[tuple], *, ids: bool = False
) -> list[int]:
    """INSERT ``rows`` (tuples of ``columns``) into ``table`` the fast way for the backend and return
    their new ids in order when ``ids``. The bulk of an import's time is here, so it skips SQLAlchemy's
    per-row statement machinery and talks to the driver inside the connection's transaction: PostgreSQL
    gets COPY with ids drawn from the table's sequence beforehand; SQLite one executemany, the new ids
    being the consecutive rowids below the new maximum (an INTEGER PRIMARY KEY takes max(rowid) + 1, and
    the write transaction holds the database's write lock, so no other writer can interleave). Values go
    through the columns' own bind processors (memoised: dates and timestamps repeat), so they are stored
    exactly as the ORM would store them."""
    if not rows:
        return []
    dialect = conn.dialect
    processors = []
    for name in columns:
        # The dialect's own implementation (SQLite's DATETIME text format), as SQLAlchemy itself would bind.
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            process = _memoised(process)
        processors.append(process)
    values = rows
    if any(processors):
        # Column by column (a transpose and map run in C), not row by row.
        data = list(zip(*rows, strict=True))
        for i, process in enumerate(processors):
            if process is not None:
                data[i] = tuple(map(process, data[i]))
        values = list(zip(*data, strict=True))
    quote = dialect.identifier_preparer.quote
    raw = conn.connection.driver_connection
    try:
        if dialect.name == "postgresql":
            new_ids: list[int] = []
            with raw.cursor() as cur:
                if ids:
                    cur.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        (table.name, len(values)),
                    )
                    new_ids = [row[0] for row in cur.fetchall()]
                    columns = ["id", *columns]
                    values = [(i, *v) for i, v in zip(new_ids, values, strict=True)]
                names = ", ".join(quote(c) for c in columns)
                with cur.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                    for v in values:
                        copy.write_row(v)
            return new_ids
        if dialect.name == "sqlite":
            names = ", ".join(quote(c) for c in columns)
            cur = raw.cursor()
            top = f"SELECT coalesce(max(id), 0) FROM {quote(table.name)}"
            try:
                before = cur.execute(top).fetchone()[0] if ids else 0
                cur.executemany(
                    f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' * len(columns))})",
                    values,
                )
                if not ids:
                    return []
                last = cur.execute(top).fetchone()[0]
            finally:
                cur.close()
            if last - before != len(values):
                # Another writer got in between the first read and our insert (the lock was taken by the
                # insert): the ids are not ours to guess. The batch is rolled back and retried.
                raise IntegrityError(f"INSERT INTO {table.name}", None, _ConcurrentInsert(table.name))
            return list(range(before + 1, last + 1))
    except dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
        raise IntegrityError(f"bulk insert into {table.name}", None, exc) from exc
    # Any other backend: the portable (slower) way.
    stmt = table.insert()
    if ids:
        params = [dict(zip(columns, r, strict=True)) for r in rows]
        result = conn.execute(stmt.returning(table.c.id, sort_by_parameter_order=True), params)
        return [row[0] for row in result]
    conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])
    return []


class _ConcurrentInsert(Exception):
    """Another writer inserted rows into the table during a bulk insert (SQLite)."""


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    cache: dict[Any, Any] = {}

    def run(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = process(value)
            return result
        except TypeError:  # unhashable
            return process(value)

    return run


def _chunks(items: list[Any], size: int = 5000) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _member_of(column: Any, values: list[Any], dialect_name: str) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(%s)`` with one array parameter (a thousand
    placeholders cost more to render and parse than the lookup itself), on SQLite ``IN (SELECT value
    FROM json_each(?))``."""
    if dialect_name == "postgresql":
        return column == any_(bindparam("members", values, type_=postgresql.ARRAY(column.type)))
    if dialect_name == "sqlite":  # likewise: one JSON array parameter, unpacked by SQLite's json_each
        members = func.json_each(bindparam("members", json.dumps(values), type_=String()))
        return column.in_(select(literal_column("value")).select_from(members))
    return column.in_(values)


class _Writer:
    """Writes batches of records; remembers what this import already wrote (patients and visits by key)
    so later batches and in-file duplicates need no database round trip."""

    def __init__(
        self,
        session: Session,
        report: ImportReport,
        rules: _CampaignRules | None,
        now: datetime,
        default_lang: str,
    ) -> None:
        self.session = session
        self.report = report
        self.rules = rules
        self.now = now
        self.default_lang = default_lang
        self.patients: dict[tuple, int] = {}  # patient key → id, for everything this import touched
        self.patient_phone: dict[int, str] = {}
        self.patient_deceased: set[int] = set()
        self.visits: dict[tuple, int] = {}  # visit key → first line
        self.patient_rows: dict[tuple, int] = {}  # patient key → first line, for rows without a visit
        self.new_patients: set[int] = set()  # created by this import: no visits or tasks to look up
        self.new_visits: set[int] = set()
        self.due_cache: dict[date, tuple[list[tuple[str, datetime]], int]] = {}

    @property
    def dialect(self) -> str:
        """The backend's name."""
        return self.session.get_bind().dialect.name

    def _in(self, column: Any, values: list[Any]) -> Any:
        return _member_of(column, values, self.dialect)

    @property
    def conn(self) -> Connection:
        """The session's connection in the current transaction (a new one after each commit)."""
        return self.session.connection()

    # patients

    def _fetch_patients(self, records: list[_Record]) -> tuple[dict[str, dict], dict[tuple, dict]]:
        t = Patient.__table__
        cols = [t.c.id, t.c.deceased, *(t.c[c] for c in _PATIENT_COLUMNS)]
        by_ext: dict[str, dict] = {}
        by_phone_name: dict[tuple, dict] = {}
        exts = sorted({r.patient["external_id"] for r in records if r.patient["external_id"]})
        for chunk in _chunks(exts):
            for row in self.conn.execute(select(*cols).where(self._in(t.c.external_id, chunk))).mappings():
                by_ext[row["external_id"]] = dict(row)
        phones = sorted({r.patient["phone"] for r in records})
        for chunk in _chunks(phones):
            for row in self.conn.execute(select(*cols).where(self._in(t.c.phone, chunk))).mappings():
                by_phone_name.setdefault((row["phone"], row["name"]), dict(row))
        return by_ext, by_phone_name

    def _resolve_patients(self, records: list[_Record]) -> None:
        todo = [r for r in records if r.patient_key not in self.patients]
        by_ext, by_phone_name = self._fetch_patients(todo) if todo else ({}, {})
        creates: dict[tuple, dict] = {}
        updates: dict[int, dict] = {}
        pending: dict[tuple[str, str], tuple] = {}  # (phone, name) → key of a patient created in this batch
        aliases: dict[tuple, tuple] = {}  # the same new patient, once with and once without a HIS id
        for r in todo:
            key = r.patient_key
            if key in self.patients or key in creates or key in aliases:
                continue  # the same patient earlier in this batch: the first row's data wins
            p = r.patient
            existing = by_ext.get(p["external_id"]) if p["external_id"] else None
            if existing is None:
                candidate = by_phone_name.get((p["phone"], p["name"]))
                # Without a HIS id, phone + name identify; a HIS id may be added to such a patient.
                if candidate and (not p["external_id"] or candidate["external_id"] is None):
                    existing = candidate
            other = pending.get((p["phone"], p["name"]))
            if existing is None and other is not None:
                first = creates[other]
                if not p["external_id"] or not first["external_id"]:
                    first["external_id"] = first["external_id"] or p["external_id"]
                    aliases[key] = other
                    continue
            if existing is None:
                pending.setdefault((p["phone"], p["name"]), key)
                creates[key] = {
                    "gender": "unknown",
                    "birth_year": None,
                    "language": self.default_lang,
                    "salutation": None,
                    **p,
                }
                continue
            changes = {
                c: p[c] for c in _PATIENT_COLUMNS if c in p and p[c] is not None and p[c] != existing[c]
            }
            self.patients[key] = existing["id"]
            self.patient_phone[existing["id"]] = p["phone"]
            if existing["deceased"]:
                self.patient_deceased.add(existing["id"])
            if changes and existing["id"] not in updates:
                updates[existing["id"]] = changes
        if creates:
            t = Patient.__table__
            now = utcnow()
            get = itemgetter(*_PATIENT_COLUMNS)
            rows = [(*get(v), now, now) for v in creates.values()]
            columns = [*_PATIENT_COLUMNS, "created_at", "updated_at"]
            new_ids = _bulk_insert(self.conn, t, columns, rows, ids=True)
            self.new_patients.update(new_ids)
            for (key, created), pid in zip(creates.items(), new_ids, strict=True):
                self.patients[key] = pid
                self.patient_phone[pid] = created["phone"]
            for key, other in aliases.items():
                self.patients[key] = self.patients[other]
            self.report.patients_created += len(creates)
        if updates:
            t = Patient.__table__
            now = utcnow()
            # One executemany per set of changed columns (phone changed, language added, …).
            groups: dict[tuple[str, ...], list[dict]] = {}
            for pid, changes in updates.items():
                groups.setdefault(tuple(sorted(changes)), []).append(
                    {"pid": pid, **{f"v_{c}": v for c, v in changes.items()}}
                )
            for columns, params in groups.items():
                stmt = (
                    update(t)
                    .where(t.c.id == bindparam("pid"))
                    .values({**{c: bindparam(f"v_{c}") for c in columns}, "updated_at": now})
                )
                self.conn.execute(stmt, params)
            self.report.patients_updated += len(updates)

    # visits

    def _visit_key(self, r: _Record, patient_id: int) -> tuple:
        v = r.visit
        assert v is not None
        if v["external_id"]:
            return ("ext", v["external_id"])
        return ("nat", patient_id, v["kind"], v["visit_date"], v["department"])

    def _resolve_visits(self, records: list[_Record]) -> list[tuple[_Record, int, int]]:
        """Create/update the batch's visits; returns (record, patient id, visit id) for each row whose visit
        this row owns (not a duplicate)."""
        t = Visit.__table__
        own: list[tuple[_Record, int, tuple]] = []
        for r in records:
            if r.visit is None:
                if r.patient_key in self.patient_rows:
                    self.report.duplicates += 1
                    first = self.patient_rows[r.patient_key]
                    self.report.notes.append(
                        RowError(
                            r.line, "row", "", f"duplicate: the same patient as line {first}; imported once"
                        )
                    )
                    r.duplicate = True
                else:
                    self.patient_rows[r.patient_key] = r.line
                continue
            pid = self.patients[r.patient_key]
            key = self._visit_key(r, pid)
            first = self.visits.get(key)
            if first is not None:
                self.report.duplicates += 1
                self.report.notes.append(
                    RowError(
                        r.line,
                        "visit_id" if key[0] == "ext" else "row",
                        key[1] if key[0] == "ext" else "",
                        f"duplicate: the same visit as line {first}; imported once",
                    )
                )
                r.duplicate = True
                continue
            self.visits[key] = r.line
            own.append((r, pid, key))
        if not own:
            return []
        existing: dict[tuple, dict] = {}
        cols = [t.c.id, t.c.patient_id, t.c.external_id, *(t.c[c] for c in _VISIT_COLUMNS)]
        exts = [k[1] for _, _, k in own if k[0] == "ext"]
        for chunk in _chunks(exts):
            for row in self.conn.execute(select(*cols).where(self._in(t.c.external_id, chunk))).mappings():
                existing[("ext", row["external_id"])] = dict(row)
        # A patient created by this import has no visits in the database yet: nothing to look up.
        nat_pids = sorted({pid for _, pid, k in own if k[0] == "nat" and pid not in self.new_patients})
        for chunk in _chunks(nat_pids):
            query = select(*cols).where(self._in(t.c.patient_id, chunk), t.c.external_id.is_(None))
            for row in self.conn.execute(query).mappings():
                nat = ("nat", row["patient_id"], row["kind"], row["visit_date"], row["department"])
                existing.setdefault(nat, dict(row))
        out: list[tuple[_Record, int, int]] = []
        creates: list[tuple[_Record, int, tuple]] = []
        updates: list[dict] = []
        for r, pid, key in own:
            row = existing.get(key)
            if row is None:
                creates.append((r, pid, key))
                continue
            if row["patient_id"] != pid:
                self.report.errors.append(
                    RowError(
                        r.line,
                        "visit_id",
                        key[1],
                        "this HIS visit id belongs to another patient; the visit was not imported",
                    )
                )
                r.failed = True
                continue
            v = r.visit
            assert v is not None
            changes = {c: v[c] for c in _VISIT_COLUMNS if v[c] is not None and v[c] != row[c]}
            if changes:
                updates.append(
                    {"vid": row["id"], **{f"v_{c}": changes.get(c, row[c]) for c in _VISIT_COLUMNS}}
                )
            out.append((r, pid, row["id"]))
        if creates:
            now = utcnow()
            get = itemgetter("external_id", *_VISIT_COLUMNS)
            rows = [(pid, *get(r.visit), now, now) for r, pid, _ in creates]
            columns = ["patient_id", "external_id", *_VISIT_COLUMNS, "created_at", "updated_at"]
            new_ids = _bulk_insert(self.conn, t, columns, rows, ids=True)
            self.new_visits.update(new_ids)
            for (r, pid, _), vid in zip(creates, new_ids, strict=True):
                out.append((r, pid, vid))
            self.report.visits_created += len(creates)
        if updates:
            stmt = (
                update(t)
                .where(t.c.id == bindparam("vid"))
                .values({**{c: bindparam(f"v_{c}") for c in _VISIT_COLUMNS}, "updated_at": utcnow()})
            )
            self.conn.execute(stmt, updates)
            self.report.visits_updated += len(updates)
        return out

    # tasks

    def _due(self, discharge: date | None) -> list[tuple[str, datetime]]:
        """(key suffix, due_at) for one visit, per the campaign's offsets."""
        rules = self.rules
        assert rules is not None
        if not rules.offsets or discharge is None:
            return [("", self.now)]
        try:
            due, superseded = self.due_cache[discharge]
        except KeyError:
            due, superseded = self.due_cache[discharge] = self._due_uncached(discharge)
        self.report.tasks_superseded += superseded
        return due

    def _due_uncached(self, discharge: date) -> tuple[list[tuple[str, datetime]], int]:
        rules = self.rules
        assert rules is not None
        due = [
            (
                f":day{n}",
                datetime.combine(discharge + timedelta(days=n), datetime.min.time(), rules.zone).astimezone(
                    UTC
                ),
            )
            for n in rules.offsets
        ]
        past = [d for d in due if d[1] <= self.now]
        if len(past) > 1:  # several calls already overdue: only the latest one still makes sense
            return [d for d in due if d[1] > self.now or d is past[-1]], len(past) - 1
        return due, 0

    def _queue_tasks(self, records: list[_Record], visits: list[tuple[_Record, int, int]]) -> None:
        rules = self.rules
        assert rules is not None
        candidates: list[tuple[_Record, int, int | None, str, datetime]] = []
        items: list[tuple[_Record, int, int | None]] = list(visits)
        # A row without a visit: one task for the patient (due now), unless the campaign filters by visit.
        items += [
            (r, self.patients[r.patient_key], None)
            for r in records
            if r.visit is None and not r.duplicate and not r.failed
        ]
        phones = {self.patient_phone[pid] for _, pid, _ in items}
        blocked: set[str] = set()
        dnc = DoNotCall.__table__
        for chunk in _chunks(sorted(phones)):
            blocked.update(self.conn.scalars(select(dnc.c.phone).where(self._in(dnc.c.phone, chunk))))
        for r, pid, vid in items:
            v = r.visit if vid is not None else None
            if rules.department and (v is None or (v["department"] or "").strip() != rules.department):
                self.report.tasks_filtered += 1
                continue
            if rules.visit_kind and (v is None or v["kind"] != rules.visit_kind):
                self.report.tasks_filtered += 1
                continue
            phone = self.patient_phone[pid]
            if phone in blocked:
                self.report.skipped_do_not_call += 1
                self.report.notes.append(
                    RowError(r.line, "phone", mask_phone(phone), "on the do-not-call list: no call task")
                )
                continue
            if pid in self.patient_deceased:
                self.report.skipped_deceased += 1
                self.report.notes.append(
                    RowError(r.line, "name", "", "patient marked deceased: no call task")
                )
                continue
            if v is not None:
                base = f"visit:{v['external_id']}" if v["external_id"] else f"visit#{vid}"
                due = self._due(v["discharge_date"])
            else:
                ext = r.patient["external_id"]
                base = f"patient:{ext}" if ext else f"patient#{pid}"
                due = [("", self.now)]
            candidates += [(r, pid, vid, base + suffix, at) for suffix, at in due]
        if not candidates:
            return
        ct = CallTask.__table__
        # Tasks can only exist already for patients this import did not create.
        old = sorted({pid for _, pid, _, _, _ in candidates if pid not in self.new_patients})
        existing: set[str] = set()
        for chunk in _chunks(old):
            existing.update(
                self.conn.scalars(
                    select(ct.c.dedupe_key).where(
                        and_(ct.c.campaign_id == rules.id, self._in(ct.c.patient_id, chunk))
                    )
                )
            )
        now = utcnow()
        rows = []
        cid, priority, max_attempts = rules.id, rules.priority, rules.max_attempts
        for _, pid, vid, key, at in candidates:
            if key in existing:
                self.report.tasks_existing += 1
                continue
            existing.add(key)
            rows.append((cid, pid, vid, key, "pending", at, priority, 0, max_attempts, now, now))
        if rows:
            _bulk_insert(self.conn, ct, _TASK_COLUMNS, rows)
            self.report.tasks_created += len(rows)

    def write(self, records: list[_Record]) -> None:
        """Write one batch (inside the caller's transaction)."""
        self._resolve_patients(records)
        visits = self._resolve_visits(records)
        if self.rules is not None:
            self._queue_tasks(records, visits)
        for r in records:
            if r.failed:
                self.report.rows_failed += 1
            elif not r.duplicate:
                self.report.rows_imported += 1
            if r.note:
                self.report.notes.append(RowError(r.line, "phone", mask_phone(r.patient["phone"]), r.note))


# --- the API --------------------------------------------------------------------------------------------


def _prepare(
    source: _Source, mapping: Mapping[str, Any] | None
) -> tuple[int, list[str], dict[str, str | None], int, list, list[int]]:
    line, headers, blanks, replay, skipped = _find_header(source.rows)
    resolved = _apply_mapping(headers, mapping)
    missing = [f for f in REQUIRED_FIELDS if f not in resolved.values()]
    if missing:
        shown = ", ".join(repr(h) for h in headers if h) or "(none)"
        raise ImportFileError(
            f"line {line}: required column(s) missing: {', '.join(missing)} "
            f"(e.g. {', '.join(FIELDS[m][0] + '/' + m for m in missing)}); headers found: {shown}"
        )
    return line, headers, resolved, blanks, replay, skipped


def preview(path: str | Path, mapping: Mapping[str, Any] | None = None, rows: int = 10) -> Preview:
    """Headers, the mapping the import would use and the first ``rows`` data rows, for the console's
    column-mapping screen. A missing required column is listed in ``missing`` (not raised)."""
    with _open(path) as source:
        line, headers, _blanks, replay, _skipped = _find_header(source.rows)
        resolved = _apply_mapping(headers, mapping)
        phone_cols = {i for i, h in enumerate(headers) if resolved.get(h) == "phone"}
        shown: list[list[str]] = []
        for _, cells in _chain(replay, source.rows):
            if len(shown) >= rows:
                break
            if _is_blank_row(cells):
                continue
            text = [_text(c) or "" for c in cells]
            shown.append([mask_phone(v) if i in phone_cols and v else v for i, v in enumerate(text)])
        return Preview(
            headers=headers,
            mapping=resolved,
            missing=[f for f in REQUIRED_FIELDS if f not in resolved.values()],
            rows=shown,
            header_line=line,
            encoding=source.encoding,
        )


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def import_file(
    session_factory: Callable[[], Session],
    path: str | Path,
    *,
    campaign_id: int | None,
    mapping: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    progress: Callable[[ImportProgress], None] | None = None,
    now: datetime | None = None,
    phone_hash_key: str | None = None,
    default_language: str | None = None,
    batch_rows: int | None = None,
) -> ImportReport:
    """Import the patients and visits of ``path`` (CSV or XLSX) and, with ``campaign_id``, queue their call
    tasks. Returns the report; raises ImportFileError when the file as a whole cannot be imported (nothing
    is written then). ``dry_run`` does everything and rolls it back. ``progress`` is called after every
    batch. ``now``: the time tasks without a discharge offset become due (default: the current time).
    ``phone_hash_key``, ``default_language`` and ``batch_rows`` default to the settings."""
    started = time.perf_counter()
    if phone_hash_key is None or default_language is None or batch_rows is None:
        from followup.config import get_settings

        settings = get_settings()
        phone_hash_key = settings.phone_hash_key if phone_hash_key is None else phone_hash_key
        default_language = settings.default_lang if default_language is None else default_language
        batch_rows = settings.import_batch_rows if batch_rows is None else batch_rows
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = ImportReport(path=str(path), campaign_id=campaign_id, dry_run=dry_run)
    with _open(path) as source, session_factory() as session:
        report.encoding = source.encoding
        line, headers, resolved, blanks, replay, skipped = _prepare(source, mapping)
        report.header_line, report.mapping, report.blank_rows = line, resolved, blanks
        report.notes += [
            RowError(n, "row", "", f"above the header row (line {line}): skipped") for n in skipped
        ]
        rules = _campaign_rules(session, campaign_id) if campaign_id is not None else None
        today = now.astimezone(rules.zone if rules else UTC).date()
        reader = _RowReader(headers, resolved, phone_hash_key, today, source.spreadsheet)
        writer = _Writer(session, report, rules, now, default_language)
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            # A bigger page cache for this connection while it fills several indexes (restored below).
            cache_pages = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
            session.connection().exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
        # Reading and checking rows (a thread) overlaps with writing the previous batch (this thread):
        # the database drivers release the GIL while SQLite or PostgreSQL work.
        read_errors: list[RowError] = []
        batches = _read_batches(_chain(replay, source.rows), reader, batch_rows, source.fraction, read_errors)
        last = _Batch([], 0, 0, 0, 0, None)
        with closing(_read_ahead(batches)) as ahead:  # closed at once on an error: the thread stops
            for last in ahead:
                if last.records:
                    _write_batch(session, writer, last.records, dry_run)
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    errors = last.errors + len(report.errors)
                    progress(ImportProgress(last.rows_read, errors, elapsed, last.fraction))
        report.rows_read = last.rows_read
        report.blank_rows += last.blank_rows
        report.rows_failed += last.failed
        report.errors += read_errors
        if dry_run:
            session.rollback()
        if sqlite:
            session.connection().exec_driver_sql(f"PRAGMA cache_size={int(cache_pages)}")
            session.commit()
    report.errors.sort(key=lambda e: e.line)
    report.notes.sort(key=lambda e: e.line)
    report.elapsed_s = time.perf_counter() - started
    return report


_SQLITE_CACHE_KIB = 64 * 1024


@dataclass
class _Batch:
    """Records ready to write, with the reader's running totals up to them."""

    records: list[_Record]
    rows_read: int
    blank_rows: int
    failed: int
    errors: int
    fraction: float | None


def _read_batches(
    rows: Iterator[tuple[int, list[Any]]],
    reader: _RowReader,
    size: int,
    fraction: Callable[[], float | None],
    errors: list[RowError],
) -> Iterator[_Batch]:
    """Check rows into batches of ``size`` records; the last batch (possibly empty) always comes."""
    records: list[_Record] = []
    read = blank = failed = 0
    for number, cells in rows:
        if _is_blank_row(cells):
            blank += 1
            continue
        read += 1
        record = reader.read(number, cells, errors)
        if record is None:
            failed += 1
            continue
        records.append(record)
        if len(records) >= size:
            yield _Batch(records, read, blank, failed, len(errors), fraction())
            records = []
    yield _Batch(records, read, blank, failed, len(errors), fraction())


def _read_ahead(items: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """Run ``items`` in a thread at most ``depth`` items ahead of the consumer; its exceptions are raised
    here. Stopping early (the consumer failed) stops the thread before returning."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(("error", exc))

    thread = threading.Thread(target=run, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _write_batch(session: Session, writer: _Writer, batch: list[_Record], dry_run: bool) -> None:
    """Write and commit one batch; a unique-key race with a concurrent import is retried once."""
    if dry_run:
        writer.write(batch)
        return
    memory = (
        "patients",
        "visits",
        "patient_rows",
        "patient_phone",
        "patient_deceased",
        "new_patients",
        "new_visits",
    )
    snapshot = {name: copy.copy(getattr(writer, name)) for name in memory}
    counts = _counts(writer.report)
    for attempt in (1, 2):
        try:
            writer.write(batch)
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
            # Another import inserted the same patient or visit meanwhile: forget this batch's work, re-read.
            for name, saved in snapshot.items():
                setattr(writer, name, copy.copy(saved))
            _restore_counts(writer.report, counts)
            for r in batch:
                r.duplicate = r.failed = False


_COUNTERS = (
    "rows_imported",
    "rows_failed",
    "patients_created",
    "patients_updated",
    "visits_created",
    "visits_updated",
    "tasks_created",
    "tasks_existing",
    "tasks_filtered",
    "tasks_superseded",
    "duplicates",
    "skipped_do_not_call",
    "skipped_deceased",
)


def _counts(report: ImportReport) -> tuple:
    return tuple(getattr(report, c) for c in _COUNTERS), len(report.errors), len(report.notes)


def _restore_counts(report: ImportReport, saved: tuple) -> None:
    values, n_errors, n_notes = saved
    for c, v in zip(_COUNTERS, values, strict=True):
        setattr(report, c, v)
    del report.errors[n_errors:]
    del report.notes[n_notes:]
