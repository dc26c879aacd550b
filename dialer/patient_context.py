"""The dialog context of a campaign call, from the patient and visit rows.

Flows fill their prompts from ``{"patient": {...}, "visit": {...}, "hospital": {...}}``
(dialog/render.py; missing fields fall back to neutral words, so an empty HIS column never breaks a
call). The same shape ``followup simulate`` and ``followup call`` use (followup/simulate.py
``demo_context``). Pure: takes the rows (or anything with the same attributes) and the hospital facts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

LANGS = ("zh", "en")


def call_language(campaign_language: str | None, patient_language: str | None, flow_languages: tuple[str, ...] |
                  list[str], default: str = "zh") -> str:
    """The language of a call: the campaign's if it has one, else the patient's, else ``default`` — and
    one the flow speaks (otherwise the flow's first language)."""
    for lang in (campaign_language, patient_language, default):
        if lang in LANGS and lang in flow_languages:
            return lang
    return flow_languages[0]


def _age(birth_year: int | None, today: date) -> int | None:
    return None if birth_year is None else today.year - birth_year


def build_context(patient: Any, visit: Any | None, *, lang: str, today: date, hospital_name: str,
                  hospital_name_en: str = "", hospital_phone: str = "") -> dict[str, Any]:
    """The context for one call. The phone number is deliberately left out: prompts never read it."""
    patient_ctx: dict[str, Any] = {
        "name": patient.name,
        "salutation": patient.salutation,
        "gender": patient.gender,
        "age": _age(getattr(patient, "birth_year", None), today),
    }
    visit_ctx: dict[str, Any] = {}
    if visit is not None:
        visit_ctx = {
            "kind": visit.kind,
            "department": visit.department,
            "doctor": visit.doctor,
            "ward": visit.ward,
            "diagnosis": visit.diagnosis,
            "procedure": visit.procedure,
            "visit_date": visit.visit_date.isoformat() if visit.visit_date else None,
            "discharge_date": visit.discharge_date.isoformat() if visit.discharge_date else None,
        }
    name = hospital_name_en if lang == "en" and hospital_name_en else hospital_name
    return {
        "patient": {k: v for k, v in patient_ctx.items() if v is not None},
        "visit": {k: v for k, v in visit_ctx.items() if v is not None},
        "hospital": {"name": name, "phone": hospital_phone},
    }
