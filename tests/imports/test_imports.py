"""import_file on SQLite and PostgreSQL: bad rows reported by line and field while the good rows go in,
duplicates, encodings, XLSX, re-import idempotency, T+N due dates, campaign filters, do-not-call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

import models
from models.imports import ImportFileError, ImportProgress, ImportReport, import_file, load_mapping
from models.store import add_do_not_call

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # before every discharge in the files


def run(factory: sessionmaker[Session], path: Path, **kwargs: object) -> ImportReport:
    kwargs.setdefault("campaign_id", None)
    kwargs.setdefault("now", NOW)
    return import_file(factory, path, phone_hash_key="test-key", default_language="zh", **kwargs)  # type: ignore[arg-type]


def count(factory: sessionmaker[Session], table: type) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def errors_by_line(report: ImportReport) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in report.errors:
        out.setdefault(e.line, []).append((e.field, e.reason))
    return out


def test_malformed_rows_are_listed_and_good_rows_imported(factory: sessionmaker[Session]) -> None:
    report = run(factory, DATA / "malformed.csv")
    errors = errors_by_line(report)
    assert sorted(errors) == [4, 5, 6, 8, 9, 12, 13]
    assert errors[4] == [("phone", "too short (5 digits)")]
    assert errors[5] == [("name", "empty")]
    # the row starts on line 6; its quoted diagnosis spans lines 6-7, the next row is on line 8
    assert errors[6] == [("discharge_date", "no such day: 2026-13-21")]
    assert errors[8] == [("row", "expected 11 columns, got 4")]
    assert [f for f, _ in errors[9]] == ["phone", "discharge_date"]  # every problem of a row is listed
    assert "not a valid Chinese mobile number" in errors[9][0][1]
    assert "before the visit date 2026-11-15" in errors[9][1][1]
    assert errors[12] == [("gender", "not a gender (男/女/M/F)")]
    assert errors[13][0][0] == "phone" and "not part of a phone number" in errors[13][0][1]
    # phones in the report are masked
    assert report.errors[0].value == "***2345"
    assert "13700137004" not in report.to_json()

    notes = {(n.line, n.field): n.reason for n in report.notes}
    assert notes[(10, "visit_id")] == "duplicate: the same visit as line 2; imported once"
    assert "extension 123 dropped" in notes[(11, "phone")]

    assert report.rows_read == 11
    assert report.rows_imported == 3  # lines 2, 3, 11
    assert report.duplicates == 1
    assert report.rows_failed == 7
    assert report.rows_imported + report.duplicates + report.rows_failed == report.rows_read  # nothing lost
    assert (report.patients_created, report.visits_created) == (3, 3)
    assert count(factory, models.Patient) == 3 and count(factory, models.Visit) == 3

    with factory() as s:
        wang = s.scalars(select(models.Patient).where(models.Patient.external_id == "P001")).one()
        assert (wang.name, wang.phone, wang.gender, wang.birth_year) == (
            "王小明",
            "+8613800138000",
            "male",
            1961,
        )
        assert wang.phone_hash and len(wang.phone_hash) == 64
        li = s.scalars(select(models.Patient).where(models.Patient.external_id == "P002")).one()
        visit = li.visits[0]
        assert (visit.external_id, visit.kind, visit.department, visit.doctor, visit.diagnosis) == (
            "ZY002",
            "inpatient",
            "骨科",
            "赵医生",
            "股骨颈骨折",
        )
        assert (visit.visit_date, visit.discharge_date) == (date(2026, 11, 12), date(2026, 11, 21))
        zhou = s.scalars(select(models.Patient).where(models.Patient.external_id == "P008")).one()
        assert zhou.phone == "+8657188888888"


def test_reimport_creates_nothing_new(
    factory: sessionmaker[Session], make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3, 7, 30])
    first = run(factory, DATA / "malformed.csv", campaign_id=campaign)
    assert first.tasks_created == 9  # 3 visits × 3 offsets
    before = [count(factory, t) for t in (models.Patient, models.Visit, models.CallTask)]
    again = run(factory, DATA / "malformed.csv", campaign_id=campaign)
    assert [count(factory, t) for t in (models.Patient, models.Visit, models.CallTask)] == before
    assert (again.patients_created, again.patients_updated, again.visits_created, again.visits_updated) == (
        0,
        0,
        0,
        0,
    )
    assert (again.tasks_created, again.tasks_existing) == (0, 9)
    assert again.duplicates == 1  # the in-file duplicate is still reported
    assert len(again.errors) == len(first.errors)


def test_reimport_with_changes_updates_patients_and_visits(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3])
    path = tmp_path / "a.csv"
    path.write_text("病人ID,姓名,手机,住院号,入院日期,出院日期\nP1,王小明,13800138000,ZY1,2026-11-10,\n")
    first = run(factory, path, campaign_id=campaign)
    assert first.tasks_created == 1  # no discharge date yet: due now
    path.write_text(
        "病人ID,姓名,手机,住院号,入院日期,出院日期\nP1,王小明,13900139000,ZY1,2026-11-10,2026-11-20\n"
    )
    second = run(factory, path, campaign_id=campaign)
    assert (second.patients_created, second.patients_updated) == (0, 1)
    assert (second.visits_created, second.visits_updated) == (0, 1)
    assert second.tasks_created == 1  # now the day-3 call
    with factory() as s:
        patient = s.scalars(select(models.Patient)).one()
        assert patient.phone == "+8613900139000"
        assert patient.visits[0].discharge_date == date(2026, 11, 20)
        keys = sorted(s.scalars(select(models.CallTask.dedupe_key)))
        assert keys == ["visit:ZY1", "visit:ZY1:day3"]


def test_duplicate_patients_by_id_and_by_phone_and_name(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "病人ID,姓名,手机,门诊号,就诊日期\n"
        "P1,王小明,13800138000,MZ1,2026-11-01\n"
        "P1,王小明,13800138000,MZ2,2026-11-05\n"  # the same patient, another visit
        ",李华,13900139000,MZ3,2026-11-01\n"
        ",李华,139-0013-9000,MZ4,2026-11-06\n"  # no HIS id: the same phone + name is the same patient
        ",李华,13900139000,MZ4,2026-11-06\n"  # the same visit again
        ",李小华,13900139000,MZ5,2026-11-06\n"  # same phone, other name: another person (family)
    )
    report = run(factory, path)
    assert report.patients_created == 3
    assert report.visits_created == 5
    assert report.duplicates == 1
    assert [(n.line, n.reason) for n in report.notes] == [
        (6, "duplicate: the same visit as line 5; imported once")
    ]
    assert report.errors == []
    with factory() as s:
        li = s.scalars(select(models.Patient).where(models.Patient.name == "李华")).one()
        assert sorted(v.external_id for v in li.visits) == ["MZ3", "MZ4"]
        assert {v.kind for v in li.visits} == {"outpatient"}


def test_blank_markers_and_repeated_headers(factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("姓名,电话,电话,科室\n王小明,13800138000,13900139000,NULL\n李华,无,13700137000,-\n")
    report = run(factory, path)
    # the first of two columns with the same header is the phone; "无" is an empty cell, not a bad number
    assert [(e.line, e.field, e.reason) for e in report.errors] == [(3, "phone", "empty")]
    with factory() as s:
        patient = s.scalars(select(models.Patient)).one()
        assert patient.phone == "+8613800138000"
        assert patient.visits == []  # "NULL" department: no visit column filled, no visit


def test_the_same_new_patient_with_and_without_his_id(factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "病人ID,姓名,手机,门诊号,就诊日期\n"
        ",王小明,13800138000,MZ1,2026-11-01\n"
        "P1,王小明,13800138000,MZ2,2026-11-05\n"  # the HIS id turns up in a later row of the same batch
        "P1,王小明,13800138000,MZ3,2026-11-06\n"
    )
    report = run(factory, path)
    assert (report.patients_created, report.visits_created) == (1, 3)
    with factory() as s:
        patient = s.scalars(select(models.Patient)).one()
        assert patient.external_id == "P1"
        assert len(patient.visits) == 3


def test_patient_only_rows_and_duplicate_patients(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign()
    path = tmp_path / "p.csv"
    path.write_text("姓名,手机号\n王小明,13800138000\n李华,13900139000\n王小明,13800138000\n")
    report = run(factory, path, campaign_id=campaign)
    assert (report.patients_created, report.visits_created, report.duplicates) == (2, 0, 1)
    assert report.notes[0].line == 4 and "the same patient as line 2" in report.notes[0].reason
    assert report.tasks_created == 2
    with factory() as s:
        assert all(k.startswith("patient#") for k in s.scalars(select(models.CallTask.dedupe_key)))


def test_gbk_export(factory: sessionmaker[Session]) -> None:
    report = run(factory, DATA / "gbk.csv")
    assert report.encoding == "gb18030"
    assert report.rows_imported == 3
    assert [(e.line, e.field) for e in report.errors] == [(5, "phone")]
    assert "11 digits, this has 10" in report.errors[0].reason
    with factory() as s:
        names = set(s.scalars(select(models.Patient.name)))
        assert names == {"陈静", "刘强", "黄丽"}
        chen = s.scalars(select(models.Patient).where(models.Patient.name == "陈静")).one()
        assert (chen.gender, chen.birth_year, chen.external_id) == ("female", 1960, "G001")
        assert chen.visits[0].kind == "outpatient" and chen.visits[0].discharge_date is None
        huang = s.scalars(select(models.Patient).where(models.Patient.name == "黄丽")).one()
        assert huang.phone == "+861012345678"


def test_utf8_bom_export_with_english_headers(factory: sessionmaker[Session]) -> None:
    report = run(factory, DATA / "utf8_bom.csv")
    assert report.encoding == "utf-8-sig" and report.errors == []
    assert report.rows_imported == 3
    with factory() as s:
        patients = {p.name: p for p in s.scalars(select(models.Patient))}
        wang = patients["Wang Xiaoming"]
        assert (wang.language, wang.salutation, wang.phone) == ("en", "Mr Wang", "+8613800138201")
        li = patients["李梅"]
        assert (li.phone, li.language, li.gender) == ("+8613800138202", "zh", "female")
        assert patients["John Smith"].phone == "+442079460958"
        assert patients["John Smith"].visits[0].kind == "checkup"


def test_missing_required_column_is_a_file_error(factory: sessionmaker[Session]) -> None:
    with pytest.raises(ImportFileError) as caught:
        run(factory, DATA / "missing_columns.csv")
    message = str(caught.value)
    assert "required column(s) missing: phone" in message
    assert "headers found: '姓名', '性别', '科室', '出院日期'" in message
    assert count(factory, models.Patient) == 0


def test_explicit_mapping(factory: sessionmaker[Session]) -> None:
    with pytest.raises(ImportFileError, match="phone"):
        run(factory, DATA / "custom_headers.csv")
    report = run(factory, DATA / "custom_headers.csv", mapping=load_mapping(DATA / "custom_mapping.json"))
    assert report.rows_imported == 1
    with factory() as s:
        patient = s.scalars(select(models.Patient)).one()
        assert patient.phone == "+8613900139301"  # 家属电话, as mapped
        assert patient.visits[0].discharge_date == date(2026, 11, 20)
        assert patient.visits[0].visit_date == date(2026, 11, 20)  # no admission date: the discharge date


def test_xlsx(factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]) -> None:
    path = tmp_path / "list.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["市第一人民医院 出院患者名单 2026年11月"])  # row 1: a title
    ws.append(
        ["病历号", "姓名", "手机号", "性别", "出生日期", "住院号", "科室", "入院日期", "出院日期"]
    )  # row 2
    ws.append(
        [
            "H1",
            "王小明",
            13800138000,
            "男",
            datetime(1956, 3, 1),
            9001,
            "心内科",
            datetime(2026, 11, 10),
            datetime(2026, 11, 20),
        ]
    )
    ws.append([])  # row 4: blank
    ws.append(["H2", "李华", "139 0013 9000", "女", "1958-05-06", "9002", "骨科", "2026/11/12", 46347])
    ws.append(["H3", "张三", 12345, "男", None, "9003", "骨科", "2026-11-12", "2026-11-21"])  # row 6
    ws.append(["H4", "赵四", 13600136000, "男", None, "9004", "骨科", "not a date", None])  # row 7
    wb.save(path)
    campaign = make_campaign(days_after_discharge=[3])
    report = run(factory, path, campaign_id=campaign)
    assert report.header_line == 2 and report.blank_rows == 1
    assert (report.notes[0].line, report.notes[0].reason) == (1, "above the header row (line 2): skipped")
    assert [(e.line, e.field) for e in report.errors] == [(6, "phone"), (7, "visit_date")]
    assert report.rows_imported == 2 and report.tasks_created == 2
    with factory() as s:
        wang = s.scalars(select(models.Patient).where(models.Patient.external_id == "H1")).one()
        assert (wang.phone, wang.birth_year) == ("+8613800138000", 1956)
        assert wang.visits[0].external_id == "9001"  # a number cell, without ".0"
        assert wang.visits[0].discharge_date == date(2026, 11, 20)
        li = s.scalars(select(models.Patient).where(models.Patient.external_id == "H2")).one()
        assert li.visits[0].discharge_date == date(2026, 11, 21)  # an Excel serial number
        assert li.visits[0].visit_date == date(2026, 11, 12)


def test_due_dates_t_plus_n_at_local_midnight(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3, 7, 30], priority=5, max_attempts=4)
    path = tmp_path / "t.csv"
    path.write_text("姓名,手机号,住院号,入院日期,出院日期\n王小明,13800138000,ZY1,2026-11-10,2026-11-20\n")
    report = run(factory, path, campaign_id=campaign)
    assert report.tasks_created == 3
    with factory() as s:
        tasks = {t.dedupe_key: t for t in s.scalars(select(models.CallTask))}
    # midnight in Asia/Shanghai (UTC+8) is 16:00 UTC the day before
    assert tasks["visit:ZY1:day3"].due_at == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert tasks["visit:ZY1:day7"].due_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert tasks["visit:ZY1:day30"].due_at == datetime(2026, 12, 19, 16, 0, tzinfo=UTC)
    task = tasks["visit:ZY1:day3"]
    assert (task.status, task.priority, task.max_attempts, task.attempts_made) == ("pending", 5, 4, 0)
    assert task.visit_id is not None and task.campaign_id == campaign


def test_due_dates_in_another_time_zone(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3], timezone="Europe/London")
    path = tmp_path / "t.csv"
    path.write_text("姓名,手机号,出院日期\nJohn,+44 20 7946 0958,2026-07-01\n")
    run(factory, path, campaign_id=campaign)
    with factory() as s:
        task = s.scalars(select(models.CallTask)).one()
    assert task.due_at == datetime(2026, 7, 3, 23, 0, tzinfo=UTC)  # BST midnight of 4 July


def test_overdue_offsets_keep_only_the_latest(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3, 7, 30])
    path = tmp_path / "t.csv"
    path.write_text("姓名,手机号,住院号,出院日期\n王小明,13800138000,ZY1,2026-11-20\n")
    report = run(factory, path, campaign_id=campaign, now=datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert (report.tasks_created, report.tasks_superseded) == (2, 1)
    with factory() as s:
        assert sorted(s.scalars(select(models.CallTask.dedupe_key))) == ["visit:ZY1:day30", "visit:ZY1:day7"]


def test_without_offsets_or_discharge_date_tasks_are_due_now(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "姓名,手机号,门诊号,就诊日期,出院日期\n王小明,13800138000,MZ1,2026-11-10,\n"
        "李华,13900139000,ZY2,2026-11-01,2026-11-08\n"
    )
    plain = make_campaign(days_after_discharge=None)
    report = run(factory, path, campaign_id=plain)
    assert report.tasks_created == 2
    t_plus = make_campaign(days_after_discharge=[3])
    run(factory, path, campaign_id=t_plus)
    with factory() as s:
        due = {(t.campaign_id, t.dedupe_key): t.due_at for t in s.scalars(select(models.CallTask))}
    assert due == {
        (plain, "visit:MZ1"): NOW,
        (plain, "visit:ZY2"): NOW,
        (t_plus, "visit:MZ1"): NOW,  # no discharge date
        (t_plus, "visit:ZY2:day3"): datetime(2026, 11, 10, 16, 0, tzinfo=UTC),
    }


def test_department_and_visit_kind_filters(
    factory: sessionmaker[Session], make_campaign: Callable[..., int], tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "姓名,手机号,就诊号,就诊类型,科室,就诊日期,出院日期\n"
        "王小明,13800138000,V1,住院,心内科,2026-11-01,2026-11-10\n"
        "李华,13900139000,V2,门诊,心内科,2026-11-02,\n"
        "张三,13700137000,V3,住院,骨科,2026-11-01,2026-11-09\n"
        "赵四,13600136000,V4,手术,心内科,2026-11-03,2026-11-04\n"
    )
    cardiology = make_campaign(department="心内科")
    report = run(factory, path, campaign_id=cardiology)
    assert (report.tasks_created, report.tasks_filtered) == (3, 1)
    inpatients = make_campaign(department="心内科", visit_kind="inpatient")
    report = run(factory, path, campaign_id=inpatients)
    assert (report.tasks_created, report.tasks_filtered) == (1, 3)
    assert count(factory, models.Visit) == 4  # every visit is imported, filtered or not
    with factory() as s:
        keys = set(
            s.scalars(select(models.CallTask.dedupe_key).where(models.CallTask.campaign_id == inpatients))
        )
    assert keys == {"visit:V1"}


def test_do_not_call_numbers_get_no_task(
    factory: sessionmaker[Session], make_campaign: Callable[..., int], tmp_path: Path
) -> None:
    with factory() as s:
        add_do_not_call(s, "+8613900139000", reason="asked on a call")
    campaign = make_campaign(days_after_discharge=[3])
    path = tmp_path / "dnc.csv"
    path.write_text(
        "姓名,手机号,住院号,出院日期\n王小明,13800138000,ZY1,2026-11-20\n李华,139 0013 9000,ZY2,2026-11-20\n"
    )
    report = run(factory, path, campaign_id=campaign)
    assert (report.rows_imported, report.patients_created, report.visits_created) == (2, 2, 2)
    assert (report.tasks_created, report.skipped_do_not_call) == (1, 1)
    assert report.errors == []
    assert [(n.line, n.field, n.value, n.reason) for n in report.notes] == [
        (3, "phone", "*********9000", "on the do-not-call list: no call task")
    ]
    with factory() as s:
        task = s.scalars(select(models.CallTask)).one()
        assert task.patient.name == "王小明"


def test_deceased_patients_get_no_task(
    factory: sessionmaker[Session], make_campaign: Callable[..., int], tmp_path: Path
) -> None:
    with factory() as s:
        s.add(models.Patient(name="王小明", phone="+8613800138000", external_id="P1", deceased=True))
        s.commit()
    path = tmp_path / "x.csv"
    path.write_text("病人ID,姓名,手机号\nP1,王小明,13800138000\n")
    report = run(factory, path, campaign_id=make_campaign())
    assert (report.tasks_created, report.skipped_deceased) == (0, 1)


def test_visit_id_of_another_patient_is_refused(factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("病人ID,姓名,手机号,住院号,出院日期\nP1,王小明,13800138000,ZY1,2026-11-20\n")
    run(factory, path)
    path.write_text("病人ID,姓名,手机号,住院号,出院日期\nP2,李华,13900139000,ZY1,2026-11-20\n")
    report = run(factory, path)
    assert [(e.line, e.field, e.reason) for e in report.errors] == [
        (2, "visit_id", "this HIS visit id belongs to another patient; the visit was not imported")
    ]
    assert report.rows_failed == 1 and report.rows_imported == 0


def test_dry_run_counts_but_writes_nothing(
    factory: sessionmaker[Session], make_campaign: Callable[..., int]
) -> None:
    campaign = make_campaign(days_after_discharge=[3, 7, 30])
    report = run(factory, DATA / "malformed.csv", campaign_id=campaign, dry_run=True)
    assert report.dry_run and report.patients_created == 3 and report.tasks_created == 9
    assert count(factory, models.Patient) == 0 and count(factory, models.CallTask) == 0


def test_unknown_campaign_is_a_file_error(factory: sessionmaker[Session]) -> None:
    with pytest.raises(ImportFileError, match="campaign 999 does not exist"):
        run(factory, DATA / "malformed.csv", campaign_id=999)
    assert count(factory, models.Patient) == 0


def test_batches_and_progress(
    factory: sessionmaker[Session], tmp_path: Path, make_campaign: Callable[..., int]
) -> None:
    path = tmp_path / "many.csv"
    lines = ["病人ID,姓名,手机号,住院号,出院日期"]
    lines += [f"P{i},患者{i},138{i:08d},ZY{i},2026-11-20" for i in range(1, 251)]
    lines += ["P1,患者1,13800000001,ZY1,2026-11-20"]  # a duplicate across batches
    path.write_text("\n".join(lines) + "\n")
    seen: list[ImportProgress] = []
    report = import_file(
        factory,
        path,
        campaign_id=make_campaign(days_after_discharge=[3]),
        now=NOW,
        progress=seen.append,
        phone_hash_key="k",
        default_language="zh",
        batch_rows=100,
    )
    assert [p.rows_done for p in seen] == [100, 200, 251]
    assert seen[-1].fraction == 1.0 and seen[-1].errors == 0
    assert (report.patients_created, report.visits_created, report.tasks_created) == (250, 250, 250)
    assert report.duplicates == 1 and report.notes[0].line == 252
    with factory() as s:
        rows = s.execute(
            select(models.Patient.external_id, models.Visit.external_id, models.CallTask.dedupe_key)
            .join(models.Visit, models.Visit.patient_id == models.Patient.id)
            .join(models.CallTask, models.CallTask.visit_id == models.Visit.id)
        ).all()
    # every task points at its own patient's visit (ids were assigned in bulk)
    assert len(rows) == 250
    assert all(p[1:] == v[2:] and k == f"visit:{v}:day3" for p, v, k in rows)


def test_bulk_rows_are_stored_as_the_orm_stores_them(
    factory: sessionmaker[Session], make_campaign: Callable[..., int], tmp_path: Path
) -> None:
    """The bulk path bypasses the ORM: timestamps and dates must land in the same representation (SQLite
    keeps them as text and compares them as text in the engine's due-task query)."""
    campaign = make_campaign(days_after_discharge=[3])
    path = tmp_path / "t.csv"
    path.write_text("姓名,手机号,住院号,入院日期,出院日期\n王小明,13800138000,ZY1,2026-11-10,2026-11-20\n")
    run(factory, path, campaign_id=campaign)
    with factory() as s:
        imported = s.scalars(select(models.CallTask)).one()
        orm = models.CallTask(
            campaign_id=campaign, patient_id=imported.patient_id, dedupe_key="orm", due_at=imported.due_at
        )
        s.add(orm)
        s.commit()
        stored = s.scalars(select(cast(models.CallTask.due_at, String)).order_by(models.CallTask.id)).all()
        created = s.scalars(
            select(cast(models.CallTask.created_at, String)).order_by(models.CallTask.id)
        ).all()
    assert stored[0] == stored[1]
    if factory.kw["bind"].dialect.name == "sqlite":  # PostgreSQL prints microseconds without trailing 0s
        assert len(created[0]) == len(created[1]) == len("2026-12-06 18:00:00.000000")


def test_a_failing_progress_callback_stops_the_import_cleanly(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    import threading

    path = tmp_path / "many.csv"
    path.write_text("姓名,手机号\n" + "".join(f"患者{i},138{i:08d}\n" for i in range(1, 501)))

    def explode(_: ImportProgress) -> None:
        raise RuntimeError("console went away")

    with pytest.raises(RuntimeError, match="console went away"):
        import_file(
            factory,
            path,
            campaign_id=None,
            progress=explode,
            phone_hash_key="k",
            default_language="zh",
            batch_rows=100,
        )
    assert count(factory, models.Patient) == 100  # the first batch was committed before the callback
    assert not [t for t in threading.enumerate() if t.name == "import-reader"]


def test_a_batch_that_hits_a_unique_key_race_is_retried_cleanly(
    factory: sessionmaker[Session],
    make_campaign: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A concurrent import inserting the same visit makes the batch fail with IntegrityError: it is rolled
    back and written again, with the report's counts as if it had gone through the first time."""
    from sqlalchemy.exc import IntegrityError

    from models import imports

    real = imports._bulk_insert
    calls = {"visits": 0}

    def flaky(conn, table, columns, rows, **kwargs):  # type: ignore[no-untyped-def]
        if table.name == "visits":
            calls["visits"] += 1
            if calls["visits"] == 1:
                raise IntegrityError("INSERT INTO visits", None, Exception("duplicate key"))
        return real(conn, table, columns, rows, **kwargs)

    monkeypatch.setattr(imports, "_bulk_insert", flaky)
    campaign = make_campaign(days_after_discharge=[3, 7, 30])
    report = run(factory, DATA / "malformed.csv", campaign_id=campaign)
    assert calls["visits"] == 2
    assert (report.patients_created, report.visits_created, report.tasks_created) == (3, 3, 9)
    assert (report.rows_imported, report.duplicates, report.rows_failed) == (3, 1, 7)
    assert len([n for n in report.notes if "duplicate" in n.reason]) == 1
    assert count(factory, models.Patient) == 3 and count(factory, models.CallTask) == 9
