"""Helpers of the engine tests: seed a campaign of simulated patients, count dials on the Asterisk side.

Asterisk side: every dial into the simulated-patient dialplan logs (verbose 3, ``messages.log``)::

    Executing [sim-<ident>@patients:1] Goto("Local/sim-<ident>@patients-…;2", …)

The engine names each dial ``<tag>t<task>a<attempt>x<random>`` (``dialer.engine``), so the log says which
task and attempt number Asterisk was asked to ring, independently of what the database believes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dialer import campaigns
from models import db
from models.calls import Answer, CallAttempt
from models.campaigns import CallTask
from models.patients import Patient, Visit

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "tests" / "engine" / "flows"
E2E_FLOWS = REPO / "tests" / "e2e" / "flows"
SPEECH = REPO / "tests" / "fixtures" / "speech"
GREETINGS = REPO / "tests" / "e2e" / "data"

DIAL_LINE = re.compile(r"Executing \[sim-([A-Za-z0-9]+)t(\d+)a(\d+)x([0-9a-f]+)@patients:1\]")


def flow_path(flow: str) -> str:
    """A test flow by id: tests/engine/flows, else tests/e2e/flows."""
    path = FLOWS / f"{flow}.yaml"
    return str(path if path.is_file() else E2E_FLOWS / f"{flow}.yaml")


def wav(ident: str) -> str:
    """A speech fixture or a greeting (tests/e2e/data) by name."""
    path = SPEECH / f"{ident}.wav"
    return str(path if path.is_file() else GREETINGS / f"{ident}.wav")


def say(ident: str, **extra: Any) -> dict[str, Any]:
    return {"say": wav(ident), **extra}


@dataclass
class SeedPatient:
    """One patient to call: phone (E.164), what the simulated patient does, and the patient row fields."""

    phone: str
    script: Any
    name: str = "张伟"
    gender: str = "male"
    salutation: str | None = None
    language: str = "zh"
    max_attempts: int = 3


@dataclass
class Seeded:
    """A seeded campaign: its id, task id per phone, the --simulate file."""

    url: str
    campaign_id: int
    tasks: dict[str, int] = field(default_factory=dict)
    simulate: Path | None = None


def seed_campaign(url: str, tmp: Path, patients: list[SeedPatient], *, flow: str = "e2e_short",
                  language: str | None = "zh", windows: Any = "always", retry_policy: dict[str, Any] | None = None,
                  max_concurrent_calls: int = 10, due_at: datetime | None = None, start: bool = True,
                  name: str = "engine test") -> Seeded:
    """Create the schema, a campaign on a test flow, one patient + visit + task per entry, and the
    ``--simulate`` JSON (phone → script) under ``tmp``."""
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    due = due_at or datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with sessions() as s:
            campaign = campaigns.create_campaign(
                s, name=name, flow_id=flow_path(flow), language=language, windows=windows,
                max_concurrent_calls=max_concurrent_calls, retry_policy=retry_policy, max_attempts=3)
            cid = campaign.id
            seeded = Seeded(url, cid)
            for p in patients:
                patient = Patient(name=p.name, gender=p.gender, salutation=p.salutation, phone=p.phone,
                                  language=p.language)
                s.add(patient)
                s.flush()
                visit = Visit(patient_id=patient.id, kind="inpatient", department="心内科", doctor="李明",
                              visit_date=date(2025, 12, 20), discharge_date=date(2025, 12, 28))
                s.add(visit)
                s.flush()
                task = CallTask(campaign_id=cid, patient_id=patient.id, visit_id=visit.id, due_at=due,
                                max_attempts=p.max_attempts)
                s.add(task)
                s.flush()
                seeded.tasks[p.phone] = task.id
            s.commit()
            if start:
                campaigns.start(s, cid)
    finally:
        engine.dispose()
    sim = tmp / f"patients-{cid}.json"
    sim.write_text(json.dumps({p.phone: p.script for p in patients}, ensure_ascii=False), encoding="utf-8")
    seeded.simulate = sim
    return seeded


def task_rows(url: str, campaign_id: int) -> dict[int, dict[str, Any]]:
    """Every task of the campaign with its attempts and answers, as plain dicts."""
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            out: dict[int, dict[str, Any]] = {}
            for t in s.scalars(select(CallTask).where(CallTask.campaign_id == campaign_id)):
                attempts = s.scalars(select(CallAttempt).where(CallAttempt.task_id == t.id)
                                     .order_by(CallAttempt.number)).all()
                out[t.id] = {
                    "status": t.status, "due_at": t.due_at, "last_outcome": t.last_outcome,
                    "attempts_made": t.attempts_made, "callback_at": t.callback_at, "retries": t.retries,
                    "lease_owner": t.lease_owner,
                    "attempts": [{
                        "id": a.id, "number": a.number, "outcome": a.outcome, "started_at": a.started_at,
                        "channel_id": a.channel_id, "hangup_cause": a.hangup_cause,
                        "answered_at": a.answered_at,
                        "answers": {ans.question_id: ans.value for ans in s.scalars(
                            select(Answer).where(Answer.attempt_id == a.id))},
                    } for a in attempts],
                }
            return out
    finally:
        engine.dispose()


def asterisk_dials(messages_log: Path, tag: str, offset: int = 0) -> Counter[tuple[int, int]]:
    """How often Asterisk was asked to ring (task, attempt number) for dials tagged ``tag``, in the
    part of ``messages.log`` after byte ``offset``."""
    dials: Counter[tuple[int, int]] = Counter()
    with open(messages_log, "rb") as fh:
        fh.seek(offset)
        for raw in fh:
            m = DIAL_LINE.search(raw.decode("utf-8", "replace"))
            if m and m.group(1) == tag:
                dials[(int(m.group(2)), int(m.group(3)))] += 1
    return dials
