"""The rules a flow must follow beyond its shape: references, reachability, loops, privacy, branches...

``flows.schema`` checks each key on its own; the checks here span steps. Each check is a small function
``check_x(flow, lines) -> list[FlowIssue]`` that can be run and tested alone; ``check_flow`` runs them all
and returns ``(errors, warnings)``. A check never stops at its first finding: an author sees every problem
of a file at once. Lines come from the ``LineMap`` of the YAML the flow was read from (``flows.source``);
a flow built in code gets line 0.

The rules, in the order of docs/flow-format.md ("Validation rules"):

- step ids are unique; every ``next``/``goto`` names an existing step;
- every step is reachable from the first one, and an end can be reached from every step (no closed loop);
  every loop asks a question (a loop of say/branch steps would spin for ever);
- privacy: the first step that is not a ``say`` is an ``identify``; texts said before it use only
  hospital.*, patient.salutation and patient.name;
- every spoken text has every declared language;
- closed questions have a ``dtmf_prompt`` and distinct keys; choices are at least two with unique ids;
  min/max/unit only where they mean something;
- a branch tests a question asked on every path before it, with an operator and value that fit its type;
- alarms fit their question's type;
- template fields exist and braces balance; ``messages`` keys exist;
- recorded audio paths are relative (an error) and exist (a warning: a recording can come later).
"""

from __future__ import annotations

import difflib
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from flows.errors import FlowIssue, sort_issues
from flows.schema import CLOSED_TYPES, LANGS, MESSAGE_KEYS, TEMPLATE_FIELDS, Ask, Flow, Step, Text, When
from flows.source import LineMap

Check = Callable[[Flow, LineMap], list[FlowIssue]]
P = tuple[Hashable, ...]

# Fields that may be said before the person on the line is known to be the patient: nothing medical.
PUBLIC_FIELDS: frozenset[str] = frozenset(
    {f for f in TEMPLATE_FIELDS if f.startswith("hospital.")} | {"patient.salutation", "patient.name"}
)
# Extra fields a ``messages:`` override may use (filled in by dialog/messages.py).
MESSAGE_FIELDS: frozenset[str] = frozenset({"callback_time", "department", "answer"})
# Messages said to whoever answered, before or instead of the patient: they follow the privacy rule.
PRE_IDENTITY_MESSAGES: frozenset[str] = frozenset(
    {"wrong_person", "family_ask_time", "callback_at", "callback_later", "opt_out"}
)
# Question types whose answer is a number (blood pressure: its systolic value) and may be compared.
NUMERIC_TYPES: frozenset[str] = frozenset({"scale", "number", "blood_pressure", "glucose", "temperature"})
CHOICE_TYPES: frozenset[str] = frozenset({"single_choice", "multi_choice"})
UNIT_TYPES: frozenset[str] = frozenset({"number", "glucose", "temperature", "blood_pressure"})
# A scale answer is a whole number on the keypad; 1–5 unless the question says otherwise.
SCALE_DEFAULT: tuple[int, int] = (1, 5)


# --- helpers shared by the checks -------------------------------------------------------------------------


def step_path(i: int, *rest: Hashable) -> P:
    """The YAML path of step ``i`` (or of a key inside it)."""
    return ("steps", i, *rest)


def _first_index(flow: Flow) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, s in enumerate(flow.steps):
        index.setdefault(s.id, i)
    return index


def _next_id(flow: Flow, i: int) -> str | None:
    step = flow.steps[i]
    if step.next is not None:
        return step.next
    return flow.steps[i + 1].id if i + 1 < len(flow.steps) else None


class Ref(NamedTuple):
    """One way out of a step: the YAML ``path`` that says so, the ``target`` step id (None: the flow ends
    after the last step), a ``label`` a reader would give the edge, and whether it is ``implicit`` (no
    ``next``: the following step in the file)."""

    path: P
    target: str | None
    label: str
    implicit: bool


def references(flow: Flow, i: int) -> list[Ref]:
    """Where step ``i`` may go: branch rules, then its next (given, or the following step)."""
    step = flow.steps[i]
    if step.end is not None:
        return []
    implicit = step.next is None
    nxt_path = step_path(i) if implicit else step_path(i, "next")
    out = [
        Ref(step_path(i, "branch", j, "goto"), rule.goto, describe_when(rule.when), False)
        for j, rule in enumerate(step.branch or ())
    ]
    label = "otherwise" if step.branch is not None else "no agent" if step.transfer is not None else "next"
    out.append(Ref(nxt_path, _next_id(flow, i), label, implicit))
    return out


def _target_index(i: int, ref: Ref, index: dict[str, int]) -> int | None:
    """The step index ``ref`` leads to; an implicit next is the following step even if its id is duplicated."""
    if ref.target is None:
        return None
    return i + 1 if ref.implicit else index.get(ref.target)


def describe_when(when: When) -> str:
    """A condition in a reader's words: ``pain >= 7``, ``fever = true``, ``symptoms has chest_pain``."""
    op = when.operator
    value = getattr(when, op)
    sym = {"equals": "=", "above": ">", "below": "<", "at_least": ">=", "at_most": "<=", "contains": "has"}
    if op in sym:
        return f"{when.answer} {sym[op]} {_show(value)}"
    if op == "in_":
        return f"{when.answer} in {', '.join(_show(v) for v in value or ())}"
    return f"{when.answer} {op}" if value else f"{when.answer} not {op}"


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class _Graph:
    """Steps as nodes (by index; a duplicated id resolves to its first step) and where each may go."""

    edges: list[list[int]]  # successors of each step
    exits: set[int]  # steps that may end the flow: end, transfer, falling off the list, a broken reference


def _graph(flow: Flow) -> _Graph:
    index = _first_index(flow)
    edges: list[list[int]] = []
    exits: set[int] = set()
    for i, step in enumerate(flow.steps):
        succ = []
        if step.end is not None or step.transfer is not None:
            exits.add(i)  # a transfer that reaches an agent leaves the flow
        for ref in references(flow, i):
            target = _target_index(i, ref, index)
            if target is None:
                exits.add(i)  # the end of the list; an unknown id is reported once, by check_references
            else:
                succ.append(target)
        edges.append(succ)
    return _Graph(edges, exits)


def _reachable(g: _Graph, start: int, avoid: int | None = None) -> dict[int, int | None]:
    """Steps reachable from ``start`` (not passing through ``avoid``), each with the step it came from."""
    parent: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        n = queue.popleft()
        for m in g.edges[n]:
            if m != avoid and m not in parent:
                parent[m] = n
                queue.append(m)
    return parent


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class TextRef:
    """A ``Text`` of the flow with its YAML path.

    ``required``: every declared language must be there (everything said to the patient, and the title).
    ``fields``: the template fields it may use. ``public``: said before identification (privacy rule).
    """

    path: P
    text: Text
    what: str
    required: bool = True
    fields: frozenset[str] = TEMPLATE_FIELDS
    public: bool = False


def iter_texts(flow: Flow) -> Iterator[TextRef]:
    """Every ``Text`` in the flow, with its path and what it is."""
    yield TextRef(("title",), flow.title, "the title")
    if flow.description is not None:
        yield TextRef(("description",), flow.description, "the description", required=False)
    for key, text in flow.messages.items():
        yield TextRef(
            ("messages", key),
            text,
            f"message '{key}'",
            fields=TEMPLATE_FIELDS | MESSAGE_FIELDS,
            public=key in PRE_IDENTITY_MESSAGES,
        )
    for i, s in enumerate(flow.steps):
        name = f"step '{s.id}'"
        if s.say is not None:
            yield TextRef(step_path(i, "say"), s.say, f"the say text of {name}")
        if s.ask is not None:
            yield from _ask_texts(i, s.ask, name)
        if s.identify is not None:
            idf = s.identify
            yield TextRef(
                step_path(i, "identify", "prompt"), idf.prompt, f"the prompt of {name}", public=True
            )
            yield TextRef(
                step_path(i, "identify", "family_prompt"),
                idf.family_prompt,
                f"the family_prompt of {name}",
                public=True,
            )
            if idf.family_continue_prompt is not None:
                yield TextRef(
                    step_path(i, "identify", "family_continue_prompt"),
                    idf.family_continue_prompt,
                    f"the family_continue_prompt of {name}",
                )
        for kind in ("escalate", "transfer", "end"):
            spec = getattr(s, kind)
            if spec is not None and spec.prompt is not None:
                yield TextRef(step_path(i, kind, "prompt"), spec.prompt, f"the prompt of {name}")
        if s.escalate is not None and s.escalate.reason is not None:
            yield TextRef(
                step_path(i, "escalate", "reason"), s.escalate.reason, f"the reason of {name}", False
            )


def _ask_texts(i: int, ask: Ask, name: str) -> Iterator[TextRef]:
    base = step_path(i, "ask")
    yield TextRef(base + ("prompt",), ask.prompt, f"the prompt of {name}")
    if ask.dtmf_prompt is not None:
        yield TextRef(base + ("dtmf_prompt",), ask.dtmf_prompt, f"the dtmf_prompt of {name}")
    if ask.unit is not None:
        yield TextRef(base + ("unit",), ask.unit, f"the unit of {name}")
    for k, c in enumerate(ask.choices):
        yield TextRef(base + ("choices", k, "label"), c.label, f"the label of choice '{c.id}' of {name}")
    for which in ("no_input", "no_match"):
        for k, t in enumerate(getattr(ask, which).prompts):
            yield TextRef(base + (which, "prompts", k), t, f"{which} prompt {k + 1} of {name}")
    if ask.alarm is not None and ask.alarm.reason is not None:
        yield TextRef(base + ("alarm", "reason"), ask.alarm.reason, f"the alarm reason of {name}", False)


def _lang_texts(ref: TextRef) -> Iterator[tuple[str, str]]:
    for lang in LANGS:
        value = ref.text.get(lang)
        if value:
            yield lang, value


# --- structure: ids, references, reachability, exits ------------------------------------------------------


def check_step_ids(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Step ids are unique."""
    seen: dict[str, int] = {}
    issues = []
    for i, s in enumerate(flow.steps):
        if s.id in seen:
            first = lines.line(step_path(seen[s.id], "id"))
            issues.append(
                lines.issue(step_path(i, "id"), f"duplicate step id '{s.id}' (first used at line {first})")
            )
        else:
            seen[s.id] = i
    return issues


def check_references(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Every ``next`` and branch ``goto`` names a step of the flow."""
    ids = [s.id for s in flow.steps]
    issues = []
    for i, s in enumerate(flow.steps):
        for path, target, _, _ in references(flow, i):
            if target is not None and target not in ids:
                key = "goto" if path[-1] == "goto" else "next"
                issues.append(
                    lines.issue(
                        path,
                        f"{key} '{target}' of step '{s.id}' is not a step of this flow"
                        f"{_suggest(target, ids)}",
                    )
                )
        if s.end is not None and s.next is not None:
            issues.append(
                lines.issue(step_path(i, "next"), f"end step '{s.id}' has a next; an end step stops the call")
            )
    return issues


def check_reachable(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Every step can be reached from the first one."""
    index = _first_index(flow)
    seen = _reachable(_graph(flow), 0)
    return [
        lines.issue(
            step_path(i),
            f"step '{s.id}' is unreachable: no path leads to it from the first step '{flow.steps[0].id}'",
        )
        for i, s in enumerate(flow.steps)
        if i not in seen and index[s.id] == i  # a duplicate id is reported by check_step_ids
    ]


def check_exits(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """From every step an end can be reached: no closed loop, no step that only leads into one.

    An end is an ``end`` step, a ``transfer`` (the patient leaves the flow when an agent answers) or the
    end of the step list.
    """
    g = _graph(flow)
    can_end = _can_end(g)
    stuck = [i for i in range(len(flow.steps)) if i not in can_end]
    if not stuck:
        return []
    issues = []
    in_loop: dict[int, int] = {}  # step → first step of its loop
    for comp in _cycles(g, set(stuck)):
        first = min(comp)
        for i in comp:
            in_loop[i] = first
        names = " → ".join(flow.steps[i].id for i in _cycle_order(g, comp, first))
        issues.append(lines.issue(step_path(first), f"loop with no exit: {names} never reaches an end step"))
    for i in stuck:
        if i not in in_loop:
            loop_line = next(
                (lines.line(step_path(in_loop[j])) for j in sorted(_reachable(g, i)) if j in in_loop), 0
            )
            issues.append(
                lines.issue(
                    step_path(i),
                    f"no end can be reached from step '{flow.steps[i].id}': it leads into "
                    f"the loop at line {loop_line}",
                )
            )
    return issues


def check_silent_loops(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Every loop asks something: a loop of say/branch/escalate/transfer steps would go round for ever,
    because the answers its branches test cannot change inside it. (A loop with no exit at all is reported
    by ``check_exits``.)"""
    g = _graph(flow)
    can_end = _can_end(g)
    silent = {i for i, s in enumerate(flow.steps) if s.ask is None and s.identify is None}
    issues = []
    for comp in _cycles(g, silent):
        if not can_end & set(comp):
            continue
        first = min(comp)
        names = " → ".join(flow.steps[i].id for i in _cycle_order(g, comp, first))
        issues.append(
            lines.issue(
                step_path(first),
                f"loop that asks nothing: {names} could go round for ever (put a question in it, or leave it)",
            )
        )
    return issues


def _can_end(g: _Graph) -> set[int]:
    """The steps from which some path reaches an end (walking the edges backwards from the exits)."""
    back: list[list[int]] = [[] for _ in g.edges]
    for a, succ in enumerate(g.edges):
        for b in succ:
            back[b].append(a)
    can_end = set(g.exits)
    queue = deque(g.exits)
    while queue:
        b = queue.popleft()
        for a in back[b]:
            if a not in can_end:
                can_end.add(a)
                queue.append(a)
    return can_end


def _cycles(g: _Graph, nodes: set[int]) -> list[list[int]]:
    """The strongly connected components of ``nodes`` that contain a cycle (Tarjan, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[list[int]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = [w for w in g.edges[v] if w in nodes]
            if k < len(succ):
                work.append((v, k + 1))
                w = succ[k]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in g.edges[v]:
                    found.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return found


def _cycle_order(g: _Graph, comp: list[int], first: int) -> list[int]:
    """A walk around the loop from ``first`` back to it, for the message (``a → b → a``)."""
    members = set(comp)
    parent: dict[int, int] = {}
    queue = deque([first])
    while queue:
        n = queue.popleft()
        for m in g.edges[n]:
            if m == first:
                walk = [n]
                while walk[-1] != first:
                    walk.append(parent[walk[-1]])
                return [first, *reversed(walk[:-1]), first] if n != first else [first, first]
            if m in members and m not in parent:
                parent[m] = n
                queue.append(m)
    return [*comp, first]


# --- privacy ----------------------------------------------------------------------------------------------


def check_privacy(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """The call confirms who answered before anything else, and says nothing medical before that.

    Walking from the first step through ``say`` steps, the first other step must be an ``identify``; the say
    steps on the way, the identify prompts and the messages said to whoever answered may use only
    hospital.*, patient.salutation and patient.name.
    """
    index = _first_index(flow)
    issues = []
    i: int | None = 0
    walked: set[int] = set()
    while i is not None and i not in walked and flow.steps[i].say is not None:
        walked.add(i)
        i = _target_index(i, references(flow, i)[0], index)
    if i is None or i in walked:
        issues.append(
            lines.issue(
                ("steps",),
                "the flow never identifies the patient: after the opening say "
                "steps there must be an identify step",
            )
        )
    elif flow.steps[i].identify is None:
        s = flow.steps[i]
        issues.append(
            lines.issue(
                step_path(i),
                f"step '{s.id}' ({s.kind}) comes before the patient is identified: the first "
                "step that is not a say must be an identify step (privacy)",
            )
        )
    for ref in iter_texts(flow):
        before = ref.public or (len(ref.path) > 1 and ref.path[1] in walked and ref.path[0] == "steps")
        if not before:
            continue
        for lang, value in _lang_texts(ref):
            for name in _fields(value):
                if name in TEMPLATE_FIELDS and name not in PUBLIC_FIELDS:
                    when = (
                        "to whoever answered"
                        if ref.path[0] == "messages"
                        else "before the patient is identified"
                    )
                    issues.append(
                        lines.issue(
                            ref.path + (lang,),
                            f"{{{name}}} in {ref.what} is said {when} (privacy): only hospital.*, "
                            "patient.salutation and patient.name may be used there",
                        )
                    )
    return issues


# --- texts: languages, templates, messages, audio --------------------------------------------------------


def check_languages(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Languages are declared once, and every spoken text (and the title) has each declared language."""
    issues = []
    seen: set[str] = set()
    for k, lang in enumerate(flow.languages):
        if lang in seen:
            issues.append(lines.issue(("languages", k), f"language '{lang}' is declared twice"))
        seen.add(lang)
    for ref in iter_texts(flow):
        if not ref.required:
            continue
        missing = [lang for lang in dict.fromkeys(flow.languages) if not (ref.text.get(lang) or "").strip()]
        if missing:
            issues.append(
                lines.issue(
                    ref.path,
                    f"missing {', '.join(missing)} text for {ref.what} (the flow declares "
                    f"languages: {', '.join(flow.languages)})",
                )
            )
    return issues


def _fields(value: str) -> list[str]:
    """The template field names in ``value`` (``{patient.name}`` → ``patient.name``), ignoring bad braces."""
    out = []
    i = value.find("{")
    while i != -1:
        j = value.find("}", i + 1)
        k = value.find("{", i + 1)
        if j == -1:
            break
        if k == -1 or j < k:
            out.append(value[i + 1 : j])
            i = value.find("{", j + 1)
        else:
            i = k
    return out


def template_problems(value: str, allowed: frozenset[str]) -> list[str]:
    """What is wrong with the ``{field}`` placeholders of ``value``: unknown fields and unbalanced braces."""
    problems = []
    depth_open: int | None = None
    for pos, ch in enumerate(value):
        if ch == "{":
            if depth_open is not None:
                problems.append(f"'{{' at character {depth_open + 1} is never closed")
            depth_open = pos
        elif ch == "}":
            if depth_open is None:
                problems.append(f"'}}' at character {pos + 1} has no opening '{{'")
            else:
                name = value[depth_open + 1 : pos]
                if name not in allowed:
                    problems.append(f"unknown template field {{{name}}}{_suggest(name, sorted(allowed))}")
                depth_open = None
    if depth_open is not None:
        problems.append(f"'{{' at character {depth_open + 1} is never closed")
    return problems


def check_templates(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Every ``{field}`` is a known template field and every brace is balanced (texts and departments)."""
    issues = []
    for ref in iter_texts(flow):
        for lang, value in _lang_texts(ref):
            for problem in template_problems(value, ref.fields):
                issues.append(lines.issue(ref.path + (lang,), f"{problem} in the {lang} text of {ref.what}"))
    departments: list[tuple[P, str]] = [(("department",), flow.department)]
    for i, s in enumerate(flow.steps):
        if s.escalate is not None and s.escalate.department is not None:
            departments.append((step_path(i, "escalate", "department"), s.escalate.department))
        if s.ask is not None and s.ask.alarm is not None and s.ask.alarm.department is not None:
            departments.append((step_path(i, "ask", "alarm", "department"), s.ask.alarm.department))
    for path, value in departments:
        for problem in template_problems(value, TEMPLATE_FIELDS):
            issues.append(lines.issue(path, f"{problem} in department"))
    return issues


def check_messages(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """``messages:`` overrides only known system messages."""
    known = sorted(MESSAGE_KEYS)
    return [
        lines.issue(
            ("messages", key),
            f"unknown message '{key}'{_suggest(key, known)}; known messages: {', '.join(known)}",
        )
        for key in flow.messages
        if key not in MESSAGE_KEYS
    ]


def _audio_base(flow: Flow, lines: LineMap) -> Path | None:
    if flow.path is not None:
        return flow.path.parent
    if lines.file and not lines.file.startswith("<"):
        return Path(lines.file).parent
    return None


def check_audio_paths(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Recorded audio paths are relative to the flow file's folder, so a flow folder can move as a whole."""
    return [
        lines.issue(
            ref.path + ("audio", lang), f"audio path '{rel}' must be relative to the flow file's folder"
        )
        for ref in iter_texts(flow)
        for lang, rel in ref.text.audio.items()
        if Path(rel).is_absolute()
    ]


def check_audio_files(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Recorded audio files exist (a warning: the text is synthesised until the recording is there)."""
    base = _audio_base(flow, lines)
    if base is None:
        return []
    return [
        lines.issue(
            ref.path + ("audio", lang),
            f"audio file '{rel}' not found (looked in {base}); the {lang} text will be synthesised instead",
        )
        for ref in iter_texts(flow)
        for lang, rel in ref.text.audio.items()
        if not Path(rel).is_absolute() and not (base / rel).is_file()
    ]


# --- questions --------------------------------------------------------------------------------------------


def scale_range(ask: Ask) -> tuple[float, float]:
    """The lowest and highest answer of a scale question (1–5 unless min/max say otherwise)."""
    lo = ask.min if ask.min is not None else SCALE_DEFAULT[0]
    hi = ask.max if ask.max is not None else SCALE_DEFAULT[1]
    return lo, hi


def choice_keys(ask: Ask) -> list[str | None]:
    """The DTMF key of each choice: its ``dtmf``, else its position (1–9); None past the ninth."""
    return [c.dtmf or (str(k + 1) if k < 9 else None) for k, c in enumerate(ask.choices)]


def check_questions(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Each question is complete for its type: keypad alternative, choices, min/max and unit."""
    issues = []
    for i, s in enumerate(flow.steps):
        if s.ask is not None:
            issues += _check_ask(s, step_path(i, "ask"), lines)
    return issues


def _check_ask(step: Step, base: P, lines: LineMap) -> list[FlowIssue]:
    ask = step.ask
    assert ask is not None
    t = ask.type
    q = f"{t} question '{step.id}'"
    issues = []
    if t in CLOSED_TYPES and ask.dtmf_prompt is None:
        issues.append(lines.issue(base, f"{q} needs a dtmf_prompt (the keypad alternative, e.g. 满意请按1…)"))
    if t in CHOICE_TYPES:
        issues += _check_choices(ask, base, q, lines)
    elif ask.choices:
        issues.append(
            lines.issue(base + ("choices",), f"{q} takes no choices (only single_choice and multi_choice do)")
        )
    if t == "scale":
        lo, hi = scale_range(ask)
        if not (float(lo).is_integer() and float(hi).is_integer()) or not 0 <= lo < hi <= 9:
            issues.append(
                lines.issue(
                    base + ("min" if ask.min is not None else "max",),
                    f"{q} must run between whole numbers within 0–9 (keypad keys) with min "
                    f"below max; got {_show(lo)}–{_show(hi)}",
                )
            )
    elif t in UNIT_TYPES:
        if ask.min is not None and ask.max is not None and ask.min >= ask.max:
            issues.append(
                lines.issue(base + ("min",), f"{q}: min {_show(ask.min)} must be below max {_show(ask.max)}")
            )
    else:
        for key in ("min", "max"):
            if getattr(ask, key) is not None:
                issues.append(lines.issue(base + (key,), f"{key} does not apply to a {t} question"))
    if ask.unit is not None and t not in UNIT_TYPES:
        issues.append(
            lines.issue(
                base + ("unit",),
                f"unit does not apply to a {t} question (only {', '.join(sorted(UNIT_TYPES))})",
            )
        )
    return issues


def _check_choices(ask: Ask, base: P, q: str, lines: LineMap) -> list[FlowIssue]:
    issues = []
    if len(ask.choices) < 2:
        issues.append(
            lines.issue(base + ("choices",), f"{q} needs at least 2 choices (has {len(ask.choices)})")
        )
    ids: dict[str, int] = {}
    keys: dict[str, int] = {}
    for k, (c, key) in enumerate(zip(ask.choices, choice_keys(ask), strict=True)):
        cpath = base + ("choices", k)
        if c.id in ids:
            issues.append(
                lines.issue(
                    cpath + ("id",),
                    f"duplicate choice id '{c.id}' in {q} (first at line "
                    f"{lines.line(base + ('choices', ids[c.id], 'id'))})",
                )
            )
        ids.setdefault(c.id, k)
        if key is None:
            issues.append(
                lines.issue(
                    cpath,
                    f"choice '{c.id}' of {q} needs a dtmf key: only the first 9 choices get one by position",
                )
            )
        elif key in keys:
            other = ask.choices[keys[key]].id
            issues.append(
                lines.issue(
                    cpath + (("dtmf",) if c.dtmf else ()),
                    f"dtmf key {key} of choice '{c.id}' is already used by choice '{other}' in {q}",
                )
            )
        else:
            keys[key] = k
    return issues


# --- branches and alarms ----------------------------------------------------------------------------------


def value_problem(ask: Ask, qid: str, value: Any) -> str | None:
    """Why ``value`` can never be the answer of question ``qid`` (None when it can)."""
    t = ask.type
    if t == "yes_no":
        if not isinstance(value, bool):
            return f"a yes_no answer is true or false (write true/false, unquoted), not {value!r}"
    elif t in CHOICE_TYPES:
        ids = [c.id for c in ask.choices]
        if not isinstance(value, str) or value not in ids:
            return f"question '{qid}' has no choice {value!r}{_suggest(str(value), ids)}; choices: {', '.join(ids)}"
    elif t == "scale":
        lo, hi = scale_range(ask)
        if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
            return f"a scale answer is a whole number from {_show(lo)} to {_show(hi)}, not {value!r}"
        if not lo <= value <= hi:
            return f"{_show(value)} is outside the scale of question '{qid}' ({_show(lo)}–{_show(hi)})"
    elif t in ("number", "glucose", "temperature"):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return f"a {t} answer is a number, not {value!r}"
        if (ask.min is not None and value < ask.min) or (ask.max is not None and value > ask.max):
            return f"{_show(value)} is outside the range of question '{qid}' ({_range(ask)})"
    elif t == "blood_pressure":
        return "a blood pressure is compared with above/below (systolic) or diastolic_above, not equals"
    elif t == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return f"a date answer is compared with a date written YYYY-MM-DD, not {value!r}"
    elif t == "free_text":
        return "a free_text answer can only be tested with unsure or skipped"
    return None


def _range(ask: Ask) -> str:
    lo = _show(ask.min) if ask.min is not None else "any"
    hi = _show(ask.max) if ask.max is not None else "any"
    return f"{lo}–{hi}"


def compare_problem(ask: Ask, qid: str, op: str, value: float) -> str | None:
    """Why ``answer <op> value`` (above, below, at_least, at_most) never fits question ``qid``."""
    t = ask.type
    if t not in NUMERIC_TYPES:
        hint = {
            "yes_no": "test it with equals: true/false",
            "single_choice": "test it with equals/in",
            "multi_choice": "test it with contains",
        }.get(t, "test it with unsure/skipped")
        return f"{op} compares numbers, but question '{qid}' is {t}: {hint}"
    lo, hi = scale_range(ask) if t == "scale" else (ask.min, ask.max)
    never = (
        (op == "above" and hi is not None and value >= hi)
        or (op == "at_least" and hi is not None and value > hi)
        or (op == "below" and lo is not None and value <= lo)
        or (op == "at_most" and lo is not None and value < lo)
    )
    if never:
        return f"{op} {_show(value)} is never true: answers to question '{qid}' run {_show(lo)}–{_show(hi)}"
    return None


def _when_problems(when: When, ask: Ask, qid: str) -> list[tuple[str, str]]:
    """``(key, reason)`` for each way a condition does not fit its question's type."""
    op = when.operator
    key = "in" if op == "in_" else op
    value = getattr(when, op)
    t = ask.type
    if op == "equals":
        if t == "multi_choice":
            return [
                (key, "a multi_choice answer is a list of choices: test one choice with contains, not equals")
            ]
        problem = value_problem(ask, qid, value)
        return [(key, problem)] if problem else []
    if op == "in_":
        if t in ("multi_choice", "blood_pressure", "free_text"):
            return [
                (
                    key,
                    f"in does not apply to a {t} answer"
                    + (": test one choice with contains" if t == "multi_choice" else ""),
                )
            ]
        if not value:
            return [(key, "in needs at least one value")]
        return [(key, p) for p in (value_problem(ask, qid, v) for v in value) if p]
    if op in ("above", "below", "at_least", "at_most"):
        problem = compare_problem(ask, qid, op, value)
        return [(key, problem)] if problem else []
    if op == "contains":
        if t != "multi_choice":
            return [
                (
                    key,
                    f"contains tests a multi_choice answer, but question '{qid}' is {t}"
                    + (": use equals or in" if t == "single_choice" else ""),
                )
            ]
        problem = value_problem(ask, qid, value)
        return [(key, problem)] if problem else []
    if op == "unsure" and value and not ask.allow_unsure:
        reason = (
            f"question '{qid}' does not accept \"don't know\" (allow_unsure: false), so this is never true"
        )
        return [(key, reason)]
    return []


def check_branches(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Each branch condition tests a question asked on every path before it, in a way its type allows."""
    index = _first_index(flow)
    asks = [s.id for s in flow.steps if s.ask is not None]
    g = _graph(flow)
    from_start = _reachable(g, 0)
    issues = []
    for i, s in enumerate(flow.steps):
        for j, rule in enumerate(s.branch or ()):
            base = step_path(i, "branch", j, "when")
            qid = rule.when.answer
            if qid not in index:
                issues.append(
                    lines.issue(
                        base + ("answer",),
                        f"branch on '{qid}', which is not a step of this flow{_suggest(qid, asks)}",
                    )
                )
                continue
            q = flow.steps[index[qid]]
            if q.ask is None:
                issues.append(
                    lines.issue(
                        base + ("answer",),
                        f"branch on '{qid}', which is {_a(q.kind)} step, not a question: no answer to test",
                    )
                )
                continue
            if i in from_start:
                bypass = _reachable(g, 0, avoid=index[qid])
                if index[qid] == 0:
                    bypass = {}
                if i in bypass:
                    walk = []
                    n: int | None = i
                    while n is not None:
                        walk.append(flow.steps[n].id)
                        n = bypass[n]
                    issues.append(
                        lines.issue(
                            base + ("answer",),
                            f"question '{qid}' is not asked on every path "
                            f"before this branch (e.g. {' → '.join(reversed(walk))})",
                        )
                    )
            for key, reason in _when_problems(rule.when, q.ask, qid):
                issues.append(lines.issue(base + (key,), reason))
    return issues


def check_alarms(flow: Flow, lines: LineMap) -> list[FlowIssue]:
    """Each alarm has a condition that fits its question's type."""
    issues = []
    for i, s in enumerate(flow.steps):
        if s.ask is None or s.ask.alarm is None:
            continue
        ask, alarm = s.ask, s.ask.alarm
        base = step_path(i, "ask", "alarm")
        if all(v is None for v in (alarm.above, alarm.below, alarm.diastolic_above, alarm.equals)):
            issues.append(
                lines.issue(base, "an alarm needs a condition: above, below, diastolic_above or equals")
            )
        for op in ("above", "below"):
            value = getattr(alarm, op)
            if value is not None and (problem := compare_problem(ask, s.id, op, value)):
                issues.append(lines.issue(base + (op,), problem))
        if alarm.diastolic_above is not None and ask.type != "blood_pressure":
            issues.append(
                lines.issue(
                    base + ("diastolic_above",),
                    f"diastolic_above only applies to a blood_pressure question, not {ask.type}",
                )
            )
        if alarm.equals is not None and ask.type == "multi_choice":
            # The walker compares the whole answer (a list) with ``equals``: one choice never matches.
            issues.append(
                lines.issue(
                    base + ("equals",),
                    "an alarm cannot test one choice of a multi_choice answer: branch on it with contains "
                    "and go to an escalate step",
                )
            )
        elif alarm.equals is not None and (problem := value_problem(ask, s.id, alarm.equals)):
            issues.append(lines.issue(base + ("equals",), problem))
    return issues


# --- all together -----------------------------------------------------------------------------------------

ERROR_CHECKS: tuple[Check, ...] = (
    check_step_ids,
    check_references,
    check_reachable,
    check_exits,
    check_silent_loops,
    check_privacy,
    check_languages,
    check_questions,
    check_branches,
    check_alarms,
    check_templates,
    check_messages,
    check_audio_paths,
)
WARNING_CHECKS: tuple[Check, ...] = (check_audio_files,)


def check_flow(flow: Flow, lines: LineMap | None = None) -> tuple[list[FlowIssue], list[FlowIssue]]:
    """Run every check: ``(errors, warnings)``, each sorted by line.

    ``lines`` locates the issues in the YAML the flow came from; without it (a flow built in code) every
    issue is at line 0 of ``<flow id>``.
    """
    lines = lines or LineMap(f"<flow {flow.id}>")
    errors = [issue for check in ERROR_CHECKS for issue in check(flow, lines)]
    warnings = [issue for check in WARNING_CHECKS for issue in check(flow, lines)]
    return sort_issues(errors), sort_issues(warnings)
