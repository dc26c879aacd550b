"""Global intent key phrases, with their negation guards."""

import pytest

from dialog.nlu.intents import detect
from dialog.nlu.normalize import normalize


@pytest.mark.parametrize(
    "text, intent",
    [
        ("我要投诉", "complaint"),
        ("护士态度太差了", "complaint"),
        ("乱收费", "complaint"),
        ("等了好久没人管", "complaint"),
        ("the nurse was rude", "complaint"),
        ("I want to make a complaint", "complaint"),
        ("表扬一下张医生", "praise"),
        ("感谢李医生", "praise"),
        ("医生特别负责", "praise"),
        ("the doctors were wonderful", "praise"),
        ("I want to thank the nurses", "praise"),
        ("建议多安排几个车位", "suggestion"),
        ("停车太难了可以改进一下", "suggestion"),
        ("you should add more parking", "suggestion"),
        ("it would be better if the wait was shorter", "suggestion"),
        ("转人工", "request_human"),
        ("我要跟护士说话", "request_human"),
        ("找真人", "request_human"),
        ("can I speak to a nurse", "request_human"),
        ("operator", "request_human"),
        ("我在开车", "call_back_later"),
        ("现在不方便", "call_back_later"),
        ("晚点再打", "call_back_later"),
        ("I'm in a meeting", "call_back_later"),
        ("not a good time", "call_back_later"),
        ("打错了", "wrong_person"),
        ("没这个人", "wrong_person"),
        ("wrong number", "wrong_person"),
        ("以后别打了", "opt_out"),
        ("别骚扰我", "opt_out"),
        ("拉黑", "opt_out"),
        ("don't call me again", "opt_out"),
        ("remove me from your list", "opt_out"),
        ("stop calling", "opt_out"),
        ("以后别给我打这种电话了", "opt_out"),
        ("别再给我打这类电话", "opt_out"),
        ("不要再打这个号码了", "opt_out"),
        ("以后别往这个号码打电话了", "opt_out"),
        ("别打什么电话了", "opt_out"),
        ("I don't want these kinds of calls", "opt_out"),
        ("don't call me about this again", "opt_out"),
        ("护士态度也太差了", "complaint"),
        ("你们别来电话了", "opt_out"),
        ("别再打过来了", "opt_out"),
        ("再说一遍", "repeat"),
        ("没听清", "repeat"),
        ("什么?", "repeat"),
        ("pardon", "repeat"),
        ("sorry?", "repeat"),
        ("不知道", "unsure"),
        ("记不得了", "unsure"),
        ("I'm not sure", "unsure"),
        ("no idea", "unsure"),
        # Praise: staff + a strong positive description, thanks directed at staff.
        ("王护士讲得特别清楚，真得谢谢她", "praise"),
        ("护士小刘特别有耐心", "praise"),
        ("护士们个个都很热情", "praise"),
        ("你们照顾得特别周到", "praise"),
        ("替我谢谢他", "praise"),
        ("the nurse Amy explained everything really clearly, she was wonderful", "praise"),
        ("Dr. Chen was amazing, please pass on my thanks", "praise"),
        ("Everyone on the fourth floor was so kind to me", "praise"),
        ("The surgeon did a fantastic job", "praise"),
        ("you've all been very helpful", "praise"),
        # Complaint: a strongly negative description of food, money, neglect or staff.
        ("食堂的饭太难吃了，而且还贵", "complaint"),
        ("住院费用太贵了", "complaint"),
        ("按铃按了半天都没人管", "complaint"),
        ("病房的空调坏了三天都没人修", "complaint"),
        ("那个医生说话很冲", "complaint"),
        ("出院手续办得太慢了", "complaint"),
        ("The food in the ward was cold every single day.", "complaint"),
        ("The night nurse never answered the call bell.", "complaint"),
        ("nobody at the front desk would help me", "complaint"),
        ("The receptionist was shouting at elderly patients.", "complaint"),
        ("I was discharged with no instructions at all", "complaint"),
        # Request for staff, identity questions.
        ("我想直接跟医生说", "request_human"),
        ("我想跟王医生聊聊我的情况", "request_human"),
        ("你们是哪个科室的?", "repeat"),
        ("你们这个电话是干嘛的?", "repeat"),
    ],
)
def test_detects(text: str, intent: str) -> None:
    assert intent in detect(normalize(text))


@pytest.mark.parametrize(
    "text, intent",
    [
        ("没什么要投诉的", "complaint"),
        ("no complaints", "complaint"),
        ("没有建议", "suggestion"),
        ("nothing to suggest, no suggestions", "suggestion"),
        ("不用转人工", "request_human"),
        ("做了人工关节手术", "request_human"),
        ("谢谢医生", "praise"),
        ("谢谢帮忙", "call_back_later"),
        ("医生打过电话了", "wrong_person"),
        ("他不在了", "call_back_later"),
        ("不知道你在说什么", "unsure"),
        ("特别感谢李医生", "complaint"),
        ("I talked to the doctor", "request_human"),
        ("讲得有点不清楚", "unsure"),
        ("有些不太清楚", "unsure"),
        ("有时候忘了", "unsure"),
        ("偶尔忘了", "unsure"),
        ("我打过这个电话", "opt_out"),
        ("医生说不用再打针了", "opt_out"),
        ("不用再打胰岛素了", "opt_out"),
        ("医生说不用来了", "opt_out"),
        # Plain answers are not feedback: satisfaction without specifics, politeness, symptoms, home life.
        ("满意，挺好的", "praise"),
        ("Satisfied, thank you.", "praise"),
        ("伤口愈合得挺好，谢谢关心", "praise"),
        ("I'm feeling much better, thanks for calling.", "praise"),
        ("饭量比以前小了，吃不下", "complaint"),
        ("医生说恢复得很好", "praise"),
        ("我女儿照顾得很好，真得谢谢她", "praise"),
        ("My wife has been great, she looks after me.", "praise"),
        ("Yes, my son drove me, I have to thank him.", "praise"),
        ("家里空调坏了，有点感冒", "complaint"),
        ("晚上老是睡不着，太吵了", "complaint"),
        ("药有点贵，不过一直在吃", "complaint"),
        ("The room was a bit cold at night.", "complaint"),
        ("My hands are so cold these days.", "complaint"),
        ("The pain was terrible the first few days.", "complaint"),
        ("Took it twice, 37.1 and then 37.9 an hour later", "call_back_later"),
        # A plain description answering "what could we improve?" (flows: inpatient_satisfaction.improve).
        ("饭菜都是凉的，量也少", "complaint"),
        ("The food was always cold and the portions were tiny", "complaint"),
    ],
)
def test_does_not_detect(text: str, intent: str) -> None:
    assert intent not in detect(normalize(text))


def test_weak_grievance_with_an_improvement_is_a_suggestion() -> None:
    hits = detect(normalize("停车太难了，希望能改进一下"))
    assert "suggestion" in hits and "complaint" not in hits
    hits = detect(normalize("护士态度太差了，希望改进"))
    assert "complaint" in hits


def test_hearing_trouble_is_repeat_not_unsure() -> None:
    hits = detect(normalize("听不清楚"))
    assert "repeat" in hits and "unsure" not in hits


def test_weak_spans_are_reported() -> None:
    hits = detect(normalize("等了一个多小时，护士态度也太差了"))
    h = hits["complaint"]
    assert len(h.spans) == 2 and len(h.weak_spans) == 1 and not h.weak
