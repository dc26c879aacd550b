"""Yes/no answers: true for affirmation or presence, false for negation or absence.

The parser does not know the question, so it reports the polarity of what was said (docs/nlu.md):
- each clause is tokenised (lexscan); a clause that is a question (是不是, 有没有, …吗, "is it?") or a
  family statement (我是他女儿) carries no polarity, nor do politeness, fillers and "I don't know";
- a clause is negative when it holds a negator (不, 没, 没有, 不是, 别, no, not, never, …), except the
  double negations 不是没有 / 没有不… / 不会不… (positive) — repeated negators (不不不是的, "no, not yet")
  stay negative; 不舒服, 不适, 不对劲 are symptoms (presence), 不错, 没问题, "not bad" are positive words;
- clauses are ranked: explicit (是/对/没错/有/没有/不…, yes/no/not…) over weak (嗯, 好的, ok) over
  bare content (好多了, 吃了, "much better"); the main clause is the last one of the best rank, ignoring
  asides opened by 就是/只是/不过/但是/but/just when another clause has a polarity.
  好多了，伤口不疼了 → false (不疼了 is explicit); 没有，就是有点累 → false; 是的，还有点疼 → true;
- a reply that opens with a bare negation (没有 / 不是 / "no" as a clause of its own) keeps it whatever
  qualifies it after (没有，有时候忘了 → false; "No, I sometimes forget" → false), unless a bare yes takes
  it back (没有，哦不对，有 → true); 有点/有些 before a negated word is a degree adverb (有些不太清楚 →
  false), and 不清楚 as a complement describes (讲得不太清楚 → false) while a bare 不太清楚 is "I don't know";
- a degree negation (不太明显, 不是很疼) is a weak no: 有一点点，不太明显 → true, 不是很疼了 → false;
- a negated lapse said emphatically is compliance (一顿都没落下, 从来没漏过, "I haven't missed a single dose" →
  true); a bare one keeps its literal no, read back (没有漏吃过 → false, confidence 0.5);
- "yes no" in one clause → no answer; confidence drops when clauses disagree or the reply is hedged.
"""

from __future__ import annotations

import re

from dialog.nlu.family import _FAMILY_EN, _FAMILY_ZH
from dialog.nlu.hedges import hedge_factor
from dialog.nlu.lexscan import Lexicon, Token, units
from dialog.nlu.normalize import clauses
from dialog.nlu.result import Parse

YES, WEAK, NEG, POSWORD, SYMPTOM, UNSURE, NOISE, PRESENCE = "Y", "W", "N", "P", "S", "U", "_", "H"

_ZH = {
    **dict.fromkeys(
        [
            "是",
            "是的",
            "是啊",
            "是呀",
            "是滴",
            "是嘞",
            "是哒",
            "是呢",
            "是我",
            "我是",
            "是本人",
            "本人",
            "我本人",
            "就是我",
            "我就是",
            "正是",
            "对",
            "对的",
            "对啊",
            "对呀",
            "对头",
            "对滴",
            "没错",
            "没错儿",
            "当然",
            "当然了",
            "肯定",
            "肯定的",
            "必须的",
            "可不是",
            "可不",
            "那是",
            "确实",
            "确实是",
            "就是",
            "就是的",
            "对对",
            "是是",
            "没毛病",
        ],
        YES,
    ),
    **dict.fromkeys(
        ["有", "有的", "有啊", "有呢", "有滴", "有点", "有点儿", "有一点", "有些", "还有", "一直有"], PRESENCE
    ),
    **dict.fromkeys(
        [
            "嗯",
            "嗯嗯",
            "恩",
            "恩恩",
            "嗯呢",
            "嗯哼",
            "好",
            "好的",
            "好嘞",
            "好吧",
            "行",
            "行的",
            "行啊",
            "可以",
            "中",
            "成",
            "ok",
            "okay",
        ],
        WEAK,
    ),
    **dict.fromkeys(
        [
            "不",
            "没",
            "没有",
            "不是",
            "不对",
            "无",
            "未",
            "别",
            "甭",
            "莫",
            "冇",
            "否",
            "木有",
            "没得",
            "莫得",
            "还没",
            "还没有",
            "没呢",
            "不用",
            "不要",
            "不需要",
            "不行",
            "不能",
            "不会",
            "并没有",
            "从来没有",
            "从没",
            "从不",
            "一点也不",
            "一点都不",
            "一点也没有",
            "一点都没有",
            "忘了吃",
            "忘吃了",
            "忘记吃",
            "忘记吃了",
            "忘了去",
            "忘记去",
            "忘了量",
            "忘记量",
            "没事",
            "没事儿",
            "没啥",
            "没什么",
            "好了",
            "不怎么",
        ],
        NEG,
    ),
    **dict.fromkeys(
        [
            "不错",
            "差不多",
            "没问题",
            "不少",
            "不停",
            "不断",
            "忍不住",
            "受不了",
            "了不起",
            "少不了",
            "离不开",
            "止不住",
            "不止",
            "挺好",
            "很好",
            "好多了",
            "好很多",
            "好些了",
            "好一些",
            "好点了",
            "好转",
            "恢复得不错",
            "恢复得很好",
        ],
        POSWORD,
    ),
    **dict.fromkeys(
        [
            "不舒服",
            "不太舒服",
            "不大舒服",
            "不适",
            "不对劲",
            "不正常",
            "不得劲",
            "不好受",
            "不太好受",
            "不利索",
        ],
        SYMPTOM,
    ),
    **dict.fromkeys(
        [
            "不知道",
            "不清楚",
            "不太清楚",
            "不晓得",
            "不记得",
            "记不得",
            "记不清",
            "记不住",
            "说不好",
            "不好说",
            "说不清",
            "说不准",
            "说不上来",
            "不确定",
            "不太确定",
            "不一定",
            "没注意",
            "没留意",
            "搞不清",
            "弄不清",
            "不懂",
            "不太懂",
            "忘了",
            "忘记了",
            "不太记得",
        ],
        UNSURE,
    ),
    **dict.fromkeys(
        [
            "你好",
            "您好",
            "喂",
            "谢谢",
            "谢谢你",
            "谢谢您",
            "谢了",
            "感谢",
            "多谢",
            "麻烦你",
            "哦",
            "噢",
            "喔",
            "啊",
            "呀",
            "吧",
            "呢",
            "嘛",
            "哈",
            "哎",
            "唉",
            "诶",
            "嗨",
            "哟",
            "呗",
            "啦",
            "咯",
            "嘞",
            "哇",
            "那个",
            "这个",
            "然后",
            "其实",
            "医生",
            "护士",
            "大夫",
            "老师",
            "同志",
            "应该",
            "好像",
            "可能",
            "大概",
            "估计",
            "也许",
            "我觉得",
            "我想",
            "的",
            "了",
            "就",
            "都",
            "也",
            "我",
            "你",
            "他",
            "她",
            "您",
            "它",
            "这样",
            "是这样",
            "是这样的",
            "那样",
            "一下",
            "现在",
            "目前",
            "暂时",
            "最近",
            "对不起",
            "不好意思",
            "不客气",
            "没关系",
            "呃",
            "额",
            "嗯哪",
            "吗",
            "啥",
            "么",
            "么么",
            "还",
            "再",
            "又",
            "在",
            "那",
            "这",
            "哈哈",
            # Words that hold a negator character but negate nothing (特别 is not 特 + 别).
            "特别",
            "特别是",
            "区别",
            "分别",
            "告别",
            "个别",
            "性别",
            "别人",
            "别的",
            "级别",
            "类别",
            "识别",
            "差别",
            "鉴别",
        ],
        NOISE,
    ),
}
# English short answers ("I am", "I did") are answers only at the end of a clause: "I am fine" is not "yes".
_SHORT_AUX: tuple[str, ...] = (
    "i am",
    "i do",
    "i did",
    "i have",
    "it does",
    "it is",
    "i was",
    "there is",
    "i will",
    "i can",
    "it has",
    "it did",
    "they do",
    "they did",
    "yes i am",
)

_EN = {
    **dict.fromkeys(
        [
            "yes",
            "yeah",
            "yea",
            "yep",
            "yup",
            "ya",
            "yah",
            "sure",
            "certainly",
            "definitely",
            "absolutely",
            "correct",
            "right",
            "indeed",
            "affirmative",
            "uh-huh",
            "mm-hmm",
            "mhm",
            "mm-hm",
            "yes please",
            "of course",
            "that is right",
            "that is correct",
            "you bet",
            "speaking",
            "this is he",
            "this is she",
            "that is me",
            "it is me",
            *_SHORT_AUX,
            "i sure did",
            "sure did",
            "all the time",
            "every day",
            "a lot",
            "a little",
            "a bit",
            "a little bit",
            "some",
            "sometimes",
            "still",
            "i took it",
            "i took them",
        ],
        YES,
    ),
    **dict.fromkeys(["ok", "okay", "alright", "all right", "fine", "mm", "good"], WEAK),
    **dict.fromkeys(
        [
            "no",
            "nope",
            "nah",
            "not",
            "never",
            "none",
            "nothing",
            "uh-uh",
            "negative",
            "neither",
            "nor",
            "without",
            "hardly",
            "not really",
            "not yet",
            "not anymore",
            "no longer",
            "not at all",
            "of course not",
            "absolutely not",
            "nothing much",
            "not much",
            "not that i know of",
            "i forgot to",
            "forgot to",
            "missed",
            "skipped",
        ],
        NEG,
    ),
    **dict.fromkeys(
        [
            "not bad",
            "no problem",
            "not too bad",
            "can not complain",
            "why not",
            "no doubt",
            "better",
            "much better",
            "a lot better",
            "improving",
            "no worries",
        ],
        POSWORD,
    ),
    **dict.fromkeys(
        [
            "do not know",
            "not sure",
            "no idea",
            "can not remember",
            "do not remember",
            "i forget",
            "i forgot",
            "not certain",
            "unsure",
            "hard to say",
            "no clue",
            "who knows",
            "can not say",
            "not too sure",
            "not so sure",
            "do not recall",
            "can not recall",
        ],
        UNSURE,
    ),
    **dict.fromkeys(
        [
            "thanks",
            "thank you",
            "hello",
            "hi",
            "hey",
            "please",
            "doctor",
            "nurse",
            "well",
            "so",
            "like",
            "oh",
            "ah",
            "i think",
            "i guess",
            "maybe",
            "probably",
            "just",
            "actually",
            "the",
            "a",
            "an",
            "and",
            "or",
            "you know",
            "i mean",
            "it",
            "that",
            "this",
            "is",
            "was",
            "me",
            "my",
            "your",
            "to",
            "of",
            "for",
            "thank you very much",
            "thanks a lot",
            "ma am",
            "sir",
            "miss",
            "i",
            "you",
            "he",
            "she",
            "they",
            "we",
            "um",
            "uh",
            "hmm",
            "very much",
            "sorry",
            "okay then",
            "now",
            "perhaps",
            "think so",
            "guess so",
            "believe",
            "would say",
            "i would say",
            "say",
            "qqq",
        ],
        NOISE,
    ),
}
_EN.update(dict.fromkeys(["i think so", "i believe so", "think so", "guess so"], YES))
_LEX = Lexicon({**_ZH, **_EN})

_DOUBLE_NEG = re.compile(
    r"(?:不是|并不是|也不是)(?:没有|没|不(?!是|对))|没有不(?!舒服|适|对劲|正常|得劲|好受|太舒服)|(?:不会|不能|不得|不可能)不|非.{1,4}不可"
)
# A negated lapse said emphatically is compliance: 一顿都没落下, 从来没漏过, 都没忘, "I haven't missed a single
# dose", "never skipped one" are yes to 按时吃了吗 / "have you been taking them" (the library asks compliance
# positively). A bare negated lapse (没有漏吃过, 没忘, "I haven't missed any") keeps its literal polarity — it is
# the "no" of 有没有漏吃 — with a confidence low enough for the dialog to read it back (_BARE_LAPSE_CONFIDENCE).
_LAPSE_VERBS_ZH = r"(?:落下|落过|落|漏掉|漏吃|漏服|漏过|漏|断过|断|间断过?|少吃过?|忘记过?|忘掉过?|忘过|忘吃|忘|耽误过?|停过)"
_LAPSE_NEG_ZH = re.compile(
    r"(?:从没(?:有)?|从来没有?|从来不|从不|不会|一直没(?:有)?|一(?:次|顿|天|回|顿饭|片|粒)?(?:都|也)没(?:有)?|都没(?:有)?|"
    r"也没(?:有)?)" + _LAPSE_VERBS_ZH
)
_BARE_LAPSE_ZH = re.compile(r"(?:没|没有)" + _LAPSE_VERBS_ZH)
_LAPSE_NEG_EN = re.compile(
    r"\bnever\s+(?:once\s+|even\s+|ever\s+|really\s+)?(?:missed|miss|skipped|skip|forgot|forget|forgotten|stopped)\b|"
    r"\bnot\s+(?:once|even once|ever)\b[^,]{0,20}\b(?:missed|miss|skipped|skip|forgot|forget|forgotten|stopped)\b|"
    r"\bnot\s+(?:once\s+|even\s+|ever\s+|really\s+)?(?:missed|miss|skipped|skip|forgot|forget|forgotten|stopped)\s+"
    r"(?:a single|one|once|a dose|a day|a pill|a tablet)\b"
)
_BARE_LAPSE_EN = re.compile(
    r"\bnot\s+(?:really\s+)?(?:missed|miss|skipped|skip|forgot|forget|forgotten|stopped)\b"
)
_BARE_LAPSE_CONFIDENCE = 0.5
# A degree negation says how much, not whether: 有一点点，不太明显 → true; alone it is a weak no (不是很疼了).
_DEGREE_NEG = re.compile(r"不太|不怎么|不是很|不是太|不大|没那么|没怎么|没太")
_ZH_QUESTION = re.compile(
    r"(?<![不没])([^不没])不\1|(?<![不没])([^不没])没\2|吗\??$|什么\?|啥\?|哪\S*\?|谁\?|怎么\S*\?|几\S*\?|多少\S*\?"
)
_EN_QUESTION = re.compile(
    r"^(?:is|are|do|does|did|can|could|will|would|should|what|why|how|who|when|where|which|have|has|am)\b.*\?$"
)
_ASIDE = re.compile(
    r"^(?:就是|只是|不过|但是|可是|但|可|除了|就|只不过|except|but|though|although|just|only)\s*(?=\S)"
)


_PROBABLY = {"probably", "likely", "most likely", "i guess", "应该", "大概", "估计", "可能"}


# 有点/有些 before a negated word is a degree adverb, not presence: 有些不太清楚, 有点不清楚 describe (false),
# and so does 不清楚 as a complement (讲得不太清楚); a bare 不太清楚 stays "I don't know".
_DEGREE = {"有点", "有点儿", "有一点", "有些", "有一些"}
_DESCRIBED = {"不清楚", "不太清楚", "不懂", "不太懂"}


_QUANTITY = re.compile(
    r"[0-9零〇一二两三四五六七八九十百千点.]+(度|分|个|次|岁|斤|公斤|毫摩尔|毫米汞柱|mmol)?[吧啊呀]?"
)
_HABITUAL = re.compile(
    r"(每天|天天|一直|经常|偶尔|有时|还会|还是|总是|老是|按时|按点|坚持|都在|在吃|在用|在做|在打|在量|every ?day|daily|always|regularly)"
)


def _clause_tokens(clause: str) -> list[Token]:
    toks = _LEX.scan(units(clause))
    for k, t in enumerate(toks):
        if t.text in _SHORT_AUX and any(
            (x.label != NOISE or x.text == "qqq") and x.text != "?" for x in toks[k + 1 :]
        ):
            toks[k] = Token(t.text, NOISE, t.start, t.end)
        elif (
            t.text in _DEGREE
            and k + 1 < len(toks)
            and (toks[k + 1].label == NEG or toks[k + 1].text in _DESCRIBED)
        ):
            toks[k] = Token(t.text, NOISE, t.start, t.end)
            if toks[k + 1].text in _DESCRIBED:
                n = toks[k + 1]
                toks[k + 1] = Token(n.text, NEG, n.start, n.end)
        elif t.text in _DESCRIBED and k and toks[k - 1].text in ("得", "的"):  # 讲得不太清楚: a complement
            toks[k] = Token(t.text, NEG, t.start, t.end)
    return toks


def _bare(toks: list[Token], labels: set[str]) -> bool:
    """Only ``labels`` and noise in the clause (and at least one of ``labels``): 没有, "no", 不是的, "yes"."""
    seen = False
    for t in toks:
        if t.label in labels:
            seen = True
        elif t.label != NOISE and t.text != "?":
            return False
    return seen


def _clause_polarity(clause: str) -> tuple[bool | None, int, bool]:
    """(polarity or None, rank 0 content / 1 weak / 2 explicit, conflicting) of one clause."""
    return _polarity_of(_clause_tokens(clause), clause)


def _polarity_of(toks: list[Token], clause: str) -> tuple[bool | None, int, bool]:
    labels = [t.label for t in toks]
    content = [t for t in toks if t.label is None and t.text != "?"]
    has = set(labels)
    if NEG in has:
        english = any(t.text.isascii() and t.label in (NEG, YES) for t in toks)
        yes_tokens = [
            t for t in toks if t.label == YES and t.text in ("yes", "yeah", "yep", "yup", "是的", "对")
        ]
        if english and yes_tokens and any(t.label == NEG and t.text in ("no", "nope") for t in toks):
            return None, 2, True  # "yes no"
        if _DOUBLE_NEG.search(clause.replace(" ", "")):
            return True, 2, False
        if _LAPSE_NEG_ZH.search(clause.replace(" ", "")) or _LAPSE_NEG_EN.search(clause):
            return True, 2, False
        if _BARE_LAPSE_ZH.search(clause.replace(" ", "")) or _BARE_LAPSE_EN.search(clause):
            return False, 0, False  # 没有漏吃过: a literal no, weaker than any other clause
        negators = sum(t.label == NEG for t in toks)
        if negators == 1 and _DEGREE_NEG.search(clause.replace(" ", "")):
            return False, 1, False  # 不太明显, 不是很疼: how much, not whether — a presence said with it wins
        return False, 2, False
    if YES in has or PRESENCE in has:
        return True, 2, False
    if WEAK in has or POSWORD in has or SYMPTOM in has:
        return True, 1, False
    if any(t.text in _PROBABLY for t in toks):  # "probably", 应该吧: a hedged yes
        return True, 1, False
    if content:
        if any(t.text.isdigit() for t in content) and len(content) == 1:
            return None, 0, False
        if any(t.text in ("了", "过", "着") for t in toks):
            return True, 1, False
        # Mandarin answers a yes/no question by echoing its verb (清楚吗 → 清楚; 吃药了吗 → 都按时吃了), so bare
        # Chinese content is a weak yes. Bare English content ("banana") or a bare quantity (三十九度) says
        # nothing about yes or no.
        joined = clause.replace(" ", "")
        if _HABITUAL.search(joined):
            return True, 0, False
        if not any("\u4e00" <= ch <= "\u9fff" for ch in joined) or _QUANTITY.fullmatch(joined):
            return None, 0, False
        return True, 0, False
    return None, 0, False


def parse_yes_no(text: str, strict: bool = False) -> Parse | None:
    """Polarity of a reply (see the module docstring). ``strict``: ignore bare content (rank 0), used when
    the reply also carries feedback, whose words say nothing about yes or no."""
    results: list[tuple[bool, int, bool]] = []  # (polarity, rank, aside)
    bare_lapse: set[int] = set()  # indices in ``results`` of bare negated lapses (没有漏吃过)
    conflict = False
    lead_negation = False  # the reply opens with a bare 没有 / 不是 / "no"
    for k, cl in enumerate(clauses(text)):
        c = cl.strip()
        is_question = c.endswith(("?", "吗"))
        if (is_question and (_EN_QUESTION.search(c) or _ZH_QUESTION.search(c.replace(" ", "")))) or (
            _ZH_QUESTION.search(c.replace(" ", "").rstrip("?啊呀呢吧"))
            and re.search(r"(?<![不没])([^不没,])[不没]\1", c)
        ):
            continue
        if _FAMILY_ZH.search(c.replace(" ", "")) or _FAMILY_EN.search(c):
            continue
        aside = False
        m = _ASIDE.match(c)
        if m and c[m.end() :].strip() and c not in ("就是", "就是的"):
            aside = True
            c = c[m.end() :]
        toks = _clause_tokens(c)
        pol, rank, bad = _polarity_of(toks, c)
        conflict |= bad
        if pol is None:
            continue
        if strict and (rank == 0 or (rank < 2 and "qqq" in c)):
            # The feedback's own clause (你们那个收费太不合理了) says nothing about yes or no: only an explicit
            # 是/有/没有 there counts.
            continue
        if not results and k == 0 and pol is False and _bare(toks, {NEG}):
            lead_negation = True
        elif lead_negation and _bare(toks, {YES, WEAK, PRESENCE}):
            lead_negation = False  # 没有，哦不对，有: a bare yes after the no corrects it
        if pol is False and rank == 0:
            bare_lapse.add(len(results))
        results.append((pol, rank, aside))
    if not results:
        return None
    main_pool = [r for r in results if not r[2]] or results
    best_rank = max(r[1] for r in main_pool)
    main = [r for r in main_pool if r[1] == best_rank][-1]
    if lead_negation:
        # 没有，有时候忘了 / "No, I sometimes forget": the bare answer comes first, the rest qualifies it.
        main = results[0]
    conf = {2: 0.95, 1: 0.8, 0: 0.6}[best_rank]
    if any(results[i] is main for i in bare_lapse):
        conf = min(conf, _BARE_LAPSE_CONFIDENCE)
    if any(r[0] != main[0] and r[1] >= 1 for r in results):
        conf *= 0.8
    if conflict:
        conf *= 0.7
    conf *= hedge_factor(text)
    return Parse(main[0], round(conf, 3))
