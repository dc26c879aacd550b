"""Dashboard figures: connection and completion rates, satisfaction per department / doctor / question,
complaint and praise counts, and their week-on-week and month-on-month trends.

Every figure is a SQL aggregate (``count``, ``GROUP BY``) over one period ``[start, end)`` in UTC, written
in SQLAlchemy Core so the same query runs on SQLite and PostgreSQL; only the interpretation of grouped
answer values (a scale's mean, a yes/no share) happens in Python, on the few grouped rows.

Definitions (docs/console.md repeats them for readers of the dashboard):

- **connection rate**: of the attempts *started* in the period that have ended, the share someone picked
  up (``answered_at`` set).
- **completion rate**: of those answered attempts, the share with outcome ``completed``.
- **satisfaction**: every answered ``scale`` question, each answer normalised to 0–100 over its scale
  (``(value - min) / (max - min)``), averaged; per question the raw mean on its own scale too. ``yes_no``
  questions give the share of "yes". The question's type and scale come from the flow the call ran.
- **complaints / praise**: escalations of that kind created in the period.

A call's department and doctor are its visit's (else the campaign's department; "—" when neither).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from models.calls import Answer, CallAttempt
from models.campaigns import CallTask, Campaign
from models.escalations import Escalation
from models.patients import Visit

NONE_LABEL = "—"


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval and how it is shown (``2026-11-30`` for a week, ``2026-11`` for a month)."""

    label: str
    start: datetime
    end: datetime


@dataclass
class Group:
    """The figures of one department or doctor within a period."""

    name: str
    ended: int = 0
    answered: int = 0
    completed: int = 0
    scale_sum: float = 0.0  # sum of normalised (0–100) scale answers
    scale_n: int = 0
    complaints: int = 0
    praise: int = 0

    @property
    def connection_rate(self) -> float | None:
        return self.answered / self.ended if self.ended else None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.answered if self.answered else None

    @property
    def satisfaction(self) -> float | None:
        """Mean normalised scale answer, 0–100."""
        return self.scale_sum / self.scale_n if self.scale_n else None


@dataclass
class QuestionStat:
    """One question of one flow: scale → ``mean`` on its own scale; yes/no → ``yes_share``."""

    flow_id: str
    question_id: str
    text: str
    type: str
    n: int = 0
    total: float = 0.0
    yes: int = 0
    scale_min: float | None = None
    scale_max: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n and self.type == "scale" else None

    @property
    def yes_share(self) -> float | None:
        return self.yes / self.n if self.n and self.type == "yes_no" else None


@dataclass
class Figures:
    """Everything the dashboard shows for one period."""

    period: Period
    total: Group
    departments: list[Group] = field(default_factory=list)
    doctors: list[Group] = field(default_factory=list)
    questions: list[QuestionStat] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """What the dashboard is limited to (None: everything)."""

    campaign_id: int | None = None
    department: str | None = None


# --- periods --------------------------------------------------------------------------------------------


def _utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_range(first: date, last: date, tz: str) -> Period:
    """Local days ``first`` … ``last`` (inclusive) as one UTC period."""
    zone = ZoneInfo(tz)
    return Period(
        f"{first}…{last}", _utc_midnight(first, zone), _utc_midnight(last + timedelta(days=1), zone)
    )


def weeks(today: date, count: int, tz: str) -> list[Period]:
    """The ``count`` local weeks (Monday first) up to and including the one containing ``today``, oldest first."""
    zone = ZoneInfo(tz)
    monday = today - timedelta(days=today.weekday())
    out = []
    for i in range(count - 1, -1, -1):
        first = monday - timedelta(weeks=i)
        out.append(
            Period(first.isoformat(), _utc_midnight(first, zone), _utc_midnight(first + timedelta(7), zone))
        )
    return out


def months(today: date, count: int, tz: str) -> list[Period]:
    """The ``count`` local calendar months up to and including ``today``'s, oldest first."""
    zone = ZoneInfo(tz)
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        out.append(Period(f"{year:04d}-{month:02d}", _utc_midnight(first, zone), _utc_midnight(nxt, zone)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


# --- queries --------------------------------------------------------------------------------------------


def _department() -> Any:
    return func.coalesce(Visit.department, Campaign.department)


def _joined(stmt: Select[Any], filters: Filters, *, grouped: bool = True) -> Select[Any]:
    """The attempts joined to their task, campaign and visit: for grouping by department/doctor, or for
    the filters (a trend without filters needs no join at all)."""
    if not grouped and filters.campaign_id is None and filters.department is None:
        return stmt
    stmt = (
        stmt.join(CallTask, CallTask.id == CallAttempt.task_id)
        .join(Campaign, Campaign.id == CallTask.campaign_id)
        .outerjoin(Visit, Visit.id == CallTask.visit_id)
    )
    if filters.campaign_id is not None:
        stmt = stmt.where(CallTask.campaign_id == filters.campaign_id)
    if filters.department is not None:
        stmt = stmt.where(_department() == filters.department)
    return stmt


def _flow_questions(flow_id: str | None, cache: dict[str, dict[str, Any]], lang: str) -> dict[str, Any]:
    """``{question_id: (type, min, max, text)}`` of a library flow ({} when it does not load)."""
    if flow_id is None:
        return {}
    if flow_id not in cache:
        from flows.errors import FlowError, FlowNotFound
        from flows.loader import find_flow
        from flows.validate import scale_range

        try:
            flow = find_flow(flow_id)
        except (FlowError, FlowNotFound):
            cache[flow_id] = {}
        else:
            questions: dict[str, Any] = {}
            for step in flow.questions():
                assert step.ask is not None
                low, high = scale_range(step.ask) if step.ask.type == "scale" else (None, None)
                text = step.ask.prompt.get(lang) or step.ask.prompt.get(flow.languages[0]) or step.id
                questions[step.id] = (step.ask.type, low, high, text)
            cache[flow_id] = questions
    return cache[flow_id]


def figures(
    db: Session, period: Period, filters: Filters = Filters(), *, lang: str = "zh", per_doctor: bool = True
) -> Figures:
    """The dashboard's figures for ``period``: totals, per department, per doctor, per question."""
    depts: dict[str, Group] = {}
    doctors: dict[str, Group] = {}
    total = Group("total")

    def groups(dept: str | None, doctor: str | None) -> list[Group]:
        d = dept or NONE_LABEL
        out = [total, depts.setdefault(d, Group(d))]
        if per_doctor:
            key = f"{doctor or NONE_LABEL} ({d})"
            out.append(doctors.setdefault(key, Group(key)))
        return out

    # By start time (indexed; a call lasts minutes), counting only attempts that have ended.
    started = CallAttempt.started_at
    in_period = (started >= period.start) & (started < period.end) & CallAttempt.ended_at.is_not(None)
    stmt = _joined(
        select(
            _department(),
            Visit.doctor,
            func.count(CallAttempt.id),
            func.count(CallAttempt.answered_at),
            func.sum(case((CallAttempt.outcome == "completed", 1), else_=0)),
        ),
        filters,
    ).where(in_period)
    for dept, doctor, n, answered, completed in db.execute(stmt.group_by(_department(), Visit.doctor)):
        for g in groups(dept, doctor):
            g.ended += int(n)
            g.answered += int(answered)
            g.completed += int(completed or 0)

    # Answers: grouped by value, so the rows are few; their meaning comes from the flow's question.
    answer_stmt = _joined(
        select(
            _department(),
            Visit.doctor,
            CallAttempt.flow_id,
            Answer.question_id,
            Answer.value,
            func.count(Answer.id),
        )
        .select_from(Answer)
        .join(CallAttempt, CallAttempt.id == Answer.attempt_id),
        filters,
    ).where(in_period, Answer.status == "answered", Answer.value.is_not(None))
    answer_stmt = answer_stmt.group_by(
        _department(), Visit.doctor, CallAttempt.flow_id, Answer.question_id, Answer.value
    )
    flows: dict[str, dict[str, Any]] = {}
    questions: dict[tuple[str, str], QuestionStat] = {}
    for dept, doctor, flow_id, qid, value, n in db.execute(answer_stmt):
        spec = _flow_questions(flow_id, flows, lang).get(qid)
        if spec is None:
            continue
        qtype, low, high, text = spec
        n = int(n)
        key = (flow_id, qid)
        if qtype == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
            q = questions.setdefault(
                key, QuestionStat(flow_id, qid, text, qtype, scale_min=low, scale_max=high)
            )
            q.n += n
            q.total += float(value) * n
            if high is not None and low is not None and high > low:
                score = (float(value) - low) / (high - low) * 100
                for g in groups(dept, doctor):
                    g.scale_sum += score * n
                    g.scale_n += n
        elif qtype == "yes_no" and isinstance(value, bool):
            q = questions.setdefault(key, QuestionStat(flow_id, qid, text, qtype))
            q.n += n
            q.yes += n if value else 0

    # Escalations count for their own department (the routed one); the doctor is the call's visit's.
    esc_created = Escalation.created_at
    esc_stmt = (
        select(Escalation.department, Visit.doctor, Escalation.kind, func.count(Escalation.id))
        .outerjoin(CallAttempt, CallAttempt.id == Escalation.attempt_id)
        .outerjoin(CallTask, CallTask.id == CallAttempt.task_id)
        .outerjoin(Visit, Visit.id == CallTask.visit_id)
        .where(
            esc_created >= period.start,
            esc_created < period.end,
            Escalation.kind.in_(("complaint", "praise")),
        )
        .group_by(Escalation.department, Visit.doctor, Escalation.kind)
    )
    if filters.department is not None:
        esc_stmt = esc_stmt.where(Escalation.department == filters.department)
    if filters.campaign_id is not None:
        esc_stmt = esc_stmt.where(CallTask.campaign_id == filters.campaign_id)
    for dept, doctor, kind, n in db.execute(esc_stmt):
        for g in groups(dept, doctor):
            if kind == "complaint":
                g.complaints += int(n)
            else:
                g.praise += int(n)
    db.commit()  # end the read transaction
    return Figures(
        period=period,
        total=total,
        departments=sorted(depts.values(), key=lambda g: (-g.ended, g.name)),
        doctors=sorted(doctors.values(), key=lambda g: (-g.ended, g.name)),
        questions=sorted(questions.values(), key=lambda q: (q.flow_id, q.question_id)),
    )


@dataclass
class Trend:
    """One series of periods (weeks or months) with the totals of each, and the change of the last one."""

    periods: list[Period]
    totals: list[Group]

    def series(self, name: str) -> list[float | None]:
        """A figure per period: connection_rate, completion_rate, satisfaction, complaints, praise."""
        return [getattr(g, name) for g in self.totals]

    def change(self, name: str) -> float | None:
        """The last period minus the one before (None when either has no value)."""
        values = self.series(name)
        if len(values) < 2 or values[-1] is None or values[-2] is None:
            return None
        return float(values[-1]) - float(values[-2])


def trend(db: Session, periods: list[Period], filters: Filters = Filters()) -> Trend:
    """Totals per period, as ``figures(db, p, filters).total`` gives them, but in three queries for all the
    periods: each row is put in its period by a ``CASE`` on its time (``periods``: contiguous, oldest first)."""
    totals = [Group(p.label) for p in periods]
    if not periods:
        return Trend(periods, totals)
    if any(a.end != b.start for a, b in itertools.pairwise(periods)):
        raise ValueError("trend periods must be contiguous and in order")

    def bucket(column: Any) -> Any:
        return case(*[(column < p.end, i) for i, p in enumerate(periods)], else_=-1)

    started = CallAttempt.started_at
    span = (started >= periods[0].start) & (started < periods[-1].end) & CallAttempt.ended_at.is_not(None)
    b = bucket(started).label("bucket")
    stmt = _joined(
        select(
            b,
            func.count(CallAttempt.id),
            func.count(CallAttempt.answered_at),
            func.sum(case((CallAttempt.outcome == "completed", 1), else_=0)),
        ),
        filters,
        grouped=False,
    ).where(span)
    for i, n, answered, completed in db.execute(stmt.group_by(b)):
        g = totals[i]
        g.ended, g.answered, g.completed = int(n), int(answered), int(completed or 0)

    answer_stmt = _joined(
        select(b, CallAttempt.flow_id, Answer.question_id, Answer.value, func.count(Answer.id))
        .select_from(Answer)
        .join(CallAttempt, CallAttempt.id == Answer.attempt_id),
        filters,
        grouped=False,
    ).where(span, Answer.status == "answered", Answer.value.is_not(None))
    flows: dict[str, dict[str, Any]] = {}
    grouped = answer_stmt.group_by(b, CallAttempt.flow_id, Answer.question_id, Answer.value)
    for i, flow_id, qid, value, n in db.execute(grouped):
        score = _normalised(_flow_questions(flow_id, flows, "zh").get(qid), value)
        if score is not None:
            totals[i].scale_sum += score * int(n)
            totals[i].scale_n += int(n)

    created = Escalation.created_at
    eb = bucket(created).label("bucket")
    esc_stmt = (
        select(eb, Escalation.kind, func.count(Escalation.id))
        .outerjoin(CallAttempt, CallAttempt.id == Escalation.attempt_id)
        .outerjoin(CallTask, CallTask.id == CallAttempt.task_id)
        .where(
            created >= periods[0].start,
            created < periods[-1].end,
            Escalation.kind.in_(("complaint", "praise")),
        )
    )
    if filters.department is not None:
        esc_stmt = esc_stmt.where(Escalation.department == filters.department)
    if filters.campaign_id is not None:
        esc_stmt = esc_stmt.where(CallTask.campaign_id == filters.campaign_id)
    for i, kind, n in db.execute(esc_stmt.group_by(eb, Escalation.kind)):
        if kind == "complaint":
            totals[i].complaints += int(n)
        else:
            totals[i].praise += int(n)
    db.commit()
    return Trend(periods, totals)


def _normalised(spec: Any, value: Any) -> float | None:
    """A scale answer on 0–100 (None for anything that is not one)."""
    if spec is None or spec[0] != "scale" or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    _type, low, high, _text = spec
    if low is None or high is None or high <= low:
        return None
    return (float(value) - low) / (high - low) * 100


# --- the table the exports write ------------------------------------------------------------------------

TABLE_COLUMNS: tuple[str, ...] = (
    "level",
    "name",
    "ended",
    "answered",
    "connection_rate",
    "completed",
    "completion_rate",
    "satisfaction",
    "scale_answers",
    "complaints",
    "praise",
)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def table_rows(fig: Figures) -> list[list[Any]]:
    """The dashboard table as rows of plain values (rates in %, satisfaction 0–100), total first."""
    rows: list[list[Any]] = []
    for level, items in (("total", [fig.total]), ("department", fig.departments), ("doctor", fig.doctors)):
        for g in items:
            rows.append(
                [
                    level,
                    g.name,
                    g.ended,
                    g.answered,
                    _pct(g.connection_rate),
                    g.completed,
                    _pct(g.completion_rate),
                    None if g.satisfaction is None else round(g.satisfaction, 1),
                    g.scale_n,
                    g.complaints,
                    g.praise,
                ]
            )
    for q in fig.questions:
        value = q.mean if q.type == "scale" else _pct(q.yes_share)
        rows.append(
            [
                "question",
                f"{q.flow_id}.{q.question_id} {q.text}",
                None,
                None,
                None,
                None,
                None,
                None if value is None else round(value, 2),
                q.n,
                None,
                None,
            ]
        )
    return rows
