"""House conventions of the shipped flows that the generic validator does not know about.

The validator (flows.validate) checks what any flow must satisfy; these tests pin what *our* library
promises a hospital: the identity check and who may answer for the patient, the spoken keypad mapping
(yes 1 / no 2, scale 5 = 非常满意 … 1 = 非常不满意, choices by their key), reprompts that are shorter and
different, and escalation rather than silence for clinically important questions.
"""

from __future__ import annotations

import pytest

from flows.loader import load_library
from flows.schema import CLOSED_TYPES, Flow, Step
from flows.validate import choice_keys

FLOWS = load_library()
BY_ID = {f.id: f for f in FLOWS}
SURVEYS = {"outpatient_satisfaction", "inpatient_satisfaction", "checkup_satisfaction"}
CLINICAL = {"post_op", "hypertension", "diabetes", "picc_care", "post_stent"}
# Who may answer for the patient: surveys and the general discharge call (a carer knows how the patient
# is doing) continue with a family member; calls where the patient's own symptoms matter call back.
FAMILY_POLICY = {**{f: "continue" for f in SURVEYS}, "discharge_general": "continue"} | {
    f: "callback" for f in CLINICAL
}

# Alarmed questions that may be skipped on silence: a second reading after the main one was asked (the
# fasting glucose), or a pain score after the patient already said where it hurts.
SECONDARY_MEASUREMENTS = {"diabetes.postmeal_glucose", "discharge_general.pain_score", "post_op.pain_score"}

SCALE_DTMF_ZH = "非常满意请按5，满意请按4，一般请按3，不满意请按2，非常不满意请按1。"
SCALE_DTMF_EN = (
    "Press 5 for very satisfied, 4 for satisfied, 3 for neutral, 2 for dissatisfied, 1 for very dissatisfied."
)


def questions(flow: Flow) -> list[Step]:
    return flow.questions()


def all_questions() -> list[tuple[str, Step]]:
    return [(f.id, q) for f in FLOWS for q in questions(f)]


QUESTIONS = all_questions()
QIDS = [f"{fid}.{q.id}" for fid, q in QUESTIONS]


def test_family_policy_is_decided_for_every_flow() -> None:
    assert set(FAMILY_POLICY) == set(BY_ID)


@pytest.mark.parametrize("flow", FLOWS, ids=[f.id for f in FLOWS])
def test_identify_first_then_purpose(flow: Flow) -> None:
    first, second = flow.steps[0], flow.steps[1]
    assert first.identify is not None
    assert "请问您是{patient.salutation}本人吗？" in (first.identify.prompt.zh or "")
    assert "{patient.salutation}" in (first.identify.prompt.en or "")
    assert first.identify.family == FAMILY_POLICY[flow.id]
    if first.identify.family == "continue":
        assert first.identify.family_continue_prompt is not None
    # Right after the identity check: a short say with the purpose that asks for a couple of minutes.
    assert second.say is not None
    assert "分钟" in (second.say.zh or "")
    assert "minute" in (second.say.en or "")
    assert flow.languages == ["zh", "en"]


@pytest.mark.parametrize("flow", FLOWS, ids=[f.id for f in FLOWS])
def test_size_policy_and_goodbye(flow: Flow) -> None:
    assert 6 <= len(questions(flow)) <= 12
    assert flow.on_intent.complaint == "continue"
    assert flow.on_intent.request_human == ("callback" if flow.id in SURVEYS else "transfer")
    ends = [s for s in flow.steps if s.end is not None]
    assert ends and all(s.end.outcome == "completed" for s in ends)
    for s in ends:
        assert s.end.prompt is not None
        assert "{hospital.phone}" in (s.end.prompt.zh or "") and "{hospital.phone}" in (s.end.prompt.en or "")
        assert "再见" in (s.end.prompt.zh or "") and "goodbye" in (s.end.prompt.en or "").lower()


@pytest.mark.parametrize(("fid", "q"), QUESTIONS, ids=QIDS)
def test_dtmf_prompt_matches_keypad_mapping(fid: str, q: Step) -> None:
    ask = q.ask
    assert ask is not None
    if ask.type not in CLOSED_TYPES:
        assert ask.dtmf_prompt is None, "an open question has no keypad alternative"
        return
    zh, en = ask.dtmf_prompt.zh or "", ask.dtmf_prompt.en or ""
    if ask.type == "yes_no":
        assert zh.index("请按1") < zh.index("请按2") and "请按3" not in zh
        assert en.index("1") < en.index("2") and "3" not in en
    elif ask.type == "scale":
        assert zh == SCALE_DTMF_ZH
        assert en == SCALE_DTMF_EN
    else:
        keys = choice_keys(ask)
        assert keys == [str(k + 1) for k in range(len(ask.choices))], "keys follow the spoken order"
        for choice, key in zip(ask.choices, keys, strict=True):
            # "好一些请按1": the label the patient hears is the one the key stands for.
            assert f"{choice.label.zh}请按{key}" in zh, (choice.id, zh)
        positions = [en.index(k) for k in keys]
        assert positions == sorted(positions), en


@pytest.mark.parametrize(("fid", "q"), QUESTIONS, ids=QIDS)
def test_reprompts_are_distinct_and_shorter(fid: str, q: Step) -> None:
    ask = q.ask
    assert ask is not None
    for lang in ("zh", "en"):
        prompt = ask.prompt.get(lang) or ""
        no_input = [t.get(lang) or "" for t in ask.no_input.prompts]
        no_match = [t.get(lang) or "" for t in ask.no_match.prompts]
        assert no_input and no_match, "every question says something of its own on silence and on garble"
        assert all(no_input) and all(no_match)
        assert not set(no_input) & set(no_match), "no_input and no_match are phrased differently"
        assert prompt not in no_input + no_match, "a reprompt rephrases, it does not just repeat"
        if lang == "zh":
            assert all(len(t) <= len(prompt) for t in no_input), "a no-input reprompt is the short version"


@pytest.mark.parametrize(("fid", "q"), QUESTIONS, ids=QIDS)
def test_reprompt_exhaustion_policy(fid: str, q: Step) -> None:
    ask = q.ask
    assert ask is not None
    thens = {ask.no_input.then, ask.no_match.then}
    if fid in SURVEYS:
        assert thens == {"skip"}, "a survey never escalates a silent patient"
    if f"{fid}.{q.id}" in SECONDARY_MEASUREMENTS:
        assert ask.alarm is not None and thens == {"skip"}
    elif ask.alarm is not None or ask.type in ("temperature", "blood_pressure", "glucose"):
        # An alarming value must never be lost in silence: no answer goes to a human.
        assert thens == {"escalate"}, q.id
    assert 1 <= ask.no_input.max <= 3 and 1 <= ask.no_match.max <= 3


@pytest.mark.parametrize(("fid", "q"), QUESTIONS, ids=QIDS)
def test_choices_are_unambiguous(fid: str, q: Step) -> None:
    ask = q.ask
    assert ask is not None
    for lang in ("zh", "en"):
        owner: dict[str, str] = {}
        for c in ask.choices:
            words = {(c.label.get(lang) or "").lower(), *(w.lower() for w in c.synonyms.get(lang, []))}
            assert all(isinstance(w, str) and w for w in words)
            for w in words:
                assert owner.setdefault(w, c.id) == c.id, f"'{w}' means both {owner[w]} and {c.id}"


def test_vital_sign_alarms() -> None:
    hyp = BY_ID["hypertension"].step("bp").ask
    assert hyp is not None and hyp.type == "blood_pressure"
    assert (hyp.alarm.above, hyp.alarm.diastolic_above, hyp.alarm.below) == (160, 100, 90)
    dia = BY_ID["diabetes"].step("fasting_glucose").ask
    assert dia is not None and dia.type == "glucose"
    assert (dia.alarm.above, dia.alarm.below) == (13.9, 3.9)
    temp = BY_ID["post_op"].step("temperature").ask
    assert temp is not None and temp.type == "temperature" and temp.alarm.above == 38.0
    for flow in FLOWS:
        for q in questions(flow):
            if q.ask.alarm is not None:
                assert q.ask.alarm.reason is not None
                assert q.ask.alarm.reason.zh and q.ask.alarm.reason.en


def _alarm_cases() -> list[tuple[Flow, Step]]:
    return [(f, q) for f in FLOWS for q in questions(f) if q.ask is not None and q.ask.alarm is not None]


ALARMS = _alarm_cases()


@pytest.mark.parametrize(("flow", "q"), ALARMS, ids=[f"{f.id}.{q.id}" for f, q in ALARMS])
def test_every_alarm_tells_the_patient_what_to_do(flow: Flow, q: Step) -> None:
    """The alarm reaches staff; the patient on the line must hear advice too, right after answering.

    So the step after the question is a branch with a rule for each alarm threshold (the diastolic one cannot
    be branched on) that leads to a say.
    """
    alarm = q.ask.alarm
    nxt = flow.step(flow.next_of(q))
    assert nxt.branch is not None, f"{q.id}: no branch right after an alarmed question"
    wanted = {("above", alarm.above), ("below", alarm.below), ("equals", alarm.equals)} - {
        ("above", None),
        ("below", None),
        ("equals", None),
    }
    found = set()
    for rule in nxt.branch:
        if rule.when.answer != q.id:
            continue
        op = rule.when.operator
        found.add((op, getattr(rule.when, op)))
        assert flow.step(rule.goto).say is not None, f"{q.id}: {op} leads to {rule.goto}, not a say"
    assert wanted <= found, f"{q.id}: thresholds {wanted - found} have no advice"


# Openers a nurse uses to say "never mind": the dialog manager already says its unsure_ack before the step.
ACK_OPENERS = {
    "zh": ("没关系", "没事", "好的"),
    "en": ("That's all right", "That's fine", "No problem", "OK"),
}


@pytest.mark.parametrize("flow", FLOWS, ids=[f.id for f in FLOWS])
def test_after_unsure_no_second_acknowledgement(flow: Flow) -> None:
    from dialog.messages import template

    for step in flow.steps:
        for rule in step.branch or ():
            if rule.when.operator != "unsure":
                continue
            target = flow.step(rule.goto)
            if target.say is None:
                continue
            for lang in ("zh", "en"):
                text = (target.say.get(lang) or "").strip()
                ack = template("unsure_ack", lang, flow).strip().rstrip("。.!！")
                assert not text.startswith(ack), f"{target.id}: repeats the unsure_ack '{ack}'"
                assert not text.startswith(ACK_OPENERS[lang]), (
                    f"{target.id} ({lang}) opens with a second 'never mind'"
                )
