"""flows.graph: nodes and labelled edges of a flow, and its Mermaid text."""

from __future__ import annotations

from pathlib import Path

from flows.graph import END_NODE, flow_graph, to_mermaid
from flows.loader import load_flow

FULL = load_flow(Path(__file__).parent / "valid" / "full.yaml")


def test_graph_has_a_node_per_step_and_edges_between_known_nodes() -> None:
    g = flow_graph(FULL, "en")
    ids = [n["id"] for n in g["nodes"]]
    assert ids[:-1] == [s.id for s in FULL.steps] and ids[-1] == END_NODE
    for e in g["edges"]:
        assert e["from"] in ids and e["to"] in ids


def test_graph_labels_branch_conditions_and_special_edges() -> None:
    edges = {(e["from"], e["to"], e["label"]) for e in flow_graph(FULL, "en")["edges"]}
    assert ("low_score", "why_low", "overall <= 2") in edges
    assert ("low_score", "staff", "overall unsure") in edges
    assert ("low_score", "staff", "otherwise") in edges
    assert ("staff_branch", "symptoms", "staff in average, poor") in edges
    assert ("chest", "handover", "symptoms has chest_pain") in edges
    assert ("handover", "bp", "no agent") in edges
    assert ("who", "overall", "patient or family") in edges
    assert ("who", END_NODE, "wrong person") in edges
    assert ("welcome", "who", "") in edges
    assert not any(e[0] == "bye" for e in edges)  # an end step leads nowhere


def test_graph_node_labels_are_in_the_asked_language() -> None:
    nodes = {n["id"]: n for n in flow_graph(FULL, "zh")["nodes"]}
    assert nodes["overall"]["label"].startswith("[scale] 您对这次")
    assert nodes["overall"]["question_type"] == "scale"
    assert nodes["bye"]["label"] == "outcome: completed"
    assert flow_graph(FULL)["lang"] == "zh"  # default: the flow's first language


def test_mermaid() -> None:
    text = to_mermaid(FULL, "en")
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    s_bye(["bye: outcome: completed"])' in lines
    assert '    s_low_score -->|"overall #lt;= 2"| s_why_low' in lines
    assert "    s_welcome --> s_who" in lines
    assert '    s_who -->|"wrong person"| x_end' in lines
    assert all('"' not in line.split('"', 1)[1].rsplit('"', 1)[0] for line in lines[1:] if '"' in line)
