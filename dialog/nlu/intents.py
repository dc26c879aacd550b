"""Global intents, understood at every step whatever the question: complaint, praise, suggestion,
request_human, call_back_later, wrong_person, opt_out, repeat, unsure.

Each intent is a set of key-phrase patterns (Chinese and English, both always checked). Patterns marked
``guarded`` are ignored right after a negation (没什么要投诉的, 不用转人工, "no complaints",
"nothing to suggest"). ``detect`` returns every intent found with its confidence and text spans; the
priority between them lives in ``dialog.nlu.understand``. Two rules live here because they are about the
phrases themselves:
- a complaint made only of "weak" grievances (停车太难, 排队太久, 环境差) becomes a suggestion when the
  reply also proposes an improvement (停车太难了可以改进一下);
- "repeat" phrases that contain an "unsure" phrase (不知道你在说什么) are repeat only.
Praise and complaint need specific content (docs/nlu.md "What counts as feedback"): staff with a strongly
positive description or thanks directed at them; a strongly negative description of staff, money, neglect,
food or the ward. Some praise ("she was wonderful", 讲得特别清楚, 谢谢她) counts only when staff are named in
the reply, so that praise of a relative is not taken for praise of the hospital.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAMEPART = r"[^\s,?你您我他她们的了吧啊]"
_PRAISE_ADJ_EN = (
    r"(?:so |very |really |extremely |absolutely |incredibly |just |truly |super |always |such )*(?:wonderful|great|"
    r"amazing|excellent|fantastic|kind|caring|helpful|professional|attentive|brilliant|lovely|nice|good|patient|"
    r"friendly|supportive|outstanding|superb|marvell?ous|fabulous|angels?|the best|thorough|gentle|compassionate|"
    r"knowledgeable|reassuring|considerate|understanding|sweet|a star|stars|an angel|a gem|great help|a great help)"
)
# How staff did their work: 讲得特别清楚, 照顾得特别周到, 手术做得特别好.
_WORK_PRAISE_ZH = (
    r"(?:讲|说|解释|交代|嘱咐|叮嘱|教|照顾|护理|服务|安排|处理|手术做|手术|治|看病|看|查|问|听|检查|关心|对待|待|打针|扎针|"
    r"换药|抽血|操作|介绍|说明|指导)(?:的|得)(?:也|都)?(?:特别|非常|很|挺|十分|相当|太|真|超|好|都很|都特别|都非常|都挺|那么|这么)"
    r"(?:清楚|仔细|细致|详细|明白|周到|到位|耐心|细心|好|认真|用心|贴心|专业|负责|温柔|轻|及时|成功|漂亮|棒)"
)
# Facility nouns of a grievance, with their verb: "the food in the ward was", "the bathrooms were".
_FACILITY_EN = (
    r"(?:food|meals?|dinners?|lunch(?:es)?|breakfasts?|room|ward|bathrooms?|toilets?|showers?|beds?|parking|"
    r"waiting room|canteen|cafeteria|air conditioning|heating|wifi|noise|paperwork|discharge|admission|process|"
    r"system|signage|signs|queue|wait)\b(?:\s+(?:in|on|at|of|from|for)\s+(?:the\s+)?(?:\w+\s+){0,2}?\w+)?\s+"
    r"(?:was|were|is|are|has been|have been|tasted|got|gets)"
)
# Who praise and complaints are about: staff by role, optionally with a name after it (护士小刘, the nurse Amy).
_STAFF_ZH = (
    r"医生|护士|大夫|主任|护士长|院长|医护人员|医护|护工|药师|护理员|工作人员|收费员|保安|前台|挂号的|收费的|"
    r"麻醉师|康复师|治疗师|主治|专家|教授"
)
_STAFF_NAME = r"(?:(?:小|老|阿)[\u4e00-\u9fff])?"
_STAFF_EN = (
    r"(?:nurse|doctor|dr|surgeon|staff|receptionist|pharmacist|physio\w*|therapist|consultant|registrar|porter|"
    r"midwife|anaesthetist|anesthetist|carer|orderly|team|cashier|clerk|technician|radiographer|specialist|"
    r"night nurse|night staff)"
)


@dataclass(frozen=True)
class _Pat:
    rx: re.Pattern[str]
    confidence: float = 0.9
    guarded: bool = True
    weak: bool = False


def _p(pattern: str, confidence: float = 0.9, guarded: bool = True, weak: bool = False) -> _Pat:
    return _Pat(re.compile(pattern), confidence, guarded, weak)


# What may qualify the calls a patient refuses: 这种电话, 这样的电话, 这类电话, 这个号码, 什么电话, 你们的电话.
_CALL_QUALIFIER = r"这种|这样的|这样|这类|这一类|此类|这个|这些|那种|那样的|什么|啥|你们的|你们这种|你们这样的|这种类型的|这种的"

# 有点不清楚 / 有些不太懂 describe something (讲得有点不清楚), they are not "I don't know";
# 有时候忘了 / 经常忘了 tell how often a patient forgets (their pills), not that they forgot the answer.
_NOT_DESCRIBED = r"(?<!有点)(?<!有些)(?<!有点儿)(?<!有一点)(?<!讲得)(?<!说得)(?<!讲的)(?<!说的)"
_NOT_HABIT = r"(?<!时候)(?<!有时)(?<!偶尔)(?<!经常)(?<!老是)(?<!总是)(?<!常常)(?<!老)(?<!总)(?<!常)(?<!会)"

PATTERNS: dict[str, tuple[_Pat, ...]] = {
    "opt_out": (
        # 别/不要 … 打 … 电话: a qualifier may sit between the verb and 电话 (这种, 这样的, 这类, 这个, 什么):
        # 以后别给我打这种电话了, 别再给我打这类电话, 不要再往这个号码打电话.
        _p(
            r"(?:以后|今后|往后|再也|下次)?(?:别|不要|不用|甭|不许|不准|请勿|勿|莫|不必)(?:再|老|总|老是|总是|一直)?"
            r"(?:给我|跟我|往我这|给|找我|往(?:我)?(?:这|这个|我的)(?:号码|电话|手机)?(?:上)?)?(?:(?:打|拨)(?:我)?(?:的)?"
            r"(?:" + _CALL_QUALIFIER + r")?(?:电话|号码|手机|过来|来了|了|啦|咯)|来(?:电话|电))",
            guarded=False,
        ),
        # 别再打了, 不要再打这个号码 — but not 不用再打针了 / 不用再打胰岛素了 (an injection), nor 不用来了.
        _p(
            r"(?:以后|今后)?(?:别|不要|不用)再(?:给我|跟我)?打(?=电话|过来|来|了|啦|咯|给我|我|这|那|什么|啥|,|\?|$|吧|啊|呀|呢)",
            guarded=False,
        ),
        _p(r"(?:别|不要|不用|甭|不许|不准)(?:再)?(?:打扰|骚扰|烦)(?:我)?", guarded=False),
        _p(r"骚扰(?:电话|我)?|拉黑|黑名单|退订|取消(?:订阅|随访|回访|这个服务)|烦不烦", guarded=False),
        _p(
            r"(?:不要|不想|不需要|不用|不接受|拒绝)(?:再)?(?:接受|参加|做|接)?(?:这个|这种|这样的|你们的|你们)?"
            r"(?:回访|随访|电话回访|调查|问卷|这种电话|这样的电话|你们的电话)",
            guarded=False,
        ),
        _p(r"(?:以后|今后)?(?:不要|别|不用)(?:再)?联系(?:我)?", guarded=False),
        _p(r"(?:把我|将我)(?:的)?(?:号码|电话|名字|信息)?(?:删|去掉|移除)", guarded=False),
        _p(r"再打(?:我就)?(?:投诉|报警)", guarded=False),
        _p(r"\bstop (?:calling|ringing|phoning|contacting|bothering|harassing|texting)\b", guarded=False),
        _p(
            r"\b(?:do not|never|please do not) (?:ever )?(?:call|ring|phone|contact|bother) (?:me |us |this number |here |"
            r"this phone |my number |him |her )?(?:(?:on|at) (?:this|my) (?:number|phone) )?(?:(?:about|with) "
            r"(?:this|these|that|those|such)(?: \w+){0,2} )?(?:again|anymore|any more|ever)\b",
            guarded=False,
        ),
        _p(
            r"\b(?:do not|never) (?:call|ring|phone|contact)(?: me| us| this number| here)?(?=,|\?|$)",
            guarded=False,
        ),
        _p(
            r"\b(?:remove|take|delete|cross) (?:me|my number|my name|us|this number)\b.{0,24}\b(?:list|system|database|"
            r"records|register)\b",
            guarded=False,
        ),
        _p(
            r"\bunsubscribe\b|\bopt (?:me )?out\b|\bdo not call list\b|\bno more calls\b|\bleave me alone\b|"
            r"\bnot interested\b|\bharass(?:ing|ment)?\b|\bdo not want (?:any )?(?:more )?(?:of )?(?:these |this |such |your |"
            r"those )?(?:kinds? of |sorts? of |types? of )?(?:calls?|phone calls?|to be called|to be contacted)\b|\bdo not want to (?:do|take part|participate)\b",
            guarded=False,
        ),
    ),
    "wrong_person": (
        _p(
            r"(?<!没有)(?<![没不])打错(?:了|电话|号码|人)?|(?<!没有)(?<![没不])(?:找|打)错人|(?:号码|电话)(?:打)?(?:错了|不对)|"
            r"没(?:有)?(?:这个|此|这么个|这样的|叫这个名字的|这么一个)人|没这人|查无此人|没有叫\S{1,4}的|"
            r"不认识(?:这个人|他|她|这人|你说的|这个)|我不认识|不是本人|你找错了|你找谁",
            guarded=False,
        ),
        _p(
            r"(?:我)?不是(?:他|她|你要找的人|你说的那个人|那个人|你们要找的|你找的人|这个人|病人|患者)(?!的|们)|"
            r"不是我|^我不是$|(?:我)?不叫"
            + _NAMEPART
            + r"{1,3}|这不是"
            + _NAMEPART
            + r"{0,4}(?:的)?(?:电话|手机|号码)",
            guarded=False,
        ),
        _p(
            r"\bwrong number\b|\bwrong person\b|\bwrong (?:guy|man|woman|lady|house|family|people)\b|"
            r"\b(?:no one|nobody|no body) (?:here |lives here )?(?:by|with|called|named|of) (?:that|this|the)\b|"
            r"\bno (?:one|body) (?:here )?(?:called|named|by the name)\b|\bthere is no \w+ here\b|\byou have (?:got )?"
            r"the wrong\b|\bnever heard of (?:him|her|them|that person)\b|\bi do not know (?:him|her|that person|anyone|"
            r"who that is|who you are talking about|any)\b|\bi am not (?:him|her|that person|the patient|who you think)\b|"
            r"\bthis is not (?:him|her|the patient)\b|\bnot me\b|\bno such person\b|\bdoes not live here\b",
            guarded=False,
        ),
    ),
    "request_human": (
        _p(
            r"转人工|人工(?:服务|客服|坐席|台|接听)?(?!关节|晶体|流产|髋|膝|瓣膜|心脏|耳蜗|授精|呼吸|智能|造|肛|喂养|骨)|"
            r"真人|活人|接线员|客服|(?:找|换|要)(?:个)?(?:人|真人|人工)(?:来)?(?:说|聊|谈|接|跟我说)"
        ),
        _p(
            r"(?:我要|我想|想|让|请|麻烦|能不能|可以|我得|我还是|还是)(?:你)?(?:直接|亲自|自己|再|还是|当面)?"
            r"(?:找|跟|和|叫|让|给我找|问问|问一下|咨询一下|咨询)(?:你们|我的)?(?:的)?(?:[\u4e00-\u9fff]{1,2}?)?(?:护士|医生|大夫|主任|"
            r"护士长|负责人|领导|工作人员|值班医生|主治医生|管床医生)"
            + r"(?:\S{0,4}?(?:说|讲|谈|聊|接|通话|打电话|来|问)|(?=,|$|吧|吗|\?))"
        ),
        _p(
            r"转(?:接)?(?:给|到)?(?:护士|医生|大夫|科室|客服|值班|人工)|叫(?:你们)?(?:的)?(?:护士|医生|大夫|领导|负责人)"
            r"(?:来)?(?:接|听|跟我说)|不想(?:跟|和)机器(?:人)?(?:说|聊|讲)|不要机器人|别用机器|(?:跟|和)(?:真人|人)"
            r"(?:说|聊|讲|谈)|(?:让|请)(?:护士|医生|大夫)(?:给我|跟我)?(?:打|回)(?:个)?电话"
        ),
        _p(
            r"\b(?:real|live|actual) (?:person|human|people|agent|nurse|doctor|operator)\b|\bhuman being\b|"
            r"\b(?:a|an|the) human\b|\boperator\b|\brepresentative\b|\btransfer me\b|\bput me through\b|"
            r"\bconnect me\b|\b(?:speak|talk|chat) (?:to|with) (?:a |an |the |some |your |my )?(?:someone|somebody|person|"
            r"human|nurse|doctor|agent|operator|staff|manager|supervisor|real|live|representative|people)\b|"
            r"\b(?:get|give) me (?:a|an|the) (?:person|human|nurse|doctor|agent|operator|manager)\b|"
            r"\bnot (?:a |to )?(?:machine|robot|computer|bot)\b|\bhave (?:a|the) (?:nurse|doctor) call me\b|\bagent\b"
        ),
    ),
    "call_back_later": (
        _p(
            r"(?:在|正在|正)开(?:着)?车|开车(?:呢|中)|开着车|在开会|开会(?:呢|中)|正开会|在上班|上(?:着)?班呢|在上课|上课呢|"
            r"在工作|工作呢|(?:很|正|太|在|比较|有点|特别|好|超|正在)忙|忙(?:着|呢|得很|死了)|没空|"
            r"没时间(?:接|说|聊|跟你)?(?=,|$|呢|啊|了)|(?:现在|暂时|这会儿?|目前|此刻|眼下)(?:不太?方便|不便)|"
            r"(?:接|说话|讲话|讲电话|接电话|打电话)(?:不太?方便)|^不太?方便(?:接|说|讲)?(?:电话)?(?:啊|呢|了)?$"
        ),
        _p(
            r"(?:晚点|晚些|晚一点|晚会儿|过会儿?|过一会儿?|等会儿?|等一会儿?|待会儿?|一会儿?|回头|改天|下次|稍后|迟点|迟些|"
            r"等下|等一下|过两天|过几天|明天|后天|下午|晚上|上午|中午|早上|下周|下个?星期|下个?礼拜|周末|明早|明晚|今晚|"
            r"[\d一二两三四五六七八九十]+点(?:钟)?(?:半)?(?:以后|之后|后)?|[\d一二两三四五六七八九十半]+个?半?(?:小时|钟头|分钟)"
            r"(?:以后|之后|后)?)(?:(?:再|给我|跟我|你|您|你们)?(?:再)?(?:打|联系|打过来|回电|回电话|来电|打给我)|再(?:说|聊))"
        ),
        _p(
            r"^(?:我)?(?:很|太)?忙(?:着|呢|啊|得很)?$|(?:晚点|晚些|晚一点|回头|等会儿?|待会儿?|过会儿?|一会儿|改天|下次|稍后)(?:再)?(?:说|聊)|"
            r"(?:早上|上午|中午|下午|傍晚|晚上|明天|后天|周末|下班后|[\d一二两三四五六七八九十]+点(?:以后|之后|后)?)(?:的话)?"
            r"(?:比较|更|会|才|再)?方便|"
            r"^(?:你|您)?(?:再|晚点)打(?:过来|给我)?(?:吧|好吗|行吗)?$|回头再说|(?:等|待)(?:我)?(?:忙完|下班|回家|到家|开完会|有空)|"
            r"在(?:路上|车上|地铁|公交|高铁|飞机|外面|外地|吃饭|睡觉|洗澡|做饭|厕所|看病|输液|做检查)(?:呢|上)?(?=,|$|呢|啊|不)|"
            r"(?:他|她|病人|患者|我爸|我妈)(?:现在)?不在(?:家|这|旁边|身边|这里)?(?!了)|(?:他|她)(?:出去了|出门了|睡(?:觉|着)了|"
            r"在睡觉|上班去了)"
        ),
        _p(
            r"\bcall (?:me |us )?(?:back|later|again later|another time|tomorrow|tonight|this (?:evening|afternoon|morning)|"
            r"in (?:an|a|\d+|half)|after)\b|\b(?:ring|phone) (?:me )?back\b|\bcall back\b|(?<!\bi will )(?<!\bwe will )(?<!\bi )\btry (?:me )?(?:again )?(?:later|"
            r"tomorrow|another time|some other time|this (?:evening|afternoon|morning)|tonight|in the (?:morning|afternoon|"
            r"evening)|(?:at|after|around|about) (?:\d|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon)|"
            r"in (?:an|a|\d+|half|one|two|three|few|a few|ten|twenty|thirty)\b)|"
            r"\b(?:call|ring|phone) (?:me |us )?again (?:later|tomorrow|another time|some other time|tonight|"
            r"this (?:evening|afternoon|morning)|in the (?:morning|afternoon|evening)|(?:at|after|around|about|in) \w+)\b|\bnot a (?:good|great|convenient) time\b|"
            r"\bbad time\b|\bi am (?:currently |just |really |a bit |kind of |very |so )?(?:busy|driving|working|in a meeting|"
            r"at work|in class|in the car|on the road|on a train|on the train|eating|cooking|at dinner|having dinner|"
            r"with a customer|in the middle of)\b|\b(?:busy|driving) (?:right )?now\b|\bcan not (?:talk|speak|take (?:the|your|"
            r"this) call)\b|(?:^|,\s*)(?:maybe |perhaps |um |sorry |please |can we do this |let us talk |talk )?later(?: please| on| ok| okay)?\s*$|\banother time\b|\bsome other time\b|\bnot now\b|"
            r"\b(?:he|she) is (?:not (?:here|home|in|available|around)|out|asleep|at work|sleeping)\b|"
            r"\bnot (?:a good moment)\b|\b(?:this evening|tonight|tomorrow|later|this afternoon|in the (?:morning|afternoon|evening)|"
            r"after \d+|after work)\s+(?:would be|is|works|will be)\s+(?:better|best|good|fine|ok|okay|more convenient)\b"
        ),
    ),
    "complaint": (
        _p(
            r"投诉|举报|反(?:映|应)(?:一下|个|一个|点)?(?:问题|情况)|告(?:你们|他|她)|"
            r"(?:态度|服务态度|脾气)(?:太|很|非常|特别|极|极其|真|比较|有点|挺|也|都|实在|相当|超|巨|真的|不是一般){0,2}"
            r"(?:差|不好|恶劣|冷漠|冷淡|生硬|粗暴|不行|不怎么样|有问题|凶|坏|差劲)|不负责(?:任)?|乱收费|"
            r"多收(?:了|我)?\S{0,4}(?:钱|费)|收费(?:太|很)?(?:贵|高|不合理|不透明|有问题)|乱开药|"
            r"没(?:有)?人(?:管|理|问|搭理|过来|处理)|不理(?:人|我|睬)|爱答不理|爱理不理|不耐烦|骂(?:人|我)|吼(?:我|人)|"
            r"凶(?:我|人|巴巴)|推诿|踢皮球|不专业|误诊|打错针|拿错药|开错药|医疗事故|红包|回扣|太过分|不像话|气死(?:我)?了|"
            r"很生气|非常生气|太生气|欺负|敷衍|有意见|讨(?:个)?说法|要(?:个)?说法|给(?:我)?(?:一)?个说法|歧视|"
            r"(?:护士|医生|大夫|工作人员|保安|收费员|他们)(?:的)?(?:太|很|特别|非常)?(?:凶|冷漠|粗暴|不耐烦|不管)|"
            r"不给(?:我)?(?:看|治|处理)"
        ),
        _p(
            r"(?:等|排队|排)(?:了)?(?:好久|很久|半天|一上午|一下午|好几个小时|几个小时|[\d一二两三四五六七八九十]+个(?:多)?小时|"
            r"太久|那么久|大半天|一整天)|(?:环境|卫生|厕所|病房|卫生间)(?:太|很|特别|有点|比较)?(?:差|脏|乱|臭)|"
            r"(?:停车|挂号|排队|看病|缴费|拿药|预约)(?:太|很|特别|真|非常|有点)?(?:难|麻烦|贵|慢|久|乱)|"
            r"(?:手续|流程|办事|效率|出院|入院|结账|缴费|报告|结果|检查|办理)(?:办|出|做|弄)?(?:得|的)?(?:也|都)?"
            r"(?:太|很|特别|非常|真|实在)(?:慢|麻烦|复杂|繁琐|乱|低)|"
            r"(?:车位|停车位|人手|窗口)(?:太|很)?(?:少|不够)|(?:排队|等待|等候|候诊|等)(?:的)?(?:时间)?(?:太|很|特别|有点|比较|实在)(?:长|久)",
            weak=True,
        ),
        # Hospital food, broken equipment, noise: facility grievances (weak: a proposed fix makes them a suggestion).
        # A mild word needs an intensifier (饭菜太凉了, not 饭菜都是凉的 — a plain description answering "what could
        # we improve?"); 难吃, 坏了 are grievances by themselves.
        _p(
            r"难吃|难以下咽|(?:太|很|特别|非常|真|实在|一点都|一点也)不好吃|"
            r"(?:饭|饭菜|菜|伙食|食堂|餐|粥|汤)(?:的)?(?:也|都|每天都|总是|老是|经常)?(?:是)?(?:太|很|特别|非常|真|实在|好|超|冰)"
            r"(?:凉|冷|咸|淡|贵|差|馊|硬|油|少)|馊了|"
            # (at home — 家里空调坏了 — it is not the hospital's)
            r"(?<!家)(?<!家里)(?<!家的)(?<!家里的)(?:空调|暖气|热水|电视|灯|厕所|马桶|卫生间|呼叫器|呼叫铃|床|设备|电梯|水龙头|淋浴|"
            r"wifi|网)(?:也|都|一直|老是)?(?:坏了|是坏的|不好使|不能用|用不了|没修|不热|不出水|不制冷|不通)|"
            r"(?:病房|环境|走廊|隔壁床|医院|大厅|候诊区|门诊|病区|你们那(?:里|儿)?)(?:里|里面)?(?:也|都|晚上)?(?:太|特别|非常|很|好|真)"
            r"(?:吵|脏|乱|臭|挤)(?:了|啊)?(?![\u4e00-\u9fff])",
            weak=True,
        ),
        # Strong negative descriptions of staff, money and neglect (docs/nlu.md "Feedback"): 不耐心, 爱搭不理,
        # 一直没人来, 按铃半天没人管, 费用太贵, 不知道收的什么钱.
        _p(
            r"(?:"
            + _STAFF_ZH
            + r")"
            + _STAFF_NAME
            + r"(?:的)?(?:态度|服务)?(?:对我|对病人)?(?:也|都|就|实在|真的?)?"
            r"(?:太|很|特别|非常|十分|真|好|超|一点也|一点都|根本|都|也|有点|比较)?"
            r"(?:不耐心|没(?:有)?耐心|不耐烦|不认真|不仔细|不细心|不专业|不负责|不上心|不管|不理|不搭理|凶|冷漠|冷淡|"
            r"粗暴|粗鲁|敷衍|马虎|粗心|傲慢|难说话|没礼貌|不礼貌|不客气|不友好|不尊重人|不把病人当人|态度不好)|"
            r"说话(?:很|太|特别|非常|真|挺|有点)?(?:冲|难听|不客气|不好听|刺耳|阴阳怪气)|语气(?:很|太|特别|非常|有点)?(?:冲|差|不好|生硬|凶)|"
            r"脾气(?:很|太|特别|非常)?(?:大|差|暴躁)|(?:什么|啥)都没(?:有)?(?:跟我|给我)?(?:说|讲|交代|解释)|"
            r"(?:也|都)?没(?:有)?人(?:跟我|给我)(?:说|讲|交代|解释)|不管不问|不闻不问|爱搭不理|不理不睬|没(?:有)?人(?:来|修|回应|答应|帮|照顾|接|看|搭理我|理我)|"
            r"(?:叫|喊|按铃|按了铃|按呼叫器|按铃按)(?:了)?(?:半天|好久|很久|几次|好几次)(?:都|也)?没(?:有)?人|一直没(?:有)?人(?:来|管|理)|"
            r"(?:费用|收费|药费|价格|检查费|住院费|医药费|手术费|床位费|挂号费|花费|费|钱)(?:也|都|实在|真的?)?"
            r"(?:太|很|特别|非常|好|真|贼|超|也太)(?:贵|高|不合理|离谱|坑|乱|黑|不透明)|坑人|宰人|太坑|冤枉钱|"
            r"不知道(?:收|花|扣)(?:的|了)?(?:什么|啥|哪门子)(?:钱|费)|重复收费|收(?:了)?(?:我)?两(?:次|遍)(?:钱|费)?|"
            r"(?:药|药品|检查|床位|住院|手术|看病|治疗)?(?:也|实在|真的?)?(?:太|特别|非常|真|贼|超|也太)贵|"
            r"(?:扎|戳|抽血|抽|打针|穿刺|插管)(?:针)?(?:扎|戳|抽)?(?:了)?(?:好几|好多|[三四五六七八九十]|几)(?:次|针|下|回)"
            r"(?:才|都没|也没|都不|还没)"
        ),
        _p(
            r"\bcomplain(?:t|ts|ing)?\b|\bmake it complete\b|\breport (?:this|it|him|her|them|the)\b|\brude\b|\bimpolite\b|"
            r"\bunprofessional\b|\bdisrespectful\b|\bignored\b|\b(?:nobody|no one) (?:came|helped|cared|listened|answered|"
            r"explained|checked|bothered)\b|\bovercharged\b|\bcharged (?:me |us )?(?:too much|twice|extra)\b|"
            r"\bbilling (?:error|mistake|problem)\b|\bnegligen(?:t|ce)\b|\bcareless\b|\bmistreated\b|"
            r"\b(?:yelled|shouted|screamed|yelling|shouting|screaming|snapped|swore|swearing) at\b|"
            r"\b(?:nobody|no one|none of them|none of the (?:staff|nurses|doctors))(?:\s+(?:at|in|on|from)\s+(?:the\s+)?"
            r"(?:\w+\s+){0,2}?\w+)?\s+(?:would|could|even|ever|bothered to|wanted to|was willing to|cared to)\s+"
            r"(?:help|come|answer|listen|explain|tell|check|see|talk|respond|care)\b|\bwrong (?:medication|medicine|drug|dose|diagnosis)\b|\bmisdiagnos\w*\b|"
            r"\b(?:nurse|doctor|staff|receptionist|they|he|she)s? (?:was|were|is|are) (?:so |very |really |extremely |quite )?"
            r"(?:rude|mean|cold|dismissive|arrogant|unhelpful|unfriendly|nasty|horrible|awful|terrible)\b|"
            r"\battitude (?:was|is) (?:so |very |really )?(?:bad|terrible|awful|poor|horrible)\b|\bbad attitude\b|"
            r"\bunacceptable\b|"
            r"\b(?:discharged|sent home|released|sent away)\s+(?:with\s+no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:instructions|"
            r"information|explanation|advice|medication|medicines?|follow[- ]up|plan|prescription)\b|"
            r"\b(?:nobody|no one) (?:ever )?(?:told|explained to|informed) me\b|"
            r"\b"
            + _STAFF_EN
            + r"s?\b(?:\s+(?:on|in|at|from|of)\s+(?:the\s+)?(?:\w+\s+){0,2}?\w+)?\s+(?:was|were|is|are|has been|"
            r"have been)\s+(?:always\s+|just\s+|so\s+|very\s+|really\s+|extremely\s+|quite\s+|a bit\s+|pretty\s+|too\s+)*"
            r"(?:rude|mean|cold|dismissive|arrogant|unhelpful|unfriendly|nasty|horrible|awful|terrible|impatient|careless|"
            r"rough|incompetent|useless|condescending|impolite|short with me)\b|"
            r"\b(?:"
            + _STAFF_EN
            + r"s?|nobody|no one)\s+(?:never|did not|did not even|would not|never once|could not be bothered to)"
            r"\s+(?:came|come|answer(?:ed)?|respond(?:ed)?|show(?:ed)? up|check(?:ed)? on|explain(?:ed)?|call(?:ed)? back|"
            r"help(?:ed)?|listen(?:ed)?|bother(?:ed)?|look(?:ed)? at|turn(?:ed)? up)\b|"
            r"\b(?:call )?(?:bell|buzzer)\b[^,]{0,20}\b(?:never|not|nobody|no one)\b[^,]{0,12}\banswer|"
            r"\b(?:charged|billed)\s+(?:me\s+|us\s+)?(?:twice|double|for nothing|for things)\b|\bdouble[ -]charged\b|"
            r"\brip ?off\b|\bripped (?:me |us )?off\b|\b(?:bill|charges?|fees?|prices?|costs?)\s+(?:was|were|is|are)\s+"
            r"(?:way |far |so |very |really |ridiculously |absurdly )*(?:too )?(?:high|expensive|wrong|outrageous|extortionate)\b"
        ),
        _p(
            r"\bwaited (?:for )?(?:hours|ages|so long|too long|a long time|forever|over an hour|\d+ hours)\b|\bdirty\b|"
            r"\bfilthy\b|\bparking (?:was|is) (?:a nightmare|terrible|impossible|awful|hard|difficult)\b|"
            r"\b(?:waiting|wait) (?:time )?(?:was|is) (?:too|so|very) long\b|"
            r"\btook (?:forever|ages|hours|so long|far too long|way too long|too long)\b|"
            # The food / the room … was awful (a strong word), or cold / noisy … said with an intensifier or as
            # a daily occurrence ("so cold", "cold every single day"; not a plain "the food was cold").
            r"\b"
            + _FACILITY_EN
            + r"\s+(?:always\s+|just\s+|so\s+|very\s+|really\s+|absolutely\s+|extremely\s+|"
            r"pretty\s+|completely\s+|totally\s+|too\s+|stone\s+)*(?:awful|terrible|horrible|disgusting|inedible|"
            r"filthy|appalling|a nightmare|a mess|a joke|a disaster|broken|revolting|dreadful|gross|not working|"
            r"freezing|boiling|unbearable|atrocious|rubbish|crap|shocking)\b|"
            r"\b"
            + _FACILITY_EN
            + r"\s+(?:always\s+|just\s+)?(?:so|very|really|absolutely|extremely|terribly|too|way too|"
            r"far too|stone|ridiculously|incredibly)\s+(?:cold|noisy|loud|slow|expensive|bland|tasteless|cramped|"
            r"confusing|chaotic|disorgani[sz]ed|poor|bad|overpriced|hot|uncomfortable|crowded)\b|"
            r"\b"
            + _FACILITY_EN
            + r"\s+(?:always\s+|just\s+)?(?:cold|noisy|loud|slow|bland|tasteless|poor|bad|late|"
            r"inedible|uncomfortable|crowded|dirty)\s+(?:every (?:single )?(?:day|meal|time|night|morning)|each (?:day|time|"
            r"meal)|all the time|the whole (?:time|stay|week)|for days|day after day)\b|"
            r"\b(?:cold|awful|terrible|inedible|disgusting) (?:food|meals?)\b",
            weak=True,
        ),
        # A hospital service, system or skill with a strongly negative predicate, often in a clause after the answer
        # (没有，不过你们那个挂号系统太难用了; 三十六度八，不过护士打针手法太差了; 收费一点都不透明). The noun is needed:
        # 不太满意 / 有点疼 / 不太好 stay plain answers, 系统 must be the hospital's (not 消化系统), and 服务 is left out
        # (服务太差了 is a scale answer, docs/nlu.md).
        _p(
            r"(?:(?:挂号|预约|缴费|自助|排号|叫号|信息|网上|线上|医院|你们(?:那个|这个|的)?)(?:的)?(?:系统|平台|软件|app|小程序|"
            r"公众号|网站|机器|自助机)|自助机|小程序|公众号|(?:医院|你们)(?:的)?(?:app|网站)|流程|导诊|指示牌|标识|"
            r"(?:管理|秩序)(?=(?:也|都)?(?:太|很|特别|非常|真|实在)?(?:乱|混乱)))"
            r"(?:也|都|实在|真的?|简直)?(?:(?:太|很|特别|非常|十分|真|超|好|极其|相当|一点都|一点也|根本|完全|实在)(?:是)?"
            r"(?:难用|不好用|差劲|差|烂|乱|混乱|慢|不透明|不合理|糟糕|垃圾|离谱|不靠谱|复杂|繁琐|麻烦)|难用|不好用|"
            r"混乱|一团糟|垃圾)",
            weak=True,
        ),
        _p(
            r"(?:(?:打针|扎针|抽血|输液|换药|穿刺|护理|手术|缝针)?(?:的)?(?:手法|技术)|技术水平|医术(?:水平)?|业务水平)"
            r"(?:也|都|实在|真的?|简直)?(?:太|很|特别|非常|十分|真|超|好|极其|相当|一点都|一点也|根本|完全|实在)?"
            r"(?:(?:太|很|特别|非常|十分|真|超|好|极其|相当|实在)(?:差劲|差|烂|粗|粗暴|糟糕|不行)|垃圾|不专业|不熟练|生疏|"
            r"一点都不(?:专业|熟练|行)|根本不行)|"
            r"(?:收费|费用|账单|价格|药费|医药费|住院费|检查费)(?:也|都|实在|真的?|简直)?(?:一点都|一点也|根本|完全|太|很|特别|非常)"
            r"(?:不透明|不合理|不清楚|不明白|乱)"
        ),
    ),
    "praise": (
        _p(
            r"表扬|夸(?:一下|夸|奖)|点赞|称赞|赞扬|锦旗|感谢信|好医生|好护士|白衣天使|医术高明|妙手回春|华佗再世|救命恩人|"
            r"再生父母|救了我(?:的命|一命)?|多亏(?:了)?(?:你们|医生|护士|大夫|"
            + _NAMEPART
            + r"{1,3}(?:医生|护士|大夫))"
        ),
        _p(
            r"(?:感谢|谢谢|感激)(?:一下)?(?:你们)?(?:的)?(?:"
            + _NAMEPART
            + r"{1,3}的?)(?:医生|护士|大夫|主任|护士长|院长|老师)"
        ),
        _p(
            r"(?:非常|特别|十分|太|真|衷心|真心|真的|由衷)(?:地)?(?:感谢|谢谢|感激)(?:你们|您们)?(?:医院|科室|全体|所有|的)?"
            r"(?:医生|护士|大夫|医护|照顾|帮助|关心|治疗)|太感谢(?:你们|医院|医生|护士)了"
        ),
        _p(
            r"(?:"
            + _STAFF_ZH
            + r"|他们|"
            + _NAMEPART
            + r"(?:医生|护士|大夫|主任))"
            + _STAFF_NAME
            + r"(?:们)?(?:的)?(?:个个|每个|每一个|一个个|全都|全)?(?:都|也)?"
            r"(?:服务|态度|技术|医术|水平|人)?(?:对我|待人|对病人)?(?:都|也)?(?:特别|非常|很|挺|真|十分|相当|太|超|都很|都特别|都非常|都挺)"
            r"(?:好|负责|耐心|细心|专业|热情|周到|认真|用心|到位|贴心|温柔|和蔼|体贴|尽心|尽责|高明|棒|厉害|不错|给力|"
            r"有耐心|有爱心|有责任心|负责任|细致|仔细|亲切|和气|客气|敬业|尽职|优秀|靠谱|温和|好说话|照顾人)"
        ),
        # Thanks directed at staff rather than said to the caller: 谢谢她, 太感谢他了, 替我谢谢他, 转达我的谢意,
        # 真得好好谢谢你们 (politeness — 谢谢, 谢谢你 — is not praise).
        _p(
            r"(?:替我|帮我|代我|给我)(?:好好)?(?:谢谢|感谢|谢|转达)|你们(?:的人|医院|科室)?"
            + _WORK_PRAISE_ZH
            + r"|"
            r"转达(?:一下)?(?:我的|我们的|我们全家的)?(?:谢意|感谢|谢谢|感激)|"
            r"(?:真得|真的得|得|要|必须|一定要|真要|真是要)(?:好好)?(?:谢谢|感谢)(?:你们|您们|医院|科室|大家|"
            + _STAFF_ZH
            + r")"
        ),
        _p(
            r"\bpraise\b|\bcompliments?\b|\b(?:want|like|wish|would like) to (?:thank|praise|commend|compliment)\b|"
            r"\bthank (?:dr|doctor|nurse) \w+|\bthanks to (?:dr|doctor|nurse|the (?:doctors?|nurses?|staff|team))\b|"
            r"\bgrateful\b|\bappreciate (?:the|all|everything|your|what)\b|\b(?:really |truly |very much |so )?appreciated\b|"
            r"\byou (?:guys |all |people )(?:have |were |are )?(?:all )?(?:been )?" + _PRAISE_ADJ_EN + r"\b|"
            r"\byou have all been " + _PRAISE_ADJ_EN + r"\b|\b(?:" + _STAFF_EN + r"s?(?: \w+)?|everyone|"
            r"everybody|all of them|all the \w+)(?:\s+(?:on|in|at|from|of)\s+(?:the\s+)?(?:\w+\s+){0,2}?\w+)?\s+"
            r"(?:was|were|is|are|has been|have been)\s+(?:all\s+)?" + _PRAISE_ADJ_EN + r"\b|"
            r"\b(?:"
            + _STAFF_EN
            + r"s?(?: \w+)?|you|everyone|everybody)\s+(?:all\s+)?(?:did|have done|has done|"
            r"had done)\s+(?:a|an|such a|such an)\s+(?:really |very |truly |absolutely )?(?:great|fantastic|wonderful|amazing|"
            r"excellent|brilliant|superb|good|fine|outstanding|terrific|incredible)\s+job\b|"
            r"\b(?:"
            + _STAFF_EN
            + r"s?(?: \w+)?)\s+(?:explained|took care of|looked after|treated|handled|answered|"
            r"cared for|walked me through)\b(?:\s+\w+){0,3}?\s+(?:really |very |so |extremely |super |incredibly )?"
            r"(?:clearly|well|patiently|carefully|thoroughly|beautifully|kindly|perfectly|gently|wonderfully)\b|"
            r"\bpass (?:on )?(?:my|our) (?:thanks|gratitude|appreciation|regards)\b|"
            r"\b(?:give|send) (?:him|her|them|the \w+) (?:my|our) (?:thanks|gratitude)\b|"
            r"\bsay thank(?:s| you) to\b|\btell (?:him|her|them|the \w+) (?:i said )?thank(?:s| you)\b|"
            r"\bthank (?:the|all the|your) (?:nurses?|doctors?|staff|team|surgeons?)\b|\bsaved my life\b|"
            r"\btook (?:great|good|such good|very good) care\b|\bkudos\b|\bshout ?out\b|\bhats off\b|\bcommend\b"
        ),
    ),
    "suggestion": (
        _p(
            r"建议|提(?:个|一个|点|些|一点)?(?:意见|建议)|希望(?:你们|医院|贵院|科室|以后|今后|下次|能够?|可以)"
            r"(?!快点好|早日|早点好|身体|病|我)|希望(?![^,]*(?:康复|好起来|恢复|痊愈|出院|健康|平安|顺利|早日|快点好|早点好))[^,]{0,12}?"
            r"(?:方便|快|简化|改进|改善|增加|减少|缩短|提高|便宜|及时|规范|耐心|热情|清楚|能|可以|能够|再|多|少|别|不要|一点|一些)"
            r"|最好(?:能|可以|是能|把|多|再|在|给|提前|安排|有)|(?:能不能|可不可以|能否|可否)"
            r"(?:把|多|增加|改|在|给|提供|安排|缩短|减少|提前|方便)|(?:应该|应当)(?:多|增加|改进|改善|加强|提高|把|给|安排|设置)|"
            r"(?:改进|改善|提高|加强|完善|优化)(?:一下|一些|下)?|(?:如果|要是)[^,]{1,12}(?:就好了|会更好|就更好了|更好)|"
            r"多(?:安排|增加|设置|开|加)(?:几个|一些|点)?|增加(?:一些|点|几个)?(?:车位|停车位|医生|护士|人手|窗口|座位)"
        ),
        _p(
            r"\bsuggest(?:ion|ions)?\b|\brecommend(?:ation)? (?:that|you|they|more|adding|having)\b|\byou (?:guys )?(?:should|"
            r"could|ought to|might want to|need to|have to) (?:really )?(?:improve|add|have|get|provide|make|fix|hire|change|"
            r"consider|increase|reduce|offer|extend|update|think about|do|put|give|let|allow|train|open)\b|"
            r"\bit would be (?:better|nice|good|great|helpful|easier) (?:if|to)\b|\bwould be (?:nice|better|good|great|"
            r"helpful) if\b|\b(?:could|should|can) be improved\b|\broom for improvement\b|\bi wish (?:you|the|there|they)\b|"
            r"\bneeds? (?:more|better) (?:parking|staff|nurses|signs|seats|chairs|doctors|information)\b|"
            r"\bmore parking\b|\bplease (?:improve|consider)\b|\bimprove\b|\bimprovement\b"
        ),
    ),
    "repeat": (
        _p(
            r"再说一(?:遍|次|下)|再讲一(?:遍|次|下)|重复一(?:遍|下|次)|再重复|(?:没|没有)听(?:清楚|清|见|到|懂|明白)|"
            r"听不(?:清楚|太清楚|清|见|到|懂|太清|大清|明白)|(?:你|您)(?:刚才|刚刚)?(?:说|讲)(?:的)?(?:是)?(?:什么|啥|哪个|嘛)|"
            r"刚才(?:说|讲)(?:的)?(?:是)?(?:什么|啥)|说(?:什么|啥)(?:呢|来着)?\?|什么意思|啥意思|没明白|"
            r"不懂(?:你|您)(?:的意思|说的)|大(?:声|点)(?:一)?点|声音(?:太|有点)?小|慢(?:一)?点说|说慢(?:一)?点|请再说|"
            r"信号不好|(?:有)?(?:什么|哪些|哪几个)选项|(?:你|您)(?:们)?是(?:哪里|哪儿|哪位|谁|什么单位|什么医院|哪个(?:医院|科室|单位|科|部门)|哪家(?:医院)?|干什么的|做什么的)|你哪位|哪里打来的|(?:电话|你们|你|您)(?:这个)?(?:电话)?是干(?:嘛|吗|什么)(?:的)?|打(?:电话)?(?:来|过来)?(?:是)?(?:干嘛|干什么|干吗)|"
            r"有什么事|不知道(?:你|您)(?:在)?(?:说|讲)(?:的)?(?:是)?(?:什么|啥)",
            guarded=False,
        ),
        _p(
            r"\bpardon\b|\bcome again\b|\bsay (?:that|it) again\b|\bsay again\b|\brepeat\b|\bone more time\b|"
            r"\b(?:did not|could not|can not) (?:catch|hear|understand|get) (?:that|it|you|what you said|the question)\b|"
            r"\bcan not hear\b|\bspeak up\b|\blouder\b|\bwhat did you (?:say|ask|mean)\b|\bwhat was (?:that|the question)\b|"
            r"\bwhat do you mean\b|\bsorry,? what\b|\bwho is (?:this|calling)\b|\bwho are you\b|\bwhat is this about\b|"
            r"\bbreaking up\b|\bwhat (?:were|are) the (?:options|choices)\b|\bbad (?:line|connection|signal)\b|\bslow down\b|\bexcuse me\?",
            guarded=False,
        ),
    ),
    "unsure": (
        _p(
            r"不知道|" + _NOT_DESCRIBED + r"(?:不太清楚|不清楚)|不晓得|不记得|记不(?:得|清|住|太清|大清)|"
            r"(?:我)?" + _NOT_HABIT + r"忘(?:了|记了)(?!吃|量|去|测|做|拿|带|买)|"
            r"说不(?:好|清|准|上来)|不好说|不确定|不太确定|不一定|没(?:有)?注意|没留意|没(?:有)?(?:量|测|测量)(?:过)?|"
            r"搞不(?:清|懂|明白)|弄不清|没数|心里没底|谁知道|难说|很难说|"
            + _NOT_DESCRIBED
            + r"不太懂|想不起来|记性不好",
            guarded=False,
        ),
        _p(
            r"\bdo not know\b|\bno idea\b|\bnot sure\b|\bunsure\b|\bnot certain\b|\b(?:can not|do not|could not) (?:remember|"
            r"recall)\b|\bi forget\b|\bi forgot\b(?! to)|\bhard to say\b|\bno clue\b|\bwho knows\b|\bcan not say\b|"
            r"\b(?:have not|did not|never|not) (?:checked|measured|taken it|tested|tried|check|measure|test|take it)\b|\bnot (?:too|so|really) sure\b|"
            r"\bbeats me\b|\bit depends\b",
            guarded=False,
        ),
    ),
}

# Praise that says "he", "she" or only how the work was done counts when staff are named in the reply
# (王护士讲得特别清楚，真得谢谢她; "the nurse Amy …, she was wonderful"): said of a relative (我女儿照顾得很好，
# 真得谢谢她; "my wife has been great") it is not praise of the hospital.
_STAFF_MENTION = re.compile(r"(?:" + _STAFF_ZH + r")|\b" + _STAFF_EN + r"s?\b")
_STAFF_CONTEXT_PRAISE = (
    _p(_WORK_PRAISE_ZH + r"|(?:谢谢|感谢|感激)(?:一下)?(?:他|她)(?:们)?", 0.85),
    _p(
        r"\b(?:he|she|they)\s+(?:was|were|is|are|has been|have been)\s+(?:all\s+)?" + _PRAISE_ADJ_EN + r"\b|"
        r"\b(?:he|she|they)\s+(?:all\s+)?(?:did|have done|has done|had done)\s+(?:a|an|such a|such an)\s+(?:really |very |"
        r"truly |absolutely )?(?:great|fantastic|wonderful|amazing|excellent|brilliant|superb|good|fine|outstanding|"
        r"terrific|incredible)\s+job\b|"
        r"\b(?:he|she)\s+(?:explained|took care of|looked after|treated|handled|answered|cared for|walked me through)\b"
        r"(?:\s+\w+){0,3}?\s+(?:really |very |so |extremely |super |incredibly )?(?:clearly|well|patiently|carefully|"
        r"thoroughly|beautifully|kindly|perfectly|gently|wonderfully)\b|\bthank (?:him|her|them)\b|"
        r"\btook (?:the |their |his |her )?time to\b",
        0.85,
    ),
)

# Replies that are only a short query: a repeat request when asked as a question, some even without "?".
_SHORT_REPEAT_Q = {
    "啊",
    "嗯",
    "哈",
    "什么",
    "啥",
    "喂",
    "哦",
    "what",
    "sorry",
    "huh",
    "eh",
    "hello",
    "excuse me",
    "你说",
    "我",
    "谁",
    "嗯嗯",
    "啊啊",
    "me",
    "hm",
    "hmm",
    "咋了",
    "怎么了",
    "你说什么",
    "什么事",
}
_SHORT_UNSURE = {
    "maybe",
    "perhaps",
    "也许",
    "或许",
    "说不定",
    "也许吧",
    "或许吧",
    "maybe maybe not",
    "不一定吧",
}
_SHORT_REPEAT = {
    "什么",
    "啥",
    "喂",
    "喂喂",
    "喂喂喂",
    "你说什么",
    "你说啥",
    "说啥",
    "pardon",
    "huh",
    "what",
    "sorry",
    "hello",
    "hello hello",
    "哈",
    "啊什么",
    "什么啊",
    "啥呀",
    "你说啥呢",
    "sorry what",
    "what was that",
}

_ZH_NEG_BEFORE = re.compile(
    r"(?:不|没|没有|没什么|没啥|不用|不想|不要|不需要|无|(?<!特|区|分|告|离|级|类|识)别|不是|不会|谈不上|也没有|都没有|暂时没有|没有什么|并没有|并不|不必)"
    r"(?:要|可以|可|好|值得|需要|的|什么|啥|去|再|特别|太多|多少)?$"
)
_ZH_QUESTION_BEFORE = re.compile(r"(?:有没有|是不是|能不能|可不可以|要不要|可以不可以|能否)$")
_EN_NEG_BEFORE = re.compile(r"\b(?:no|not|never|nothing|without|none|nor)\b(?:\s+\w+){0,3}\s*$")


@dataclass
class Hit:
    """One intent found in a reply."""

    intent: str
    confidence: float
    spans: list[tuple[int, int]] = field(default_factory=list)
    weak: bool = True  # every match came from a weak pattern
    weak_spans: set[tuple[int, int]] = field(default_factory=set)  # the spans a weak pattern matched


def _negated(text: str, start: int) -> bool:
    clause_start = max(text.rfind(",", 0, start), text.rfind("?", 0, start)) + 1
    before = text[clause_start:start]
    if _ZH_QUESTION_BEFORE.search(before):  # 有没有人工: a question, not a negation
        return False
    return bool(_ZH_NEG_BEFORE.search(before.replace(" ", "")) or _EN_NEG_BEFORE.search(before))


def detect(text: str) -> dict[str, Hit]:
    """Every global intent in normalised ``text``, with spans (see the module docstring)."""
    hits: dict[str, Hit] = {}
    for intent, pats in PATTERNS.items():
        for pat in pats:
            for m in pat.rx.finditer(text):
                if m.end() == m.start():
                    continue
                if pat.guarded and _negated(text, m.start()):
                    continue
                h = hits.get(intent)
                if h is None:
                    h = hits[intent] = Hit(intent, pat.confidence)
                h.confidence = max(h.confidence, pat.confidence)
                h.spans.append((m.start(), m.end()))
                h.weak = h.weak and pat.weak
                if pat.weak:
                    h.weak_spans.add((m.start(), m.end()))
    if _STAFF_MENTION.search(text):
        for pat in _STAFF_CONTEXT_PRAISE:
            for m in pat.rx.finditer(text):
                if not _negated(text, m.start()):
                    h = hits.setdefault("praise", Hit("praise", pat.confidence))
                    h.spans.append((m.start(), m.end()))
                    h.weak = False
    parts = _clauses_with_pos(text)
    for cl_start, cl in parts:
        core = cl.rstrip("?").strip()
        core = re.sub(r"^(?:啊|哦|嗯|喂)\s*(?=\S)", "", core) if core not in _SHORT_REPEAT else core
        if (cl.endswith("?") and core in _SHORT_REPEAT_Q) or (core in _SHORT_REPEAT and len(parts) == 1):
            h = hits.setdefault("repeat", Hit("repeat", 0.75))
            h.spans.append((cl_start, cl_start + len(cl)))
            h.weak = False
    if len(parts) == 1 and parts[0][1].rstrip("?") in _SHORT_UNSURE:
        h = hits.setdefault("unsure", Hit("unsure", 0.7))
        h.spans.append((parts[0][0], parts[0][0] + len(parts[0][1])))
        h.weak = False
    if "repeat" in hits and "unsure" in hits:
        rs = hits["repeat"].spans
        hits["unsure"].spans = [
            s for s in hits["unsure"].spans if not any(r[0] <= s[0] and s[1] <= r[1] for r in rs)
        ]
        if not hits["unsure"].spans:
            del hits["unsure"]
    if "complaint" in hits and "suggestion" in hits and hits["complaint"].weak:
        del hits["complaint"]
    return hits


def _clauses_with_pos(text: str) -> list[tuple[int, str]]:
    out = []
    for m in re.finditer(r"[^,?]+\??", text):
        s = m.group(0)
        lead = len(s) - len(s.lstrip())
        out.append((m.start() + lead, s.strip()))
    return out


# Key phrases a recogniser may mishear (pinyin repair targets) and known whole-phrase mis-recognitions.
REPAIR_WORDS: tuple[str, ...] = (
    "转人工",
    "人工服务",
    "投诉",
    "表扬",
    "建议",
    "打错了",
    "打错电话",
    "不知道",
    "不清楚",
    "再说一遍",
    "没听清",
    "听不清",
    "开车",
    "开会",
    "不方便",
    "晚点再打",
    "骚扰",
    "别打了",
    "护士",
    "医生",
    "态度",
    "负责",
    "感谢",
    "耐心",
    "记不清",
    "说不好",
    "以后别打了",
)
REPAIR_ALIASES: dict[str, str] = {"战员攻击": "转人工", "站员攻击": "转人工", "赚人工": "转人工"}
