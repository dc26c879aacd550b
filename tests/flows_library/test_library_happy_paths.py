"""Every shipped flow, in both languages, talked through by a cooperative patient.

The replies are what patients really say on the phone — short, colloquial, numbers in words (一百四十五比九十,
三十七度二, 七点八), the odd keypad press — and the structured answers must come out exactly.
"""

from __future__ import annotations

import pytest
from flows_library_helpers import DEPARTMENTS, Scenario, check_scenario

# Multi-choice "none": a reply that denies everything (没有, 都没有, "No, none of those") and the "none" key give
# ["none"] when the question has a "none of these" choice, [] when it has none (docs/nlu.md).
# fmt: off
SCENARIOS = [
    # --- 出院随访 ---------------------------------------------------------------------------------------
    Scenario(
        "discharge_general", "zh", "happy",
        ["是的，我是", "好多了", "没有发烧", "有一点疼", "三分", "都按时吃了", "十二月九号", "都清楚", "非常满意"],
        "completed",
        {"recovery": "better", "fever": False, "pain": True, "pain_score": 3.0, "meds": True,
         "next_visit": "2026-12-09", "advice": True, "satisfaction": 5},
        said=["张先生本人吗", "0571-88888888"],
    ),
    Scenario(
        "discharge_general", "en", "happy",
        ["Yes, speaking", "Much better, thanks", "No, no fever", "Yes, a little", "About a three",
         "Yes, I have", "December the ninth", "Yes, it's all clear", "Very satisfied"],
        "completed",
        {"recovery": "better", "fever": False, "pain": True, "pain_score": 3.0, "meds": True,
         "next_visit": "2026-12-09", "advice": True, "satisfaction": 5},
        said=["Mr Smith", "0571 8888 8888"],
    ),
    # --- 术后随访 ---------------------------------------------------------------------------------------
    Scenario(
        "post_op", "zh", "happy",
        ["对，是我", "就是有点疼", "两分", "三十七度二", "都正常", "能正常走动", "还没拆", "下周一", "十二月九号"],
        "completed",
        {"wound": ["pain"], "pain_score": 2.0, "temperature": 37.2, "bowel_urine": True, "activity": "normal",
         "stitches": "not_yet", "stitches_date": "2026-11-30", "return_visit": "2026-12-09"},
        said=["腹腔镜胆囊切除术"],
    ),
    Scenario(
        "post_op", "en", "happy",
        ["Yes, that's me", "It's a bit sore, that's all", "Two", "Thirty-seven point two", "Yes, all normal",
         "Walking normally", "Not yet", "Next Monday", "The ninth of December"],
        "completed",
        {"wound": ["pain"], "pain_score": 2.0, "temperature": 37.2, "bowel_urine": True, "activity": "normal",
         "stitches": "not_yet", "stitches_date": "2026-11-30", "return_visit": "2026-12-09"},
    ),
    # --- 门诊满意度 -------------------------------------------------------------------------------------
    Scenario(
        "outpatient_satisfaction", "zh", "happy",
        ["是我", "满意", "非常满意", "等了二十分钟", "讲得很清楚", "<dtmf:4>", "愿意", "没有了"],
        "completed",
        {"overall": 4, "doctor": 5, "waiting": "under_half_hour", "explanation": "clear", "environment": 4,
         "recommend": True, "suggestions": "没有了"},
        said=["王建国医生"],
    ),
    Scenario(
        "outpatient_satisfaction", "en", "happy",
        ["Yes", "Satisfied", "Very satisfied", "About twenty minutes", "Very clearly", "<dtmf:4>",
         "Yes, definitely", "No, nothing else"],
        "completed",
        {"overall": 4, "doctor": 5, "waiting": "under_half_hour", "explanation": "clear", "environment": 4,
         "recommend": True, "suggestions": "No, nothing else"},
    ),
    # --- 住院满意度: no low score, so no improvement question ---------------------------------------------
    Scenario(
        "inpatient_satisfaction", "zh", "happy",
        ["是", "非常满意", "满意", "一般", "满意", "非常满意", "满意"],
        "completed",
        {"nursing": 5, "doctors": 4, "meals": 3, "ward": 4, "discharge_advice": 5, "overall": 4},
        not_said=["需要改进"],
    ),
    Scenario(
        "inpatient_satisfaction", "en", "happy",
        ["Yes", "Very satisfied", "Satisfied", "Neutral", "Satisfied", "Very satisfied", "Satisfied"],
        "completed",
        {"nursing": 5, "doctors": 4, "meals": 3, "ward": 4, "discharge_advice": 5, "overall": 4},
        not_said=["could have done better"],
    ),
    # --- 体检满意度 -------------------------------------------------------------------------------------
    Scenario(
        "checkup_satisfaction", "zh", "happy",
        ["是我本人", "满意", "还行，等了一会儿", "<dtmf:5>", "拿到了", "满意", "非常满意", "愿意"],
        "completed",
        {"booking": 4, "waiting": "acceptable", "staff": 5, "report_received": True, "report": 4,
         "overall": 5, "come_back": True},
        said=["李女士"],
        not_said=["免费解读"],
    ),
    Scenario(
        "checkup_satisfaction", "en", "happy",
        ["Yes, that's me", "Satisfied", "It was acceptable", "<dtmf:5>", "Yes, I have", "Satisfied",
         "Very satisfied", "Yes, I would"],
        "completed",
        {"booking": 4, "waiting": "acceptable", "staff": 5, "report_received": True, "report": 4,
         "overall": 5, "come_back": True},
        said=["Ms Brown"],
    ),
    # --- 高血压随访 -------------------------------------------------------------------------------------
    Scenario(
        "hypertension", "zh", "happy",
        ["是的", "一百四十五比九十", "每天早上都量", "按时吃了", "都没有", "有注意，吃得比较淡", "十二月九号"],
        "completed",
        {"bp": {"systolic": 145, "diastolic": 90}, "measure_freq": "daily", "meds": True,
         "side_effects": ["none"], "salt": True, "next_visit": "2026-12-09"},
        not_said=["偏高", "偏低"],
    ),
    Scenario(
        "hypertension", "en", "happy",
        ["Yes, speaking", "One forty-five over ninety", "Every day", "Yes, every day", "None of those",
         "Yes, I am", "December ninth"],
        "completed",
        {"bp": {"systolic": 145, "diastolic": 90}, "measure_freq": "daily", "meds": True,
         "side_effects": ["none"], "salt": True, "next_visit": "2026-12-09"},
    ),
    # --- 糖尿病随访 -------------------------------------------------------------------------------------
    Scenario(
        "diabetes", "zh", "happy",
        ["是我", "七点八", "十点二", "没有", "都按时打了", "没有", "有控制"],
        "completed",
        {"fasting_glucose": 7.8, "postmeal_glucose": 10.2, "hypo": False, "meds": True, "feet": ["none"],
         "diet": True},
    ),
    Scenario(
        "diabetes", "en", "happy",
        ["Yes", "Seven point eight", "Ten point two", "No", "Yes, always", "No, they're fine", "Yes, I try to"],
        "completed",
        {"fasting_glucose": 7.8, "postmeal_glucose": 10.2, "hypo": False, "meds": True, "feet": ["none"],
         "diet": True},
    ),
    # --- PICC置管维护 -----------------------------------------------------------------------------------
    Scenario(
        "picc_care", "zh", "happy",
        ["是的", "上周五换的", "是的，每周都去", "都没有", "没有", "没有，贴得好好的", "没有", "二十七号"],
        "completed",
        {"last_care": "2026-11-20", "on_schedule": True, "arm": ["none"], "fever": False, "dressing": False,
         "catheter": False, "next_care": "2026-11-27"},
    ),
    Scenario(
        "picc_care", "en", "happy",
        ["Yes", "Last Friday", "Yes, every week", "No, none of those", "No", "No, it's fine", "No",
         "On the twenty-seventh"],
        "completed",
        {"last_care": "2026-11-20", "on_schedule": True, "arm": ["none"], "fever": False, "dressing": False,
         "catheter": False, "next_care": "2026-11-27"},
    ),
    # --- 冠脉支架术后 -----------------------------------------------------------------------------------
    Scenario(
        "post_stent", "zh", "happy",
        ["是我", "没有", "两种都在吃", "刷牙的时候牙龈有点出血", "没有", "早就戒了", "十二月九号"],
        "completed",
        {"chest_pain": False, "antiplatelet": True, "bleeding": ["gums"], "puncture": False,
         "smoking": "quit", "review": "2026-12-09"},
        said=["软毛牙刷"],
    ),
    Scenario(
        "post_stent", "en", "happy",
        ["Yes, speaking", "No", "Yes, both of them every day", "My gums bleed a bit when I brush", "No",
         "I gave up", "December the ninth"],
        "completed",
        {"chest_pain": False, "antiplatelet": True, "bleeding": ["gums"], "puncture": False,
         "smoking": "quit", "review": "2026-12-09"},
        said=["soft toothbrush"],
    ),
]
# fmt: on


def test_every_flow_and_language_has_a_happy_path() -> None:
    assert {(s.flow, s.lang) for s in SCENARIOS} == {(f, lang) for f in DEPARTMENTS for lang in ("zh", "en")}


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_happy_path(simulate, sc: Scenario) -> None:  # type: ignore[no-untyped-def]
    result = simulate(sc.flow, sc.lang, sc.replies)
    check_scenario(result, sc)
    # A cooperative patient: no reprompt was needed and the goodbye with the hospital's number was said.
    bot = [t["text"] for t in result["transcript"] if t["speaker"] == "bot"]
    phone = "0571-88888888" if sc.lang == "zh" else "0571 8888 8888"
    assert phone in bot[-1]
    assert len(bot) == len(sc.replies) + 1
