"""Answering machine or person? Classifying the first thing heard on an answered call. Pure functions.

Voicemail answers with a normal "answered" (there is no telephony signal for it), and Asterisk's AMD()
costs seconds (median ≈ 7.7 s in public reports). We decide on the **first utterance** of the call, which
the CallSession hears anyway (it barges into the bot's first prompt):

- **voicemail** when it is a long monologue — at least ``long_speech_s`` (4 s) of speech without a pause
  the endpointer would end an utterance on (600 ms) — or when its text has an answering-machine phrase
  (请在提示音后留言, 无人接听, "leave a message after the tone", "not available" …);
- **greeting** when it is only a hello (喂 / 你好 / 哪位 / "hello?" / "who's calling"): a person picked
  up and spoke first; the bot then starts its first prompt again instead of treating it as an answer;
- **speech** otherwise: an ordinary reply for the dialog.

Measured accuracy (bench/call_latency.py --voicemail, docs/calls.md): see the docs.
"""

from __future__ import annotations

import re
import unicodedata

VOICEMAIL = "voicemail"
GREETING = "greeting"
SPEECH = "speech"

# Key phrases of answering-machine greetings and carrier announcements, after normalisation (simplified
# Chinese, lower case, no spaces or punctuation). Whisper base at 8 kHz writes 提示音 as 提示音/提式音 and
# 留言 as 留言/流言, so short fragments are used.
_ZH_PHRASES = (
    "留言",
    "流言",
    "提示音",
    "嘀声",
    "滴声",
    "哔声",
    "无人接听",
    "暂时无法接通",
    "无法接听",
    "不方便接听",
    "不方便接电话",
    "语音信箱",
    "已关机",
    "不在服务区",
    "您拨打的",
    "你拨打的",
    "稍后再拨",
)
_EN_PHRASES = (
    "leaveamessage",
    "leaveyourmessage",
    "afterthetone",
    "afterthebeep",
    "atthetone",
    "atthebeep",
    "voicemail",
    "voicemailbox",
    "notavailable",
    "unavailable",
    "cantcometothephone",
    "cannotcometothephone",
    "youvereached",
    "youhavereached",
    "thepersonyouarecalling",
    "thenumberyouhavedialed",
    "recordyourmessage",
)
# What a person says on picking up, and nothing else.
# Not 嗯 / yes / speaking: those answer "am I speaking with …?".
_GREETING_WORDS_ZH = ("喂", "你好", "您好", "哪位", "谁啊", "谁呀", "是谁", "什么事", "哪里", "请讲", "啊", "哎")
_GREETING_WORDS_EN = (
    "hello",
    "hi",
    "hey",
    "whoisthis",
    "whosthis",
    "whoiscalling",
    "whoscalling",
    "whoisit",
)

_KEEP = re.compile(r"[\w]+", re.UNICODE)


def _squash(text: str) -> str:
    """Lower case, NFKC, letters/digits/CJK only (no spaces, no punctuation, no apostrophes)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("’", "")
    return "".join(_KEEP.findall(text)).replace("_", "")


def has_voicemail_phrase(text: str) -> bool:
    """Whether ``text`` holds an answering-machine phrase (either language)."""
    key = _squash(text)
    return any(p in key for p in _ZH_PHRASES) or any(p in key for p in _EN_PHRASES)


def is_greeting(text: str) -> bool:
    """Whether ``text`` is nothing but a hello ("喂？" / "喂，你好，哪位？" / "Hello?" / "Hi, who's calling?")."""
    key = _squash(text)
    if not key:
        return False
    for word in sorted(_GREETING_WORDS_ZH + _GREETING_WORDS_EN, key=len, reverse=True):
        key = key.replace(word, "")
    return key == ""


def classify_first_utterance(text: str, speech_s: float, long_speech_s: float = 4.0) -> str:
    """VOICEMAIL, GREETING or SPEECH for the first utterance of a call (see the module docstring).

    ``speech_s``: the utterance's length from speech start to speech end (endpointer seconds).
    """
    if speech_s >= long_speech_s or has_voicemail_phrase(text):
        return VOICEMAIL
    if is_greeting(text):
        return GREETING
    return SPEECH
