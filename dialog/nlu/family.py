"""Is the person on the phone a family member of the patient ("我是他女儿", "I'm his wife")?

Used by the identity step: a relative answering is not a wrong number. Both languages are checked
whatever ``lang`` says.
"""

from __future__ import annotations

import re

from dialog.nlu.normalize import normalize

_RELATIVE_ZH = (
    r"(?:女儿|闺女|儿子|儿媳(?:妇)?|媳妇|老婆|妻子|太太|爱人|老伴(?:儿)?|老公|丈夫|家属|家人|家里人|亲属|"
    r"亲戚|妈妈|妈|母亲|爸爸|爸|父亲|老爸|老妈|孙子|孙女|外孙(?:女)?|女婿|哥哥|哥|姐姐|姐|弟弟|弟|妹妹|妹|"
    r"侄子|侄女|外甥(?:女)?|孩子|小孩|儿女|子女|爷爷|奶奶|外公|外婆|姥姥|姥爷|舅舅|姑姑|阿姨|叔叔|伯伯|婆婆|"
    r"公公|岳父|岳母|丈母娘|老丈人|对象)"
)
_FAMILY_ZH = re.compile(
    r"我是(?:他|她|它|病人|患者)?(?:的)?"
    + _RELATIVE_ZH
    + r"|我是[\u4e00-\u9fff]{1,4}?的"
    + _RELATIVE_ZH
    + r"|我是她(?:的)?先生"
    + r"|(?:他|她|病人|患者)是我(?:的)?"
    + _RELATIVE_ZH
    + r"|是我(?:的)?(?:女儿|儿子|老婆|妻子|爱人|老伴|老公|丈夫|妈妈|妈|母亲|爸爸|爸|父亲|爷爷|奶奶|外公|外婆|姥姥|姥爷|"
    r"孩子|婆婆|公公|岳父|岳母)"
    + r"|我是(?:他|她)?(?:的)?家属|我(?:是)?替(?:他|她|我)[\u4e00-\u9fff]{0,3}接|我(?:是)?帮(?:他|她)接"
)
_RELATIVE_EN = (
    r"(?:wife|husband|son|daughter|mother|father|mom|mum|dad|brother|sister|grandson|granddaughter|"
    r"grandchild|grandmother|grandfather|grandma|grandpa|partner|spouse|relative|family|niece|nephew|aunt|"
    r"uncle|child|kid|son-in-law|daughter-in-law|mother-in-law|father-in-law|fiance|fiancee|boyfriend|girlfriend)"
)
_FAMILY_EN = re.compile(
    r"\b(?:i am|this is|it is|i m)\s+(?:his|her|their|the patient s|the patients|[a-z]+ s)\s+"
    + _RELATIVE_EN
    + r"|\b(?:he|she)\s+is\s+my\s+"
    + _RELATIVE_EN
    + r"|\bi am (?:a )?(?:family|relative|family member)\b|\bspeaking for my\s+"
    + _RELATIVE_EN
    + r"|\bthis is (?:the )?(?:patient s|his|her) (?:family|"
    + _RELATIVE_EN[3:]
    + r"|\bmy\s+"
    + _RELATIVE_EN
    + r"\s+(?:is the patient|is not (?:here|home|available)|can not come|is out|is asleep)"
)


def is_family_member(text: str, lang: str = "zh") -> bool:
    """True when the speaker says they are a relative of the patient."""
    t = normalize(text, lang).replace(",", " ")
    t_zh = t.replace(" ", "")
    return bool(_FAMILY_ZH.search(t_zh) or _FAMILY_EN.search(t))
