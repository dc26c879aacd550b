"""Exports of a campaign's answers: a CSV for people (Excel) and FHIR R4 resources for systems (the HIS).

- CSV: one row per completed call, the call's facts first, then one column per question of the flow in
  flow order, headed by the question text in the export language with its id (``伤口… (wound)``). UTF-8
  with a BOM, so Excel opens Chinese text correctly; values as a person reads them (choice labels, 是/否,
  ``130/85``, 不确定 for "don't know", empty when not asked or not answered).
- FHIR: the flow's ``Questionnaire`` plus one ``QuestionnaireResponse`` per completed call (dialer/fhir.py
  holds the mapping), either as files in a directory or as NDJSON (one resource per line).

"Completed" means the flow ran to one of its ends: outcomes ``completed`` and ``escalated`` (response
status ``completed``) and ``transferred`` (handed to a person mid-flow: status ``stopped``);
``include_partial`` adds calls the patient hung up on (status ``in-progress``: the task is retried).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dialer import fhir
from flows.schema import Flow, Step
from models.calls import Answer, CallAttempt
from models.campaigns import CallTask, Campaign
from models.patients import Patient, Visit

COMPLETED_OUTCOMES: tuple[str, ...] = ("completed", "escalated", "transferred")
RESPONSE_STATUS: dict[str, str] = {
    "completed": "completed",
    "escalated": "completed",
    "transferred": "stopped",
    "partial": "in-progress",
}

FIXED_COLUMNS: tuple[tuple[str, dict[str, str]], ...] = (
    ("attempt_id", {"zh": "通话编号", "en": "Call ID"}),
    ("patient_id", {"zh": "患者编号", "en": "Patient ID"}),
    ("patient_name", {"zh": "姓名", "en": "Name"}),
    ("visit_id", {"zh": "就诊编号", "en": "Visit ID"}),
    ("department", {"zh": "科室", "en": "Department"}),
    ("attempt", {"zh": "第几次拨打", "en": "Attempt"}),
    ("started_at", {"zh": "开始时间", "en": "Started"}),
    ("ended_at", {"zh": "结束时间", "en": "Ended"}),
    ("outcome", {"zh": "结果", "en": "Outcome"}),
    ("respondent", {"zh": "应答人", "en": "Respondent"}),
)
WORDS: dict[str, dict[str, str]] = {
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "unsure": {"zh": "不确定", "en": "unsure"},
    "patient": {"zh": "本人", "en": "patient"},
    "family": {"zh": "家属", "en": "family"},
    "sep": {"zh": "、", "en": ", "},
}


@dataclass
class CompletedCall:
    """One exported call: the attempt with its task, patient, visit and answers by question id."""

    attempt: CallAttempt
    task: CallTask
    patient: Patient
    visit: Visit | None
    answers: dict[str, Answer]

    @property
    def values(self) -> dict[str, Any]:
        """Question id → stored value, for answered questions only."""
        return {q: a.value for q, a in self.answers.items() if a.status == "answered" and a.value is not None}


def flow_for(flow_id: str, cache: dict[str, Flow] | None = None) -> Flow:
    """The library flow ``flow_id`` (FlowNotFound/FlowError if it is gone or broken), via ``cache``."""
    cache = {} if cache is None else cache
    if flow_id not in cache:
        from flows.loader import find_flow

        cache[flow_id] = find_flow(flow_id)
    return cache[flow_id]


def completed_calls(
    session: Session, campaign_id: int, *, include_partial: bool = False
) -> Iterator[CompletedCall]:
    """The campaign's completed calls, oldest first (loaded in batches of 500)."""
    outcomes = (*COMPLETED_OUTCOMES, "partial") if include_partial else COMPLETED_OUTCOMES
    stmt = (
        select(CallAttempt)
        .join(CallTask, CallAttempt.task_id == CallTask.id)
        .where(CallTask.campaign_id == campaign_id, CallAttempt.outcome.in_(outcomes))
        .order_by(CallAttempt.ended_at, CallAttempt.id)
        .options(
            selectinload(CallAttempt.answers),
            selectinload(CallAttempt.task).selectinload(CallTask.patient),
            selectinload(CallAttempt.task).selectinload(CallTask.visit),
        )
        .execution_options(yield_per=500)
    )
    for attempt in session.scalars(stmt):
        yield _completed(attempt)


def _completed(attempt: CallAttempt) -> CompletedCall:
    task = attempt.task
    return CompletedCall(attempt, task, task.patient, task.visit, {a.question_id: a for a in attempt.answers})


def completed_call(session: Session, attempt_id: int) -> CompletedCall:
    """One attempt as a CompletedCall (whatever its outcome), e.g. for the post-call webhook."""
    return _completed(session.get_one(CallAttempt, attempt_id))


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise ValueError(f"no campaign with id {campaign_id}")
    return campaign


# --- CSV ----------------------------------------------------------------------------------------------


def csv_headers(flow: Flow, lang: str) -> list[str]:
    """The header row: the fixed columns, then ``<question text> (<id>)`` per question."""
    heads = [labels[lang] for _, labels in FIXED_COLUMNS]
    for step in flow.questions():
        assert step.ask is not None
        text = step.ask.prompt.get(lang) or step.ask.prompt.get("zh") or step.ask.prompt.get("en") or ""
        heads.append(f"{text} ({step.id})" if text else step.id)
    return heads


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def _cell(step: Step | None, answer: Answer | None, lang: str) -> str:
    """An answer as a person reads it in ``lang``."""
    if answer is None or answer.status == "skipped":
        return ""
    if answer.status == "unsure":
        return WORDS["unsure"][lang]
    value = answer.value
    if step is None or step.ask is None or value is None:
        return answer.value_text or ""
    ask = step.ask
    if ask.type == "yes_no" and isinstance(value, bool):
        return WORDS["yes" if value else "no"][lang]
    if ask.type in ("single_choice", "multi_choice"):
        labels = {c.id: c.label.get(lang) or c.id for c in ask.choices}
        chosen = value if isinstance(value, list) else [value]
        return WORDS["sep"][lang].join(labels.get(str(v), str(v)) for v in chosen)
    return answer.value_text or ""


def csv_row(call: CompletedCall, flow: Flow, lang: str, tz: ZoneInfo) -> list[str]:
    """One call as a CSV row matching ``csv_headers(flow, lang)``."""
    respondents = {a.respondent for a in call.answers.values()}
    respondent = "family" if "family" in respondents else "patient"
    fixed = [
        str(call.attempt.id),
        call.patient.external_id or str(call.patient.id),
        call.patient.name,
        (call.visit.external_id or str(call.visit.id)) if call.visit else "",
        (call.visit.department or "") if call.visit else "",
        str(call.attempt.number),
        _local(call.attempt.started_at, tz),
        _local(call.attempt.ended_at, tz),
        call.attempt.outcome or "",
        WORDS[respondent][lang] if call.answers else "",
    ]
    return fixed + [_cell(s, call.answers.get(s.id), lang) for s in flow.questions()]


def write_csv(
    session: Session, campaign_id: int, out: IO[str], *, lang: str = "zh", include_partial: bool = False
) -> int:
    """Write the campaign's completed calls as CSV to ``out`` (open it with ``encoding="utf-8-sig"`` and
    ``newline=""``; ``export_csv`` does). Returns the number of rows (calls)."""
    campaign = _campaign(session, campaign_id)
    flow = flow_for(campaign.flow_id)
    tz = ZoneInfo(campaign.timezone)
    writer = csv.writer(out)
    writer.writerow(csv_headers(flow, lang))
    rows = 0
    for call in completed_calls(session, campaign_id, include_partial=include_partial):
        writer.writerow(csv_row(call, flow, lang, tz))
        rows += 1
    return rows


def export_csv(
    session: Session, campaign_id: int, path: str | Path, *, lang: str = "zh", include_partial: bool = False
) -> int:
    """``write_csv`` to a file, UTF-8 with BOM (Excel). Returns the number of rows."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        return write_csv(session, campaign_id, fh, lang=lang, include_partial=include_partial)


# --- FHIR ---------------------------------------------------------------------------------------------


def response_for(call: CompletedCall, flow: Flow, lang: str) -> dict[str, Any]:
    """The call's QuestionnaireResponse (status from the outcome; authored = when the call ended)."""
    outcome = call.attempt.outcome or ""
    status = RESPONSE_STATUS.get(outcome, "in-progress" if call.attempt.ended_at is None else "stopped")
    subject = fhir.reference(
        "Patient", call.patient.external_id, fhir.PATIENT_ID_SYSTEM, str(call.patient.id)
    )
    encounter = (
        fhir.reference("Encounter", call.visit.external_id, fhir.VISIT_ID_SYSTEM, str(call.visit.id))
        if call.visit is not None
        else None
    )
    return fhir.questionnaire_response(
        flow,
        call.values,
        status=status,
        authored=call.attempt.ended_at or call.attempt.started_at,
        subject=subject,
        encounter=encounter,
        attempt_id=call.attempt.id,
        lang=lang,
    )


def fhir_resources(
    session: Session, campaign_id: int, *, lang: str = "zh", include_partial: bool = False
) -> Iterator[dict[str, Any]]:
    """The flow's Questionnaire first, then one QuestionnaireResponse per completed call."""
    campaign = _campaign(session, campaign_id)
    flow = flow_for(campaign.flow_id)
    yield fhir.questionnaire(flow, lang)
    for call in completed_calls(session, campaign_id, include_partial=include_partial):
        yield response_for(call, flow, lang)


def export_fhir(
    session: Session, campaign_id: int, path: str | Path, *, lang: str = "zh", include_partial: bool = False
) -> int:
    """Write the FHIR resources to ``path``: NDJSON when it ends in ``.ndjson``, else a directory with
    ``Questionnaire-<id>.json`` and ``QuestionnaireResponse-<id>.json`` files. Returns the number of
    responses."""
    path = Path(path)
    resources = fhir_resources(session, campaign_id, lang=lang, include_partial=include_partial)
    count = -1  # the Questionnaire is not counted
    if path.suffix == ".ndjson":
        with open(path, "w", encoding="utf-8") as fh:
            for resource in resources:
                fh.write(json.dumps(resource, ensure_ascii=False) + "\n")
                count += 1
        return count
    path.mkdir(parents=True, exist_ok=True)
    for resource in resources:
        name = f"{resource['resourceType']}-{resource['id']}.json"
        (path / name).write_text(json.dumps(resource, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        count += 1
    return count
