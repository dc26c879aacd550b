"""FHIR R4 resources generated from a flow: a ``Questionnaire`` per flow, a ``QuestionnaireResponse`` per call.

Pure: a flow and plain answer values in, JSON-ready dicts out (no database, no I/O). The mapping:

=================  ======================  =========================================================
flow question      Questionnaire item      QuestionnaireResponse answer
=================  ======================  =========================================================
yes_no             boolean                 valueBoolean
single_choice      choice + answerOption   valueCoding (system = the question's code system, code =
                                           choice id, display = label)
multi_choice       choice, repeats: true   one valueCoding per chosen id
scale              integer (1–5)           valueInteger
number             decimal                 valueDecimal
blood_pressure     group of two quantity   item ``<id>.systolic`` / ``<id>.diastolic``, valueQuantity
                   items                   in mm[Hg] (UCUM)
glucose            quantity                valueQuantity mmol/L
temperature        quantity                valueQuantity Cel
date               date                    valueDate
free_text          text                    valueString
=================  ======================  =========================================================

``linkId`` is the question (ask step) id; ``text`` is the question's prompt in the export language.
Questions the patient did not answer (unsure, skipped, not reached) have no item in the response.
``check_questionnaire`` / ``check_questionnaire_response`` verify the R4 rules that can be checked
offline (required elements, value[x] types per item type, linkIds against the Questionnaire).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flows.schema import Flow, Step

UCUM = "http://unitsofmeasure.org"
URN = "urn:followup"
# The HIS's identifiers travel as FHIR identifiers when they are not valid FHIR ids.
PATIENT_ID_SYSTEM = f"{URN}:his:patient"
VISIT_ID_SYSTEM = f"{URN}:his:visit"
ATTEMPT_ID_SYSTEM = f"{URN}:call-attempt"

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
FHIR_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
FHIR_DATETIME = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$")

# Flow question type → (Questionnaire item type, response value[x] key, UCUM unit code, unit display).
ITEM_TYPES: dict[str, tuple[str, str, str | None, str | None]] = {
    "yes_no": ("boolean", "valueBoolean", None, None),
    "single_choice": ("choice", "valueCoding", None, None),
    "multi_choice": ("choice", "valueCoding", None, None),
    "scale": ("integer", "valueInteger", None, None),
    "number": ("decimal", "valueDecimal", None, None),
    "blood_pressure": ("group", "", "mm[Hg]", "mmHg"),
    "glucose": ("quantity", "valueQuantity", "mmol/L", "mmol/L"),
    "temperature": ("quantity", "valueQuantity", "Cel", "°C"),
    "date": ("date", "valueDate", None, None),
    "free_text": ("text", "valueString", None, None),
}
# R4: which answer value[x] each item type allows (Questionnaire item type → value keys).
ALLOWED_VALUES: dict[str, set[str]] = {
    "boolean": {"valueBoolean"},
    "decimal": {"valueDecimal"},
    "integer": {"valueInteger"},
    "date": {"valueDate"},
    "dateTime": {"valueDateTime"},
    "time": {"valueTime"},
    "string": {"valueString"},
    "text": {"valueString"},
    "url": {"valueUri"},
    "choice": {"valueCoding"},
    "open-choice": {"valueCoding", "valueString"},
    "attachment": {"valueAttachment"},
    "reference": {"valueReference"},
    "quantity": {"valueQuantity"},
}
QR_STATUSES = ("in-progress", "completed", "amended", "entered-in-error", "stopped")
Q_STATUSES = ("draft", "active", "retired", "unknown")

BP_PARTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("systolic", {"zh": "收缩压", "en": "systolic"}),
    ("diastolic", {"zh": "舒张压", "en": "diastolic"}),
)


def questionnaire_url(flow: Flow) -> str:
    """The canonical URL of the flow's Questionnaire (responses point at ``url|version``)."""
    return f"{URN}:questionnaire:{flow.id}"


def code_system(flow: Flow, question_id: str) -> str:
    """The code system of a choice question's answers: the choice ids are codes within it."""
    return f"{URN}:flow:{flow.id}:{question_id}"


def _text(text: Any, lang: str) -> str:
    if text is None:
        return ""
    return text.get(lang) or text.get("zh") or text.get("en") or ""


def _computable_name(flow_id: str) -> str:
    # R4 que-0: name must look like a programming identifier starting with a capital letter.
    return "".join(part.capitalize() for part in flow_id.split("_")) or "Flow"


def _item(flow: Flow, step: Step, lang: str) -> dict[str, Any]:
    ask = step.ask
    assert ask is not None
    item_type, _, _unit_code, unit_display = ITEM_TYPES[ask.type]
    item: dict[str, Any] = {"linkId": step.id, "text": _text(ask.prompt, lang), "type": item_type}
    if ask.type in ("single_choice", "multi_choice"):
        item["answerOption"] = [
            {
                "valueCoding": {
                    "system": code_system(flow, step.id),
                    "code": c.id,
                    "display": _text(c.label, lang) or c.id,
                }
            }
            for c in ask.choices
        ]
        if ask.type == "multi_choice":
            item["repeats"] = True
    elif ask.type == "blood_pressure":
        item["item"] = [
            {"linkId": f"{step.id}.{part}", "text": f"{label[lang]} ({unit_display})", "type": "quantity"}
            for part, label in BP_PARTS
        ]
    return item


def questionnaire(flow: Flow, lang: str = "zh") -> dict[str, Any]:
    """The flow as an R4 ``Questionnaire``: one item per question, in flow order, texts in ``lang``."""
    return {
        "resourceType": "Questionnaire",
        "id": flow.id.replace("_", "-"),
        "url": questionnaire_url(flow),
        "version": str(flow.version),
        "name": _computable_name(flow.id),
        "title": _text(flow.title, lang),
        "status": "active",
        "language": "zh-CN" if lang == "zh" else "en",
        "item": [_item(flow, step, lang) for step in flow.questions()],
    }


def reference(resource_type: str, external_id: str | None, system: str, fallback: str) -> dict[str, Any]:
    """A Reference to a HIS resource: ``Patient/<id>`` when the HIS id is a valid FHIR id, else a logical
    reference by identifier (HIS ids with spaces or Chinese characters); ``fallback`` (our own row id)
    when the HIS gave none."""
    if external_id and FHIR_ID.match(external_id):
        return {"reference": f"{resource_type}/{external_id}"}
    value = external_id or fallback
    return {"type": resource_type, "identifier": {"system": system, "value": value}}


def _quantity(value: Any, unit_code: str, unit_display: str) -> dict[str, Any]:
    return {"value": value, "unit": unit_display, "system": UCUM, "code": unit_code}


def _answers(flow: Flow, step: Step, value: Any, lang: str) -> list[dict[str, Any]]:
    """The ``answer`` list of one question; ValueError when ``value`` does not fit the question type."""
    ask = step.ask
    assert ask is not None
    _, key, unit_code, unit_display = ITEM_TYPES[ask.type]
    labels = {c.id: _text(c.label, lang) or c.id for c in ask.choices}

    def coding(code: Any) -> dict[str, Any]:
        code = str(code)
        return {
            "valueCoding": {
                "system": code_system(flow, step.id),
                "code": code,
                "display": labels.get(code, code),
            }
        }

    t = ask.type
    if t == "yes_no" and isinstance(value, bool):
        return [{key: value}]
    if t == "single_choice" and isinstance(value, str | int) and not isinstance(value, bool):
        return [coding(value)]
    if t == "multi_choice" and isinstance(value, list):
        return [coding(v) for v in value]
    if (
        t == "scale"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == int(value)
    ):
        return [{key: int(value)}]
    if t == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return [{key: value}]
    if t in ("glucose", "temperature") and isinstance(value, int | float) and not isinstance(value, bool):
        assert unit_code is not None and unit_display is not None
        return [{key: _quantity(value, unit_code, unit_display)}]
    if t == "date" and isinstance(value, str | date):
        text = value.isoformat() if isinstance(value, date) else value
        if FHIR_DATE.match(text):
            return [{key: text}]
    if t == "free_text" and isinstance(value, str):
        return [{key: value}]
    raise ValueError(f"question {step.id!r} ({t}): value {value!r} does not fit")


def questionnaire_response(
    flow: Flow,
    answers: Mapping[str, Any],
    *,
    status: str,
    authored: datetime,
    subject: dict[str, Any],
    encounter: dict[str, Any] | None = None,
    attempt_id: int | None = None,
    lang: str = "zh",
) -> dict[str, Any]:
    """One call's answers as an R4 ``QuestionnaireResponse`` for ``questionnaire(flow, lang)``.

    ``answers``: question id → stored JSON value (None or absent: not answered, no item). Values of
    questions the flow no longer has are left out (the flow changed since the call). ``status``: one of
    ``QR_STATUSES``; ``authored``: when the call ended (aware datetime).
    """
    if status not in QR_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(QR_STATUSES)}")
    if authored.tzinfo is None:
        raise ValueError("authored must be timezone-aware")
    items: list[dict[str, Any]] = []
    for step in flow.questions():
        value = answers.get(step.id)
        if value is None or (isinstance(value, list) and not value):
            continue
        ask = step.ask
        assert ask is not None
        item: dict[str, Any] = {"linkId": step.id, "text": _text(ask.prompt, lang)}
        if ask.type == "blood_pressure":
            if not (isinstance(value, dict) and {"systolic", "diastolic"} <= set(value)):
                raise ValueError(f"question {step.id!r} (blood_pressure): value {value!r} does not fit")
            item["item"] = [
                {
                    "linkId": f"{step.id}.{part}",
                    "text": f"{label[lang]} (mmHg)",
                    "answer": [{"valueQuantity": _quantity(value[part], "mm[Hg]", "mmHg")}],
                }
                for part, label in BP_PARTS
            ]
        else:
            item["answer"] = _answers(flow, step, value, lang)
        items.append(item)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(flow)}|{flow.version}",
        "status": status,
        "subject": subject,
        "authored": authored.replace(microsecond=0).isoformat(),
        "language": "zh-CN" if lang == "zh" else "en",
    }
    if attempt_id is not None:
        resource["id"] = f"call-{attempt_id}"
        resource["identifier"] = {"system": ATTEMPT_ID_SYSTEM, "value": str(attempt_id)}
    if encounter is not None:
        resource["encounter"] = encounter
    resource["item"] = items
    return resource


# --- offline checks ---------------------------------------------------------------------------------------


def _check_reference(ref: Any, where: str) -> list[str]:
    if not isinstance(ref, dict) or not ({"reference", "identifier"} & set(ref)):
        return [f"{where}: a Reference needs reference or identifier"]
    problems = []
    if "reference" in ref and not re.match(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$", str(ref["reference"])):
        problems.append(f"{where}.reference {ref['reference']!r} is not Type/id")
    if "identifier" in ref and not (isinstance(ref["identifier"], dict) and ref["identifier"].get("value")):
        problems.append(f"{where}.identifier needs a value")
    return problems


def _flatten(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        out[item.get("linkId", "")] = item
        out.update(_flatten(item.get("item", [])))
    return out


def check_questionnaire(q: Mapping[str, Any]) -> list[str]:
    """R4 rules a Questionnaire must meet that can be checked offline; an empty list means none broken."""
    problems: list[str] = []
    if q.get("resourceType") != "Questionnaire":
        problems.append("resourceType must be Questionnaire")
    if q.get("status") not in Q_STATUSES:
        problems.append(f"status {q.get('status')!r} is not one of {', '.join(Q_STATUSES)}")
    if "id" in q and not FHIR_ID.match(str(q["id"])):
        problems.append(f"id {q['id']!r} is not a FHIR id")
    if "name" in q and not re.match(r"^[A-Z]([A-Za-z0-9_]){0,254}$", str(q["name"])):
        problems.append(f"name {q['name']!r} is not computable (que-0)")
    seen: set[str] = set()

    def walk(items: list[dict[str, Any]], path: str) -> None:
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            link = item.get("linkId")
            if not link:
                problems.append(f"{where}: linkId is required")
            elif link in seen:
                problems.append(f"{where}: linkId {link!r} is not unique (que-2)")
            seen.add(str(link))
            kind = item.get("type")
            if kind not in {*ALLOWED_VALUES, "group", "display", "question"}:
                problems.append(f"{where}: type {kind!r} is not an R4 item type")
            if kind == "group" and not item.get("item"):
                problems.append(f"{where}: a group needs items (que-1)")
            if kind == "display" and item.get("item"):
                problems.append(f"{where}: a display item has no items (que-1)")
            if "answerOption" in item and kind not in (
                "choice",
                "open-choice",
                "integer",
                "date",
                "time",
                "string",
            ):
                problems.append(f"{where}: answerOption only on choice items (que-5)")
            for opt in item.get("answerOption", []):
                keys = [k for k in opt if k.startswith("value")]
                if len(keys) != 1:
                    problems.append(f"{where}: answerOption needs exactly one value[x]")
                elif keys[0] == "valueCoding" and not opt[keys[0]].get("code"):
                    problems.append(f"{where}: answerOption coding without code")
            walk(item.get("item", []), f"{where}.item")

    walk(list(q.get("item", [])), "item")
    return problems


def _value_ok(key: str, value: Any) -> bool:
    if key == "valueBoolean":
        return isinstance(value, bool)
    if key == "valueInteger":
        return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    if key == "valueDecimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if key == "valueDate":
        return isinstance(value, str) and bool(FHIR_DATE.match(value))
    if key == "valueString":
        return isinstance(value, str) and value.strip() != ""
    if key == "valueCoding":
        return isinstance(value, dict) and bool(value.get("code")) and bool(value.get("system"))
    if key == "valueQuantity":
        return (
            isinstance(value, dict)
            and isinstance(value.get("value"), int | float)
            and not isinstance(value.get("value"), bool)
            and (value.get("system") != UCUM or bool(value.get("code")))
        )
    return True


def check_questionnaire_response(qr: Mapping[str, Any], questionnaire_: Mapping[str, Any]) -> list[str]:
    """R4 rules a QuestionnaireResponse for ``questionnaire_`` must meet that can be checked offline:
    required elements, linkIds that exist in the Questionnaire (at the same nesting), one value[x] per
    answer of the type the item allows, codings among the answerOptions, no repeats on a single item."""
    problems: list[str] = []
    if qr.get("resourceType") != "QuestionnaireResponse":
        problems.append("resourceType must be QuestionnaireResponse")
    if qr.get("status") not in QR_STATUSES:
        problems.append(f"status {qr.get('status')!r} is not one of {', '.join(QR_STATUSES)}")
    if "id" in qr and not FHIR_ID.match(str(qr["id"])):
        problems.append(f"id {qr['id']!r} is not a FHIR id")
    canonical = f"{questionnaire_.get('url')}|{questionnaire_.get('version')}"
    if qr.get("questionnaire") not in (questionnaire_.get("url"), canonical):
        problems.append(f"questionnaire {qr.get('questionnaire')!r} is not {canonical!r}")
    if "authored" in qr and not FHIR_DATETIME.match(str(qr["authored"])):
        problems.append(f"authored {qr['authored']!r} is not a FHIR dateTime")
    if "subject" in qr:
        problems += _check_reference(qr["subject"], "subject")
    if "encounter" in qr:
        problems += _check_reference(qr["encounter"], "encounter")

    def walk(items: list[dict[str, Any]], defs: list[dict[str, Any]], path: str) -> None:
        by_link = {d["linkId"]: d for d in defs}
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            link = item.get("linkId")
            definition = by_link.get(link)
            if definition is None:
                problems.append(f"{where}: linkId {link!r} is not in the Questionnaire here")
                continue
            if "answer" in item and "item" in item:
                problems.append(f"{where}: an item has answers or items, not both (qrs-1)")
            answers = item.get("answer", [])
            if len(answers) > 1 and not definition.get("repeats"):
                problems.append(f"{where}: {len(answers)} answers to a non-repeating item")
            allowed = ALLOWED_VALUES.get(definition.get("type", ""), set())
            options = {
                (o["valueCoding"].get("system"), o["valueCoding"].get("code"))
                for o in definition.get("answerOption", [])
                if "valueCoding" in o
            }
            for j, answer in enumerate(answers):
                keys = [k for k in answer if k.startswith("value")]
                if len(keys) != 1:
                    problems.append(f"{where}.answer[{j}]: exactly one value[x] required")
                    continue
                key = keys[0]
                if key not in allowed:
                    problems.append(
                        f"{where}.answer[{j}]: {key} not allowed for type {definition.get('type')!r}"
                    )
                elif not _value_ok(key, answer[key]):
                    problems.append(f"{where}.answer[{j}]: {key} {answer[key]!r} is malformed")
                elif key == "valueCoding" and options:
                    coding = answer[key]
                    if (coding.get("system"), coding.get("code")) not in options:
                        problems.append(
                            f"{where}.answer[{j}]: code {coding.get('code')!r} is not an answerOption"
                        )
            walk(item.get("item", []), definition.get("item", []), f"{where}.item")

    walk(list(qr.get("item", [])), list(questionnaire_.get("item", [])), "item")
    return problems
