"""A readable preview of a library flow for the console: its questions (text per language, type, choices
with their DTMF keys, scale range, alarms), its branches and escalations, step by step in file order.

Built from the flow's typed model and the validator's own reference walk (``flows.graph.flow_graph``), so the
preview and the checks agree about where each step leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.errors import FlowIssue
from flows.graph import END_NODE, flow_graph
from flows.loader import check_file, describe, flow_files
from flows.schema import Flow, Step, Text
from flows.validate import choice_keys, describe_when, scale_range


@dataclass
class LibraryEntry:
    """One file of the flow library with its validation status."""

    file: str
    id: str
    title: dict[str, str]
    flow: Flow | None
    errors: list[FlowIssue]
    warnings: list[FlowIssue]

    @property
    def ok(self) -> bool:
        return not self.errors


def library(folder: str | Path | None = None) -> list[LibraryEntry]:
    """Every flow file of the library (valid or not), by file name, with its file:line errors and warnings."""
    out = []
    for path in flow_files(folder):
        report = check_file(path)
        titles = describe(report.flow)["titles"] if report.flow is not None else {}
        out.append(
            LibraryEntry(
                file=path.name,
                id=report.flow.id if report.flow is not None else path.stem,
                title=titles,
                flow=report.flow,
                errors=report.errors,
                warnings=report.warnings,
            )
        )
    return out


def texts(text: Text | None, languages: list[str]) -> dict[str, str]:
    """``{lang: text}`` of a prompt for the flow's languages (missing ones left out)."""
    if text is None:
        return {}
    return {lang: value for lang in languages if (value := text.get(lang))}


@dataclass
class StepView:
    """What the preview shows of one step."""

    id: str
    kind: str
    texts: dict[str, str] = field(default_factory=dict)  # said / asked, per language
    question_type: str | None = None
    dtmf_prompt: dict[str, str] = field(default_factory=dict)
    choices: list[dict[str, Any]] = field(default_factory=list)  # id, label {lang: text}, dtmf
    scale: tuple[float, float] | None = None
    unit: dict[str, str] = field(default_factory=dict)
    alarm: str | None = None
    branches: list[tuple[str, str]] = field(default_factory=list)  # (condition, goto)
    escalation: str | None = None
    goes_to: list[tuple[str, str]] = field(default_factory=list)  # (label, target) from the graph


def _alarm(step: Step) -> str | None:
    alarm = step.ask.alarm if step.ask is not None else None
    if alarm is None:
        return None
    parts = [
        f"{name} {value}"
        for name, value in (
            ("above", alarm.above),
            ("below", alarm.below),
            ("diastolic above", alarm.diastolic_above),
            ("equals", alarm.equals),
        )
        if value is not None
    ]
    return ", ".join(parts) + (f" → {alarm.department}" if alarm.department else "")


def steps(flow: Flow) -> list[StepView]:
    """The flow's steps as the preview shows them, in file order."""
    langs = list(flow.languages)
    graph = flow_graph(flow)
    edges: dict[str, list[tuple[str, str]]] = {}
    for edge in graph["edges"]:
        target = "—" if edge["to"] == END_NODE else edge["to"]
        edges.setdefault(edge["from"], []).append((edge["label"], target))
    views = []
    for step in flow.steps:
        view = StepView(step.id, step.kind, goes_to=edges.get(step.id, []))
        if step.say is not None:
            view.texts = texts(step.say, langs)
        elif step.identify is not None:
            view.texts = texts(step.identify.prompt, langs)
        elif step.ask is not None:
            ask = step.ask
            view.texts = texts(ask.prompt, langs)
            view.question_type = ask.type
            view.dtmf_prompt = texts(ask.dtmf_prompt, langs)
            keys = choice_keys(ask) if ask.choices else []
            view.choices = [
                {"id": c.id, "label": texts(c.label, langs), "dtmf": keys[i] if i < len(keys) else None}
                for i, c in enumerate(ask.choices)
            ]
            if ask.type == "scale":
                view.scale = scale_range(ask)
            elif ask.min is not None or ask.max is not None:
                view.scale = (ask.min, ask.max)  # type: ignore[assignment]
            view.unit = texts(ask.unit, langs)
            view.alarm = _alarm(step)
        elif step.branch is not None:
            view.branches = [(describe_when(rule.when), rule.goto) for rule in step.branch]
        elif step.escalate is not None:
            esc = step.escalate
            view.escalation = esc.kind + (f" → {esc.department}" if esc.department else "")
            view.texts = texts(esc.prompt, langs)
        elif step.transfer is not None:
            view.texts = texts(step.transfer.prompt, langs)
        elif step.end is not None:
            view.escalation = None
            view.texts = texts(step.end.prompt, langs)
        views.append(view)
    return views
