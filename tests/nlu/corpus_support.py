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
    # Copies of choice questions of the shipped flows (flows/library), zh and en words together; the corpus must
    # not depend on the flow files, so a flow edit cannot silently change what these rows test.
    "waiting": (  # outpatient_satisfaction.waiting
        ChoiceOption(
            "under_half_hour",
            (
                "半小时以内",
                "不到半小时",
                "十几分钟",
                "二十分钟",
                "没怎么等",
                "很快",
                "一会儿就看上了",
                "几分钟",
                "under half an hour",
                "less than half an hour",
                "not long",
                "ten minutes",
                "twenty minutes",
                "a few minutes",
                "quickly",
                "straight in",
            ),
            "1",
        ),
        ChoiceOption(
            "half_to_one_hour",
            (
                "半小时到一小时",
                "四十分钟",
                "半个多小时",
                "差不多一个小时",
                "快一个小时",
                "四五十分钟",
                "half an hour to an hour",
                "about forty minutes",
                "forty-five minutes",
                "about an hour",
                "nearly an hour",
                "under an hour",
            ),
            "2",
        ),
        ChoiceOption(
            "over_one_hour",
            (
                "一个小时以上",
                "一个多小时",
                "两个小时",
                "好几个小时",
                "等了很久",
                "等了半天",
                "太久了",
                "一上午",
                "over an hour",
                "more than an hour",
                "two hours",
                "ages",
                "hours",
                "a long time",
                "all morning",
            ),
            "3",
        ),
    ),
    "queue": (  # checkup_satisfaction.waiting
        ChoiceOption(
            "short",
            (
                "基本不用等",
                "不用等",
                "没怎么等",
                "很快",
                "挺快的",
                "一会儿就好了",
                "很顺利",
                "hardly any wait",
                "no wait",
                "not long",
                "quick",
                "very quick",
                "straight through",
                "smooth",
            ),
            "1",
        ),
        ChoiceOption(
            "acceptable",
            (
                "还能接受",
                "还行",
                "还可以",
                "能接受",
                "一般",
                "等了一会儿",
                "正常",
                "acceptable",
                "okay",
                "fine",
                "not bad",
                "reasonable",
                "a bit of a wait",
                "average",
            ),
            "2",
        ),
        ChoiceOption(
            "too_long",
            (
                "等得太久了",
                "太久了",
                "等了很久",
                "排队太长",
                "等了半天",
                "人太多",
                "很慢",
                "far too long",
                "too long",
                "ages",
                "a long time",
                "very slow",
                "long queues",
                "too many people",
            ),
            "3",
        ),
    ),
    "meds_reason": (  # hypertension.meds_reason
        ChoiceOption(
            "forgot",
            (
                "忘了",
                "忘记了",
                "经常忘",
                "有时候忘了吃",
                "记不住",
                "forgetting",
                "forgot",
                "I forget",
                "I keep forgetting",
            ),
            "1",
        ),
        ChoiceOption(
            "side_effects",
            (
                "吃了不舒服",
                "不舒服",
                "副作用",
                "吃了头晕",
                "吃了难受",
                "吃了咳嗽",
                "side effects",
                "they make me feel unwell",
                "made me dizzy",
                "made me cough",
            ),
            "2",
        ),
        ChoiceOption(
            "felt_fine",
            (
                "觉得好了就停了",
                "血压正常了",
                "觉得好了",
                "自己停了",
                "没感觉就不吃了",
                "停药了",
                "stopped because I felt fine",
                "felt fine",
                "stopped them",
                "my blood pressure was normal",
                "did not think I needed them",
            ),
            "3",
        ),
        ChoiceOption(
            "ran_out",
            (
                "药吃完了",
                "吃完了",
                "没药了",
                "没去开药",
                "药没了",
                "ran out",
                "run out",
                "no tablets left",
                "did not get more",
            ),
            "4",
        ),
    ),
    "explanation": (  # outpatient_satisfaction.explanation
        ChoiceOption(
            "clear",
            (
                "很清楚",
                "清楚",
                "挺清楚的",
                "讲得很清楚",
                "非常清楚",
                "很详细",
                "very clearly",
                "clearly",
                "very clear",
                "really clear",
                "yes very clearly",
                "in detail",
            ),
            "1",
        ),
        ChoiceOption(
            "mostly",
            (
                "基本清楚",
                "还可以",
                "大概清楚",
                "差不多",
                "基本上清楚",
                "还行",
                "mostly",
                "mostly clear",
                "more or less",
                "fairly clear",
                "okay",
                "reasonably",
            ),
            "2",
        ),
        ChoiceOption(
            "unclear",
            (
                "不太清楚",
                "不清楚",
                "没讲清楚",
                "没怎么讲",
                "讲得太快",
                "太快了",
                "not really",
                "not clear",
                "unclear",
                "did not explain",
                "not at all",
                "too quick",
                "confusing",
            ),
            "3",
        ),
    ),
    "measure_freq": (  # hypertension.measure_freq
        ChoiceOption(
            "daily",
            (
                "每天量",
                "每天",
                "天天量",
                "每天都量",
                "一天一次",
                "早晚都量",
                "一天两次",
                "every day",
                "daily",
                "once a day",
                "twice a day",
                "morning and evening",
            ),
            "1",
        ),
        ChoiceOption(
            "weekly",
            (
                "一周几次",
                "一周两三次",
                "一个星期几次",
                "隔天量",
                "两三天一次",
                "每周量",
                "a few times a week",
                "every other day",
                "twice a week",
                "weekly",
                "every few days",
            ),
            "2",
        ),
        ChoiceOption(
            "sometimes",
            (
                "偶尔量",
                "偶尔",
                "有时候量",
                "不舒服才量",
                "想起来就量",
                "很少量",
                "now and then",
                "sometimes",
                "occasionally",
                "when I remember",
                "when I feel unwell",
            ),
            "3",
        ),
        ChoiceOption(
            "never",
            (
                "基本不量",
                "不量",
                "从来不量",
                "没量过",
                "家里没有血压计",
                "没血压计",
                "hardly ever",
                "never",
                "no monitor",
                "do not have a machine",
                "do not have a monitor",
            ),
            "4",
        ),
    ),
    "side_effects": (  # hypertension.side_effects
        ChoiceOption(
            "dizziness",
            (
                "头晕",
                "头昏",
                "发晕",
                "晕乎乎的",
                "站起来晕",
                "dizziness",
                "dizzy",
                "light-headed",
                "giddy",
                "woozy",
            ),
            "1",
        ),
        ChoiceOption(
            "headache", ("头痛", "头疼", "脑袋疼", "后脑勺疼", "headaches", "headache", "my head hurts"), "2"
        ),
        ChoiceOption(
            "palpitations",
            (
                "心慌",
                "心跳快",
                "心悸",
                "心里扑通扑通",
                "palpitations",
                "heart racing",
                "racing heart",
                "pounding heart",
                "fluttering",
            ),
            "3",
        ),
        ChoiceOption(
            "ankle_swelling",
            (
                "脚踝肿",
                "脚肿",
                "腿肿",
                "脚脖子肿",
                "swollen ankles",
                "ankles swollen",
                "swollen feet",
                "puffy ankles",
            ),
            "4",
        ),
        ChoiceOption(
            "none",
            (
                "都没有",
                "都没",
                "没什么",
                "挺好的",
                "都还好",
                "none of these",
                "none",
                "nothing",
                "none of those",
                "I am fine",
            ),
            "5",
        ),
    ),
    "arm": (  # picc_care.arm
        ChoiceOption(
            "swelling",
            (
                "肿",
                "肿胀",
                "胳膊肿",
                "手肿",
                "有点肿",
                "变粗了",
                "比另一只粗",
                "swelling",
                "swollen",
                "puffy",
                "arm is bigger",
                "tight",
            ),
            "1",
        ),
        ChoiceOption(
            "redness",
            (
                "发红",
                "红",
                "有点红",
                "红了一片",
                "沿着血管红",
                "redness",
                "red",
                "reddish",
                "a red line",
                "red streak",
            ),
            "2",
        ),
        ChoiceOption(
            "pain",
            (
                "疼",
                "疼痛",
                "痛",
                "胀痛",
                "有点疼",
                "酸痛",
                "pain",
                "painful",
                "sore",
                "it hurts",
                "aching",
                "tender",
            ),
            "3",
        ),
        ChoiceOption(
            "oozing",
            (
                "渗血渗液",
                "渗血",
                "渗液",
                "流水",
                "有脓",
                "出血",
                "oozing",
                "bleeding",
                "leaking",
                "weeping",
                "pus",
            ),
            "4",
        ),
        ChoiceOption(
            "none",
            (
                "都没有",
                "都没",
                "挺好的",
                "没什么",
                "none of these",
                "none",
                "nothing",
                "it is fine",
                "all fine",
            ),
            "5",
        ),
    ),
    "stitches": (  # post_op.stitches
        ChoiceOption(
            "removed",
            (
                "已经拆了",
                "拆了",
                "拆过了",
                "已经拆线了",
                "拆完了",
                "already out",
                "they are out",
                "taken out",
                "removed",
                "already done",
                "yes",
            ),
            "1",
        ),
        ChoiceOption(
            "not_yet",
            ("还没拆", "没拆", "还没有", "没有", "还没呢", "not yet", "no", "still in", "have not"),
            "2",
        ),
        ChoiceOption(
            "not_needed",
            (
                "不用拆线",
                "不用拆",
                "可吸收线",
                "自己会吸收",
                "不需要拆",
                "用的胶水",
                "they don't need removing",
                "dissolvable",
                "they dissolve",
                "do not need removing",
                "no stitches",
                "glue",
            ),
            "3",
        ),
    ),
    "smoking": (  # post_stent.smoking
        ChoiceOption(
            "never",
            (
                "从来不抽",
                "不抽",
                "不抽烟",
                "从不抽烟",
                "没抽过",
                "never smoked",
                "never",
                "I do not smoke",
                "never have",
                "non-smoker",
            ),
            "1",
        ),
        ChoiceOption(
            "quit",
            (
                "已经戒了",
                "戒了",
                "戒掉了",
                "不抽了",
                "早就戒了",
                "住院以后就没抽",
                "quit",
                "gave up",
                "stopped",
                "I have stopped",
                "not any more",
                "ex-smoker",
            ),
            "2",
        ),
        ChoiceOption(
            "still",
            (
                "还在抽",
                "还抽",
                "偶尔抽一根",
                "少抽了一点",
                "还在抽烟",
                "戒不掉",
                "still smoke",
                "yes",
                "still",
                "I still smoke",
                "a few a day",
                "cutting down",
                "can not stop",
            ),
            "3",
        ),
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
