"""Known dashboard data for the console tests: a fixed week (2026-10-05 … 2026-10-11, Asia/Shanghai) of
calls with answers and escalations, so every figure of ``console.stats`` has a value worked out by hand.

Week of 2026-10-05, campaign "出院随访" (flow discharge_general):
- 心内科 / 李医生: 3 ended attempts, 2 answered, 2 completed; satisfaction 5 and 3 (1–5 scale → 100 and 50);
  fever yes, no.
- 骨科 / 王医生: 2 ended attempts, 1 answered, 0 completed (partial); satisfaction 1 (→ 0); fever yes.
- escalations: 2 complaints (心内科), 1 praise (骨科).
Week of 2026-09-28: 心内科 1 ended attempt, answered and completed; 1 complaint.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

import models

WEEK = date(2026, 10, 5)
PREVIOUS_WEEK = date(2026, 9, 28)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)  # 08:00 UTC = 16:00 Shanghai, same day


def seed(sessions: sessionmaker[Session]) -> int:
    """Write the data; returns the campaign id."""
    with sessions() as s:
        campaign = models.Campaign(name="出院随访", flow_id="discharge_general", status="running")
        s.add(campaign)
        calls = [
            # (day, department, doctor, answered, outcome, answers, escalation kind)
            (WEEK, "心内科", "李医生", True, "completed", {"satisfaction": 5, "fever": True}, "complaint"),
            (WEEK, "心内科", "李医生", True, "completed", {"satisfaction": 3, "fever": False}, "complaint"),
            (WEEK, "心内科", "李医生", False, "no_answer", {}, None),
            (WEEK, "骨科", "王医生", True, "partial", {"satisfaction": 1, "fever": True}, "praise"),
            (WEEK, "骨科", "王医生", False, "busy", {}, None),
            (PREVIOUS_WEEK, "心内科", "李医生", True, "completed", {"satisfaction": 4}, "complaint"),
        ]
        for i, (day, dept, doctor, answered, outcome, answers, kind) in enumerate(calls):
            patient = models.Patient(name=f"患者{i}", phone=f"+86139000000{i:02d}", language="zh")
            visit = models.Visit(
                patient=patient,
                kind="inpatient",
                department=dept,
                doctor=doctor,
                visit_date=day,
                discharge_date=day,
            )
            task = models.CallTask(campaign=campaign, patient=patient, visit=visit, due_at=_at(day, 1))
            started = _at(day, 8)
            attempt = models.CallAttempt(
                task=task,
                number=1,
                started_at=started,
                answered_at=started + timedelta(seconds=5) if answered else None,
                ended_at=started + timedelta(seconds=90),
                outcome=outcome,
                flow_id="discharge_general",
                language="zh",
            )
            s.add_all([patient, visit, task, attempt])
            s.flush()
            for qid, value in answers.items():
                s.add(
                    models.Answer(attempt_id=attempt.id, question_id=qid, value=value, value_text=str(value))
                )
            if kind is not None:
                s.add(
                    models.Escalation(
                        attempt_id=attempt.id,
                        patient=patient,
                        kind=kind,
                        department=dept,
                        text="测试",
                        created_at=started + timedelta(seconds=60),
                    )
                )
        s.commit()
        return campaign.id
