"""Dashboards for supervisors, admins and quality staff: connection and completion rates, satisfaction per
department / doctor / question, complaints and praise, week-on-week and month-on-month trends as charts
(Chart.js, vendored), and the table as CSV or XLSX (audited). The figures come from ``console.stats``."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from console import audit, stats
from console.deps import Reviewer, SessionDep, state_of
from console.templating import render, templates
from models.campaigns import Campaign

router = APIRouter(prefix="/dashboard")

templates.env.globals["figure_key"] = lambda name: f"dash.{name}"

DEFAULT_DAYS = 30
MAX_DAYS = 731
TREND_WEEKS = 8
TREND_MONTHS = 6
# Figures compared week on week / month on month, and how their change is shown.
TREND_FIGURES: tuple[str, ...] = (
    "connection_rate",
    "completion_rate",
    "satisfaction",
    "complaints",
    "praise",
)


class DashboardFilters(BaseModel):
    """The period (local dates, inclusive; default the last 30 days), a campaign, a department."""

    model_config = ConfigDict(extra="forbid")

    date_from: date | None = None
    date_to: date | None = None
    campaign: int | None = Field(default=None, ge=1)
    department: str | None = Field(default=None, max_length=100)
    lang: str | None = Field(default=None, max_length=2)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        return {k: (None if v == "" else v) for k, v in data.items()} if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _sane_range(self) -> DashboardFilters:
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise ValueError("date_to is before date_from")
            if (self.date_to - self.date_from).days > MAX_DAYS:
                raise ValueError(f"date range longer than {MAX_DAYS} days")
        return self

    def query_string(self) -> str:
        """The filters as a query string (export links)."""
        from urllib.parse import urlencode

        keys = ("date_from", "date_to", "campaign", "department")
        return urlencode({k: v for k in keys if (v := getattr(self, k)) is not None})


def _resolve(request: Request, f: DashboardFilters) -> tuple[date, date, stats.Filters]:
    st = state_of(request)
    today = st.clock().astimezone(ZoneInfo(st.timezone)).date()
    last = f.date_to or today
    first = f.date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    return first, last, stats.Filters(campaign_id=f.campaign, department=f.department)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _chart_data(weekly: stats.Trend, monthly: stats.Trend, fig: stats.Figures) -> dict[str, Any]:
    def series(tr: stats.Trend) -> dict[str, Any]:
        return {
            "labels": [p.label for p in tr.periods],
            "connection_rate": [_pct(v) for v in tr.series("connection_rate")],
            "completion_rate": [_pct(v) for v in tr.series("completion_rate")],
            "satisfaction": [None if v is None else round(v, 1) for v in tr.series("satisfaction")],
            "complaints": tr.series("complaints"),
            "praise": tr.series("praise"),
        }

    return {
        "weekly": series(weekly),
        "monthly": series(monthly),
        "departments": {
            "labels": [g.name for g in fig.departments],
            "satisfaction": [
                None if g.satisfaction is None else round(g.satisfaction, 1) for g in fig.departments
            ],
            "complaints": [g.complaints for g in fig.departments],
            "praise": [g.praise for g in fig.departments],
        },
    }


def _changes(tr: stats.Trend) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in TREND_FIGURES:
        change = tr.change(name)
        out[name] = None if change is None else (change * 100 if name.endswith("_rate") else change)
    return out


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, db: SessionDep, user: Reviewer, f: Annotated[DashboardFilters, Query()]
) -> Response:
    """The dashboard page."""
    first, last, filters = _resolve(request, f)
    tz = state_of(request).timezone
    fig = stats.figures(db, stats.day_range(first, last, tz), filters)
    weekly = stats.trend(db, stats.weeks(last, TREND_WEEKS, tz), filters)
    monthly = stats.trend(db, stats.months(last, TREND_MONTHS, tz), filters)
    campaigns = [(c.id, c.name) for c in db.scalars(select(Campaign).order_by(Campaign.id.desc()))]
    db.commit()
    return render(
        request,
        "dashboards/dashboard.html",
        {
            "f": f,
            "first": first,
            "last": last,
            "fig": fig,
            "campaigns": campaigns,
            "chart": _chart_data(weekly, monthly, fig),
            "wow": _changes(weekly),
            "mom": _changes(monthly),
            "trend_figures": TREND_FIGURES,
        },
    )


def _table(request: Request, db: SessionDep, f: DashboardFilters) -> tuple[list[list[Any]], date, date]:
    first, last, filters = _resolve(request, f)
    fig = stats.figures(db, stats.day_range(first, last, state_of(request).timezone), filters)
    return stats.table_rows(fig), first, last


def _safe(value: Any) -> Any:
    """A cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is made plain text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


@router.get("/export.csv")
def export_csv(
    request: Request, db: SessionDep, user: Reviewer, f: Annotated[DashboardFilters, Query()]
) -> Response:
    """The dashboard table as CSV (UTF-8 with BOM); audited."""
    rows, first, last = _table(request, db, f)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(stats.TABLE_COLUMNS)
    writer.writerows([[_safe(v) for v in row] for row in rows])
    detail = {"format": "csv", "from": str(first), "to": str(last), "rows": len(rows)}
    audit.record_now(db, user, "export_dashboard", "dashboard", None, detail)
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="dashboard-{first}-{last}.csv"'},
    )


@router.get("/export.xlsx")
def export_xlsx(
    request: Request, db: SessionDep, user: Reviewer, f: Annotated[DashboardFilters, Query()]
) -> Response:
    """The dashboard table as an XLSX workbook (openpyxl); audited."""
    from openpyxl import Workbook

    rows, first, last = _table(request, db, f)
    book = Workbook()
    sheet = book.active
    sheet.title = "dashboard"
    sheet.append(list(stats.TABLE_COLUMNS))
    for row in rows:
        sheet.append([_safe(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    detail = {"format": "xlsx", "from": str(first), "to": str(last), "rows": len(rows)}
    audit.record_now(db, user, "export_dashboard", "dashboard", None, detail)
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="dashboard-{first}-{last}.xlsx"'},
    )
