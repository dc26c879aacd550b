"""Shared pieces of the end-to-end tests of the shipped flows: a fixed clock, realistic patients, checks.

Each flow gets the patient and department it would really be used for, so escalations can be checked
against the department they must reach and the transcript against what may be said before identification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A Wednesday morning: "下周一" is 2026-11-30, "明天下午三点" is 2026-11-26 15:00.
NOW = datetime(2026, 11, 25, 10, 0)

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "discharge_general": ("心内科", "Cardiology"),
    "post_op": ("普外科", "General Surgery"),
    "outpatient_satisfaction": ("消化内科", "Gastroenterology"),
    "inpatient_satisfaction": ("骨科", "Orthopaedics"),
    "checkup_satisfaction": ("体检中心", "Health Check-up Centre"),
    "hypertension": ("心内科", "Cardiology"),
    "diabetes": ("内分泌科", "Endocrinology"),
    "picc_care": ("肿瘤科", "Oncology"),
    "post_stent": ("心内科", "Cardiology"),
}
HOSPITAL = {
    "zh": {"name": "市第一人民医院", "phone": "0571-88888888"},
    "en": {"name": "City First People's Hospital", "phone": "0571 8888 8888"},
}
# Female patients where the flow's population makes it likely; the salutation must follow.
FEMALE_FLOWS = {"picc_care", "checkup_satisfaction"}


def patient_context(flow_id: str, lang: str) -> dict[str, Any]:
    """The patient a flow would be used for, in ``lang``: {"patient", "visit", "hospital"}."""
    female = flow_id in FEMALE_FLOWS
    if lang == "zh":
        patient = (
            {"name": "李秀英", "salutation": "李女士", "gender": "female", "age": 54}
            if female
            else {"name": "张伟", "salutation": "张先生", "gender": "male", "age": 63}
        )
        doctor, ward, procedure = "王建国", "二病区", "腹腔镜胆囊切除术"
    else:
        patient = (
            {"name": "Mary Brown", "salutation": "Ms Brown", "gender": "female", "age": 54}
            if female
            else {"name": "John Smith", "salutation": "Mr Smith", "gender": "male", "age": 63}
        )
        doctor, ward, procedure = "Dr Wang", "Ward 2", "gallbladder removal"
    zh_dept, en_dept = DEPARTMENTS[flow_id]
    return {
        "patient": patient,
        "visit": {
            "department": zh_dept if lang == "zh" else en_dept,
            "doctor": doctor,
            "ward": ward,
            "diagnosis": "高血压" if lang == "zh" else "hypertension",
            "procedure": procedure,
            "visit_date": "2026-11-18",
            "discharge_date": "2026-11-20",
            "next_visit_date": "2026-12-09",
        },
        "hospital": HOSPITAL[lang],
    }


def department(flow_id: str, lang: str) -> str:
    zh, en = DEPARTMENTS[flow_id]
    return zh if lang == "zh" else en


@dataclass(frozen=True)
class Scenario:
    """One scripted call and everything it must produce.

    ``escalations``: (kind, question_id) in the order raised. ``said``: texts the bot must have said (rendered);
    ``not_said``: texts it must never say (e.g. the department to a family member before a callback).
    """

    flow: str
    lang: str
    name: str
    replies: list[str]
    outcome: str
    answers: dict[str, Any]
    escalations: list[tuple[str, str | None]] = field(default_factory=list)
    callback_at: str | None = None
    do_not_call: bool = False
    said: list[str] = field(default_factory=list)
    not_said: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.flow}-{self.lang}-{self.name}"


def normalise(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers with multi-choice lists sorted: the order the patient named symptoms in carries no meaning."""
    return {k: sorted(v) if isinstance(v, list) else v for k, v in answers.items()}


def check_scenario(result: dict[str, Any], sc: Scenario) -> None:
    """Assert everything a scenario promises; the transcript is shown on failure."""
    transcript = "\n".join(f"{t['speaker']}: {t['text']}" for t in result["transcript"])
    where = f"\n--- transcript of {sc.id} ---\n{transcript}"
    patient_turns = [t for t in result["transcript"] if t["speaker"] == "patient"]
    consumed = [r for r in sc.replies if r.strip().lower() != "<hangup>"]
    assert len(patient_turns) == len(consumed), f"the call ended before the script did{where}"
    assert result["outcome"] == sc.outcome, where
    assert normalise(result["answers"]) == normalise(sc.answers), where
    got = [(e["kind"], e["question_id"]) for e in result["escalations"]]
    assert got == sc.escalations, where
    dept = department(sc.flow, sc.lang)
    for e in result["escalations"]:
        assert e["department"] == dept, where
        assert e["text"], where
    assert result["callback_at"] == sc.callback_at, where
    assert result["do_not_call"] is sc.do_not_call, where
    bot = [t["text"] for t in result["transcript"] if t["speaker"] == "bot"]
    spoken = "\n".join(bot)
    for text in sc.said:
        assert text in spoken, f"expected the bot to say {text!r}{where}"
    for text in sc.not_said:
        assert text not in spoken, f"the bot must not say {text!r}{where}"
    # Privacy: the first thing said names the hospital and the patient, nothing medical.
    ctx = patient_context(sc.flow, sc.lang)
    assert ctx["hospital"]["name"] in bot[0] and ctx["patient"]["salutation"] in bot[0], where
    assert dept not in bot[0], where
