"""flows.loader and flows.source: reading files, the YAML dialect, line mapping, caching, finding flows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flows.errors import FlowError, FlowIssue, FlowNotFound
from flows.loader import (
    check_file,
    check_text,
    describe,
    find_flow,
    library_dir,
    load_flow,
    load_flows,
    load_library,
    parse_flow_text,
)
from flows.schema import Flow
from flows.source import parse_yaml
from flows.validate import check_flow

HERE = Path(__file__).parent
VALID = HERE / "valid"
MINIMAL = (VALID / "minimal.yaml").read_text(encoding="utf-8")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the YAML dialect and line map ------------------------------------------------------------------------


def test_yaml_dialect_keeps_yes_no_times_and_dates_as_text() -> None:
    data, _, issues = parse_yaml(
        "a: yes\nb: no\nc: on\nd: 10:30\ne: 2026-05-01\nf: 010\ng: true\nh: False\ni: 12\nj: 1.5\nk: 1e3\nl: ~\n",
        "t.yaml",
    )
    assert issues == []
    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "10:30",
        "e": "2026-05-01",
        "f": "010",
        "g": True,
        "h": False,
        "i": 12,
        "j": 1.5,
        "k": 1000.0,
        "l": None,
    }


def test_line_map_has_every_key_and_item_and_falls_back_to_the_parent() -> None:
    _, lines, _ = parse_yaml("steps:\n  - id: a\n    ask:\n      type: x\n  - id: b\n", "t.yaml")
    assert lines.line(("steps",)) == 1
    assert lines.line(("steps", 0)) == 2
    assert lines.line(("steps", 0, "ask", "type")) == 4
    assert lines.line(("steps", 1, "id")) == 5
    assert lines.line(("steps", 0, "ask", "prompt", "zh")) == 3  # missing: the nearest known parent
    assert lines.has(("steps", 0, "ask")) and not lines.has(("steps", 0, "ask", "prompt"))


def test_numbers_are_read_as_text_where_the_schema_wants_text() -> None:
    text = MINIMAL.replace(
        "  - id: bye\n",
        "  - id: pick\n    ask:\n      type: single_choice\n      prompt: {zh: 选, en: Pick}\n"
        "      dtmf_prompt: {zh: 按键, en: Press}\n      choices:\n"
        "        - {id: 1, label: {zh: 一, en: one}, dtmf: 7}\n        - {id: 2, label: {zh: 二, en: two}}\n"
        "  - id: bye\n",
    )
    flow, _ = parse_flow_text(text)
    choices = flow.step("pick").ask.choices  # type: ignore[union-attr]
    assert [(c.id, c.dtmf) for c in choices] == [("1", "7"), ("2", None)]


# --- loading ------------------------------------------------------------------------------------------------


def test_load_flow_returns_the_flow_with_its_path() -> None:
    flow = load_flow(VALID / "minimal.yaml")
    assert isinstance(flow, Flow)
    assert flow.id == "minimal"
    assert [s.kind for s in flow.steps] == ["identify", "ask", "end"]
    assert flow.path == (VALID / "minimal.yaml").resolve()


def test_full_example_loads_without_errors_or_warnings() -> None:
    report = check_file(VALID / "full.yaml")
    assert report.errors == [] and report.warnings == []
    assert report.flow is not None
    assert {s.kind for s in report.flow.steps} == {
        "say",
        "identify",
        "ask",
        "branch",
        "escalate",
        "transfer",
        "end",
    }
    assert {q.ask.type for q in report.flow.questions()} == {  # type: ignore[union-attr]
        "scale", "free_text", "single_choice", "multi_choice", "blood_pressure", "glucose", "temperature",
        "number", "date",
    }  # fmt: skip


def test_all_issues_of_a_file_come_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("      prompt: {zh: 您最近身体好吗？, en: Have you been keeping well?}",
                        "      prompt: {zh: 您最近身体好吗？}")
        .replace("Hello, is this {patient.salutation}?", "Hello, is this {patient.salutaton}?")
        .replace("2 for no.\"}\n", "2 for no.\"}\n      unit: {zh: 个, en: items}\n")
    )  # fmt: skip
    path = _write(tmp_path, "three.yaml", text)
    with pytest.raises(FlowError) as info:
        load_flow(path)
    lines = [i.line for i in info.value.issues]
    assert lines == sorted(lines) == [8, 13, 15]
    assert "unknown template field {patient.salutaton}" in info.value.issues[0].reason
    assert "missing en text" in info.value.issues[1].reason
    assert "unit does not apply to a yes_no question" in info.value.issues[2].reason


def test_schema_errors_land_on_their_lines_not_line_one(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "      type: yes_no", "      type: yes_no\n      confirm_below: 3\n      max: lots"
    )
    report = check_text(text, "x.yaml")
    assert [(i.line, i.reason.split(":")[0]) for i in report.errors] == [
        (13, "confirm_below must be at most 1.0, not 3"),
        (14, "max must be a number, not the text 'lots'"),
    ]


def test_duplicate_key_is_reported_with_the_other_errors() -> None:
    text = MINIMAL.replace("id: minimal\n", "id: minimal\nid: again\n").replace("[zh, en]", "[zh, en, zh]")
    report = check_text(text, "x.yaml")
    assert [(i.line, i.reason) for i in report.errors] == [
        (3, "duplicate key 'id' (first given at line 2)"),
        (5, "language 'zh' is declared twice"),
    ]


def test_a_bom_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.replace("\n", "\r\n").encode("utf-8"))
    assert load_flow(path).id == "minimal"


def test_non_utf8_file_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(b"id: t\ntitle:\n  zh: " + "测试".encode("gbk") + b"\n")
    report = check_file(path)
    assert [(i.line, i.reason) for i in report.errors] == [(3, "not UTF-8 text; save the file as UTF-8")]


def test_missing_file() -> None:
    report = check_file("no/such/flow.yaml")
    assert str(report.errors[0]) == "no/such/flow.yaml: no such file"


def test_cache_returns_the_same_result_until_the_file_changes(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.yaml", MINIMAL)
    first = load_flow(path)
    assert load_flow(path) is first
    path.write_text(MINIMAL.replace("title: {zh: 最小流程,", "title: {zh: 改过的,"), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # coarse-mtime filesystems
    second = load_flow(path)
    assert second is not first and second.title.zh == "改过的"


def test_cache_serves_the_same_flow_under_another_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "n.yaml", MINIMAL.replace("    end: {}", "    end: {}\n    next: who"))
    monkeypatch.chdir(tmp_path)
    absolute, relative = check_file(path), check_file("n.yaml")
    assert [i.file for i in absolute.errors] == [str(path)]
    assert [i.file for i in relative.errors] == ["n.yaml"]
    assert [i.line for i in relative.errors] == [i.line for i in absolute.errors] == [17]
    good = _write(tmp_path, "g.yaml", MINIMAL)
    assert load_flow("g.yaml") is load_flow(good)


def test_load_flows_collects_errors_and_duplicate_ids(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", MINIMAL)
    b = _write(tmp_path, "b.yaml", MINIMAL)
    c = _write(tmp_path, "c.yaml", "id: [\n")
    flows, errors = load_flows([a, b, c])
    assert [f.id for f in flows] == ["minimal"]
    assert [(i.file, i.line) for i in errors] == [(str(b), 1), (str(c), 2)]
    assert "flow id 'minimal' is already used by" in errors[0].reason


def test_library_dir_is_flows_library() -> None:
    assert library_dir().parts[-2:] == ("flows", "library")


def _library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir()
    _write(lib, "zeta.yaml", MINIMAL.replace("id: minimal", "id: zeta"))
    _write(lib, "alpha.yaml", MINIMAL.replace("id: minimal", "id: alpha"))
    _write(lib, "notes.txt", "not a flow")
    return lib


def test_load_library_is_sorted_by_id_and_raises_on_a_broken_file(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    assert [f.id for f in load_library(lib)] == ["alpha", "zeta"]
    _write(lib, "broken.yaml", "id: [\n")
    with pytest.raises(FlowError) as info:
        load_library(lib)
    assert [i.file for i in info.value.issues] == [str(lib / "broken.yaml")]


def test_find_flow_by_id_by_path_and_unknown(tmp_path: Path) -> None:
    lib = _library(tmp_path)
    _write(lib, "broken.yaml", "id: [\n")
    assert find_flow("zeta", lib).id == "zeta"  # a broken neighbour does not hide it
    assert find_flow(str(VALID / "minimal.yaml")).id == "minimal"
    with pytest.raises(
        FlowNotFound, match=r"no flow 'nope' in the library \(known: alpha, zeta\); 1 library"
    ):
        find_flow("nope", lib)
    with pytest.raises(FlowError):
        find_flow("broken", lib)  # its own errors, not "not found"


def test_describe() -> None:
    flow = load_flow(VALID / "full.yaml")
    d = describe(flow)
    assert d["id"] == "full_example"
    assert d["title"] == "全功能示例"
    assert d["titles"] == {"zh": "全功能示例", "en": "Full example"}
    assert d["languages"] == ["zh", "en"]
    assert d["questions"] == len(d["question_ids"]) == 9
    assert d["version"] == 3
    assert d["path"] == str((VALID / "full.yaml").resolve())


def test_describe_title_falls_back_to_the_first_language() -> None:
    flow, _ = parse_flow_text(
        MINIMAL.replace("title: {zh: 最小流程, en: Minimal flow}", "title: {en: Minimal}")
    )
    assert describe(flow)["title"] == "Minimal"
    assert describe(flow)["path"] is None


# --- audio --------------------------------------------------------------------------------------------------


def test_missing_audio_is_a_warning_and_found_audio_is_not(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    shutil.copy(VALID / "audio" / "welcome.zh.wav", tmp_path / "audio" / "hello.wav")
    text = MINIMAL.replace(
        "      family_prompt: {zh: 请问您是家属吗？, en: Are you a family member?}",
        "      family_prompt:\n        zh: 请问您是家属吗？\n        en: Are you a family member?\n"
        "        audio: {zh: audio/hello.wav, en: audio/missing.wav}",
    )
    path = _write(tmp_path, "audio.yaml", text)
    flow = load_flow(path)  # a warning does not stop the load
    report = check_file(path)
    assert report.errors == []
    assert [(w.line, w.reason.split(" (")[0]) for w in report.warnings] == [
        (12, "audio file 'audio/missing.wav' not found")
    ]
    assert flow.path is not None and (flow.path.parent / "audio/hello.wav").is_file()


def test_warnings_travel_with_a_flow_error(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "    end: {}", "    end: {prompt: {zh: 再见, en: Bye, audio: {zh: gone.wav}}}\n    next: who"
    )
    with pytest.raises(FlowError) as info:
        load_flow(_write(tmp_path, "w.yaml", text))
    assert [i.line for i in info.value.issues] == [17]
    assert [w.line for w in info.value.warnings] == [16]


# --- a flow built in code ---------------------------------------------------------------------------------


def test_check_flow_without_a_source_reports_line_zero() -> None:
    flow, _ = parse_flow_text(MINIMAL)
    broken = flow.model_copy(update={"steps": [flow.steps[1], flow.steps[0], flow.steps[2]]})
    errors, warnings = check_flow(broken)
    assert errors == [
        FlowIssue("<flow minimal>", 0, "step 'well' (ask) comes before the patient is identified: the first "
                  "step that is not a say must be an identify step (privacy)"),
    ]  # fmt: skip
    assert warnings == []
    assert str(errors[0]).startswith("<flow minimal>: step 'well'")
