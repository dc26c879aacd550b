"""The escalation routing table (pure): rule order, kinds, keywords, fallbacks, and errors in the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.routing import Route, Routes

TABLE = {
    "rules": [
        {"kind": "complaint", "keywords": ["收费", "Billing"], "department": "财务科"},
        {"kind": ["complaint", "suggestion"], "department": "医患关系办公室"},
        {"keywords": ["药"], "department": "药学部"},
    ],
    "default": "随访中心",
}


@pytest.mark.parametrize(
    ("kind", "text", "escalation", "visit", "expected"),
    [
        ("complaint", "收费不合理", "心内科", "心内科", Route("财务科", "rule:1")),
        ("complaint", "the billing desk was rude", None, None, Route("财务科", "rule:1")),
        ("complaint", "护士态度不好", "心内科", "心内科", Route("医患关系办公室", "rule:2")),
        ("suggestion", "停车位太少", None, "心内科", Route("医患关系办公室", "rule:2")),
        ("clinical", "这个药吃了头晕", "心内科", "心内科", Route("药学部", "rule:3")),
        ("alarm", "血压180", "心内科", "普外科", Route("心内科", "escalation")),
        ("alarm", "血压180", None, "普外科", Route("普外科", "visit")),
        ("alarm", "血压180", "  ", None, Route("随访中心", "default")),
        ("request_human", "", "{visit.department}", None, Route("随访中心", "default")),
    ],
)
def test_route_order(
    kind: str, text: str, escalation: str | None, visit: str | None, expected: Route
) -> None:
    assert Routes.from_json(TABLE).route(kind, text, escalation, visit) == expected


def test_from_setting_inline_file_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(TABLE, ensure_ascii=False), encoding="utf-8")
    assert Routes.from_setting(str(path)) == Routes.from_json(TABLE)
    assert Routes.from_setting(json.dumps(TABLE)) == Routes.from_json(TABLE)
    empty = Routes.from_setting("", default="护理部")
    assert empty.rules == () and empty.route("praise", "", None, None) == Route("护理部", "default")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rules": [{"kind": "complaint"}]}, "rule 1: 'department' must be a non-empty text"),
        ({"rules": [{"department": "x", "kind": "angry"}]}, "rule 1: kind 'angry' is not one of"),
        ({"rules": [{"department": "x"}, {"department": "y", "keywords": 3}]}, "rule 2: 'keywords' must be"),
        ({"rules": [{"department": "x", "queue": "q"}]}, "rule 1: unknown field(s) queue"),
        ({"rule": []}, "unknown key(s) rule"),
        ({"rules": {}}, "'rules' must be a list"),
        ({"default": ""}, "'default' must be a non-empty text"),
    ],
)
def test_bad_tables_name_the_rule_and_field(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Routes.from_json(table)


def test_a_setting_that_is_not_json_says_where() -> None:
    with pytest.raises(ValueError, match="FOLLOWUP_ESCALATION_ROUTES: not JSON"):
        Routes.from_setting('{"rules": [')
