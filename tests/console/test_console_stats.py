"""console.stats on known data (tests/console/dashboard_data.py): every figure worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from console_helpers import Env
from dashboard_data import PREVIOUS_WEEK, WEEK, seed

from console import stats

TZ = "Asia/Shanghai"


def test_periods() -> None:
    ws = stats.weeks(date(2026, 10, 8), 2, TZ)
    assert [w.label for w in ws] == ["2026-09-28", "2026-10-05"]
    assert ws[1].end - ws[1].start == timedelta(days=7)
    assert ws[1].start.isoformat() == "2026-10-04T16:00:00+00:00"  # Monday 00:00 in Shanghai
    ms = stats.months(date(2026, 1, 15), 3, TZ)
    assert [m.label for m in ms] == ["2025-11", "2025-12", "2026-01"]


def test_week_figures(env: Env) -> None:
    seed(env.sessions)
    with env.sessions() as db:
        fig = stats.figures(db, stats.day_range(WEEK, WEEK + timedelta(days=6), TZ))
    t = fig.total
    assert (t.ended, t.answered, t.completed) == (5, 3, 2)
    assert t.connection_rate == pytest.approx(3 / 5)
    assert t.completion_rate == pytest.approx(2 / 3)
    assert t.satisfaction == pytest.approx((100 + 50 + 0) / 3)
    assert (t.complaints, t.praise) == (2, 1)
    by_dept = {g.name: g for g in fig.departments}
    assert by_dept["心内科"].connection_rate == pytest.approx(2 / 3)
    assert by_dept["心内科"].satisfaction == pytest.approx(75)
    assert by_dept["骨科"].completion_rate == 0
    assert (by_dept["骨科"].complaints, by_dept["骨科"].praise) == (0, 1)
    assert {g.name for g in fig.doctors} == {"李医生 (心内科)", "王医生 (骨科)"}
    by_doctor = {g.name: g for g in fig.doctors}
    assert (by_doctor["李医生 (心内科)"].complaints, by_doctor["王医生 (骨科)"].praise) == (2, 1)
    questions = {q.question_id: q for q in fig.questions}
    assert questions["satisfaction"].mean == pytest.approx(3.0)
    assert questions["satisfaction"].n == 3
    assert questions["fever"].yes_share == pytest.approx(2 / 3)


def test_filters_and_trend(env: Env) -> None:
    campaign_id = seed(env.sessions)
    with env.sessions() as db:
        period = stats.day_range(WEEK, WEEK + timedelta(days=6), TZ)
        only = stats.figures(db, period, stats.Filters(department="骨科"))
        assert (only.total.ended, only.total.praise, only.total.complaints) == (2, 1, 0)
        other = stats.figures(db, period, stats.Filters(campaign_id=env.campaign_id))
        assert other.total.ended == 0
        mine = stats.figures(db, period, stats.Filters(campaign_id=campaign_id))
        assert mine.total.ended == 5
        tr = stats.trend(db, stats.weeks(WEEK + timedelta(days=2), 2, TZ))
    assert [p.label for p in tr.periods] == [PREVIOUS_WEEK.isoformat(), WEEK.isoformat()]
    assert tr.series("connection_rate") == [pytest.approx(1.0), pytest.approx(0.6)]
    assert tr.series("complaints") == [1, 2]
    assert tr.change("complaints") == 1
    assert tr.change("satisfaction") == pytest.approx(50 - 75)


def test_table_rows(env: Env) -> None:
    seed(env.sessions)
    with env.sessions() as db:
        fig = stats.figures(db, stats.day_range(WEEK, WEEK + timedelta(days=6), TZ))
    rows = stats.table_rows(fig)
    assert rows[0][:7] == ["total", "total", 5, 3, 60.0, 2, 66.7]
    assert all(len(r) == len(stats.TABLE_COLUMNS) for r in rows)
    assert any(
        r[0] == "question" and r[1].startswith("discharge_general.fever") and r[7] == 66.7 for r in rows
    )


def test_trend_in_one_pass_equals_period_by_period(env: Env) -> None:
    seed(env.sessions)
    with env.sessions() as db:
        for periods in (stats.weeks(WEEK + timedelta(days=3), 4, TZ), stats.months(WEEK, 3, TZ)):
            for filters in (stats.Filters(), stats.Filters(department="心内科")):
                one_pass = stats.trend(db, periods, filters).totals
                each = [stats.figures(db, p, filters, per_doctor=False).total for p in periods]
                assert [vars(g) | {"name": ""} for g in one_pass] == [vars(g) | {"name": ""} for g in each]
        with pytest.raises(ValueError, match="contiguous"):
            stats.trend(db, [stats.weeks(WEEK, 1, TZ)[0], stats.months(WEEK, 1, TZ)[0]])
