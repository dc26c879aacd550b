"""Reading an export without a database: dates, header synonyms, mapping overrides, encodings, XLSX
cells, the preview the console shows, file-level errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from models.imports import (
    FIELDS,
    ImportFileError,
    guess_mapping,
    load_mapping,
    normalize_header,
    parse_date,
    preview,
)

DATA = Path(__file__).parent / "data"

DATES = [
    ("2026-11-20", date(2026, 11, 20)),
    ("2026/11/20", date(2026, 11, 20)),
    ("2026.11.20", date(2026, 11, 20)),
    ("2026-1-5", date(2026, 1, 5)),
    ("20261120", date(2026, 11, 20)),
    ("2026年11月20日", date(2026, 11, 20)),
    ("2026年1月5日", date(2026, 1, 5)),
    ("2026-11-20 10:30:00", date(2026, 11, 20)),
    ("2026/11/20 8:05", date(2026, 11, 20)),
    ("20261120103000", date(2026, 11, 20)),
    ("２０２６－１１－２０", date(2026, 11, 20)),
    (datetime(2026, 11, 20, 9, 0), date(2026, 11, 20)),
    (date(2026, 11, 20), date(2026, 11, 20)),
    (46346, date(2026, 11, 20)),  # an Excel serial day number
    (20261120, date(2026, 11, 20)),
]

BAD_DATES = [
    ("2026-13-01", "no such day"),
    ("2026-02-30", "no such day"),
    ("20/11/2026", "not a date"),
    ("yesterday", "not a date"),
    ("1850-01-01", "out of range"),
    ("2026-11", "not a date"),
]


@pytest.mark.parametrize(("value", "expected"), DATES)
def test_his_date_formats(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(("value", "reason"), BAD_DATES)
def test_bad_dates_say_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_date(value)


SYNONYMS = [
    ("姓名", "name"),
    ("患者姓名", "name"),
    ("Name", "name"),
    ("手机", "phone"),
    ("手机号", "phone"),
    ("联系电话", "phone"),
    ("电话", "phone"),
    ("Phone", "phone"),
    ("Mobile", "phone"),
    ("联系电话(手机)", "phone"),
    ("*手机号码", "phone"),
    ("性别", "gender"),
    ("gender", "gender"),
    ("出生年份", "birth_year"),
    ("出生日期", "birth_date"),
    ("年龄", "age"),
    ("Birth Year", "birth_year"),
    ("病人ID", "patient_id"),
    ("患者ID", "patient_id"),
    ("病历号", "patient_id"),
    ("Patient ID", "patient_id"),
    ("住院号", "visit_id"),
    ("门诊号", "visit_id"),
    ("就诊号", "visit_id"),
    ("visit_id", "visit_id"),
    ("类型", "kind"),
    ("就诊类型", "kind"),
    ("kind", "kind"),
    ("科室", "department"),
    ("Department", "department"),
    ("医生", "doctor"),
    ("主治医生", "doctor"),
    ("病区", "ward"),
    ("诊断", "diagnosis"),
    ("手术", "procedure"),
    ("就诊日期", "visit_date"),
    ("入院日期", "visit_date"),
    ("Visit Date", "visit_date"),
    ("出院日期", "discharge_date"),
    ("discharge date", "discharge_date"),
    ("语言", "language"),
    ("称呼", "salutation"),
    ("备注", None),
]


@pytest.mark.parametrize(("header", "field"), SYNONYMS)
def test_header_synonyms(header: str, field: str | None) -> None:
    assert guess_mapping([header]) == {header: field}


def test_every_field_knows_its_own_name() -> None:
    for field in FIELDS:
        assert guess_mapping([field])[field] == field
    assert normalize_header(" 联系电话（手机） ") == "联系电话"


def test_a_field_goes_to_the_first_column_naming_it() -> None:
    assert guess_mapping(["手机号", "联系电话"]) == {"手机号": "phone", "联系电话": None}


def test_preview_guesses_the_mapping_and_masks_phones() -> None:
    shown = preview(DATA / "malformed.csv", rows=3)
    assert shown.header_line == 1 and shown.encoding == "utf-8"
    assert shown.mapping["手机号"] == "phone" and shown.mapping["出院日期"] == "discharge_date"
    assert shown.missing == []
    assert len(shown.rows) == 3
    assert shown.rows[0][2] == "*******8000"  # masked
    assert "13800138000" not in str(shown.to_dict())


def test_preview_of_a_gbk_export() -> None:
    shown = preview(DATA / "gbk.csv")
    assert shown.encoding == "gb18030"
    assert shown.headers[:3] == ["病人ID", "患者姓名", "联系电话"]
    assert shown.rows[3][1] == "欧阳娜"


def test_preview_of_a_utf8_bom_export() -> None:
    shown = preview(DATA / "utf8_bom.csv")
    assert shown.encoding == "utf-8-sig"
    assert shown.headers[0] == "name"  # no BOM glued to the first header
    assert shown.mapping["name"] == "name"


def test_preview_lists_missing_required_columns() -> None:
    shown = preview(DATA / "missing_columns.csv")
    assert shown.missing == ["phone"]


def test_mapping_override_from_json() -> None:
    mapping = load_mapping(DATA / "custom_mapping.json")
    shown = preview(DATA / "custom_headers.csv", mapping)
    assert shown.mapping == {
        "病人": "name",
        "备用电话": None,
        "家属电话": "phone",
        "离院日": "discharge_date",
    }
    assert shown.missing == []


def test_mapping_override_field_to_header_form() -> None:
    shown = preview(DATA / "custom_headers.csv", {"phone": "备用电话"})
    assert shown.mapping["备用电话"] == "phone"


def test_mapping_with_unknown_field_or_column_is_a_file_error() -> None:
    with pytest.raises(ImportFileError, match="unknown field"):
        preview(DATA / "custom_headers.csv", {"家属电话": "telephone_number"})
    with pytest.raises(ImportFileError, match="neither a column"):
        preview(DATA / "custom_headers.csv", {"不存在": "phone"})


def test_bad_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("[1, 2]")
    with pytest.raises(ImportFileError, match="JSON object"):
        load_mapping(path)
    path.write_text("{nope")
    with pytest.raises(ImportFileError, match="not a readable JSON"):
        load_mapping(path)


def test_xlsx_title_row_number_cells_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["市第一人民医院 出院患者名单"])
    ws.append(["姓名", "手机号", "出院日期"])
    ws.append(["王小明", 13800138000, datetime(2026, 11, 20)])
    wb.save(path)
    shown = preview(path)
    assert shown.header_line == 2
    assert shown.rows == [["王小明", "*******8000", "2026-11-20T00:00:00"]]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        preview(tmp_path / "nope.csv")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(ImportFileError, match=r"\.xls"):
        preview(xls)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="not a readable XLSX"):
        preview(broken)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(ImportFileError, match="empty"):
        preview(empty)
