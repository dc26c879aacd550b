"""Every labelled reply of tests/nlu/corpus.tsv gives its intent and value."""

from __future__ import annotations

import pytest
from corpus_support import Row, load, same_value

from dialog.nlu import understand

ROWS = load()


def test_corpus_is_large_and_covers_every_type_and_intent() -> None:
    assert len(ROWS) >= 400
    types = {r.expect for r in ROWS}
    assert types >= {
        "yes_no",
        "scale",
        "number",
        "blood_pressure",
        "glucose",
        "temperature",
        "date",
        "free_text",
        "single_choice",
        "multi_choice",
    }
    intents = {r.intent for r in ROWS}
    assert intents >= {
        "answer",
        "complaint",
        "praise",
        "suggestion",
        "request_human",
        "call_back_later",
        "wrong_person",
        "opt_out",
        "repeat",
        "unsure",
        "no_match",
    }
    assert {r.lang for r in ROWS} == {"zh", "en"}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_reply(row: Row) -> None:
    u = understand(row.text, row.expectation(), now=row.now)
    assert u.intent == row.intent, f"{row.text!r}: {u.to_json()} ({u.text!r})"
    assert same_value(u.value, row.value), f"{row.text!r}: {u.to_json()} ({u.text!r})"
    assert 0.0 <= u.confidence <= 1.0
