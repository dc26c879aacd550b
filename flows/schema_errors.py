"""Pydantic validation errors of a flow, put back on their YAML lines and said in a flow author's words.

A pydantic error carries a ``loc`` path (``("steps", 3, "ask", "type")``) that is also a ``LineMap`` path,
so each error lands on the line of the offending key; a missing key lands on its parent's line. The
messages name the key and what it accepts ("unknown question type 'yesno'; allowed types: ...") instead of
pydantic's generic "Input should be ...".
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Hashable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from flows.errors import FlowIssue
from flows.schema import QUESTION_TYPES, Flow, Text
from flows.source import LineMap

_BOUNDS = {
    "greater_than": "above",
    "greater_than_equal": "at least",
    "less_than": "below",
    "less_than_equal": "at most",
}


def explain(exc: ValidationError, lines: LineMap, root: type[BaseModel] = Flow) -> list[FlowIssue]:
    """One ``FlowIssue`` per pydantic error of ``exc``, at the YAML line of its ``loc``."""
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        is_key = bool(loc) and loc[-1] == "[key]"
        path = loc[:-1] if is_key else loc
        issues.append(lines.issue(path, _reason(err, path, is_key, root)))
    return issues


def _reason(err: dict[str, Any], path: tuple[Hashable, ...], is_key: bool, root: type[BaseModel]) -> str:
    kind: str = err["type"]
    # The key the error is about; for a list item, the list's key ("languages", not "1").
    name = next((str(p) for p in reversed(path) if isinstance(p, str)), "flow")
    given = err.get("input")
    ctx = err.get("ctx") or {}
    if is_key:
        return f"'{path[-1]}' is not allowed as a key here; expected {ctx.get('expected', 'another key')}"
    if kind == "literal_error" and path[-2:] == ("ask", "type"):
        return f"unknown question type {given!r}; allowed types: {', '.join(QUESTION_TYPES)}"
    if kind == "literal_error":
        return f"{name}: {given!r} is not allowed; expected {ctx.get('expected')}"
    if kind == "missing":
        where = next((str(p) for p in reversed(path[:-1]) if isinstance(p, str)), "")
        return f"missing required key '{name}'" + (f" under '{where}'" if where else "")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, path[:-1])
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        hint += f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown key '{name}'{hint}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if _type_at(root, path) is Text:
            return f"{name} needs a text per language (zh: ..., en: ...), not {_describe(given)}"
        return f"{name} must be a mapping of keys, not {_describe(given)}"
    if kind == "list_type":
        return f"{name} must be a list, not {_describe(given)}"
    if kind == "string_type":
        hint = (
            ' (a text that starts with a {field} must be quoted: "{patient.name}...")'
            if isinstance(given, dict)
            else ""
        )
        return f"{name} must be text, not {_describe(given)}{hint}"
    if kind == "string_pattern_mismatch":
        if name == "id":
            return f"id {given!r} must be lower-case letters, digits and _, starting with a letter"
        if name == "dtmf":
            return f"dtmf {given!r} must be one key: 0-9, * or #"
        return f"{name} {given!r} does not match {ctx.get('pattern')}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        return f"{name} must be a number, not {_describe(given)}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{name} must be true or false, not {_describe(given)}"
    if kind in _BOUNDS and ctx:
        return f"{name} must be {_BOUNDS[kind]} {next(iter(ctx.values()))}, not {_describe(given)}"
    if kind == "too_short":
        return f"{name} needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{name}: {err['msg']}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean; quote it to make it text)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    return repr(value)


def _type_at(root: type[BaseModel], path: Sequence[Hashable]) -> Any:
    """The declared type at ``path`` inside ``root`` (None when the path leaves the schema)."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin is list:
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for n, f in current.model_fields.items() if part in (n, f.alias)),
                None,
            )
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    return _unwrap(current)


def _unwrap(tp: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _allowed_keys(root: type[BaseModel], path: Sequence[Hashable]) -> list[str]:
    model = _type_at(root, path)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []
