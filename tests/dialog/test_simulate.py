"""``followup simulate``: scripts, markers, transfers, the JSON and readable outputs, interactive input."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from dialog_helpers import CONTEXT_EN, FLOWS, NOW, load

from dialog.events import Dtmf, NoInput, Utterance
from dialog.events import Hangup as HangupEvent
from followup.simulate import demo_context, main, parse_reply, read_script, run_simulation

BASIC = str(FLOWS / "basic.yaml")


@pytest.mark.parametrize(
    "line, event",
    [
        ("<silence>", NoInput()),
        ("<SILENCE>", NoInput()),
        ("<dtmf:5>", Dtmf("5")),
        ("<dtmf:#>", Dtmf("#")),
        ("<hangup>", HangupEvent()),
        ("  是的  ", Utterance("是的")),
        ("<dtmf:55>", Utterance("<dtmf:55>")),  # not a marker: said as text
    ],
)
def test_parse_reply(line, event):
    assert parse_reply(line) == event


def test_read_script_skips_blanks_and_comments(tmp_path: Path):
    script = tmp_path / "s.txt"
    script.write_text("# a comment\n是的\n\n<dtmf:1>\n  <silence>\n", encoding="utf-8")
    assert read_script(script) == ["是的", "<dtmf:1>", "<silence>"]


def test_scripted_conversation_result():
    result = run_simulation(load("basic"), "zh", None, ["是的", "<dtmf:2>", "<dtmf:5>"], False, NOW)
    assert result["outcome"] == "completed"
    assert result["answers"] == {"fever": False, "satisfaction": 5}
    assert result["escalations"] == []
    assert result["callback_at"] is None and result["do_not_call"] is False
    speakers = [t["speaker"] for t in result["transcript"]]
    assert speakers == ["bot", "patient", "bot", "patient", "bot", "patient", "bot"]
    # The question and its keypad hint are one bot turn.
    assert (
        result["transcript"][2]["text"]
        == "今天给您做个简短的出院回访。回家以后有没有发烧？有请按1，没有请按2。"
    )
    assert result["transcript"][1] == {"speaker": "patient", "text": "是的"}
    json.dumps(result)  # serialisable as is


def test_running_out_of_script_is_a_hangup():
    result = run_simulation(load("basic"), "zh", None, ["是的"], False, NOW)
    assert result["outcome"] == "partial"
    assert result["transcript"][-1]["speaker"] == "bot"


def test_hangup_marker():
    result = run_simulation(load("basic"), "zh", None, ["是的", "<hangup>", "<dtmf:1>"], False, NOW)
    assert result["outcome"] == "partial"
    assert [t["text"] for t in result["transcript"] if t["speaker"] == "patient"] == ["是的"]


def test_request_human_fails_without_agents_and_succeeds_with():
    replies = ["是的", "我要转人工"]
    failed = run_simulation(load("basic"), "zh", None, replies, False, NOW)
    assert failed["outcome"] == "callback_requested"
    assert [e["kind"] for e in failed["escalations"]] == ["request_human"]
    assert failed["escalations"][0] == {
        "kind": "request_human",
        "department": "心内科",
        "text": "我要转人工",
        "question_id": "fever",
    }
    done = run_simulation(load("basic"), "zh", None, replies, False, NOW, agents_available=True)
    assert done["outcome"] == "transferred"
    assert done["escalations"] == []


def test_callback_and_do_not_call_are_reported():
    later = run_simulation(load("basic"), "zh", None, ["是的", "明天下午三点再打过来吧"], False, NOW)
    assert later["callback_at"] == "2026-11-21T15:00:00"
    stop = run_simulation(load("basic"), "zh", None, ["是的", "以后别给我打电话了"], False, NOW)
    assert stop["do_not_call"] is True and stop["outcome"] == "opt_out"


def test_flow_by_path_and_patient_context():
    result = run_simulation(BASIC, "en", CONTEXT_EN, ["<dtmf:1>"], False, NOW)
    assert result["transcript"][0]["text"] == "Hello, this is City Hospital. Am I speaking with Mr Smith?"


def test_demo_context():
    zh = demo_context("zh", NOW)
    assert zh["patient"]["name"] == "张伟" and zh["patient"]["salutation"] == "张先生"
    assert zh["visit"]["department"] == "心内科"
    assert zh["visit"]["discharge_date"] == "2026-11-17"
    assert zh["hospital"]["name"] == "市第一人民医院"
    en = demo_context("en", NOW)
    assert en["visit"]["discharge_date"] == "2026-11-17" and en["patient"]["salutation"]


def test_interactive_reads_until_end_of_input():
    typed = iter(["是的", "<dtmf:1>"])
    prompts: list[str] = []
    shown: list[tuple[str, str]] = []

    def input_fn(prompt: str) -> str:
        prompts.append(prompt)
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    result = run_simulation(
        load("basic"),
        "zh",
        None,
        None,
        True,
        NOW,
        input_fn=input_fn,
        show=lambda who, text: shown.append((who, text)),
    )
    assert prompts == ["> ", "> ", "> "]
    assert result["answers"] == {"fever": True}
    assert result["outcome"] == "partial"
    assert all(who == "bot" for who, _ in shown)  # typed replies are already on the screen
    assert len(shown) == 3


def test_main_json(tmp_path: Path):
    script = tmp_path / "replies.txt"
    script.write_text("<dtmf:1>\n<dtmf:2>\n非常满意\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [BASIC, "--lang", "zh", "--script", str(script), "--json", "--now", "2026-11-20T10:00"], out, err
    )
    assert code == 0
    result = json.loads(out.getvalue())
    assert set(result) == {"outcome", "answers", "escalations", "transcript", "callback_at", "do_not_call"}
    assert result["answers"] == {"fever": False, "satisfaction": 5}
    assert result["outcome"] == "completed"


def test_main_readable_with_patient_file(tmp_path: Path):
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps(CONTEXT_EN), encoding="utf-8")
    script = tmp_path / "replies.txt"
    script.write_text("yes\n<dtmf:1>\n<silence>\n<silence>\n", encoding="utf-8")
    out = io.StringIO()
    code = main(
        [BASIC, "--lang", "en", "--patient", str(patient), "--script", str(script)], out, io.StringIO()
    )
    assert code == 0
    text = out.getvalue()
    assert "Bot: Hello, this is City Hospital. Am I speaking with Mr Smith?" in text
    assert "Patient: yes" in text
    assert "fever" in text and "Outcome: partial" in text


def test_main_accepts_the_cli_namespace(tmp_path: Path):
    script = tmp_path / "r.txt"
    script.write_text("<dtmf:1>\n", encoding="utf-8")
    ns = argparse.Namespace(
        flow=BASIC,
        lang=None,
        patient=None,
        script=str(script),
        json=True,
        now="2026-11-20T10:00",
        agents_available=False,
    )
    out = io.StringIO()
    assert main(ns, out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["outcome"] == "partial"


def test_main_interactive_from_stdin():
    out = io.StringIO()
    code = main(
        [BASIC, "--now", "2026-11-20T10:00"], out, io.StringIO(), io.StringIO("是的\n<dtmf:2>\n<dtmf:4>\n")
    )
    assert code == 0
    text = out.getvalue()
    assert text.count("> ") == 3
    assert "结果: completed" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["no_such_flow_anywhere"], "no_such_flow_anywhere"),
        ([BASIC, "--now", "yesterday"], "--now"),
        ([BASIC, "--patient", "/nonexistent.json"], "--patient"),
        ([BASIC, "--script", "/nonexistent.txt"], "--script"),
    ],
)
def test_main_errors(argv, message):
    err = io.StringIO()
    assert main(argv, io.StringIO(), err) == 2
    assert message in err.getvalue()


def test_language_not_in_flow(tmp_path: Path):
    text = (
        (FLOWS / "basic.yaml").read_text(encoding="utf-8").replace("languages: [zh, en]", "languages: [zh]")
    )
    path = tmp_path / "basic.yaml"
    path.write_text(text, encoding="utf-8")
    err = io.StringIO()
    # The validator may reject the now-unused en texts; either way the run stops with a clear error.
    assert main([str(path), "--lang", "en"], io.StringIO(), err) == 2
    assert err.getvalue().startswith("error:")


def test_now_defaults_to_the_clock():
    result = run_simulation(load("basic"), "zh", None, [], False)
    assert result["outcome"] == "partial"
