"""A flow as a graph, for a readable preview: nodes (steps) and labelled edges, and Mermaid text.

The edges come from the same function the validator walks (``flows.validate.references``), so the picture
and the checks cannot disagree about where a step leads.
"""

from __future__ import annotations

from typing import Any

from flows.schema import Flow, Step
from flows.validate import references

END_NODE = "__end__"  # where the call stops outside an end step: the last step, a wrong person, a callback
_LABEL_CHARS = 40


def _clip(text: str | None, limit: int = _LABEL_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(step: Step, lang: str) -> str:
    """What a reader needs to recognise the step: mostly the first words said."""
    if step.say is not None:
        return _clip(step.say.get(lang))
    if step.ask is not None:
        return f"[{step.ask.type}] {_clip(step.ask.prompt.get(lang))}"
    if step.identify is not None:
        return _clip(step.identify.prompt.get(lang))
    if step.branch is not None:
        return "branch"
    if step.escalate is not None:
        return f"escalate: {step.escalate.kind}" + (
            f" → {step.escalate.department}" if step.escalate.department else ""
        )
    if step.transfer is not None:
        return "transfer to a person"
    assert step.end is not None
    return f"outcome: {step.end.outcome}"


def flow_graph(flow: Flow, lang: str | None = None) -> dict[str, Any]:
    """``{"id", "lang", "nodes": [...], "edges": [...]}`` of ``flow``, texts in ``lang`` (default: the first).

    A node is ``{"id", "kind", "label", "question_type"}``; an edge ``{"from", "to", "label"}`` where the
    label is a branch condition (``pain > 6``), ``otherwise``, ``no agent``, an identify outcome, or ``""``
    for plain "next". ``END_NODE`` stands for the call ending outside an end step.
    """
    lang = lang or flow.languages[0]
    ids = {s.id for s in flow.steps}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, step in enumerate(flow.steps):
        if step.id in seen:
            continue  # a duplicated id (an invalid flow): draw its first step only
        seen.add(step.id)
        nodes.append(
            {
                "id": step.id,
                "kind": step.kind,
                "label": _label(step, lang),
                "question_type": step.ask.type if step.ask is not None else None,
            }
        )
        for _, target, label, _ in references(flow, i):
            if target is None or target in ids:
                edges.append(
                    {"from": step.id, "to": target or END_NODE, "label": "" if label == "next" else label}
                )
        if step.identify is not None:
            for edge in edges:
                if edge["from"] == step.id:
                    edge["label"] = "patient" + (" or family" if step.identify.family == "continue" else "")
            edges.append({"from": step.id, "to": END_NODE, "label": "wrong person"})
            if step.identify.family != "continue":
                edges.append({"from": step.id, "to": END_NODE, "label": f"family: {step.identify.family}"})
    if any(e["to"] == END_NODE for e in edges):
        nodes.append({"id": END_NODE, "kind": "finish", "label": "call ends", "question_type": None})
    return {"id": flow.id, "lang": lang, "nodes": nodes, "edges": edges}


_SHAPES = {
    "say": ('["', '"]'),
    "ask": ('("', '")'),
    "identify": ('[["', '"]]'),
    "branch": ('{"', '"}'),
    "escalate": ('[/"', '"/]'),
    "transfer": ('[\\"', '"\\]'),
    "end": ('(["', '"])'),
    "finish": ('(("', '"))'),
}


def _escape(text: str) -> str:
    # Mermaid entity codes: a quote would end the label, < and > could be read as HTML.
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _node_id(step_id: str) -> str:
    # Prefixed: "end" and a few other words are reserved in Mermaid flowcharts.
    return "s_" + step_id if step_id != END_NODE else "x_end"


def to_mermaid(flow: Flow, lang: str | None = None) -> str:
    """Mermaid ``flowchart TD`` text of ``flow`` (paste into any Mermaid renderer)."""
    graph = flow_graph(flow, lang)
    out = ["flowchart TD"]
    for node in graph["nodes"]:
        left, right = _SHAPES[node["kind"]]
        text = node["label"] if node["id"] == END_NODE else f"{node['id']}: {node['label']}"
        out.append(f"    {_node_id(node['id'])}{left}{_escape(text)}{right}")
    for edge in graph["edges"]:
        arrow = f' -->|"{_escape(edge["label"])}"| ' if edge["label"] else " --> "
        out.append(f"    {_node_id(edge['from'])}{arrow}{_node_id(edge['to'])}")
    return "\n".join(out) + "\n"
