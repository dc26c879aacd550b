"""CSV export of a campaign's answers: one row per completed call, one column per question, Excel-ready."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from export_helpers import POST_OP_ANSWERS, make_call, make_campaign
from sqlalchemy.orm import Session

from dialer import exports
from flows.loader import find_flow


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM missing: Excel would misread Chinese"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_one_row_per_completed_call_with_chinese_headers(session: Session, tmp_out: Path) -> None:
    campaign = make_campaign(session, "post_op")
    first = make_call(
        session,
        campaign,
        POST_OP_ANSWERS,
        unsure=("stitches_date",),
        skipped=("bowel_urine_detail",),
        ended_at=datetime(2026, 11, 13, 2, 0, tzinfo=UTC),
    )
    make_call(
        session,
        campaign,
        {"wound": ["none"], "bowel_urine": False},
        outcome="escalated",
        ended_at=datetime(2026, 11, 13, 3, 0, tzinfo=UTC),
    )
    make_call(session, campaign, {"wound": ["none"]}, outcome="partial")
    make_call(session, campaign, {}, outcome="no_answer")
    other = make_campaign(session, "post_op")
    make_call(session, other, POST_OP_ANSWERS)  # another campaign's call is not exported

    out = tmp_out / "answers.csv"
    assert exports.export_csv(session, campaign.id, out) == 2
    rows = _read(out)
    header, row, row2 = rows[0], rows[1], rows[2]
    assert len(rows) == 3
    flow = find_flow("post_op")
    assert len(header) == len(exports.FIXED_COLUMNS) + len(flow.questions())
    assert header[:3] == ["通话编号", "患者编号", "姓名"]
    col = {h.rsplit("(", 1)[-1].rstrip(")"): i for i, h in enumerate(header)}
    assert header[col["wound"]].startswith("先问问伤口。伤口现在有没有疼")
    assert row[0] == str(first.id)
    assert row[header.index("科室")] == "普外科"
    assert row[header.index("结束时间")] == "2026-11-13 10:00:00"  # Asia/Shanghai
    assert row[header.index("结果")] == "completed"
    assert row[col["wound"]] == "疼、发红"
    assert row[col["pain_score"]] == "3"
    assert row[col["temperature"]] == "37.6"
    assert row[col["bowel_urine"]] == "是"
    assert row[col["activity"]] == "能正常走动"
    assert row[col["return_visit"]] == "2026-11-20"
    assert row[col["stitches_date"]] == "不确定"
    assert row[col["bowel_urine_detail"]] == ""
    assert row2[header.index("结果")] == "escalated"
    assert row2[col["bowel_urine"]] == "否"
    assert row2[col["pain_score"]] == ""


def test_english_headers_and_partial_calls(session: Session, tmp_out: Path) -> None:
    campaign = make_campaign(session, "post_op")
    make_call(session, campaign, POST_OP_ANSWERS, respondent="family")
    make_call(session, campaign, {"wound": ["none"]}, outcome="partial")
    out = tmp_out / "answers_en.csv"
    assert exports.export_csv(session, campaign.id, out, lang="en", include_partial=True) == 2
    header, row, partial = _read(out)
    assert header[:2] == ["Call ID", "Patient ID"]
    col = {h.rsplit("(", 1)[-1].rstrip(")"): i for i, h in enumerate(header)}
    assert header[col["wound"]].startswith("First, your wound.")
    assert row[col["wound"]] == "pain, redness"
    assert row[col["bowel_urine"]] == "yes"
    assert row[header.index("Respondent")] == "family"
    assert partial[header.index("Outcome")] == "partial"
    assert partial[col["wound"]] == "none of these"


def test_every_question_type_renders(session: Session) -> None:
    campaign = make_campaign(session, "hypertension")
    make_call(session, campaign, {"bp": {"systolic": 150, "diastolic": 95}, "side_effects": ["none"]})
    diabetes = make_campaign(session, "diabetes")
    make_call(session, diabetes, {"fasting_glucose": 7.2})
    general = make_campaign(session, "discharge_general")
    make_call(session, general, {"satisfaction": 5, "worse_detail": "晚上咳嗽"})
    out = io.StringIO()
    exports.write_csv(session, campaign.id, out)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[next(i for i, h in enumerate(header) if h.endswith("(bp)"))] == "150/95"
    out = io.StringIO()
    exports.write_csv(session, diabetes.id, out)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[next(i for i, h in enumerate(header) if h.endswith("(fasting_glucose)"))] == "7.2"
    out = io.StringIO()
    exports.write_csv(session, general.id, out)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[next(i for i, h in enumerate(header) if h.endswith("(satisfaction)"))] == "5"
    assert row[next(i for i, h in enumerate(header) if h.endswith("(worse_detail)"))] == "晚上咳嗽"


def test_unknown_campaign_is_a_clear_error(session: Session, tmp_out: Path) -> None:
    with pytest.raises(ValueError, match="no campaign with id 999"):
        exports.export_csv(session, 999, tmp_out / "x.csv")
