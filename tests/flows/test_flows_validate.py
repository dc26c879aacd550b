"""The checks of flows.validate one at a time, on small inline flows: what passes as well as what fails."""

from __future__ import annotations

import pytest

from flows.errors import FlowIssue
from flows.loader import parse_flow_text
from flows.schema import Ask, Choice, Text
from flows.validate import (
    ERROR_CHECKS,
    check_branches,
    check_exits,
    check_flow,
    check_privacy,
    check_questions,
    check_reachable,
    compare_problem,
    describe_when,
    template_problems,
    value_problem,
)

HEAD = """id: t
title: {zh: 测试, en: Test}
languages: [zh, en]
steps:
  - id: who
    identify:
      prompt: {zh: 是您吗？, en: Is that you?}
      family_prompt: {zh: 家属吗？, en: Family?}
"""


def yes_no(step_id: str, extra: str = "") -> str:
    return f"""  - id: {step_id}
    ask:
      type: yes_no
      prompt: {{zh: 问, en: Ask}}
      dtmf_prompt: {{zh: 按键, en: Press}}
{extra}"""


BYE = "  - id: bye\n    end: {}\n"


def run(check, body: str, head: str = HEAD) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    flow, lines = parse_flow_text(head + body, "t.yaml")
    return [(i.line, i.reason) for i in check(flow, lines)]


# --- structure ----------------------------------------------------------------------------------------------


def test_a_reask_loop_with_a_way_out_is_fine() -> None:
    body = (
        yes_no("q")
        + "  - id: again\n    branch:\n      - when: {answer: q, skipped: true}\n        goto: q\n"
        + BYE
    )
    assert run(check_exits, body) == []
    assert run(check_reachable, body) == []


def test_a_transfer_counts_as_a_way_out_of_a_loop() -> None:
    body = yes_no("q") + "  - id: human\n    transfer: {}\n    next: q\n"
    assert run(check_exits, body) == []


def test_falling_off_the_last_step_is_an_end() -> None:
    assert run(check_exits, yes_no("q")) == []


def test_loop_message_walks_the_loop_in_order_and_names_the_steps_leading_in() -> None:
    body = (
        yes_no("q", "    next: c\n")
        + "  - id: a\n    say: {zh: a, en: a}\n    next: b\n"
        + "  - id: b\n    say: {zh: b, en: b}\n    next: a\n"
        + "  - id: c\n    say: {zh: c, en: c}\n    next: a\n"
    )
    assert sorted(run(check_exits, body)) == [
        (5, "no end can be reached from step 'who': it leads into the loop at line 15"),
        (9, "no end can be reached from step 'q': it leads into the loop at line 15"),
        (15, "loop with no exit: a → b → a never reaches an end step"),
        (21, "no end can be reached from step 'c': it leads into the loop at line 15"),
    ]


# --- privacy ------------------------------------------------------------------------------------------------


def test_say_steps_may_greet_with_public_fields_before_identify() -> None:
    head = "id: t\ntitle: {zh: 测试, en: Test}\nlanguages: [zh, en]\nsteps:\n"
    body = (
        "  - id: hi\n    say:\n      zh: '{hospital.name}{hospital.phone}，{patient.salutation}{patient.name}'\n"
        "      en: Hello\n"
        + HEAD.split("steps:\n")[1]
        + "  - id: after\n    say: {zh: '{visit.diagnosis}', en: '{visit.doctor}'}\n"
    )
    assert run(check_privacy, body, head) == []


def test_a_say_that_jumps_past_identify_is_caught() -> None:
    head = "id: t\ntitle: {zh: 测试, en: Test}\nlanguages: [zh, en]\nsteps:\n"
    body = "  - id: hi\n    say: {zh: 您好, en: Hi}\n    next: q\n" + HEAD.split("steps:\n")[1] + yes_no("q")
    assert run(check_privacy, body, head) == [
        (
            12,
            (
                "step 'q' (ask) comes before the patient is identified: the first step that is not a say must be "
                "an identify step (privacy)"
            ),
        ),
    ]


def test_identify_prompts_may_not_name_the_visit() -> None:
    body = HEAD.replace("prompt: {zh: 是您吗？, en: Is that you?}", "prompt: {zh: '{visit.ward}', en: Hi}")
    assert [line for line, _ in run(check_privacy, "", body)] == [7]


# --- questions ----------------------------------------------------------------------------------------------


def test_choice_keys_default_to_positions_and_a_tenth_choice_needs_one() -> None:
    choices = "".join(f"        - {{id: c{k}, label: {{zh: '{k}', en: '{k}'}}}}\n" for k in range(10))
    body = (
        "  - id: many\n    ask:\n      type: single_choice\n      prompt: {zh: 选, en: Pick}\n"
        "      dtmf_prompt: {zh: 按, en: Press}\n      choices:\n" + choices
    )
    assert run(check_questions, body) == [
        (
            24,
            (
                "choice 'c9' of single_choice question 'many' needs a dtmf key: only the first 9 choices get one "
                "by position"
            ),
        ),
    ]
    fixed = body.replace(
        "{id: c9, label: {zh: '9', en: '9'}}", "{id: c9, label: {zh: '9', en: '9'}, dtmf: '0'}"
    )
    assert run(check_questions, fixed) == []


def test_scale_may_be_narrowed_within_the_keypad() -> None:
    body = (
        "  - id: s\n    ask:\n      type: scale\n      prompt: {zh: 打分, en: Score}\n"
        "      dtmf_prompt: {zh: 按, en: Press}\n      min: 0\n      max: 9\n"
    )
    assert run(check_questions, body) == []
    assert run(check_questions, body.replace("min: 0", "min: 0.5"))[0][0] == 14


def test_min_max_do_not_apply_to_a_date() -> None:
    body = "  - id: d\n    ask:\n      type: date\n      prompt: {zh: 哪天, en: When}\n      min: 1\n"
    assert run(check_questions, body) == [(13, "min does not apply to a date question")]


# --- branches -----------------------------------------------------------------------------------------------


def test_a_question_asked_on_both_sides_of_a_fork_is_asked_on_every_path() -> None:
    body = (
        yes_no("fork")
        + "  - id: split\n    branch:\n      - when: {answer: fork, equals: true}\n        goto: left\n"
        + "    next: right\n"
        + yes_no("left", "    next: join\n")
        + yes_no("right", "    next: join\n")
        + "  - id: join\n    branch:\n      - when: {answer: fork, equals: false}\n        goto: bye\n"
        + BYE
    )
    assert run(check_branches, body) == []
    # but "left" is only asked on one side
    not_every = body.replace("when: {answer: fork, equals: false}", "when: {answer: left, equals: false}")
    assert run(check_branches, not_every) == [
        (
            33,
            (
                "question 'left' is not asked on every path before this branch (e.g. who → fork → split → right → "
                "join)"
            ),
        ),
    ]


def test_every_operator_that_fits_passes() -> None:
    body = (
        yes_no("yn") + "  - id: sc\n    ask:\n      type: scale\n      prompt: {zh: 分, en: Score}\n"
        "      dtmf_prompt: {zh: 按, en: Press}\n"
        + "  - id: mc\n    ask:\n      type: multi_choice\n      prompt: {zh: 选, en: Pick}\n"
        "      dtmf_prompt: {zh: 按, en: Press}\n      choices:\n"
        "        - {id: a, label: {zh: a, en: a}}\n        - {id: b, label: {zh: b, en: b}}\n"
        + "  - id: t\n    ask:\n      type: temperature\n      prompt: {zh: 体温, en: Temp}\n"
        + "  - id: f\n    ask:\n      type: free_text\n      prompt: {zh: 说, en: Say}\n"
        + "  - id: route\n    branch:\n"
        + "".join(
            f"      - when: {w}\n        goto: bye\n"
            for w in (
                "{answer: yn, equals: false}",
                "{answer: yn, in: [true]}",
                "{answer: sc, equals: 5}",
                "{answer: sc, in: [1, 2]}",
                "{answer: sc, above: 4}",
                "{answer: sc, at_least: 5}",
                "{answer: sc, at_most: 1}",
                "{answer: sc, below: 2}",
                "{answer: mc, contains: b}",
                "{answer: t, above: 38.5}",
                "{answer: t, equals: 37}",
                "{answer: f, unsure: true}",
                "{answer: f, skipped: true}",
            )
        )
        + BYE
    )
    assert run(check_branches, body) == []


def test_describe_when() -> None:
    flow, _ = parse_flow_text(
        HEAD + yes_no("q") + "  - id: r\n    branch:\n"
        "      - {when: {answer: q, equals: true}, goto: bye}\n"
        "      - {when: {answer: q, in: [true, false]}, goto: bye}\n"
        "      - {when: {answer: q, skipped: false}, goto: bye}\n" + BYE
    )
    rules = flow.step("r").branch
    assert rules is not None
    assert [describe_when(r.when) for r in rules] == ["q = true", "q in true, false", "q not skipped"]


# --- value checks as tables --------------------------------------------------------------------------------

_LABEL = Text(zh="x", en="x")
_CHOICE = Ask(
    type="single_choice",
    prompt=_LABEL,
    choices=[Choice(id="good", label=_LABEL), Choice(id="bad", label=_LABEL)],
)


@pytest.mark.parametrize(
    ("ask", "value", "problem"),
    [
        (Ask(type="yes_no", prompt=_LABEL), True, None),
        (Ask(type="yes_no", prompt=_LABEL), "yes", "a yes_no answer is true or false"),
        (Ask(type="yes_no", prompt=_LABEL), 1, "a yes_no answer is true or false"),
        (_CHOICE, "good", None),
        (_CHOICE, "goodd", "has no choice 'goodd' (did you mean 'good'?)"),
        (_CHOICE, 1, "has no choice 1"),
        (Ask(type="scale", prompt=_LABEL), 3, None),
        (Ask(type="scale", prompt=_LABEL), 3.5, "a scale answer is a whole number from 1 to 5"),
        (Ask(type="scale", prompt=_LABEL), True, "a scale answer is a whole number"),
        (Ask(type="scale", prompt=_LABEL, min=0, max=9), 9, None),
        (
            Ask(type="number", prompt=_LABEL, min=0, max=10),
            11,
            "11 is outside the range of question 'q' (0–10)",
        ),
        (Ask(type="number", prompt=_LABEL), -3.5, None),
        (Ask(type="glucose", prompt=_LABEL), "high", "a glucose answer is a number"),
        (Ask(type="blood_pressure", prompt=_LABEL), 140, "compared with above/below"),
        (Ask(type="date", prompt=_LABEL), "2026-12-01", None),
        (Ask(type="date", prompt=_LABEL), "next week", "YYYY-MM-DD"),
        (Ask(type="free_text", prompt=_LABEL), "ok", "only be tested with unsure or skipped"),
    ],
)
def test_value_problem(ask: Ask, value: object, problem: str | None) -> None:
    got = value_problem(ask, "q", value)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


@pytest.mark.parametrize(
    ("ask", "op", "value", "never"),
    [
        (Ask(type="scale", prompt=_LABEL), "above", 4, False),
        (Ask(type="scale", prompt=_LABEL), "above", 5, True),
        (Ask(type="scale", prompt=_LABEL), "at_least", 5, False),
        (Ask(type="scale", prompt=_LABEL), "at_least", 6, True),
        (Ask(type="scale", prompt=_LABEL), "below", 1, True),
        (Ask(type="scale", prompt=_LABEL), "at_most", 1, False),
        (Ask(type="scale", prompt=_LABEL), "at_most", 0, True),
        (Ask(type="temperature", prompt=_LABEL, min=34, max=43), "above", 38, False),
        (Ask(type="temperature", prompt=_LABEL, min=34, max=43), "above", 43, True),
        (Ask(type="number", prompt=_LABEL), "above", 1e9, False),
    ],
)
def test_compare_problem_finds_conditions_that_are_never_true(
    ask: Ask, op: str, value: float, never: bool
) -> None:
    got = compare_problem(ask, "q", op, value)
    assert (got is not None) is never
    if never:
        assert "is never true" in got  # type: ignore[operator]


@pytest.mark.parametrize("qtype", ["yes_no", "single_choice", "multi_choice", "date", "free_text"])
def test_compare_problem_rejects_non_numeric_types(qtype: str) -> None:
    got = compare_problem(Ask(type=qtype, prompt=_LABEL), "q", "above", 1)  # type: ignore[arg-type]
    assert got is not None and f"is {qtype}" in got


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("您好{patient.name}，{hospital.name}", []),
        ("没有字段", []),
        ("{patient.nmae}", ["unknown template field {patient.nmae} (did you mean 'patient.name'?)"]),
        ("{answer}", ["unknown template field {answer}"]),
        ("{ patient.name }", ["unknown template field { patient.name } (did you mean 'patient.name'?)"]),
        ("{}", ["unknown template field {}"]),
        ("a {patient.name", ["'{' at character 3 is never closed"]),
        ("a } b", ["'}' at character 3 has no opening '{'"]),
        (
            "{{patient.name}}",
            ["'{' at character 1 is never closed", "'}' at character 16 has no opening '{'"],
        ),
    ],
)
def test_template_problems(text: str, problems: list[str]) -> None:
    from flows.schema import TEMPLATE_FIELDS

    assert template_problems(text, TEMPLATE_FIELDS) == problems


# --- all together --------------------------------------------------------------------------------------------


def test_check_flow_runs_every_check_and_sorts() -> None:
    flow, lines = parse_flow_text(HEAD + yes_no("q", "    next: nowhere\n") + BYE, "t.yaml")
    errors, warnings = check_flow(flow, lines)
    assert errors == [
        FlowIssue("t.yaml", 14, "next 'nowhere' of step 'q' is not a step of this flow"),
        FlowIssue("t.yaml", 15, "step 'bye' is unreachable: no path leads to it from the first step 'who'"),
    ]
    assert warnings == []


def test_every_check_is_a_documented_function() -> None:
    for check in ERROR_CHECKS:
        assert check.__doc__, check.__name__
