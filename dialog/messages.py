"""The built-in system messages: what the bot says outside the flow's own questions.

Every key of ``flows.schema.MESSAGE_KEYS`` has a Mandarin and an English text here, written the way a
courteous follow-up nurse speaks on the phone. A flow may override any of them under ``messages:``.

Besides the template fields of ``flows.schema.TEMPLATE_FIELDS`` a message may use:

- ``{callback_time}`` in ``callback_at`` (relative to the call's time: 明天下午3点 / tomorrow at 3 pm);
- ``{department}`` in ``complaint_ack`` / ``praise_ack`` / ``suggestion_ack`` (the escalation's department);
- ``{answer}`` in ``confirm`` (the understood answer said back: 4分 / 好一些 / yes).

``family_continue`` / ``family_end`` are said when a family member answers and the flow's identify step gives
no text of its own for that case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dialog.render import render
from flows.schema import MESSAGE_KEYS, Flow

BUILTIN: dict[str, dict[str, str]] = {
    "goodbye": {
        "zh": "好的，今天的回访就到这里。感谢您的配合，祝您身体健康，再见！",
        "en": "That's all I needed to ask. Thank you for your time, and we wish you good health. Goodbye!",
    },
    "wrong_person": {
        "zh": "不好意思，打扰您了。祝您生活愉快，再见！",
        "en": "I'm sorry to have troubled you. Have a good day. Goodbye!",
    },
    "opt_out": {
        "zh": "好的，我们已经记下了，以后不会再给您打随访电话。打扰您了，再见！",
        "en": "Of course. We've made a note, and we won't call you for follow-ups again. "
        "Sorry to have disturbed you. Goodbye!",
    },
    "callback_at": {
        "zh": "好的，那我们{callback_time}再给您打过来。打扰您了，再见！",
        "en": "Of course. We'll call you back {callback_time}. Goodbye for now!",
    },
    "callback_later": {
        "zh": "好的，那我们换个时间再给您打过来。打扰您了，再见！",
        "en": "No problem, we'll call you back at another time. Goodbye for now!",
    },
    "family_ask_time": {
        "zh": "好的，麻烦您告诉我，{patient.salutation}什么时候方便接电话呢？",
        "en": "Thank you. When would be a good time to reach {patient.salutation}?",
    },
    "transfer": {
        "zh": "好的，正在为您转接人工服务，请稍候。",
        "en": "Of course. I'm putting you through to a member of staff, please hold.",
    },
    "no_agent": {
        "zh": "非常抱歉，现在工作人员都在忙。我们已经为您登记，会尽快给您回电话。再见！",
        "en": "I'm very sorry, all our staff are busy at the moment. We've made a note, and someone will "
        "call you back as soon as possible. Goodbye!",
    },
    "complaint_ack": {
        "zh": "非常抱歉给您带来了不好的感受。您反映的情况我已经记下来了，会转给{department}尽快处理。",
        "en": "I'm very sorry to hear that. I've noted down what you've told me and will pass it on to "
        "{department} to look into.",
    },
    "praise_ack": {
        "zh": "谢谢您的肯定！我会把您的表扬转达给{department}。",
        "en": "Thank you for your kind words! I'll pass them on to {department}.",
    },
    "suggestion_ack": {
        "zh": "谢谢您的宝贵建议，我已经记下来了，会转给{department}。",
        "en": "Thank you for the suggestion. I've noted it down and will pass it on to {department}.",
    },
    "confirm": {
        "zh": "您说的是“{answer}”，对吗？",
        "en": "Just to check, you said {answer}, is that right?",
    },
    "repeat": {
        "zh": "好的，我再说一遍。",
        "en": "Of course, let me say that again.",
    },
    "unsure_ack": {
        "zh": "没关系。",
        "en": "That's all right.",
    },
    "no_input": {
        "zh": "不好意思，我没有听到您的声音。",
        "en": "Sorry, I didn't hear anything.",
    },
    "no_match": {
        "zh": "不好意思，我没有听清楚。",
        "en": "Sorry, I didn't quite catch that.",
    },
    "hangup_no_input": {
        "zh": "您现在可能不方便说话，我们改天再联系您。打扰了，再见！",
        "en": "It seems this isn't a good time to talk. We'll be in touch another time. Goodbye!",
    },
    # A family member answers and the flow lets them continue, but its identify step has no
    # family_continue_prompt.
    "family_continue": {
        "zh": "好的，那麻烦您帮{patient.salutation}回答几个问题。",
        "en": "Thank you. Could you answer a few questions on behalf of {patient.salutation}?",
    },
    # A family member answers and the flow's identify step says ``family: end``.
    "family_end": {
        "zh": "好的，谢谢您。那我们改天再直接联系{patient.salutation}。再见！",
        "en": "Thank you. We'll try to reach {patient.salutation} directly another time. Goodbye!",
    },
}

assert set(BUILTIN) == set(MESSAGE_KEYS), "every MESSAGE_KEYS entry needs a built-in text"


def template(key: str, lang: str, flow: Flow | None = None) -> str:
    """The unrendered text of message ``key`` in ``lang``: the flow's override if any, else built in."""
    if flow is not None and key in flow.messages:
        override = flow.messages[key].get(lang)
        if override:
            return override
    table = BUILTIN.get(key)
    if table is None:
        raise KeyError(f"unknown message key {key!r}; expected one of {', '.join(sorted(MESSAGE_KEYS))}")
    return table[lang] if lang in table else table["zh"]


def audio(key: str, lang: str, flow: Flow | None = None) -> str | None:
    """The recorded audio a flow gives for message ``key`` in ``lang`` (relative to the flow's folder)."""
    if flow is not None and key in flow.messages:
        return flow.messages[key].audio.get(lang)  # type: ignore[call-overload]
    return None


def message(
    key: str,
    lang: str,
    flow: Flow | None = None,
    fields: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Message ``key`` in ``lang`` rendered with ``fields`` (the call context plus message fields)."""
    return render(template(key, lang, flow), fields or {}, lang, now)
