"""Quality review of calls: the filtered call list, one call's record, rubric scores and tags.

A "call" here is one call attempt. Its department is the visit's (else the campaign's). ``q`` filters by
transcript: calls with a turn matching it (``models.search.attempts_matching``: 态度 finds 护士态度太差了;
several terms must all match; a quoted "phrase" as a whole). A query the search cannot take raises
``ValueError`` (the route answers 422 naming ``q``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from console import audit, samples
from console.privacy import phone_for
from models.calls import Answer, CallAttempt, Turn
from models.campaigns import CallTask, Campaign
from models.console import CallTag, QaScore
from models.escalations import Escalation
from models.patients import Patient, Visit
from models.qa import QaSample
from models.search import attempts_matching
from models.users import User
from models.vocab import ATTEMPT_OUTCOMES

PAGE_SIZE = 50
EXPORT_LIMIT = 10_000

# The rubric: each item scored 1 (poor) to 5 (excellent). Labels are in console.i18n ("rubric.<item>").
RUBRIC: tuple[str, ...] = ("recognition", "answers", "flow", "courtesy", "escalation")

Outcome = Literal[ATTEMPT_OUTCOMES]  # type: ignore[valid-type]


class CallFilters(BaseModel):
    """The call list's filters, from the query string; blank values mean "any", unknown names are refused."""

    model_config = ConfigDict(extra="forbid")

    campaign: int | None = Field(default=None, ge=1)
    date_from: date | None = None
    date_to: date | None = None
    outcome: Outcome | None = None
    department: str | None = Field(default=None, max_length=100)
    escalated: Literal["yes", "no"] | None = None
    min_score: float | None = Field(default=None, ge=1, le=5)
    q: str | None = Field(default=None, max_length=200)
    page: int = Field(default=1, ge=1, le=100_000)
    lang: str | None = Field(default=None, max_length=2)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        return {k: (None if v == "" else v) for k, v in data.items()} if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _dates_in_order(self) -> CallFilters:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        return self

    def query_string(self, **overrides: object) -> str:
        """These filters as a query string (for paging links), with ``overrides``."""
        from urllib.parse import urlencode

        values = self.model_dump(exclude_none=True) | overrides
        values.pop("lang", None)
        return urlencode({k: v for k, v in values.items() if v is not None and v != ""})


@dataclass(frozen=True)
class CallRow:
    """One line of the call list."""

    id: int
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    campaign_id: int
    campaign: str
    department: str | None
    patient_name: str
    phone: str
    escalated: bool
    score: float | None
    tags: tuple[str, ...] = ()

    @property
    def duration_s(self) -> int | None:
        """Seconds from answer (else start) to end, None while live."""
        if self.ended_at is None:
            return None
        return int((self.ended_at - (self.answered_at or self.started_at)).total_seconds())


def _department_col() -> object:
    return func.coalesce(Visit.department, Campaign.department)


def call_query(filters: CallFilters, tz: str, dialect: str) -> Select:
    """The SELECT behind the call list (no paging); ``dialect`` picks the transcript-search SQL."""
    escalated = exists().where(Escalation.attempt_id == CallAttempt.id)
    score = (
        select(func.avg(QaScore.total)).where(QaScore.attempt_id == CallAttempt.id).scalar_subquery()
    )
    department = _department_col()
    q = (
        select(
            CallAttempt.id,
            CallAttempt.started_at,
            CallAttempt.answered_at,
            CallAttempt.ended_at,
            CallAttempt.outcome,
            Campaign.id,
            Campaign.name,
            department,
            Patient.name,
            Patient.phone,
            escalated,
            score,
        )
        .join(CallTask, CallTask.id == CallAttempt.task_id)
        .join(Campaign, Campaign.id == CallTask.campaign_id)
        .join(Patient, Patient.id == CallTask.patient_id)
        .outerjoin(Visit, Visit.id == CallTask.visit_id)
    )
    zone = ZoneInfo(tz)
    if filters.campaign is not None:
        q = q.where(Campaign.id == filters.campaign)
    if filters.date_from is not None:
        q = q.where(CallAttempt.started_at >= datetime.combine(filters.date_from, time(), zone))
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), zone)
        q = q.where(CallAttempt.started_at < end)
    if filters.outcome is not None:
        q = q.where(CallAttempt.outcome == filters.outcome)
    if filters.department is not None:
        q = q.where(department == filters.department)
    if filters.escalated == "yes":
        q = q.where(escalated)
    elif filters.escalated == "no":
        q = q.where(~escalated)
    if filters.min_score is not None:
        q = q.where(score >= filters.min_score)
    if filters.q is not None and filters.q.strip():
        q = q.where(attempts_matching(dialect, filters.q.strip()))
    return q.order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())


def _dialect(db: Session) -> str:
    return db.get_bind().dialect.name


def _rows(db: Session, q: Select) -> list[CallRow]:
    rows = [CallRow(*r) for r in db.execute(q)]
    if not rows:
        return rows
    tags: dict[int, list[str]] = {}
    for attempt_id, tag in db.execute(
        select(CallTag.attempt_id, CallTag.tag).where(CallTag.attempt_id.in_([r.id for r in rows])).order_by(
            CallTag.tag
        )
    ):
        tags.setdefault(attempt_id, []).append(tag)
    return [CallRow(**{**r.__dict__, "tags": tuple(tags.get(r.id, ()))}) for r in rows]


def list_calls(db: Session, filters: CallFilters, tz: str) -> tuple[list[CallRow], bool]:
    """One page of calls, and whether there is a next page."""
    q = call_query(filters, tz, _dialect(db)).offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    rows = _rows(db, q)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def export_csv(db: Session, filters: CallFilters, tz: str, viewer: User) -> tuple[str, int]:
    """The filtered calls as CSV text (phones as the viewer may see them) and the row count; audited."""
    rows = _rows(db, call_query(filters, tz, _dialect(db)).limit(EXPORT_LIMIT))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["call_id", "started_at", "outcome", "campaign", "department", "patient", "phone", "escalated", "score"]
    )
    zone = ZoneInfo(tz)
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.started_at.astimezone(zone).isoformat(timespec="seconds"),
                r.outcome or "",
                r.campaign,
                r.department or "",
                _csv_safe(r.patient_name),
                phone_for(viewer.role, r.phone),
                "yes" if r.escalated else "no",
                "" if r.score is None else f"{r.score:.2f}",
            ]
        )
    audit.record_now(
        db, viewer, "export_calls", "calls", None, {"rows": len(rows), "filters": filters.query_string()}
    )
    return out.getvalue(), len(rows)


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection): neutralise it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def filter_choices(db: Session) -> dict[str, list]:
    """Campaigns and departments for the filter form."""
    campaigns = list(db.execute(select(Campaign.id, Campaign.name).order_by(Campaign.id.desc())))
    departments = sorted(
        {
            d
            for d in db.scalars(select(Visit.department).distinct())
            if d
        }
        | {d for d in db.scalars(select(Campaign.department).distinct()) if d}
    )
    return {"campaigns": campaigns, "departments": departments}


@dataclass
class CallRecord:
    """Everything the call page shows."""

    attempt: CallAttempt
    patient: Patient
    visit: Visit | None
    campaign: Campaign
    turns: list[Turn]
    answers: list[Answer]
    escalations: list[Escalation]
    scores: list[QaScore]
    tags: list[str]
    sample: QaSample | None = None


def load_call(db: Session, attempt_id: int) -> CallRecord | None:
    """The call's record, or None."""
    attempt = db.scalar(
        select(CallAttempt)
        .options(
            joinedload(CallAttempt.task).joinedload(CallTask.patient),
            joinedload(CallAttempt.task).joinedload(CallTask.visit),
            joinedload(CallAttempt.task).joinedload(CallTask.campaign),
        )
        .where(CallAttempt.id == attempt_id)
    )
    if attempt is None:
        return None
    task = attempt.task
    return CallRecord(
        attempt=attempt,
        patient=task.patient,
        visit=task.visit,
        campaign=task.campaign,
        turns=list(db.scalars(select(Turn).where(Turn.attempt_id == attempt.id).order_by(Turn.seq))),
        answers=list(db.scalars(select(Answer).where(Answer.attempt_id == attempt.id).order_by(Answer.id))),
        escalations=list(
            db.scalars(select(Escalation).where(Escalation.attempt_id == attempt.id).order_by(Escalation.id))
        ),
        scores=list(
            db.scalars(
                select(QaScore)
                .options(joinedload(QaScore.reviewer))
                .where(QaScore.attempt_id == attempt.id)
                .order_by(QaScore.id)
            )
        ),
        tags=list(db.scalars(select(CallTag.tag).where(CallTag.attempt_id == attempt.id).order_by(CallTag.tag))),
        sample=samples.sample_of(db, attempt.id),
    )


def recording_file(attempt: CallAttempt, data_dir: str) -> Path | None:
    """The recording's file (a relative path is under the data directory), or None if missing."""
    if not attempt.recording_path:
        return None
    path = Path(attempt.recording_path)
    if not path.is_absolute():
        path = Path(data_dir) / path
    return path if path.is_file() else None


def save_score(
    db: Session, attempt_id: int, reviewer: User, scores: dict[str, int], comments: str, now: datetime
) -> QaScore:
    """Create or update the reviewer's score for the call; audited."""
    missing = [item for item in RUBRIC if item not in scores]
    if missing:
        raise ValueError(f"missing rubric item(s): {', '.join(missing)}")
    total = sum(scores[item] for item in RUBRIC) / len(RUBRIC)
    row = db.scalar(select(QaScore).where(QaScore.attempt_id == attempt_id, QaScore.reviewer_id == reviewer.id))
    if row is None:
        row = QaScore(attempt_id=attempt_id, reviewer_id=reviewer.id, created_at=now)
        db.add(row)
    row.scores = {item: scores[item] for item in RUBRIC}
    row.total = total
    row.comments = comments.strip()
    row.updated_at = now
    audit.record(db, reviewer, "score_call", "call", attempt_id, {"total": round(total, 2)})
    samples.close_on_score(db, attempt_id, reviewer, now)  # a sampled call is reviewed once it is scored
    db.commit()
    return row


def add_tags(db: Session, attempt_id: int, user: User, tags: Iterable[str]) -> list[str]:
    """Add tags to the call (existing ones are kept once); returns the tags added; audited."""
    existing = set(db.scalars(select(CallTag.tag).where(CallTag.attempt_id == attempt_id)))
    added = []
    for tag in tags:
        if tag not in existing and tag not in added:
            db.add(CallTag(attempt_id=attempt_id, tag=tag, user_id=user.id))
            added.append(tag)
    if added:
        audit.record(db, user, "tag_call", "call", attempt_id, {"tags": added})
    try:
        db.commit()
    except IntegrityError:  # the same tag added concurrently: it is there, which is what was asked
        db.rollback()
    return added


def remove_tag(db: Session, attempt_id: int, user: User, tag: str) -> bool:
    """Remove a tag from the call; True if it was there; audited."""
    row = db.scalar(select(CallTag).where(CallTag.attempt_id == attempt_id, CallTag.tag == tag))
    if row is None:
        return False
    db.delete(row)
    audit.record(db, user, "untag_call", "call", attempt_id, {"tag": tag})
    db.commit()
    return True
