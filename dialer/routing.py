"""Which department's queue an escalation lands in.

Pure: the routing table and the decision, no database. The table is the hospital's policy, read from the
``FOLLOWUP_ESCALATION_ROUTES`` setting (a JSON file path or inline JSON)::

    {"rules": [
        {"kind": "complaint", "keywords": ["收费", "账单", "billing"], "department": "财务科"},
        {"kind": "complaint", "department": "医患关系办公室"},
        {"keywords": ["药", "medicine"], "department": "药学部"}
     ],
     "default": "随访中心"}

The first rule whose ``kind`` (one kind or a list; absent: any) and ``keywords`` (any of them in the
escalation text, case-insensitive; absent: any text) both match decides. Without a matching rule the
escalation keeps the department the flow gave it; else the visit's department; else the table's
``default`` (or the ``FOLLOWUP_DEFAULT_DEPARTMENT`` setting). So a hospital can send every complaint to
its patient-relations office while clinical alarms stay with the ward that treated the patient.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.vocab import ESCALATION_KINDS


@dataclass(frozen=True)
class Rule:
    """Escalations of ``kinds`` (empty: any) whose text contains one of ``keywords`` (empty: any) go to
    ``department``."""

    department: str
    kinds: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def matches(self, kind: str, text: str) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        if self.keywords:
            folded = text.casefold()
            return any(k.casefold() in folded for k in self.keywords)
        return True


@dataclass(frozen=True)
class Route:
    """The decision: the department, and why (``rule:<n>``, ``escalation``, ``visit`` or ``default``)."""

    department: str
    by: str


@dataclass(frozen=True)
class Routes:
    """The routing table: ordered rules and the department of last resort."""

    rules: tuple[Rule, ...] = ()
    default: str = "随访中心"

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default: str = "随访中心") -> Routes:
        """Build the table from its JSON shape; ValueError naming the bad rule and field."""
        if not isinstance(data, Mapping):
            raise ValueError("escalation routes: expected a JSON object with 'rules'")  # noqa: TRY004 - a settings error
        unknown = set(data) - {"rules", "default"}
        if unknown:
            raise ValueError(f"escalation routes: unknown key(s) {', '.join(sorted(unknown))}")
        rules = []
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ValueError("escalation routes: 'rules' must be a list")  # noqa: TRY004 - a settings error
        for n, raw in enumerate(raw_rules, start=1):
            where = f"escalation routes: rule {n}"
            if not isinstance(raw, Mapping):
                raise ValueError(f"{where}: expected an object")  # noqa: TRY004 - a settings error
            extra = set(raw) - {"kind", "keywords", "department"}
            if extra:
                raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
            department = raw.get("department")
            if not isinstance(department, str) or not department.strip():
                raise ValueError(f"{where}: 'department' must be a non-empty text")
            kinds = _strings(raw.get("kind", []), f"{where}: 'kind'")
            bad = [k for k in kinds if k not in ESCALATION_KINDS]
            if bad:
                raise ValueError(f"{where}: kind {bad[0]!r} is not one of {', '.join(ESCALATION_KINDS)}")
            keywords = _strings(raw.get("keywords", []), f"{where}: 'keywords'")
            rules.append(Rule(department.strip(), tuple(kinds), tuple(keywords)))
        fallback = data.get("default", default)
        if not isinstance(fallback, str) or not fallback.strip():
            raise ValueError("escalation routes: 'default' must be a non-empty text")
        return cls(tuple(rules), fallback.strip())

    @classmethod
    def from_setting(cls, value: str, default: str = "随访中心") -> Routes:
        """From the setting: empty (no rules), inline JSON (starts with ``{``) or the path of a JSON file."""
        value = value.strip()
        if not value:
            return cls((), default)
        if value.startswith("{"):
            text, source = value, "FOLLOWUP_ESCALATION_ROUTES"
        else:
            text, source = Path(value).read_text(encoding="utf-8"), value
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_json(data, default)

    def route(
        self, kind: str, text: str, escalation_department: str | None, visit_department: str | None
    ) -> Route:
        """Where an escalation goes (see the module docstring for the order)."""
        for n, rule in enumerate(self.rules, start=1):
            if rule.matches(kind, text or ""):
                return Route(rule.department, f"rule:{n}")
        # An unrendered template ("{visit.department}": the visit had none) is no department.
        if escalation_department and escalation_department.strip() and "{" not in escalation_department:
            return Route(escalation_department.strip(), "escalation")
        if visit_department and visit_department.strip():
            return Route(visit_department.strip(), "visit")
        return Route(self.default, "default")


def _strings(value: Any, where: str) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return value
    raise ValueError(f"{where} must be a text or a list of texts")
