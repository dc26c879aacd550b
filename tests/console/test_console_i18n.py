"""Every UI string the templates and routes use exists in Mandarin and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.i18n import LANGS, MESSAGES, pick_lang, translate

CONSOLE = Path(__file__).resolve().parents[2] / "console"
# t("key") and t("prefix." ~ var) in templates; translate("key", ...) in Python.
LITERAL = re.compile(r"""\b(?:t|translate)\(\s*["']([a-z_]+\.[a-z_]+)["']""")
PREFIX = re.compile(r"""\bt\(\s*["']([a-z_]+)\.["']\s*~""")


def _sources() -> list[Path]:
    return [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]


def test_every_key_has_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        assert all(t.strip() for t in texts.values()), key


def test_every_key_used_exists() -> None:
    used = {m for path in _sources() for m in LITERAL.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    assert sorted(used - set(MESSAGES)) == []


def test_every_prefix_used_covers_its_vocabulary() -> None:
    from models import vocab

    prefixes = {m for path in _sources() for m in PREFIX.findall(path.read_text(encoding="utf-8"))}
    vocabularies = {
        "kind": vocab.ESCALATION_KINDS,
        "status": vocab.ESCALATION_STATUSES,
        "role": vocab.USER_ROLES,
        "outcome": (*vocab.ATTEMPT_OUTCOMES, "none"),
        "speaker": vocab.SPEAKERS,
        "gender": vocab.GENDERS,
        "visitkind": vocab.VISIT_KINDS,
        "rubric": __import__("console.calls", fromlist=["RUBRIC"]).RUBRIC,
    }
    assert prefixes <= set(vocabularies), prefixes - set(vocabularies)
    for prefix in prefixes:
        for value in vocabularies[prefix]:
            assert f"{prefix}.{value}" in MESSAGES, f"{prefix}.{value}"


@pytest.mark.parametrize(
    ("query", "cookie", "default", "expected"),
    [("en", "zh", "zh", "en"), (None, "en", "zh", "en"), ("xx", None, "zh", "zh"), (None, None, "en", "en"),
     (None, "<script>", "bad", "zh")],
)
def test_pick_lang(query: str | None, cookie: str | None, default: str, expected: str) -> None:
    assert pick_lang(query, cookie, default) == expected


def test_placeholders_fill() -> None:
    assert translate("login.limited", "zh", minutes=5) == "登录失败次数过多，请 5 分钟后再试。"
    with pytest.raises(KeyError):
        translate("no.such_key", "zh")
