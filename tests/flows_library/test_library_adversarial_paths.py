"""Every shipped flow, in both languages, against the calls that go wrong.

Silence, mumbling, "say that again", a complaint in the middle of a survey, a family member on the line, "call
me back tomorrow at three", "don't call me again", hanging up halfway, alarming readings. Each scenario pins
the outcome, the escalations (kind and question, routed to the visit's department), the structured answers,
and what the bot must or must not have said (nothing medical to a family member who is asked for a time).
"""

from __future__ import annotations

import pytest
from flows_library_helpers import DEPARTMENTS, Scenario, check_scenario

# fmt: off
SCENARIOS = [
    # --- 出院随访: a daughter answers (the flow lets family continue); worse, fever, repeat, unsure date ----
    Scenario(
        "discharge_general", "zh", "family_worse_fever",
        ["不是，我是他女儿", "<silence>", "感觉更差了", "老是头晕，吃不下饭", "嗯……那个……", "有", "三十八度五",
         "你说什么？再说一遍", "没有", "没有按时吃", "不记得了", "<dtmf:1>", "<dtmf:4>"],
        "completed",
        {"recovery": "worse", "worse_detail": "老是头晕，吃不下饭", "fever": True, "max_temp": 38.5,
         "pain": False, "meds": False, "next_visit": None, "advice": True, "satisfaction": 4},
        [("clinical", None), ("alarm", "max_temp")],
        said=["麻烦您帮忙说说张先生回家以后的情况", "体温有点高", "2026年12月9日"],
    ),
    Scenario(
        "discharge_general", "en", "family_worse_fever",
        ["No, I'm his daughter", "<silence>", "Worse, to be honest", "He keeps feeling dizzy and he's off his food",
         "Erm, well, um", "Yes", "Thirty-eight point five", "Sorry, can you repeat that?", "No",
         "No, not always", "I can't remember", "<dtmf:1>", "<dtmf:4>"],
        "completed",
        {"recovery": "worse", "worse_detail": "He keeps feeling dizzy and he's off his food", "fever": True,
         "max_temp": 38.5, "pain": False, "meds": False, "next_visit": None, "advice": True, "satisfaction": 4},
        [("clinical", None), ("alarm", "max_temp")],
        said=["how Mr Smith is doing at home", "That's a little high", "9 December 2026"],
    ),
    Scenario(
        "discharge_general", "zh", "driving_callback",
        ["我在开车，你明天下午三点再打过来吧"],
        "callback_requested", {}, callback_at="2026-11-26T15:00:00",
        not_said=["心内科", "出院"],
    ),
    Scenario(
        "discharge_general", "en", "driving_callback",
        ["I'm driving right now, can you call me back tomorrow at 3 pm?"],
        "callback_requested", {}, callback_at="2026-11-26T15:00:00",
        not_said=["Cardiology", "discharge"],
    ),
    Scenario(
        "discharge_general", "zh", "severe_pain",
        ["是我", "差不多吧", "没有", "有，疼得厉害", "八分", "按时吃了", "十二月九号", "不太清楚", "满意"],
        "completed",
        {"recovery": "same", "fever": False, "pain": True, "pain_score": 8.0, "meds": True,
         "next_visit": "2026-12-09", "advice": None, "satisfaction": 4},
        [("alarm", "pain_score")],
        said=["止痛药", "出院小结上写了注意事项"],
    ),
    Scenario(
        "discharge_general", "en", "severe_pain",
        ["Yes", "About the same", "No", "Yes, it's bad", "Eight", "Yes, I have", "December the ninth",
         "I'm not sure", "Satisfied"],
        "completed",
        {"recovery": "same", "fever": False, "pain": True, "pain_score": 8.0, "meds": True,
         "next_visit": "2026-12-09", "advice": None, "satisfaction": 4},
        [("alarm", "pain_score")],
        said=["pain relief", "written in your discharge summary"],
    ),
    # --- 术后随访: a spouse answers (callback: nothing medical may be said); silence on the wound, fever ----
    Scenario(
        "post_op", "zh", "spouse_callback",
        ["我是他爱人，他现在在睡觉", "明天上午十点吧"],
        "callback_requested", {}, callback_at="2026-11-26T10:00:00",
        not_said=["普外科", "伤口", "腹腔镜", "手术"],
    ),
    Scenario(
        "post_op", "en", "spouse_callback",
        ["This is his wife, he's asleep at the moment", "Tomorrow morning at ten"],
        "callback_requested", {}, callback_at="2026-11-26T10:00:00",
        not_said=["General Surgery", "wound", "gallbladder", "operation"],
    ),
    Scenario(
        "post_op", "zh", "silent_wound_fever_hangup",
        ["嗯，是我", "<silence>", "<silence>", "<silence>", "三十八度六", "<dtmf:2>", "三天没解大便了",
         "那个那个嗯", "还躺着呢，下不了床", "<hangup>"],
        "partial",
        {"wound": None, "temperature": 38.6, "bowel_urine": False, "bowel_urine_detail": "三天没解大便了",
         "activity": "bedbound"},
        [("no_answer", "wound"), ("alarm", "temperature")],
        said=["体温偏高", "血栓"],
    ),
    Scenario(
        "post_op", "en", "silent_wound_fever_hangup",
        ["Yes, it's me", "<silence>", "<silence>", "<silence>", "Thirty-eight point six", "<dtmf:2>",
         "I haven't opened my bowels for three days", "Mm, er, hmm", "Still in bed, I can't get up", "<hangup>"],
        "partial",
        {"wound": None, "temperature": 38.6, "bowel_urine": False,
         "bowel_urine_detail": "I haven't opened my bowels for three days", "activity": "bedbound"},
        [("no_answer", "wound"), ("alarm", "temperature")],
        said=["on the high side", "blood clots"],
    ),
    # --- 门诊满意度: a complaint mid-survey is recorded and the survey goes on; an opt-out ---------------
    Scenario(
        "outpatient_satisfaction", "zh", "complaint_mid_survey",
        ["是", "一般", "那个医生态度太差了，我要投诉他", "非常不满意", "等了一个多小时", "<silence>", "<silence>",
         "<dtmf:3>", "不会推荐", "医生看病太快了，话都没说完就让下一个进来"],
        "completed",
        {"overall": 3, "doctor": 1, "waiting": "over_one_hour", "explanation": None, "environment": 3,
         "recommend": False, "suggestions": "医生看病太快了，话都没说完就让下一个进来"},
        [("complaint", "doctor")],
        said=["非常抱歉", "消化内科"],
    ),
    Scenario(
        "outpatient_satisfaction", "en", "complaint_mid_survey",
        ["Yes", "It was okay", "That doctor was really rude, I want to make a complaint", "Very dissatisfied",
         "Over an hour", "<silence>", "<silence>", "<dtmf:3>", "No, I wouldn't",
         "The doctor rushed me out before I had finished talking"],
        "completed",
        {"overall": 3, "doctor": 1, "waiting": "over_one_hour", "explanation": None, "environment": 3,
         "recommend": False, "suggestions": "The doctor rushed me out before I had finished talking"},
        [("complaint", "doctor")],
        said=["very sorry", "Gastroenterology"],
    ),
    Scenario(
        "outpatient_satisfaction", "zh", "opt_out",
        ["对", "以后别给我打这种电话了"],
        "opt_out", {}, do_not_call=True,
    ),
    Scenario(
        "outpatient_satisfaction", "en", "opt_out",
        ["Yes", "Please don't call me again"],
        "opt_out", {}, do_not_call=True,
    ),
    # --- 住院满意度: praise with an answer, a repeat, mumbling, a low score leads to "what to improve" ----
    Scenario(
        "inpatient_satisfaction", "zh", "praise_low_score_improve",
        ["是我", "护士都特别好，非常满意", "你说什么？再说一遍", "满意", "不满意", "<dtmf:3>", "呃这个那个",
         "满意", "一般", "饭菜都是凉的，量也少"],
        "completed",
        {"nursing": 5, "doctors": 4, "meals": 2, "ward": 3, "discharge_advice": 4, "overall": 3,
         "improve": "饭菜都是凉的，量也少"},
        [("praise", "nursing")],
        said=["谢谢您的肯定", "需要改进"],
    ),
    Scenario(
        "inpatient_satisfaction", "en", "praise_low_score_improve",
        ["Yes, that's me", "The nurses were wonderful, very satisfied", "Sorry, could you say that again?",
         "Satisfied", "Dissatisfied", "<dtmf:3>", "Um, er, well", "Satisfied", "It was okay",
         "The food was always cold and the portions were tiny"],
        "completed",
        {"nursing": 5, "doctors": 4, "meals": 2, "ward": 3, "discharge_advice": 4, "overall": 3,
         "improve": "The food was always cold and the portions were tiny"},
        [("praise", "nursing")],
        said=["Thank you for your kind words", "could have done better"],
    ),
    Scenario(
        "inpatient_satisfaction", "zh", "request_human",
        ["是", "转人工"],
        "callback_requested", {}, [("request_human", "nursing")],
        said=["工作人员都在忙"],
    ),
    Scenario(
        "inpatient_satisfaction", "en", "request_human",
        ["Yes", "Can I talk to a real person?"],
        "callback_requested", {}, [("request_human", "nursing")],
        said=["all our staff are busy"],
    ),
    # --- 体检满意度: no report yet, a long wait, hangs up before the last question; a wrong number -------
    Scenario(
        "checkup_satisfaction", "zh", "no_report_hangup",
        ["是我", "<dtmf:4>", "等了很久", "满意", "还没拿到", "一般般", "<hangup>"],
        "partial",
        {"booking": 4, "waiting": "too_long", "staff": 4, "report_received": False, "overall": 3},
        said=["免费解读"],
    ),
    Scenario(
        "checkup_satisfaction", "en", "no_report_hangup",
        ["Yes", "<dtmf:4>", "Far too long", "Satisfied", "Not yet", "It was okay", "<hangup>"],
        "partial",
        {"booking": 4, "waiting": "too_long", "staff": 4, "report_received": False, "overall": 3},
        said=["free explanation"],
    ),
    Scenario(
        "checkup_satisfaction", "zh", "wrong_number",
        ["你打错了，这里没有姓李的"],
        "wrong_person", {}, not_said=["体检"],
    ),
    Scenario(
        "checkup_satisfaction", "en", "wrong_number",
        ["You have the wrong number"],
        "wrong_person", {}, not_said=["check-up"],
    ),
    # --- 高血压随访: an alarming reading (high in zh, low in en), missed tablets, side effects, hang-up ----
    Scenario(
        "hypertension", "zh", "high_bp_hangup",
        ["是我", "一百七十五比一百零五", "偶尔量一下", "没有，有时候忘了", "忘了", "头晕，有时候还头疼", "<silence>",
         "有注意", "<hangup>"],
        "partial",
        {"bp": {"systolic": 175, "diastolic": 105}, "measure_freq": "sometimes", "meds": False,
         "meds_reason": "forgot", "side_effects": ["dizziness", "headache"], "salt": True},
        [("alarm", "bp")],
        said=["这个血压偏高了", "电子血压计", "不能自己停"],
    ),
    Scenario(
        "hypertension", "en", "low_bp_hangup",
        ["Yes", "Eighty-five over fifty-five", "Now and then", "No, I sometimes forget", "I forget",
         "Dizzy, and headaches sometimes", "<silence>", "Yes, I am", "<hangup>"],
        "partial",
        {"bp": {"systolic": 85, "diastolic": 55}, "measure_freq": "sometimes", "meds": False,
         "meds_reason": "forgot", "side_effects": ["dizziness", "headache"], "salt": True},
        [("alarm", "bp")],
        said=["on the low side", "home blood pressure monitor"],
    ),
    Scenario(
        "hypertension", "zh", "garbled_bp_complaint",
        ["对", "呃呃呃", "这个嘛", "那个", "我要投诉，你们挂号太难了", "每天都量", "按时吃的", "<dtmf:5>",
         "<dtmf:1>", "下周三"],
        "completed",
        {"bp": None, "measure_freq": "daily", "meds": True, "side_effects": ["none"], "salt": True,
         "next_visit": "2026-12-02"},
        [("no_answer", "bp"), ("complaint", "measure_freq")],
    ),
    Scenario(
        "hypertension", "en", "garbled_bp_complaint",
        ["Yes", "Er", "Hmm", "Uh", "I want to make a complaint, it's impossible to get an appointment",
         "Every day", "Yes, I take them every day", "<dtmf:5>", "<dtmf:1>", "Next Wednesday"],
        "completed",
        {"bp": None, "measure_freq": "daily", "meds": True, "side_effects": ["none"], "salt": True,
         "next_visit": "2026-12-02"},
        [("no_answer", "bp"), ("complaint", "measure_freq")],
    ),
    # --- 糖尿病随访: high glucose, repeated lows, a foot sore; then a complaint and a callback time ------
    Scenario(
        "diabetes", "zh", "high_glucose_hypos_foot",
        ["是", "十五点二", "不知道，没测过", "有过", "两三次吧", "上个礼拜晚上出冷汗，测了三点五，喝了点糖水就好了",
         "<dtmf:1>", "脚上有个伤口一直不好", "没怎么控制"],
        "completed",
        {"fasting_glucose": 15.2, "postmeal_glucose": None, "hypo": True, "hypo_times": "few",
         "hypo_detail": "上个礼拜晚上出冷汗，测了三点五，喝了点糖水就好了", "meds": True, "feet": ["sore"],
         "diet": False},
        [("alarm", "fasting_glucose"), ("clinical", None), ("clinical", None)],
        said=["这个血糖偏高了", "随身带几块糖", "别用热水泡"],
    ),
    Scenario(
        "diabetes", "en", "high_glucose_hypos_foot",
        ["Yes", "Fifteen point two", "I don't know, I haven't checked", "Yes, I have", "Two or three times",
         "Last week at night I was sweating, it was three point five, I had some juice", "<dtmf:1>",
         "There's a sore on my foot that won't heal", "Not really"],
        "completed",
        {"fasting_glucose": 15.2, "postmeal_glucose": None, "hypo": True, "hypo_times": "few",
         "hypo_detail": "Last week at night I was sweating, it was three point five, I had some juice",
         "meds": True, "feet": ["sore"], "diet": False},
        [("alarm", "fasting_glucose"), ("clinical", None), ("clinical", None)],
        said=["That's quite high", "carry some sweets", "warm rather than hot water"],
    ),
    Scenario(
        "diabetes", "zh", "low_glucose_complaint_callback",
        ["是我", "三点五", "上次抽血那个护士态度很差，我要投诉", "我现在有点忙，晚上七点再打给我吧"],
        "callback_requested",
        {"fasting_glucose": 3.5},
        [("alarm", "fasting_glucose"), ("complaint", "postmeal_glucose")],
        callback_at="2026-11-25T19:00:00",
        said=["这个血糖偏低了"],
    ),
    Scenario(
        "diabetes", "en", "low_glucose_complaint_callback",
        ["Yes", "Three point five", "The nurse who took my blood last time was very rude, I want to complain",
         "I'm busy right now, call me back at seven this evening"],
        "callback_requested",
        {"fasting_glucose": 3.5},
        [("alarm", "fasting_glucose"), ("complaint", "postmeal_glucose")],
        callback_at="2026-11-25T19:00:00",
        said=["That's on the low side"],
    ),
    Scenario(
        "diabetes", "zh", "high_after_meals",
        ["是", "八点一", "十八点六", "没有", "<dtmf:1>", "<dtmf:4>", "<dtmf:1>"],
        "completed",
        {"fasting_glucose": 8.1, "postmeal_glucose": 18.6, "hypo": False, "meds": True, "feet": ["none"],
         "diet": True},
        [("alarm", "postmeal_glucose")],
        said=["饭后血糖偏高了"],
        not_said=["这个血糖偏高了"],
    ),
    Scenario(
        "diabetes", "en", "high_after_meals",
        ["Yes", "Eight point one", "Eighteen point six", "No", "<dtmf:1>", "<dtmf:4>", "<dtmf:1>"],
        "completed",
        {"fasting_glucose": 8.1, "postmeal_glucose": 18.6, "hypo": False, "meds": True, "feet": ["none"],
         "diet": True},
        [("alarm", "postmeal_glucose")],
        said=["That's high after a meal"],
    ),
    # --- PICC: her son answers (callback); a swollen arm and chills, silence on the dressing -------------
    Scenario(
        "picc_care", "zh", "son_callback",
        ["我是她儿子", "她下午四点以后在家"],
        "callback_requested", {}, callback_at="2026-11-25T16:00:00",
        not_said=["肿瘤科", "PICC", "导管"],
    ),
    Scenario(
        "picc_care", "en", "son_callback",
        ["I'm her son", "She'll be home after four this afternoon"],
        "callback_requested", {}, callback_at="2026-11-25T16:00:00",
        not_said=["Oncology", "PICC", "line"],
    ),
    Scenario(
        "picc_care", "zh", "swollen_arm_chills",
        ["是的", "不记得了", "没有，上周没去", "胳膊有点肿，还有点疼", "有，昨天晚上发冷", "<silence>", "<silence>",
         "<silence>", "<dtmf:2>", "<silence>", "<silence>"],
        "completed",
        {"last_care": None, "on_schedule": False, "arm": ["swelling", "pain"], "fever": True, "dressing": None,
         "catheter": False, "next_care": None},
        [("clinical", None), ("alarm", "fever")],
        said=["至少每七天", "别热敷按摩", "警惕感染", "最多七天"],
    ),
    Scenario(
        "picc_care", "en", "swollen_arm_chills",
        ["Yes", "I can't remember", "No, I missed last week", "My arm's a bit swollen and it hurts",
         "Yes, I had chills last night", "<silence>", "<silence>", "<silence>", "<dtmf:2>", "<silence>",
         "<silence>"],
        "completed",
        {"last_care": None, "on_schedule": False, "arm": ["swelling", "pain"], "fever": True, "dressing": None,
         "catheter": False, "next_care": None},
        [("clinical", None), ("alarm", "fever")],
        said=["at least every seven days", "don't massage it", "infection", "no more than seven days"],
    ),
    # --- 冠脉支架: chest tightness, a stopped antiplatelet drug, black stools; "hello?" then an opt-out --
    Scenario(
        "post_stent", "zh", "chest_pain_stopped_drug",
        ["是我", "有，爬楼梯的时候会胸闷", "没有，停了一种", "这两天大便发黑", "没有", "还在抽，戒不掉", "十二月九号"],
        "completed",
        {"chest_pain": True, "antiplatelet": False, "bleeding": ["black_stool"], "puncture": False,
         "smoking": "still", "review": "2026-12-09"},
        [("alarm", "chest_pain"), ("alarm", "antiplatelet"), ("clinical", None)],
        said=["打120", "千万不能自己停", "胃里出血", "戒烟门诊"],
    ),
    Scenario(
        "post_stent", "en", "chest_pain_stopped_drug",
        ["Yes, speaking", "Yes, I get tightness in my chest on the stairs", "No, I stopped one of them",
         "My stools have been black the last couple of days", "No", "I still smoke, I can't stop",
         "December the ninth"],
        "completed",
        {"chest_pain": True, "antiplatelet": False, "bleeding": ["black_stool"], "puncture": False,
         "smoking": "still", "review": "2026-12-09"},
        [("alarm", "chest_pain"), ("alarm", "antiplatelet"), ("clinical", None)],
        said=["call an ambulance", "don't stop either of them", "bleeding in the stomach", "stop-smoking clinic"],
    ),
    Scenario(
        "post_stent", "zh", "hello_then_opt_out",
        ["喂？喂？", "是我", "没有", "你们别再打电话来了"],
        "opt_out", {"chest_pain": False}, do_not_call=True,
    ),
    Scenario(
        "post_stent", "en", "hello_then_opt_out",
        ["Hello? Hello?", "Yes, it's me", "No", "Stop calling me, I don't want these calls"],
        "opt_out", {"chest_pain": False}, do_not_call=True,
    ),
]
# fmt: on

# What the adversarial set as a whole must cover, so a scenario cannot be dropped unnoticed.
PERTURBATIONS = {
    "silence": lambda s: "<silence>" in s.replies,
    "keypad": lambda s: any(r.startswith("<dtmf:") for r in s.replies),
    "hang-up": lambda s: "<hangup>" in s.replies,
    "complaint": lambda s: any(kind == "complaint" for kind, _ in s.escalations),
    "family member continues": lambda s: s.name.startswith("family_"),
    "family member, call back": lambda s: s.name in ("spouse_callback", "son_callback"),
    "callback with a time": lambda s: s.callback_at is not None,
    "opt-out": lambda s: s.do_not_call,
    "wrong number": lambda s: s.outcome == "wrong_person",
    "request a person": lambda s: ("request_human", "nursing") in s.escalations,
    "alarm": lambda s: any(kind == "alarm" for kind, _ in s.escalations),
    "no answer escalated": lambda s: any(kind == "no_answer" for kind, _ in s.escalations),
}


def test_every_flow_and_language_has_adversarial_paths() -> None:
    assert {(s.flow, s.lang) for s in SCENARIOS} == {(f, lang) for f in DEPARTMENTS for lang in ("zh", "en")}
    for lang in ("zh", "en"):
        mine = [s for s in SCENARIOS if s.lang == lang]
        for what, has in PERTURBATIONS.items():
            assert any(has(s) for s in mine), f"no {lang} scenario covers: {what}"
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_adversarial_path(simulate, sc: Scenario) -> None:  # type: ignore[no-untyped-def]
    result = simulate(sc.flow, sc.lang, sc.replies)
    check_scenario(result, sc)
