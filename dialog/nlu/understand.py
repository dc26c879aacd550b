"""The dispatcher: one reply + what the question expects → one ``Understanding``.

Order of work: normalise → pinyin repair against the expectation's key phrases → global intents →
the typed answer (without small-talk clauses, and for scale/choice without a question about the question,
which makes the reply a repeat) → the priority below. Everything is pure; ``now`` is only used for dates and times.

Priority when several things are said (what matters most for the dialog first):
1. opt_out — the patient must never be called again, whatever else was said;
2. wrong_person — unless the speaker says they are family (我是他女儿), which is not a wrong number;
3. request_human — a person will take over (and hear any complaint; ``feedback`` still carries it);
4. call_back_later — value = the time asked for, or null;
5. feedback: complaint > suggestion > praise — value = the answer when the reply also answers
   (不满意，护士态度太差了 → complaint, 2), the text for a free_text question, else null;
6. answer — when the reply answers the question (confidence lowered by hedges, fuzzy repair,
   and "I don't know" said alongside);
7. unsure (不知道, "not sure") — only when nothing answers;
8. repeat (再说一遍, 什么?, "pardon");
9. no_match — nothing usable, including numbers outside ``min/max`` (confidence 0.2) and empty input.
``feedback`` is set whenever a complaint/praise/suggestion was heard, whatever the intent.
For a choice question, a choice word of that question that is also an intent phrase is an answer (忘了 for
a ``forgot`` choice, 等了很久 for a waiting time): see ``_absorb_choice_words``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from dialog.nlu import choice, dates, intents, quantities, scale, yes_no
from dialog.nlu.expectation import Expectation
from dialog.nlu.family import is_family_member
from dialog.nlu.fuzzy import PhraseRepairer
from dialog.nlu.normalize import clauses, has_content, normalize, to_simplified
from dialog.nlu.offtopic import drop_off_topic
from dialog.nlu.result import Parse

GLOBAL_INTENTS: tuple[str, ...] = (
    "complaint",
    "praise",
    "suggestion",
    "request_human",
    "call_back_later",
    "wrong_person",
    "opt_out",
    "repeat",
    "unsure",
)
FEEDBACK_INTENTS: tuple[str, ...] = ("complaint", "praise", "suggestion")
_FEEDBACK_ORDER = ("complaint", "suggestion", "praise")
_ACTION_ORDER = ("opt_out", "wrong_person", "request_human", "call_back_later")
UNSURE_FACTOR = 0.75

try:
    from zoneinfo import ZoneInfo

    HOSPITAL_TZ: tzinfo = ZoneInfo("Asia/Shanghai")
except (ImportError, KeyError):  # pragma: no cover - no tz database on the machine; China has no DST
    HOSPITAL_TZ = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Understanding:
    """What a reply means for the dialog (see the module docstring for the intents' priority)."""

    intent: str  # "answer" | one of GLOBAL_INTENTS | "no_match"
    value: Any  # typed value or None
    confidence: float  # 0..1
    feedback: str | None = (
        None  # complaint/praise/suggestion also present (== intent when intent is feedback)
    )
    text: str = ""  # the normalised text that was parsed

    def to_json(self) -> dict[str, Any]:
        """The ``followup understand`` contract: exactly intent, value, confidence (3 decimals)."""
        return {"intent": self.intent, "value": self.value, "confidence": round(self.confidence, 3)}


def local_now(now: datetime | None = None) -> datetime:
    """Hospital-local naive datetime: ``now`` converted when aware, the current time when None."""
    if now is None:
        return datetime.now(HOSPITAL_TZ).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(HOSPITAL_TZ).replace(tzinfo=None)
    return now


_TYPE_REPAIR: dict[str, tuple[str, ...]] = {
    "yes_no": ("没有", "按时", "吃药", "复查", "舒服", "还有点疼", "不舒服", "没错"),
    "scale": (
        "满意",
        "不满意",
        "不太满意",
        "很不满意",
        "非常满意",
        "比较满意",
        "一般",
        "还行",
        "还可以",
        "不错",
        "马马虎虎",
        "打五分",
        "打四分",
        "打三分",
        "打两分",
        "打一分",
        "非常",
        "比较",
        "特别",
        "挺好",
        "很差",
    ),
    "number": (),
    "blood_pressure": ("血压", "高压", "低压", "收缩压", "舒张压"),
    "glucose": ("血糖", "空腹", "餐后", "毫摩尔"),
    "temperature": ("体温", "发烧", "低烧"),
    "date": ("明天", "后天", "大后天", "下周", "星期", "礼拜", "复查", "月底", "下个月"),
    "free_text": (),
    "single_choice": (),
    "multi_choice": (),
}
_CALLBACK_REPAIR = ("明天", "后天", "下午", "上午", "晚上", "中午", "小时", "半小时")


@lru_cache(maxsize=256)
def _repairer(exp: Expectation) -> PhraseRepairer:
    words = list(intents.REPAIR_WORDS) + list(_TYPE_REPAIR.get(exp.type, ())) + list(_CALLBACK_REPAIR)
    for c in exp.choices:
        words.extend(w for w in c.words)
    return PhraseRepairer(words, loose=("满意",), aliases=intents.REPAIR_ALIASES)


MASK = " qqq "  # what an intent phrase is replaced by before the answer is parsed (yes_no treats it as noise)


def _mask(text: str, hits: dict[str, intents.Hit]) -> str:
    spans = sorted({s for h in hits.values() for s in h.spans}, reverse=True)
    out = text
    covered_from = len(text) + 1
    for s, e in spans:
        e = min(e, covered_from)
        if s >= e:
            continue
        out = out[:s] + MASK + out[e:]
        covered_from = s
    return out


def parse_answer(exp: Expectation, text: str, hits: dict[str, intents.Hit], now: datetime) -> Parse | None:
    """The typed answer in ``text`` for ``exp``, or None."""
    t = exp.type
    masked = _mask(text, hits) if hits else text
    if t == "yes_no":
        return yes_no.parse_yes_no(drop_off_topic(masked), strict=bool(hits))
    if t == "scale":
        # Evaluative words inside a feedback phrase judge that detail, not the whole stay ("Good, the food was
        # awful" → 4); they are the answer only when nothing else is (态度太差了 alone → 1).
        fb = {i: h for i, h in hits.items() if i in FEEDBACK_INTENTS}
        if fb:
            p = scale.parse_scale(drop_off_topic(_mask(text, fb)))
            if p is not None:
                return p
        return scale.parse_scale(drop_off_topic(text))
    if t == "number":
        return quantities.parse_number(masked, exp)
    if t == "blood_pressure":
        return quantities.parse_blood_pressure(masked, exp)
    if t == "glucose":
        return quantities.parse_glucose(masked, exp)
    if t == "temperature":
        return quantities.parse_temperature(masked, exp)
    if t == "date":
        return dates.parse_date(masked, now)
    if t == "single_choice":
        return choice.parse_single_choice(masked, exp)
    if t == "multi_choice":
        return choice.parse_multi_choice(masked, exp)
    return None


_NOISE_CHARS = set("啊呀吧呢嘛哦噢嗯呃额了的我你您他她是就这那个也都还哈唉哎喂吗么")
_NOISE_WORDS = {
    "i",
    "you",
    "it",
    "that",
    "is",
    "the",
    "a",
    "just",
    "well",
    "so",
    "really",
    "oh",
    "um",
    "uh",
    "sorry",
    "what",
    "am",
    "do",
    "to",
    "me",
    "please",
}


def _has_more_than_intents(text: str, hits: dict[str, intents.Hit]) -> bool:
    """Free text that says something besides "I don't know" / "pardon?" (伤口有点红肿，不知道正常不正常)."""
    rest = _mask(text, hits)
    cjk = [c for c in rest if "\u4e00" <= c <= "\u9fff" and c not in _NOISE_CHARS]
    words = [w for w in re.findall(r"[a-z]+", rest) if w not in _NOISE_WORDS]
    return len(cjk) >= 3 or len(words) >= 2


_CHOICE_TYPES = ("single_choice", "multi_choice")
_NEVER_ABSORBED = ("opt_out", "wrong_person")


_PRONOUNS = re.compile(r"^(?:我|我也|也|都|就|还|i|i just|just|了|啊|呀)?$")


def _only_the_choice_word(text: str, sp: tuple[int, int], spans: list[tuple[int, int, str]]) -> bool:
    """The phrase is a choice word plus at most a pronoun (我忘了 for 忘了), not "no idea" for "no"."""
    for s, e, _ in spans:
        if sp[0] <= s and e <= sp[1]:
            rest = (text[sp[0] : s] + text[e : sp[1]]).strip()
            if _PRONOUNS.match(rest):
                return True
    return False


def _absorb_choice_words(
    exp: Expectation, text: str, hits: dict[str, intents.Hit], now: datetime
) -> tuple[dict[str, intents.Hit], Parse | None]:
    """A choice word of the current question is an answer even when it is also an intent phrase.

    The flow lists 忘了 / "I forget" (a ``forgot`` choice), 不太清楚 (``unclear``), 没量过 (``never``), 等了很久
    (a waiting time) as answers of this question, so when the reply is understood as that choice, the intent
    phrase made of that word is the answer, not unsure or a complaint. Absorbed: any intent phrase that lies
    inside a choice word; an unsure phrase that is a choice word plus at most a pronoun (我忘了; not "no idea"
    for a choice "no"); a weak grievance overlapping a choice word (等了一个多小时 for 一个多小时). Real
    complaint language stays a complaint, reported with the value (等了两个小时，太过分了 → complaint,
    over_one_hour); 听不清楚 stays a repeat; opt-out and wrong person are never absorbed. Returns the hits left
    and, when every candidate phrase was absorbed, the answer (else None: the caller parses again)."""
    spans = choice.word_spans(text, exp)
    if not spans:
        return hits, None
    unmask: dict[str, list[tuple[tuple[int, int], set[str]]]] = {}
    for intent, h in hits.items():
        if intent in _NEVER_ABSORBED:
            continue
        for sp in h.spans:
            ids = {cid for s, e, cid in spans if s < sp[1] and sp[0] < e}
            if not ids:
                continue
            inside = any(s <= sp[0] and sp[1] <= e for s, e, _ in spans)
            if (
                inside
                or (intent == "complaint" and sp in h.weak_spans)
                or (intent == "unsure" and _only_the_choice_word(text, sp, spans))
            ):
                unmask.setdefault(intent, []).append((sp, ids))
    if not unmask:
        return hits, None
    kept = {
        i: intents.Hit(
            h.intent, h.confidence, [sp for sp in h.spans if sp not in {u[0] for u in unmask.get(i, [])}]
        )
        for i, h in hits.items()
    }
    answer = parse_answer(exp, text, {i: h for i, h in kept.items() if h.spans}, now)
    if answer is None or not answer.ok:
        return hits, None
    chosen = set(answer.value) if isinstance(answer.value, list) else {answer.value}
    out: dict[str, intents.Hit] = {}
    all_dropped = True
    for i, h in hits.items():
        drop = {sp for sp, ids in unmask.get(i, []) if ids & chosen}
        all_dropped &= len(drop) == len(unmask.get(i, []))
        left = [sp for sp in h.spans if sp not in drop]
        if left:
            out[i] = intents.Hit(h.intent, h.confidence, left, h.weak, h.weak_spans - drop)
    # When a phrase stays an intent it must stay masked too: the caller parses again.
    return out, answer if all_dropped else None


# A question about the question (什么满意不满意?, 你问的是什么满意度?, "satisfied with what exactly?") asks,
# it does not answer, even though it echoes the answer words.
_ASKING = re.compile(
    r"什么|啥|哪|怎么|吗|是不是|几|多少|([\u4e00-\u9fff]{1,2})不\1|\b(?:what|which|how|who|mean|exactly|huh)\b"
)
_ECHO_TYPES = ("scale", "single_choice", "multi_choice")


def _blank_questions(text: str) -> str | None:
    """``text`` with its asking clauses blanked out (same length, so intent spans stay valid), or None when
    there is none."""
    parts = clauses(text)
    if not any(c.endswith("?") and _ASKING.search(c) for c in parts):
        return None
    # Once the reply asks, its other question-marked clauses (满意?你是说对医生满不满意?) are echoes too.
    out = text
    pos = 0
    for c in parts:
        i = out.find(c, pos)
        if i < 0:
            continue
        pos = i + len(c)
        if c.endswith("?"):
            out = out[:i] + " " * len(c) + out[i + len(c) :]
    return out


def _free_text_value(raw: str) -> str:
    return to_simplified(raw.strip())


def understand(text: str, expectation: Expectation, now: datetime | None = None) -> Understanding:
    """Parse one patient reply against what the question expects (see the module docstring)."""
    raw = text or ""
    norm = normalize(raw, expectation.lang)
    if not has_content(norm):
        return Understanding("no_match", None, 0.0, None, norm)
    repaired, fz = _repairer(expectation).repair(norm)
    hits = intents.detect(repaired)
    if "wrong_person" in hits and is_family_member(repaired, expectation.lang):
        del hits["wrong_person"]
    choice_answer: Parse | None = None
    if hits and expectation.type in _CHOICE_TYPES:
        hits, choice_answer = _absorb_choice_words(expectation, repaired, hits, local_now(now))
    feedback = next((f for f in _FEEDBACK_ORDER if f in hits), None)
    for intent in _ACTION_ORDER:
        if intent in hits:
            value = None
            if intent == "call_back_later":
                cb = dates.parse_callback_time(repaired, local_now(now))
                value = cb.value if cb else None
            return Understanding(intent, value, round(hits[intent].confidence * fz, 3), feedback, repaired)
    if expectation.type == "free_text":
        answer: Parse | None = None
        if feedback or not ({"unsure", "repeat"} & set(hits)) or _has_more_than_intents(repaired, hits):
            answer = Parse(_free_text_value(raw), 0.9)
    elif choice_answer is not None:
        answer = choice_answer
    else:
        answer = parse_answer(expectation, repaired, hits, local_now(now))
    if answer is not None and answer.ok and expectation.type in _ECHO_TYPES:
        blanked = _blank_questions(repaired)
        if blanked is not None:
            answer = parse_answer(expectation, blanked, hits, local_now(now))
            if answer is None and "repeat" not in hits:
                hits["repeat"] = intents.Hit("repeat", 0.75)
    if feedback is not None:
        value = answer.value if answer is not None and answer.ok else None
        return Understanding(feedback, value, round(hits[feedback].confidence * fz, 3), feedback, repaired)
    if answer is not None and answer.ok:
        conf = answer.confidence * fz * (UNSURE_FACTOR if "unsure" in hits else 1.0)
        return Understanding("answer", answer.value, round(min(conf, 1.0), 3), None, repaired)
    if "unsure" in hits:
        return Understanding("unsure", None, round(hits["unsure"].confidence * fz, 3), None, repaired)
    if "repeat" in hits:
        return Understanding("repeat", None, round(hits["repeat"].confidence * fz, 3), None, repaired)
    conf = answer.confidence if answer is not None else 0.0
    return Understanding("no_match", None, conf, None, repaired)


__all__ = ["FEEDBACK_INTENTS", "GLOBAL_INTENTS", "Understanding", "local_now", "parse_answer", "understand"]
