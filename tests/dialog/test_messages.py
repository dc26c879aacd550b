"""Built-in system messages: complete in both languages, overridable by a flow, rendered."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from dialog.messages import BUILTIN, audio, message, template
from flows.schema import MESSAGE_KEYS, TEMPLATE_FIELDS, Flow

EXTRA_FIELDS = {"callback_time", "department", "answer"}


def _flow(messages: dict) -> Flow:
    return Flow.model_validate(
        {
            "id": "m",
            "title": {"zh": "m"},
            "languages": ["zh", "en"],
            "messages": messages,
            "steps": [{"id": "s", "say": {"zh": "x", "en": "x"}}],
        }
    )


def test_every_key_has_zh_and_en():
    assert set(BUILTIN) == set(MESSAGE_KEYS)
    for key, texts in BUILTIN.items():
        assert set(texts) == {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), f"{key}: zh text is not Chinese"
        assert not re.search(r"[\u4e00-\u9fff]", texts["en"]), f"{key}: en text has Chinese"


def test_messages_use_only_known_fields():
    for key, texts in BUILTIN.items():
        for text in texts.values():
            for field in re.findall(r"\{([^}]+)\}", text):
                assert field in TEMPLATE_FIELDS | EXTRA_FIELDS, (key, field)


def test_message_specific_fields():
    assert (
        "{callback_time}" in BUILTIN["callback_at"]["zh"]
        and "{callback_time}" in BUILTIN["callback_at"]["en"]
    )
    assert "{answer}" in BUILTIN["confirm"]["zh"] and "{answer}" in BUILTIN["confirm"]["en"]
    for kind in ("complaint", "praise", "suggestion"):
        assert "{department}" in BUILTIN[f"{kind}_ack"]["zh"]


def test_render_with_fields():
    text = message(
        "callback_at",
        "zh",
        None,
        {"callback_time": datetime(2026, 11, 21, 15, 0)},
        now=datetime(2026, 11, 20, 10, 0),
    )
    assert "明天下午3点" in text
    assert message("complaint_ack", "en", None, {"department": "Cardiology"}).count("Cardiology") == 1
    assert "相关科室" in message("complaint_ack", "zh", None, {})  # no department known


def test_flow_override_and_fallbacks():
    flow = _flow({"goodbye": {"zh": "{hospital.name}祝您健康，再见", "audio": {"zh": "bye.wav"}}})
    assert message("goodbye", "zh", flow, {"hospital": {"name": "市一院"}}) == "市一院祝您健康，再见"
    assert template("goodbye", "en", flow) == BUILTIN["goodbye"]["en"]  # override lacks en
    assert audio("goodbye", "zh", flow) == "bye.wav"
    assert audio("goodbye", "en", flow) is None
    assert audio("repeat", "zh", flow) is None


def test_unknown_key():
    with pytest.raises(KeyError, match="nonsense"):
        template("nonsense", "zh")
