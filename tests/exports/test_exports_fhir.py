"""FHIR R4 export: a Questionnaire per flow and a QuestionnaireResponse per completed call.

Structure is checked twice: by dialer.fhir's offline R4 checks (linkIds against the Questionnaire,
value[x] per item type, codes among the answer options) and by the fhir.resources R4B models (required
elements, datatypes), which R4's Questionnaire/QuestionnaireResponse do not differ from.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from export_helpers import POST_OP_ANSWERS, make_call, make_campaign
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy.orm import Session

from dialer import exports, fhir
from flows.loader import find_flow, load_library
from flows.schema import Flow

AUTHORED = datetime(2026, 11, 13, 2, 0, tzinfo=UTC)
SUBJECT = {"reference": "Patient/HIS-P-1"}


def _valid(resource: dict[str, Any], questionnaire: dict[str, Any]) -> None:
    assert fhir.check_questionnaire(questionnaire) == []
    Questionnaire.model_validate(questionnaire)
    if resource is not questionnaire:
        assert fhir.check_questionnaire_response(resource, questionnaire) == []
        QuestionnaireResponse.model_validate(resource)


def _sample_value(flow: Flow, qid: str) -> Any:
    ask = flow.step(qid).ask
    assert ask is not None
    return {
        "yes_no": True,
        "single_choice": ask.choices[0].id if ask.choices else None,
        "multi_choice": [c.id for c in ask.choices[:2]],
        "scale": 4,
        "number": 2.5,
        "blood_pressure": {"systolic": 135, "diastolic": 88},
        "glucose": 6.8,
        "temperature": 36.9,
        "date": "2026-12-01",
        "free_text": "伤口有点痒",
    }[ask.type]


@pytest.mark.parametrize("flow", load_library(), ids=lambda f: f.id)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_library_flow_exports_valid_resources(flow: Flow, lang: str) -> None:
    q = fhir.questionnaire(flow, lang)
    answers = {s.id: _sample_value(flow, s.id) for s in flow.questions()}
    qr = fhir.questionnaire_response(
        flow, answers, status="completed", authored=AUTHORED, subject=SUBJECT, lang=lang
    )
    _valid(qr, q)
    assert [i["linkId"] for i in q["item"]] == [s.id for s in flow.questions()]
    assert [i["linkId"] for i in qr["item"]] == [s.id for s in flow.questions()]
    for item, step in zip(q["item"], flow.questions(), strict=True):
        assert item["text"] == step.ask.prompt.get(lang)


def test_value_types_per_question_type() -> None:
    flow = find_flow("post_op")
    qr = fhir.questionnaire_response(
        flow, POST_OP_ANSWERS, status="completed", authored=AUTHORED, subject=SUBJECT, attempt_id=42
    )
    items = {i["linkId"]: i for i in qr["item"]}
    system = fhir.code_system(flow, "wound")
    assert items["wound"]["answer"] == [
        {"valueCoding": {"system": system, "code": "pain", "display": "疼"}},
        {"valueCoding": {"system": system, "code": "redness", "display": "发红"}},
    ]
    assert items["pain_score"]["answer"] == [{"valueDecimal": 3}]
    assert items["temperature"]["answer"] == [
        {"valueQuantity": {"value": 37.6, "unit": "°C", "system": fhir.UCUM, "code": "Cel"}}
    ]
    assert items["bowel_urine"]["answer"] == [{"valueBoolean": True}]
    assert items["activity"]["answer"][0]["valueCoding"]["code"] == "normal"
    assert items["return_visit"]["answer"] == [{"valueDate": "2026-11-20"}]
    assert qr["authored"] == "2026-11-13T02:00:00+00:00"
    assert qr["id"] == "call-42" and qr["identifier"]["value"] == "42"
    assert qr["questionnaire"] == "urn:followup:questionnaire:post_op|1"

    bp_flow = find_flow("hypertension")
    bp = fhir.questionnaire_response(
        bp_flow,
        {"bp": {"systolic": 150, "diastolic": 95}},
        status="completed",
        authored=AUTHORED,
        subject=SUBJECT,
    )
    assert bp["item"] == [
        {
            "linkId": "bp",
            "text": bp_flow.step("bp").ask.prompt.zh,
            "item": [
                {
                    "linkId": "bp.systolic",
                    "text": "收缩压 (mmHg)",
                    "answer": [
                        {
                            "valueQuantity": {
                                "value": 150,
                                "unit": "mmHg",
                                "system": fhir.UCUM,
                                "code": "mm[Hg]",
                            }
                        }
                    ],
                },
                {
                    "linkId": "bp.diastolic",
                    "text": "舒张压 (mmHg)",
                    "answer": [
                        {
                            "valueQuantity": {
                                "value": 95,
                                "unit": "mmHg",
                                "system": fhir.UCUM,
                                "code": "mm[Hg]",
                            }
                        }
                    ],
                },
            ],
        }
    ]
    _valid(bp, fhir.questionnaire(bp_flow))
    scale = fhir.questionnaire_response(
        find_flow("discharge_general"),
        {"satisfaction": 5},
        status="completed",
        authored=AUTHORED,
        subject=SUBJECT,
    )
    assert scale["item"][0]["answer"] == [{"valueInteger": 5}]


def test_values_that_do_not_fit_the_question_are_refused() -> None:
    flow = find_flow("post_op")
    for qid, value in [
        ("bowel_urine", "yes"),
        ("pain_score", "three"),
        ("return_visit", "next week"),
        ("wound", "pain"),
        ("temperature", True),
    ]:
        with pytest.raises(ValueError, match=qid):
            fhir.questionnaire_response(
                flow, {qid: value}, status="completed", authored=AUTHORED, subject=SUBJECT
            )
    with pytest.raises(ValueError, match="status"):
        fhir.questionnaire_response(flow, {}, status="done", authored=AUTHORED, subject=SUBJECT)
    with pytest.raises(ValueError, match="aware"):
        fhir.questionnaire_response(
            flow, {}, status="completed", authored=datetime(2026, 1, 1), subject=SUBJECT
        )
    # A date object is accepted and written as a FHIR date.
    qr = fhir.questionnaire_response(
        flow, {"return_visit": date(2026, 11, 20)}, status="completed", authored=AUTHORED, subject=SUBJECT
    )
    assert qr["item"][0]["answer"] == [{"valueDate": "2026-11-20"}]


def test_the_checks_catch_broken_resources() -> None:
    """Guards the validity tests above: each kind of breakage is reported."""
    flow = find_flow("post_op")
    q = fhir.questionnaire(flow)
    good = fhir.questionnaire_response(
        flow, POST_OP_ANSWERS, status="completed", authored=AUTHORED, subject=SUBJECT
    )
    assert fhir.check_questionnaire_response(good, q) == []

    def broken(change: Any) -> list[str]:
        qr = copy.deepcopy(good)
        change(qr)
        return fhir.check_questionnaire_response(qr, q)

    items = {i["linkId"]: n for n, i in enumerate(good["item"])}
    assert any("status" in p for p in broken(lambda r: r.pop("status")))
    assert any("not in the Questionnaire" in p for p in broken(lambda r: r["item"][0].update(linkId="nope")))
    assert any(
        "valueString not allowed" in p
        for p in broken(lambda r: r["item"][items["bowel_urine"]].update(answer=[{"valueString": "yes"}]))
    )
    assert any(
        "not an answerOption" in p
        for p in broken(
            lambda r: r["item"][items["activity"]]["answer"][0]["valueCoding"].update(code="flying")
        )
    )
    assert any(
        "non-repeating" in p
        for p in broken(lambda r: r["item"][items["bowel_urine"]]["answer"].append({"valueBoolean": False}))
    )
    assert any("not both" in p for p in broken(lambda r: r["item"][0].update(item=[{"linkId": "x"}])))
    assert any(
        "exactly one value" in p
        for p in broken(lambda r: r["item"][items["pain_score"]]["answer"][0].update(valueInteger=3))
    )
    assert any("dateTime" in p for p in broken(lambda r: r.update(authored="13/11/2026")))
    assert any("Type/id" in p for p in broken(lambda r: r.update(subject={"reference": "患者 1"})))
    assert any("questionnaire" in p for p in broken(lambda r: r.update(questionnaire="urn:other")))
    bad_q = copy.deepcopy(q)
    bad_q["item"][1]["linkId"] = bad_q["item"][0]["linkId"]
    bad_q["status"] = "live"
    problems = fhir.check_questionnaire(bad_q)
    assert any("not unique" in p for p in problems) and any("status" in p for p in problems)
    with pytest.raises(ValueError):
        QuestionnaireResponse.model_validate({"resourceType": "QuestionnaireResponse"})  # status missing


def test_campaign_export_files_and_statuses(session: Session, tmp_out: Path) -> None:
    campaign = make_campaign(session, "post_op")
    done = make_call(session, campaign, POST_OP_ANSWERS, unsure=("stitches_date",))
    transferred = make_call(session, campaign, {"wound": ["none"]}, outcome="transferred")
    partial = make_call(session, campaign, {"wound": ["swelling"]}, outcome="partial")
    chinese_id = make_call(
        session, campaign, {"bowel_urine": True}, patient_external_id="住院 0001", visit=False
    )
    no_id = make_call(session, campaign, {"bowel_urine": True}, patient_external_id=None)
    make_call(session, campaign, {}, outcome="busy")

    folder = tmp_out / "fhir"
    assert exports.export_fhir(session, campaign.id, folder, include_partial=True) == 5
    q = json.loads((folder / "Questionnaire-post-op.json").read_text(encoding="utf-8"))
    responses = {}
    for path in folder.glob("QuestionnaireResponse-*.json"):
        r = json.loads(path.read_text(encoding="utf-8"))
        _valid(r, q)
        responses[int(r["identifier"]["value"])] = r
    assert set(responses) == {done.id, transferred.id, partial.id, chinese_id.id, no_id.id}
    assert responses[done.id]["status"] == "completed"
    assert responses[transferred.id]["status"] == "stopped"
    assert responses[partial.id]["status"] == "in-progress"
    assert responses[done.id]["subject"]["reference"].startswith("Patient/HIS-P-")
    assert responses[done.id]["encounter"]["reference"].startswith("Encounter/HIS-V-")
    assert "stitches_date" not in {i["linkId"] for i in responses[done.id]["item"]}  # "don't know": no answer
    assert responses[chinese_id.id]["subject"] == {
        "type": "Patient",
        "identifier": {"system": fhir.PATIENT_ID_SYSTEM, "value": "住院 0001"},
    }
    assert "encounter" not in responses[chinese_id.id]
    assert responses[no_id.id]["subject"]["identifier"]["value"] == str(
        session.get(type(no_id), no_id.id).task.patient_id
    )

    ndjson = tmp_out / "post_op.ndjson"
    assert exports.export_fhir(session, campaign.id, ndjson) == 4  # no partial call by default
    lines = [json.loads(line) for line in ndjson.read_text(encoding="utf-8").splitlines()]
    assert [r["resourceType"] for r in lines] == ["Questionnaire"] + ["QuestionnaireResponse"] * 4
    for r in lines[1:]:
        _valid(r, lines[0])
