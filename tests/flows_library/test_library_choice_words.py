"""Each choice's own words mean that choice: the label or a synonym, said on its own, is understood as it.

A synonym that the understanding layer reads as something else (a global intent, another choice, nothing)
is at best dead weight in the flow and at worst a wrong answer, so the flow vocabulary and the real NLU are
checked together here, for every choice question of the library in both languages.
"""

from __future__ import annotations

from typing import Any

import pytest
from flows_library_helpers import NOW

from dialog.manager import expectation_for
from dialog.nlu import understand
from flows.loader import load_library
from flows.schema import Ask


def _cases() -> list[tuple[str, Ask, str, str, str, str]]:
    cases = []
    for flow in load_library():
        for q in flow.questions():
            ask = q.ask
            if ask is None or ask.type not in ("single_choice", "multi_choice"):
                continue
            for lang in flow.languages:
                for c in ask.choices:
                    for k, word in enumerate([c.label.get(lang) or "", *c.synonyms.get(lang, [])]):
                        # ASCII test ids (the word itself is in the failure message): label, syn1, syn2...
                        tag = f"{flow.id}.{q.id}-{lang}-{c.id}-{'label' if k == 0 else f'syn{k}'}"
                        cases.append((tag, f"{flow.id}.{q.id}", ask, lang, c.id, word))
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("where", "ask", "lang", "choice_id", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_choice_word_means_its_choice(where: str, ask: Ask, lang: str, choice_id: str, word: str) -> None:
    u = understand(word, expectation_for(ask, lang, {}), NOW)
    want: Any = [choice_id] if ask.type == "multi_choice" else choice_id
    assert (u.intent, u.value) == ("answer", want), f"{where}: {word!r} → {u}"
