"""Loading the labelled reply corpus (tests/nlu/corpus.tsv) and comparing results with its labels.

Columns: lang, expect, now (ISO, hospital time), text, intent, value (JSON), options. ``options`` is
``key=value`` pairs separated by ``;``: ``choices=<set name>`` (sets below), ``min``, ``max``, ``unit``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dialog.nlu import ChoiceOption, Expectation

CORPUS = Path(__file__).with_name("corpus.tsv")

CHOICE_SETS: dict[str, tuple[ChoiceOption, ...]] = {
    "transport": (
        ChoiceOption("drive", ("自己开车", "开车", "自驾", "drive", "drove", "car"), "1"),
        ChoiceOption("bus", ("公交", "公交车", "巴士", "bus"), "2"),
        ChoiceOption("subway", ("地铁", "subway", "metro", "underground"), "3"),
        ChoiceOption("taxi", ("打车", "出租车", "的士", "滴滴", "taxi", "cab"), "4"),
    ),
    "sat3": (
        ChoiceOption("satisfied", ("满意", "satisfied"), "1"),
        ChoiceOption("neutral", ("一般", "还行", "okay"), "2"),
        ChoiceOption("dissatisfied", ("不满意", "dissatisfied"), "3"),
    ),
    "symptoms": (
        ChoiceOption("dizzy", ("头晕", "头昏", "晕", "dizzy", "dizziness")),
        ChoiceOption("fatigue", ("乏力", "没力气", "累", "疲劳", "tired", "fatigue", "weak")),
        ChoiceOption("nausea", ("恶心", "想吐", "反胃", "nausea", "nauseous", "sick to my stomach")),
        ChoiceOption("pain", ("疼", "痛", "疼痛", "pain", "hurts", "sore")),
    ),
    "contact": (
        ChoiceOption("phone", ("电话", "打电话", "phone", "call")),
        ChoiceOption("wechat", ("微信", "wechat")),
        ChoiceOption("sms", ("短信", "信息", "text", "sms", "message")),
    ),
}


@dataclass(frozen=True)
class Row:
    line: int
    lang: str
    expect: str
    now: datetime
    text: str
    intent: str
    value: Any
    options: str

    def expectation(self) -> Expectation:
        kw: dict[str, Any] = {}
        for part in filter(None, self.options.split(";")):
            k, v = part.split("=", 1)
            if k == "choices":
                kw["choices"] = CHOICE_SETS[v]
            elif k in ("min", "max"):
                kw[k] = float(v)
            else:
                kw[k] = v
        return Expectation(self.expect, lang=self.lang, **kw)

    @property
    def id(self) -> str:
        return f"{self.line}:{self.lang}:{self.expect}:{self.text[:24]}"


def load(path: Path = CORPUS) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            Row(
                i + 2,
                r["lang"],
                r["expect"],
                datetime.fromisoformat(r["now"]),
                r["text"],
                r["intent"],
                json.loads(r["value"]),
                r["options"] or "",
            )
            for i, r in enumerate(reader)
        ]


def same_value(got: Any, want: Any) -> bool:
    """Equal, with numbers compared to 0.01 (7.2 == 7.2000001)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return abs(got - want) < 0.01
    return got == want
