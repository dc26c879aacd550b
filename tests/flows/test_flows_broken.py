"""Every broken flow in tests/flows/broken/ yields exactly its expected errors, at the expected lines.

Each file breaks one rule and marks the line its error must land on with ``# <-`` (its header comment names
the line too). The table below is the contract: for each file, every error it must produce as
(line, a substring of the reason) — and no other error.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from flows.errors import FlowError
from flows.loader import check_file, load_flow

BROKEN = Path(__file__).parent / "broken"

EXPECTED: list[tuple[str, int, str]] = [
    # reading the file
    ("syntax_error.yaml", 6, "YAML syntax error: did not find expected ',' or ']'"),
    ("tab_indent.yaml", 11, "indent with spaces, not tabs"),
    ("unquoted_field.yaml", 11, "a text that starts with a {field} must be quoted"),
    ("empty.yaml", 1, "the file is empty"),
    ("not_mapping.yaml", 3, "a flow file is a mapping of keys"),
    ("duplicate_key.yaml", 15, "duplicate key 'prompt' (first given at line 14)"),
    # the shape of each key (pydantic errors, put on their lines)
    ("unknown_question_type.yaml", 13, "unknown question type 'yesno'; allowed types: yes_no, single_choice"),
    ("missing_key.yaml", 12, "missing required key 'prompt' under 'ask'"),
    ("unknown_key.yaml", 12, "missing required key 'prompt'"),
    ("unknown_key.yaml", 14, "unknown key 'promt' (did you mean 'prompt'?)"),
    ("text_not_mapping.yaml", 12, "say needs a text per language"),
    (
        "two_kinds.yaml",
        11,
        "a step needs exactly one of say, ask, identify, branch, escalate, transfer, end (got say, end)",
    ),
    ("bad_step_id.yaml", 11, "id 'Bye' must be lower-case letters"),
    ("bad_dtmf_key.yaml", 18, "dtmf 12 must be one key"),
    ("bad_language.yaml", 5, "languages: 'fr' is not allowed"),
    ("when_two_operators.yaml", 18, "a condition needs exactly one of equals, in"),
    # structure
    ("unknown_next.yaml", 16, "next 'by' of step 'q' is not a step of this flow (did you mean 'bye'?)"),
    ("unknown_next.yaml", 17, "step 'bye' is unreachable"),
    ("unknown_goto.yaml", 19, "goto 'nowhere' of step 'route' is not a step of this flow"),
    ("duplicate_step_id.yaml", 16, "duplicate step id 'q' (first used at line 11)"),
    ("unreachable_step.yaml", 17, "step 'lost' is unreachable"),
    ("loop_no_exit.yaml", 21, "loop with no exit: again → again2 → again"),
    (
        "no_end_reachable.yaml",
        21,
        "no end can be reached from step 'into': it leads into the loop at line 23",
    ),
    ("loop_asks_nothing.yaml", 16, "loop that asks nothing: tell → route → tell could go round for ever"),
    ("no_end_reachable.yaml", 23, "loop with no exit: spin → spin"),
    ("end_with_next.yaml", 18, "end step 'bye' has a next"),
    # privacy
    ("ask_before_identify.yaml", 7, "step 'q' (ask) comes before the patient is identified"),
    ("escalate_before_identify.yaml", 9, "step 'alert' (escalate) comes before the patient is identified"),
    ("no_identify.yaml", 9, "step 'bye' (end) comes before the patient is identified"),
    (
        "medical_before_identify.yaml",
        9,
        "{visit.diagnosis} in the say text of step 'hello' is said before the patient",
    ),
    (
        "medical_in_wrong_person_message.yaml",
        9,
        "{visit.department} in message 'wrong_person' is said to whoever",
    ),
    # languages
    ("missing_language.yaml", 14, "missing en text for the prompt of step 'q'"),
    ("missing_language_label.yaml", 18, "missing en text for the label of choice 'fair' of step 'ward'"),
    ("missing_language_title.yaml", 4, "missing zh text for the title"),
    ("duplicate_language.yaml", 5, "language 'zh' is declared twice"),
    # questions
    ("closed_no_dtmf_prompt.yaml", 12, "yes_no question 'q' needs a dtmf_prompt"),
    ("dtmf_duplicate.yaml", 19, "dtmf key 1 of choice 'poor' is already used by choice 'good'"),
    ("choices_too_few.yaml", 16, "needs at least 2 choices (has 1)"),
    ("choice_duplicate_id.yaml", 19, "duplicate choice id 'good'"),
    ("choices_on_yes_no.yaml", 16, "yes_no question 'q' takes no choices"),
    ("number_min_max.yaml", 15, "min 200 must be below max 20"),
    ("unit_not_meaningful.yaml", 16, "unit does not apply to a yes_no question"),
    ("scale_range.yaml", 16, "scale question 'pain' must run between whole numbers within 0–9"),
    # branches
    (
        "branch_unknown_question.yaml",
        18,
        "branch on 'qq', which is not a step of this flow (did you mean 'q'?)",
    ),
    ("branch_not_question.yaml", 18, "branch on 'who', which is an identify step, not a question"),
    (
        "branch_before_question.yaml",
        13,
        "question 'q' is not asked on every path before this branch (e.g. who → route)",
    ),
    ("branch_not_every_path.yaml", 27, "question 'q' is not asked on every path before this branch"),
    ("branch_choice_value.yaml", 21, "question 'ward' has no choice 'xyz'; choices: good, fair"),
    ("branch_scale_value.yaml", 18, "7 is outside the scale of question 'pain' (1–5)"),
    ("branch_scale_above.yaml", 18, "above 9 is never true: answers to question 'pain' run 1–5"),
    ("branch_yes_no_string.yaml", 18, "a yes_no answer is true or false"),
    (
        "branch_contains_not_multi.yaml",
        21,
        "contains tests a multi_choice answer, but question 'ward' is single_choice",
    ),
    ("branch_above_yes_no.yaml", 18, "above compares numbers, but question 'q' is yes_no"),
    ("branch_below_choice.yaml", 21, "below compares numbers, but question 'ward' is single_choice"),
    ("branch_unsure_not_allowed.yaml", 19, 'does not accept "don\'t know" (allow_unsure: false)'),
    # alarms
    ("alarm_wrong_type.yaml", 17, "above compares numbers, but question 'q' is yes_no"),
    ("alarm_no_condition.yaml", 15, "an alarm needs a condition"),
    ("alarm_multi_choice.yaml", 20, "an alarm cannot test one choice of a multi_choice answer"),
    # templates, messages, audio
    (
        "template_unknown_field.yaml",
        16,
        "unknown template field {patient.nmae} (did you mean 'patient.name'?)",
    ),
    ("template_unbalanced.yaml", 14, "'{' at character 4 is never closed in the zh text"),
    ("message_field_in_prompt.yaml", 18, "unknown template field {callback_time}"),
    ("unknown_message_key.yaml", 7, "unknown message 'good_bye' (did you mean 'goodbye'?)"),
    ("audio_absolute.yaml", 17, "audio path '/var/audio/bye.wav' must be relative to the flow file's folder"),
]

_BY_FILE: dict[str, list[tuple[int, str]]] = defaultdict(list)
for _name, _line, _reason in EXPECTED:
    _BY_FILE[_name].append((_line, _reason))


def _marked_lines(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8")
    if not text.split("\n", 2)[2].strip():  # only the header: the expected line is the top of the file
        return [1]
    return [n for n, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith("# <-")]


@pytest.mark.parametrize("name", sorted(_BY_FILE))
def test_broken_flow_reports_exactly_its_errors(name: str) -> None:
    report = check_file(BROKEN / name)
    assert report.flow is None
    got = [(i.line, i.reason) for i in report.errors]
    expected = sorted(_BY_FILE[name])
    assert [line for line, _ in got] == [line for line, _ in expected], "\n".join(map(str, report.errors))
    for (line, reason), (want_line, want) in zip(got, expected, strict=True):
        assert want in reason, f"line {line}: {reason!r} lacks {want!r}"
    assert all(i.file == str(BROKEN / name) for i in report.errors)


@pytest.mark.parametrize("name", sorted(_BY_FILE))
def test_marker_comments_match_the_table(name: str) -> None:
    # The "# <-" markers and the header are documentation for a reader; keep them truthful.
    path = BROKEN / name
    lines = sorted({line for line, _ in _BY_FILE[name]})
    assert _marked_lines(path) == lines
    header = path.read_text(encoding="utf-8").splitlines()[1]
    assert re.search(r"line(s)? " + ", ".join(map(str, lines)) + r"\b", header), header


def test_every_broken_file_is_in_the_table() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(_BY_FILE)


def test_load_flow_raises_flow_error_with_file_line_reason() -> None:
    path = BROKEN / "unknown_key.yaml"
    with pytest.raises(FlowError) as info:
        load_flow(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert [i.line for i in err.issues] == [12, 14]
    assert str(err).splitlines() == [
        f"{path}:12: {err.issues[0].reason}",
        f"{path}:14: {err.issues[1].reason}",
    ]
