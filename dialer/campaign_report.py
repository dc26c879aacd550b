"""A campaign's per-patient summary: who was called how often, how each attempt ended, what was captured.

What ``followup campaign report ID`` prints at the end of a campaign (and of ``make demo``): one row per
call task — the patient (name masked to the surname, phone to its last four digits, as in logs), the
attempts in order (``busy → completed``), the final task status, the number of answers captured and the
escalations raised.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.calls import Answer, CallAttempt
from models.campaigns import CallTask
from models.escalations import Escalation
from models.patients import Patient, Visit
from models.phones import mask_phone


@dataclass
class TaskRow:
    """One call task as the report shows it."""

    task_id: int
    patient: str  # masked: surname + *
    phone: str  # masked: last four digits (models.phones.mask_phone)
    department: str | None
    status: str
    outcomes: list[str] = field(default_factory=list)  # every attempt's outcome, in order
    answers: int = 0
    escalations: list[str] = field(default_factory=list)  # kinds, in order

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def mask_name(name: str) -> str:
    """张伟 → 张*, John Smith → J*: enough to tell rows apart on a screen, not to identify anyone."""
    name = name.strip()
    return f"{name[0]}*" if name else "?"


def campaign_report(session: Session, campaign_id: int) -> list[TaskRow]:
    """The rows of the report, in task id order (three queries, whatever the campaign's size)."""
    tasks = session.execute(
        select(CallTask.id, CallTask.status, Patient.name, Patient.phone, CallTask.visit_id)
        .join(Patient, Patient.id == CallTask.patient_id)
        .where(CallTask.campaign_id == campaign_id)
        .order_by(CallTask.id)
    ).all()
    rows = {t.id: TaskRow(t.id, mask_name(t.name), mask_phone(t.phone), None, t.status) for t in tasks}
    attempts = session.execute(
        select(CallAttempt.id, CallAttempt.task_id, CallAttempt.outcome, func.count(Answer.id))
        .join(CallTask, CallTask.id == CallAttempt.task_id)
        .outerjoin(Answer, (Answer.attempt_id == CallAttempt.id) & (Answer.status == "answered"))
        .where(CallTask.campaign_id == campaign_id)
        .group_by(CallAttempt.id, CallAttempt.task_id, CallAttempt.outcome, CallAttempt.number)
        .order_by(CallAttempt.task_id, CallAttempt.number)
    ).all()
    task_of: dict[int, int] = {}
    for a in attempts:
        row = rows[a.task_id]
        row.outcomes.append(a.outcome or "live")
        row.answers += int(a[3])
        task_of[a.id] = a.task_id
    if task_of:
        for e in session.execute(
            select(Escalation.attempt_id, Escalation.kind, Escalation.department)
            .where(Escalation.attempt_id.in_(list(task_of)))
            .order_by(Escalation.id)
        ):
            row = rows[task_of[e.attempt_id]]
            row.escalations.append(e.kind)
            row.department = row.department or e.department
    visits = {t.id: t.visit_id for t in tasks if t.visit_id is not None}
    if visits:
        dept = dict(session.execute(select(Visit.id, Visit.department).where(Visit.id.in_(set(visits.values())))).all())
        for task_id, visit_id in visits.items():
            rows[task_id].department = dept.get(visit_id) or rows[task_id].department
    return list(rows.values())


def _width(text: str) -> int:
    """Display width on a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_report(rows: list[TaskRow], lang: str = "zh") -> str:
    """A fixed-width table for a terminal, with totals by final status underneath."""
    zh = lang == "zh"
    head = (["任务", "患者", "电话", "科室", "拨打经过", "任务状态", "答案", "转交"] if zh else
            ["task", "patient", "phone", "dept", "attempts", "status", "answers", "escalations"])
    body = [[str(r.task_id), r.patient, r.phone, r.department or "-", " → ".join(r.outcomes) or "-",
             r.status, str(r.answers), ", ".join(r.escalations) or "-"] for r in rows]
    widths = [max(_width(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    totals: dict[str, int] = {}
    for r in rows:
        final = r.outcomes[-1] if r.outcomes else "not dialled"
        totals[final] = totals.get(final, 0) + 1
    label = "最后一次结果" if zh else "last outcome"
    lines.append("")
    lines.append(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)
