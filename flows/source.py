"""Reading flow YAML with a line number for every key, and the YAML dialect flows are written in.

``parse_yaml`` returns the plain data (dicts, lists, scalars) plus a ``LineMap``: the 1-based line of every
mapping key and list item, addressed by its path (``("steps", 3, "ask", "type")``). The schema and the
validator speak in the same paths, so any error can be put on the author's line rather than on line 1.

The dialect is YAML 1.2's core schema for scalars, not PyYAML's YAML 1.1 default, because flows are full
of answers like ``yes``/``no`` and times like ``10:30``:

- only ``true``/``false`` are booleans — ``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` stay text;
- integers are plain decimals (``010`` and ``10:30`` stay text), floats need a ``.`` or an exponent;
- dates such as ``2024-05-01`` stay text (no timestamp type).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from flows.errors import FlowError, FlowIssue

Path_ = tuple[Hashable, ...]

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_DROPPED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class FlowYamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader with YAML 1.2 core-schema booleans and numbers (see the module docstring)."""


FlowYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
FlowYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
FlowYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
FlowYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass
class LineMap:
    """The source line of every key and list item of a parsed YAML document, by path.

    A path is a tuple of mapping keys (str) and list indices (int), as in pydantic's error ``loc``. A lookup
    of a path that has no line of its own (a missing key, a value inside a merged anchor) falls back to its
    longest known prefix: a missing ``prompt`` is reported on its ``ask:`` line.
    """

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Iterable[Hashable]) -> int:
        """The line of ``path``, or of its longest prefix that has one; 0 when nothing is known."""
        parts = tuple(path)
        for n in range(len(parts), -1, -1):
            found = self._get(parts[:n])
            if found is not None:
                return found
        return 0

    def has(self, path: Iterable[Hashable]) -> bool:
        """Whether ``path`` itself appears in the source (not just a prefix of it)."""
        return self._get(tuple(path)) is not None

    def issue(self, path: Iterable[Hashable], reason: str) -> FlowIssue:
        """A ``FlowIssue`` for ``reason`` at the line of ``path``."""
        return FlowIssue(self.file, self.line(path), reason)

    def _get(self, parts: Path_) -> int | None:
        hit = self.lines.get(parts)
        if hit is None and parts:
            # pydantic reports dict keys as they were parsed (an int key stays int); the map stores text.
            hit = self.lines.get(parts[:-1] + (str(parts[-1]),))
        return hit


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap, list[FlowIssue]]:
    """Parse one YAML document into plain data, its ``LineMap`` and the issues found while reading.

    The issues are keys given twice in one mapping (YAML silently keeps the last one, which hides an
    author's mistake); the data is still returned so the rest of the file can be checked too. Raises
    ``FlowError`` for a syntax error (at the line the parser stopped), an empty file, or several documents
    in one file.
    """
    lines = LineMap(file)
    loader = FlowYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FlowError(
                [FlowIssue(file, 1, "the file is empty: a flow needs id, title, languages, steps")]
            )
        issues: list[FlowIssue] = []
        lines.lines[()] = node.start_mark.line + 1
        _map_lines(node, (), lines, issues, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise FlowError([_syntax_issue(exc, file, text)]) from None
    except yaml.YAMLError as exc:  # an unmarked error (rare): no better place than the top
        raise FlowError([FlowIssue(file, 1, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    return data, lines, issues


# ``en: {patient.name}, hello`` — YAML reads the leading brace as the start of a mapping.
_UNQUOTED_FIELD = re.compile(r"^\s*(?:-\s+)?[\w-]+:\s+\{[A-Za-z_]+(?:\.[A-Za-z_]+)?\}")


def _syntax_issue(exc: yaml.MarkedYAMLError, file: str, text: str) -> FlowIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    what = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
        what += f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        what += f" ({exc.context})"
    source_lines = text.splitlines()
    if 0 < line <= len(source_lines):
        offending = source_lines[line - 1]
        if "\t" in offending[: len(offending) - len(offending.lstrip())]:
            what += "; indent with spaces, not tabs"
        elif _UNQUOTED_FIELD.match(offending):
            what += '; a text that starts with a {field} must be quoted: en: "{patient.salutation}, ..."'

    return FlowIssue(file, line, f"YAML syntax error: {what}")


def _map_lines(
    node: yaml.Node, path: Path_, lines: LineMap, issues: list[FlowIssue], active: set[int]
) -> None:
    # ``active`` guards against recursive aliases (&a [*a]), which YAML allows.
    if id(node) in active:
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged from an anchor fall back to the mapping's own line
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_seen:
                issues.append(
                    FlowIssue(
                        lines.file, line, f"duplicate key '{key}' (first given at line {first_seen[key]})"
                    )
                )
                continue
            first_seen[key] = line
            lines.lines[path + (key,)] = line
            _map_lines(value_node, path + (key,), lines, issues, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.lines[path + (i,)] = item.start_mark.line + 1
            _map_lines(item, path + (i,), lines, issues, active)
    active.discard(id(node))
