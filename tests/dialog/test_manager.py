"""The dialog manager's behaviour, event by event, on the small flows in tests/dialog/flows.

Answers that must be exact are given by keypad (deterministic); speech goes through the real understanding
(dialog.nlu) for intents, and through ``scripted`` where a test needs a particular value or confidence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from dialog_helpers import CONTEXT_ZH, NOW, Call, load, step_data

from dialog.actions import (
    AddDoNotCall,
    CaptureAnswer,
    Escalate,
    Hangup,
    Listen,
    Play,
    ScheduleCallback,
    Transfer,
)
from dialog.events import Dtmf, NoInput, TransferCompleted, Utterance
from dialog.manager import DialogManager, dtmf_map, expectation_for
from dialog.messages import BUILTIN
from dialog.nlu import Understanding
from dialog.nlu import understand as real_understand
from dialog.state import MAX_EXTRA_TURNS, DialogStateError, Phase
from flows.schema import Flow

# Replies the real understanding must read as these intents (zh and en).
SAY = {
    "zh": {
        "yes": "是的",
        "no": "不是",
        "family": "我是他女儿",
        "complaint": "我要投诉，护士态度太差了",
        "praise": "我要表扬一下你们的护士",
        "suggestion": "我想提个建议",
        "request_human": "我要转人工",
        "call_back_later": "我现在在开车，明天下午三点再打过来吧",
        "call_back_later_no_time": "我现在在开会，不方便，晚点再打吧",
        "wrong_person": "你打错了",
        "opt_out": "以后别给我打电话了",
        "repeat": "你再说一遍",
        "unsure": "我不知道",
        "garbage": "那个啥",
    },
    "en": {
        "yes": "yes",
        "no": "no",
        "family": "I'm his daughter",
        "complaint": "I want to make a complaint, the nurses were rude",
        "praise": "I'd like to praise the nurses",
        "suggestion": "I have a suggestion",
        "request_human": "can I speak to a real person please",
        "call_back_later": "I'm driving, call me back tomorrow at 3 pm",
        "call_back_later_no_time": "I'm busy right now, call me back later",
        "wrong_person": "you have the wrong number",
        "opt_out": "please stop calling me",
        "repeat": "could you repeat that",
        "unsure": "I don't know",
        "garbage": "hmm",
    },
}
ZH = SAY["zh"]


def scripted(table: dict[str, dict[str, Any]]):
    """An understand() that answers the texts in ``table`` as given and passes the rest to the real one."""

    def understand(text: str, expectation: Any, now: datetime | None = None) -> Any:
        if text in table:
            spec = {"intent": "answer", "value": None, "confidence": 1.0, "feedback": None, **table[text]}
            return Understanding(
                intent=spec["intent"],
                value=spec["value"],
                confidence=spec["confidence"],
                feedback=spec["feedback"],
                text=text,
            )
        return real_understand(text, expectation, now)

    return understand


def at_fever(call, lang: str = "zh", **kw: Any) -> Call:
    """A basic-flow call with identity confirmed, waiting at the fever question."""
    c = call("basic", lang, **kw)
    c.press("1")
    assert c.question == "fever"
    return c


# --- identity ---------------------------------------------------------------------------------------------


class TestIdentify:
    def test_start_asks_only_who_answered(self, call):
        c = call("basic")
        assert c.texts() == ["您好，这里是市第一人民医院，请问您是张先生本人吗？"]
        assert c.listen.expectation.type == "yes_no"
        assert c.listen.question_id is None
        assert c.listen.dtmf == {"1": True, "2": False}
        assert c.dm.state is Phase.IDENTIFYING
        assert not c.captures and not c.escalations

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_yes_goes_on_to_the_first_question(self, call, lang):
        c = call("basic", lang)
        c.say(SAY[lang]["yes"])
        assert c.question == "fever"
        expected_intro = {
            "zh": "今天给您做个简短的出院回访。",
            "en": "This is a short follow-up call after your discharge.",
        }
        assert c.texts()[0] == expected_intro[lang]
        assert len(c.texts()) == 3  # intro, question, keypad hint

    def test_keypad_1_confirms_identity(self, call):
        c = call("basic")
        c.press("1")
        assert c.question == "fever"

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_no_asks_whether_a_family_member(self, call, lang):
        c = call("basic", lang)
        c.say(SAY[lang]["no"])
        family_prompt = {"zh": "请问您是张先生的家属吗？", "en": "Are you a family member of Mr Smith?"}[lang]
        assert c.texts() == [family_prompt]
        assert c.listen.expectation.type == "yes_no"
        assert c.dm.state is Phase.FAMILY_CHECK

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_no_and_not_family_is_the_wrong_person(self, call, lang):
        c = call("basic", lang)
        c.say(SAY[lang]["no"])
        c.say(SAY[lang]["no"])
        assert c.hung_up.outcome == "wrong_person"
        assert c.texts() == [BUILTIN["wrong_person"][lang]]
        assert c.dm.outcome == "wrong_person" and c.dm.finished
        assert not c.captures

    def test_keypad_2_twice_is_the_wrong_person(self, call):
        c = call("basic")
        c.press("2")
        c.press("2")
        assert c.hung_up.outcome == "wrong_person"

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_wrong_person_intent(self, call, lang):
        c = call("basic", lang)
        c.say(SAY[lang]["wrong_person"])
        assert c.hung_up.outcome == "wrong_person"

    def test_unclear_reply_reprompts_with_default_message_and_prompt(self, call):
        c = call("basic")
        c.say(ZH["garbage"])
        assert c.texts() == [BUILTIN["no_match"]["zh"], "您好，这里是市第一人民医院，请问您是张先生本人吗？"]
        assert c.dm.state is Phase.IDENTIFYING

    def test_silence_at_identify_ends_after_two_retries(self, call):
        c = call("basic")
        c.silence()
        assert c.texts()[0] == BUILTIN["no_input"]["zh"]
        c.silence()
        assert isinstance(c.last[-1], Listen)
        c.silence()
        assert c.hung_up.outcome == "partial"
        assert c.texts() == [BUILTIN["hangup_no_input"]["zh"]]

    def test_nothing_medical_before_identity(self, call):
        c = call("basic")
        for _ in range(2):
            c.say(ZH["garbage"])
        assert all("发烧" not in t for t in c.texts(c.all))


class TestFamily:
    def _policy(self, family: str) -> Flow:
        return load("basic", lambda d: step_data(d, "identify")["identify"].update(family=family))

    @pytest.mark.parametrize("route", ["direct", "via_family_prompt", "keypad"])
    def test_continue_lets_the_family_member_answer(self, call, route):
        c = call("basic")
        if route == "direct":
            c.say(ZH["family"])
        elif route == "via_family_prompt":
            c.say(ZH["no"])
            c.say(ZH["yes"])
        else:
            c.press("2")
            c.press("1")
        assert c.texts()[0] == "好的，那麻烦您帮张先生回答几个问题。"
        assert c.question == "fever"
        assert c.dm.respondent == "family"
        c.press("2")
        assert c.captures[-1].respondent == "family"
        assert c.captures[-1].value is False

    def test_patient_answers_are_marked_as_the_patients(self, call):
        c = at_fever(call)
        c.press("2")
        assert c.captures[-1].respondent == "patient"

    def test_continue_without_a_flow_text_uses_the_builtin(self, call):
        flow = load("basic", lambda d: step_data(d, "identify")["identify"].pop("family_continue_prompt"))
        c = call(flow)
        c.say(ZH["family"])
        assert c.texts()[0] == "好的，那麻烦您帮张先生回答几个问题。"  # BUILTIN["family_continue"]
        assert c.question == "fever"

    def test_callback_asks_when_and_schedules_it(self, call):
        c = call(self._policy("callback"))
        c.say(ZH["family"])
        assert c.texts() == [BUILTIN["family_ask_time"]["zh"].replace("{patient.salutation}", "张先生")]
        assert c.listen.expectation.type == "date"
        assert c.dm.state is Phase.FAMILY_TIME
        c.say("明天下午三点吧")
        (cb,) = c.of(ScheduleCallback)
        assert cb.at == datetime(2026, 11, 21, 15, 0)
        assert "明天下午3点" in c.spoken()
        assert c.hung_up.outcome == "callback_requested"
        assert not c.captures

    def test_callback_via_family_prompt_in_english(self, call):
        c = call(self._policy("callback"), "en")
        c.say("no")
        c.say("yes")
        assert c.texts() == ["Thank you. When would be a good time to reach Mr Smith?"]
        c.say("tomorrow at 3 pm")
        (cb,) = c.of(ScheduleCallback)
        assert cb.at == datetime(2026, 11, 21, 15, 0)
        assert "tomorrow at 3 pm" in c.spoken()

    def test_callback_without_a_usable_time_takes_the_next_slot(self, call):
        c = call(self._policy("callback"))
        c.say(ZH["family"])
        c.say(ZH["unsure"])
        (cb,) = c.of(ScheduleCallback)
        assert cb.at is None
        assert c.texts() == [BUILTIN["callback_later"]["zh"]]
        assert c.hung_up.outcome == "callback_requested"

    def test_callback_silence_reprompts_then_takes_the_next_slot(self, call):
        c = call(self._policy("callback"))
        c.say(ZH["family"])
        c.silence()
        assert c.texts()[0] == BUILTIN["no_input"]["zh"]
        c.silence()
        c.silence()
        (cb,) = c.of(ScheduleCallback)
        assert cb.at is None
        assert c.hung_up.outcome == "callback_requested"

    def test_relative_saying_the_patient_is_busy_is_the_family_case(self, call):
        # Read as call-back-later without a time, but it is a relative answering: the flow's policy applies.
        said = "我是他爱人，他现在在睡觉"
        c = call("basic")
        c.say(said)
        assert c.question == "fever" and c.dm.respondent == "family"
        c = call(self._policy("callback"))
        c.say(said)
        assert c.dm.state is Phase.FAMILY_TIME
        c.say("明天上午十点吧")
        assert c.of(ScheduleCallback)[0].at == datetime(2026, 11, 21, 10, 0)

    def test_relative_naming_a_time_gets_that_callback(self, call):
        c = call("basic")
        c.say("我是他女儿，他不在家，明天下午三点再打吧")
        (cb,) = c.of(ScheduleCallback)
        assert cb.at == datetime(2026, 11, 21, 15, 0)
        assert c.hung_up.outcome == "callback_requested"
        assert not c.captures

    def test_family_time_as_a_bare_day_is_scheduled_on_that_day(self, call):
        c = call(self._policy("callback"))
        c.say(ZH["family"])
        c.say("下周一")
        (cb,) = c.of(ScheduleCallback)
        assert cb.at is not None and cb.at.date() == date(2026, 11, 23)
        assert "11月23日" in c.spoken()

    def test_end_says_goodbye_without_asking_anything(self, call):
        c = call(self._policy("end"))
        c.say(ZH["family"])
        assert c.texts() == ["好的，谢谢您。那我们改天再直接联系张先生。再见！"]
        assert c.hung_up.outcome == "partial"
        assert not c.captures

    def test_end_via_family_prompt(self, call):
        c = call(self._policy("end"))
        c.press("2")
        c.press("1")
        assert c.hung_up.outcome == "partial"


# --- questions --------------------------------------------------------------------------------------------


class TestQuestions:
    def test_closed_question_plays_prompt_then_keypad_hint(self, call):
        c = at_fever(call)
        plays = c.of(Play)
        assert [p.prompt_key for p in plays] == ["intro", "fever", "fever.dtmf"]
        assert plays[2].text == "有请按1，没有请按2。"

    def test_open_question_has_no_keypad(self, call):
        c = call("questions")
        for digit in ("1", "1"):  # identity, fever yes
            c.press(digit)
        assert c.question == "temp"
        assert c.listen.dtmf == {}
        assert c.listen.expectation.type == "temperature"
        assert c.listen.expectation.min == 34 and c.listen.expectation.max == 43
        assert c.listen.expectation.unit == "度"

    def test_keypad_answer_is_captured_with_full_confidence(self, call):
        c = at_fever(call)
        c.press("1")
        (cap,) = c.of(CaptureAnswer)
        assert (cap.question_id, cap.value, cap.source, cap.confidence, cap.status) == (
            "fever",
            True,
            "dtmf",
            1.0,
            "answered",
        )
        assert c.question == "satisfaction"

    @pytest.mark.parametrize("digit", ["1", "3", "5"])
    def test_scale_key_n_means_score_n(self, call, digit):
        c = at_fever(call)
        c.press("2")
        c.press(digit)
        assert c.dm.answers["satisfaction"] == int(digit)

    @pytest.mark.parametrize("digit", ["0", "6", "9", "#", "*"])
    def test_scale_key_outside_the_scale_is_a_no_match(self, call, digit):
        c = at_fever(call)
        c.press("2")
        c.press(digit)
        assert c.question == "satisfaction"
        assert c.texts()[0] == BUILTIN["no_match"]["zh"]
        assert "satisfaction" not in c.dm.answers

    def test_yes_no_unmapped_key_is_a_no_match(self, call):
        c = at_fever(call)
        c.press("3")
        assert c.texts()[0] == "不好意思，有没有发烧？您说有或者没有就行。"
        assert c.question == "fever"

    def test_key_on_an_open_question_is_a_no_match(self, call):
        c = call("questions")
        c.press("1")
        c.press("2")  # no fever
        assert c.question == "temp"
        c.press("5")
        assert c.question == "temp"
        assert c.texts()[0] == BUILTIN["no_match"]["zh"]

    def test_choice_keys_use_dtmf_or_position(self):
        flow = load("questions")
        ask = flow.step("recovery").ask
        assert dtmf_map(ask) == {"1": "better", "2": "same", "9": "worse"}
        assert dtmf_map(flow.step("symptoms").ask) == {"1": ["dizzy"], "2": ["chest"], "3": ["tired"]}
        assert dtmf_map(flow.step("satisfaction").ask) == {str(d): d for d in range(1, 6)}
        assert dtmf_map(flow.step("fever").ask) == {"1": True, "2": False}
        assert dtmf_map(flow.step("bp").ask) == {}

    def test_expectation_carries_choices_with_labels_and_synonyms(self):
        flow = load("questions")
        exp = expectation_for(flow.step("recovery").ask, "zh")
        assert exp.type == "single_choice" and exp.lang == "zh"
        assert [(o.id, o.words, o.dtmf) for o in exp.choices] == [
            ("better", ("好一些", "好多了"), "1"),
            ("same", ("差不多",), "2"),
            ("worse", ("更差了",), "9"),
        ]
        en = expectation_for(flow.step("recovery").ask, "en")
        assert en.choices[0].words == ("better", "much better")

    def _to_recovery(self, call) -> Call:
        c = call(
            "questions",
            understand=scripted({"37": {"value": 37.0}, "120/80": {"value": (120, 80)}, "3": {"value": 3}}),
        )
        c.press("1")
        c.press("2")
        c.say("37")
        c.say("120/80")
        c.say("3")
        assert c.question == "recovery"
        return c

    def test_single_choice_by_key(self, call):
        c = self._to_recovery(call)
        c.press("9")
        assert c.dm.answers["recovery"] == "worse"
        c.press("3")  # tired: keys select one choice of a multiple-choice question
        assert c.dm.answers["symptoms"] == ["tired"]

    def test_single_choice_unused_position_key_is_a_no_match(self, call):
        c = self._to_recovery(call)
        c.press("3")  # "worse" has key 9, so 3 means nothing
        assert c.question == "recovery"
        assert "recovery" not in c.dm.answers

    def test_spoken_answers_through_the_understanding(self, call):
        c = self._to_recovery(call)
        c.say("好多了")
        assert c.dm.answers["recovery"] == "better"
        c.say("头晕，还有点胸闷")
        assert sorted(c.dm.answers["symptoms"]) == ["chest", "dizzy"]
        c.say("非常满意")
        assert c.dm.answers["satisfaction"] == 5
        assert c.question == "next_visit"

    def test_free_text_is_captured_and_the_flow_falls_off_the_end(self, call):
        c = self._to_recovery(call)
        for d in ("1", "1", "5"):
            c.press(d)
        c.say(ZH["unsure"])  # next_visit: don't know
        assert c.question == "comments"
        assert c.listen.timeout_s > 6.0
        c.say("没有了，挺好的")
        assert c.dm.answers["comments"]
        assert c.texts()[-1] == BUILTIN["goodbye"]["zh"]
        assert c.hung_up.outcome == "completed"
        assert c.dm.statuses["next_visit"] == "unsure"

    def test_number_out_of_range_is_a_no_match(self, call):
        c = call("questions", understand=scripted({"99": {"value": 99}}))
        c.press("1")
        c.press("2")
        c.say("99")  # temperature 34–43
        assert c.question == "temp"
        assert "temp" not in c.dm.answers


class TestReprompts:
    def test_no_match_prompts_in_turn_then_skip(self, call):
        c = at_fever(call)
        c.say(ZH["garbage"])
        first = c.texts()
        assert first == ["不好意思，有没有发烧？您说有或者没有就行。", "有请按1，没有请按2。"]
        assert c.question == "fever"
        c.say(ZH["garbage"])
        second = c.texts()
        assert second == ["再问一次，有没有发烧？", "有请按1，没有请按2。"]
        assert [p.prompt_key for p in c.of(Play)] == ["fever.no_match.2", "fever.dtmf"]
        c.say(ZH["garbage"])
        (cap,) = c.of(CaptureAnswer)
        assert (cap.question_id, cap.status, cap.value) == ("fever", "skipped", None)
        assert c.question == "satisfaction"

    def test_last_prompt_repeats_when_max_exceeds_the_prompts(self, call):
        def change(d):
            step_data(d, "fever")["ask"]["no_match"] = {
                "prompts": [{"zh": "甲", "en": "A"}, {"zh": "乙", "en": "B"}],
                "max": 4,
                "then": "skip",
            }

        c = call(load("basic", change))
        c.press("1")
        heard = []
        for _ in range(4):
            c.say(ZH["garbage"])
            heard.append(c.texts()[0])
        assert heard == ["甲", "乙", "乙", "乙"]
        c.say(ZH["garbage"])
        assert c.question == "satisfaction"

    def test_no_input_without_prompts_uses_default_message_and_question(self, call):
        c = at_fever(call)
        c.silence()
        assert c.texts() == [BUILTIN["no_input"]["zh"], "回家以后有没有发烧？", "有请按1，没有请按2。"]
        c.silence()  # no_input max 1
        assert c.of(CaptureAnswer)[0].status == "skipped"
        assert c.question == "satisfaction"

    def test_no_match_without_prompts_in_english(self, call):
        c = at_fever(call, "en")
        c.press("2")
        c.say("hmm")
        assert c.texts()[:2] == [BUILTIN["no_match"]["en"], "How satisfied were you with your stay?"]

    def test_no_match_and_no_input_are_counted_separately(self, call):
        c = at_fever(call)
        c.say(ZH["garbage"])  # no_match 1/2
        c.silence()  # no_input 1/1
        c.say(ZH["garbage"])  # no_match 2/2
        assert c.question == "fever" and not c.captures
        c.silence()  # no_input 2 > 1: skip
        assert c.captures[-1].status == "skipped"
        assert c.question == "satisfaction"

    def test_then_escalate_records_and_goes_on(self, call):
        c = call("policies")
        c.press("1")
        c.press("1")  # q_skip
        assert c.question == "q_escalate"
        c.say(ZH["garbage"])  # max 0: the first failure applies then
        (esc,) = c.of(Escalate)
        assert (esc.kind, esc.department, esc.question_id) == ("no_answer", "护理部", "q_escalate")
        assert "伤口有没有红肿" in esc.text
        assert c.of(CaptureAnswer)[0].status == "skipped"
        assert c.question == "q_end"

    def test_then_escalate_on_silence(self, call):
        c = call("policies")
        c.press("1")
        c.press("1")
        c.silence()
        assert [e.kind for e in c.of(Escalate)] == ["no_answer"]
        assert c.question == "q_end"

    def test_then_end_hangs_up_partial(self, call):
        c = call("policies")
        for d in ("1", "1", "2"):
            c.press(d)
        assert c.question == "q_end"
        c.say(ZH["garbage"])
        assert c.question == "q_end"
        c.say(ZH["garbage"])
        assert c.texts() == [BUILTIN["hangup_no_input"]["zh"]]
        assert c.hung_up.outcome == "partial"
        assert c.dm.statuses["q_end"] == "skipped"

    def test_policy_prompts_for_silence(self, call):
        c = call("policies")
        c.press("1")
        c.silence()
        assert c.texts()[0] == "您还在吗？按时吃药了吗？"
        c.silence()
        assert c.dm.statuses["q_skip"] == "skipped"
        assert c.question == "q_escalate"

    def test_silence_everywhere_ends_the_call(self, call):
        c = call("policies")
        c.press("1")
        for _ in range(20):
            if c.dm.finished:
                break
            c.silence()
        assert c.dm.finished
        assert c.dm.outcome == "partial"  # q_end's then: end


class TestConfirmation:
    def test_low_confidence_is_read_back_and_confirmed(self, call):
        c = at_fever(call)
        c.say(ZH["no"], confidence=0.3)
        assert c.texts() == ["您说的是“不是”，对吗？"]
        assert c.listen.expectation.type == "yes_no"
        assert c.listen.question_id == "fever"
        assert c.listen.dtmf == {"1": True, "2": False}
        assert c.dm.state is Phase.CONFIRMING
        assert not c.captures
        c.say(ZH["yes"])
        (cap,) = c.of(CaptureAnswer)
        assert (cap.question_id, cap.value, cap.raw_text) == ("fever", False, ZH["no"])
        assert cap.confidence < 0.55
        assert c.question == "satisfaction"

    def test_confirmation_by_key(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.2)
        c.press("1")
        assert c.dm.answers["fever"] is True

    def test_rejection_asks_again_and_counts_as_a_no_match(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.2)
        c.say(ZH["no"])  # "that's not what I said"
        assert c.texts() == ["不好意思，有没有发烧？您说有或者没有就行。", "有请按1，没有请按2。"]
        assert c.question == "fever"
        assert c.listen.expectation.type == "yes_no"
        assert c.dm.state is Phase.LISTENING
        c.say(ZH["yes"], confidence=0.2)
        c.press("2")
        c.say(ZH["yes"], confidence=0.2)
        c.press("2")  # the third no-match: max 2, then skip
        assert c.dm.statuses["fever"] == "skipped"
        assert c.question == "satisfaction"

    def test_rejection_without_policy_prompts_asks_the_question_plainly(self, call):
        c = at_fever(call)
        c.press("2")
        c.say("非常满意", confidence=0.2)
        assert c.texts() == ["您说的是“5分”，对吗？"]
        c.say(ZH["no"])
        assert c.texts()[0] == "您对这次住院的服务满意吗？"

    def test_silence_at_the_read_back_repeats_it(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.2)
        c.silence()
        assert c.texts() == [BUILTIN["no_input"]["zh"], "您说的是“是”，对吗？"]
        assert c.dm.state is Phase.CONFIRMING
        c.press("1")
        assert c.dm.answers["fever"] is True

    def test_confident_answers_are_not_read_back(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.9)
        assert c.dm.answers["fever"] is True

    def test_confirm_below_zero_never_reads_back(self, call):
        c = call("policies")
        c.press("1")
        c.press("1")
        assert c.question == "q_escalate"
        c.say(ZH["no"], confidence=0.01)
        assert c.dm.answers["q_escalate"] is False

    def test_answer_from_an_alternative_hypothesis_is_read_back(self, call):
        c = at_fever(call)
        c.say(ZH["garbage"], alternatives=("没有",))
        assert c.texts() == ["您说的是“不是”，对吗？"]
        c.press("1")
        assert c.dm.answers["fever"] is False

    def test_global_intent_during_read_back(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.2)
        c.say(ZH["opt_out"])
        assert c.hung_up.outcome == "opt_out"
        assert not c.captures

    def test_complaint_during_read_back_asks_the_read_back_again(self, call):
        c = at_fever(call)
        c.say(ZH["yes"], confidence=0.2)
        c.say(ZH["complaint"])
        assert c.of(Escalate)[0].question_id == "fever"
        assert c.texts()[-1] == "您说的是“是”，对吗？"
        assert c.dm.state is Phase.CONFIRMING


ALARM_VALUES = {
    "37": {"value": 37.0},
    "39": {"value": 39.0},
    "38.5": {"value": 38.5},
    "120/80": {"value": {"systolic": 120, "diastolic": 80}},
    "170/90": {"value": {"systolic": 170, "diastolic": 90}},
    "130/105": {"value": (130, 105)},
    "85/60": {"value": "85/60"},
    "3": {"value": 3},
    "6": {"value": 6},
    "7": {"value": 7},
}


class TestAlarms:
    def _at(self, call, qid: str, table: dict[str, dict[str, Any]]) -> Call:
        c = call("questions", understand=scripted(table))
        c.press("1")
        c.press("2")
        order = ["temp", "bp", "pain"]
        fill = {"temp": "37", "bp": "120/80", "pain": "3"}
        for q in order:
            if q == qid:
                break
            c.say(fill[q])
        assert c.question == qid
        return c

    @pytest.mark.parametrize(
        "qid, reply, alarm",
        [
            ("temp", "39", True),
            ("temp", "38.5", False),  # above is strict
            ("bp", "170/90", True),  # systolic above
            ("bp", "130/105", True),  # diastolic above
            ("bp", "85/60", True),  # systolic below
            ("bp", "120/80", False),
            ("pain", "7", True),
            ("pain", "6", False),
        ],
    )
    def test_alarm_escalates_and_the_survey_goes_on(self, call, qid, reply, alarm):
        c = self._at(call, qid, ALARM_VALUES)
        c.say(reply)
        alarms = [e for e in c.of(Escalate) if e.kind == "alarm"]
        assert bool(alarms) == alarm
        if alarm:
            assert alarms[0].department == "心内科"  # the flow's department, rendered
            assert alarms[0].question_id == qid
            assert alarms[0].text
        assert c.of(CaptureAnswer)[0].question_id == qid
        assert isinstance(c.last[-1], Listen) and c.question != qid

    def test_alarm_equals_with_its_own_department_and_reason(self, call):
        c = call("questions")
        c.press("1")
        c.press("1")  # fever: yes
        (esc,) = c.of(Escalate)
        assert (esc.kind, esc.department, esc.text, esc.question_id) == (
            "alarm",
            "发热门诊",
            "出院后发热",
            "fever",
        )
        assert c.question == "temp"

    def test_alarm_after_a_confirmed_answer(self, call):
        c = self._at(call, "temp", {"39": {"value": 39.0, "confidence": 0.2}})
        c.say("39")
        assert not c.of(Escalate)
        c.press("1")
        assert [e.kind for e in c.of(Escalate)] == ["alarm"]


# --- global intents ---------------------------------------------------------------------------------------


class TestFeedback:
    @pytest.mark.parametrize("kind", ["complaint", "praise", "suggestion"])
    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_feedback_at_a_question_is_recorded_and_the_question_asked_again(self, call, kind, lang):
        c = at_fever(call, lang)
        c.say(SAY[lang][kind])
        (esc,) = c.of(Escalate)
        dept = {"zh": "心内科", "en": "Cardiology"}[lang]
        assert (esc.kind, esc.department, esc.text, esc.question_id) == (kind, dept, SAY[lang][kind], "fever")
        ack = BUILTIN[f"{kind}_ack"][lang].replace("{department}", dept)
        prompt = {"zh": "回家以后有没有发烧？", "en": "Have you had a fever since you got home?"}[lang]
        assert c.texts()[0] == ack
        assert prompt in c.texts()
        assert c.question == "fever"
        assert not c.captures

    @pytest.mark.parametrize("kind", ["complaint", "praise", "suggestion"])
    def test_feedback_during_identify(self, call, kind):
        c = call("basic")
        c.say(ZH[kind])
        (esc,) = c.of(Escalate)
        assert esc.kind == kind and esc.question_id is None
        assert c.texts()[-1] == "您好，这里是市第一人民医院，请问您是张先生本人吗？"
        assert c.dm.state is Phase.IDENTIFYING
        # The escalation is routed to the department, but whoever answered is not told which one.
        assert esc.department == "心内科"
        assert "心内科" not in c.spoken()

    def test_feedback_with_an_answer_records_both(self, call):
        said = "满意，护士都特别好"
        c = at_fever(call, understand=scripted({said: {"intent": "praise", "value": 4}}))
        c.press("2")
        c.say(said)
        (esc,) = c.of(Escalate)
        assert esc.kind == "praise" and esc.question_id == "satisfaction"
        assert c.dm.answers["satisfaction"] == 4
        assert c.hung_up.outcome == "completed"

    def test_answer_carrying_feedback_records_both(self, call):
        said = "没有发烧，不过护士态度不好"
        c = at_fever(call, understand=scripted({said: {"value": False, "feedback": "complaint"}}))
        c.say(said)
        assert [e.kind for e in c.of(Escalate)] == ["complaint"]
        assert c.dm.answers["fever"] is False
        assert c.question == "satisfaction"

    def test_on_intent_end_hangs_up_escalated(self, call):
        c = call("branches")
        c.press("1")
        c.say(ZH["complaint"])
        assert [e.kind for e in c.of(Escalate)] == ["complaint"]
        assert c.texts()[-1] == BUILTIN["goodbye"]["zh"]
        assert c.hung_up.outcome == "escalated"

    def test_on_intent_end_still_captures_an_answer(self, call):
        said = "有点烧，你们太不负责了"
        c = call("branches", understand=scripted({said: {"intent": "complaint", "value": True}}))
        c.press("1")
        c.say(said)
        assert c.dm.answers == {"fever": True}
        assert c.hung_up.outcome == "escalated"

    def test_praise_continues_in_the_branches_flow(self, call):
        c = call("branches")
        c.press("1")
        c.say(ZH["praise"])
        assert c.question == "fever"

    def test_repeated_feedback_cannot_keep_the_line_open(self, call):
        c = at_fever(call)
        for _ in range(MAX_EXTRA_TURNS):
            c.say(ZH["complaint"])
            assert c.question == "fever"
        # Past the cap, feedback still gets recorded but counts as a no-match.
        for _ in range(3):
            c.say(ZH["complaint"])
        assert len(c.escalations) == MAX_EXTRA_TURNS + 3
        assert c.dm.statuses["fever"] == "skipped"


class TestCallIntents:
    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_request_human_transfers(self, call, lang):
        c = at_fever(call, lang)
        c.say(SAY[lang]["request_human"])
        assert c.texts() == [BUILTIN["transfer"][lang]]
        assert c.last[-1] == Transfer("request_human")
        assert c.dm.state is Phase.HANDING_OVER
        c.transfer_completed()
        assert c.hung_up.outcome == "transferred"

    def test_request_human_no_agent_creates_a_callback_ticket(self, call):
        c = at_fever(call)
        c.say(ZH["request_human"])
        c.transfer_failed()
        assert c.texts() == [BUILTIN["no_agent"]["zh"]]
        (cb,) = c.of(ScheduleCallback)
        assert cb == ScheduleCallback(None, "request_human")
        (esc,) = c.of(Escalate)
        assert (esc.kind, esc.department, esc.text, esc.question_id) == (
            "request_human",
            "心内科",
            ZH["request_human"],
            "fever",
        )
        assert c.hung_up.outcome == "callback_requested"

    def test_request_human_with_callback_policy_skips_the_transfer(self, call):
        c = call("branches")
        c.press("1")
        c.say(ZH["request_human"])
        assert not c.of(Transfer)
        assert [type(a).__name__ for a in c.last] == ["Play", "ScheduleCallback", "Escalate", "Hangup"]
        assert c.hung_up.outcome == "callback_requested"

    def test_complaint_with_request_human_is_recorded_before_the_transfer(self, call):
        said = "我要投诉，给我转人工"
        c = at_fever(call)
        c.say(said)
        assert [(e.kind, e.question_id, e.text) for e in c.of(Escalate)] == [("complaint", "fever", said)]
        assert isinstance(c.last[-1], Transfer)
        c.transfer_failed()
        assert [e.kind for e in c.escalations] == ["complaint", "request_human"]

    def test_complaint_with_opt_out_is_recorded(self, call):
        c = at_fever(call)
        c.say("护士态度太差了，以后别给我打电话了")
        assert [e.kind for e in c.of(Escalate)] == ["complaint"]
        assert c.of(AddDoNotCall) and c.hung_up.outcome == "opt_out"

    def test_patient_hangs_up_while_waiting_for_an_agent(self, call):
        c = at_fever(call)
        c.say(ZH["request_human"])
        c.hangup()
        assert [e.kind for e in c.of(Escalate)] == ["request_human"]
        assert c.hung_up.outcome == "partial"

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_call_back_later_with_a_time(self, call, lang):
        c = at_fever(call, lang)
        c.say(SAY[lang]["call_back_later"])
        (cb,) = c.of(ScheduleCallback)
        assert cb.at == datetime(2026, 11, 21, 15, 0)
        assert cb.reason == "call_back_later"
        said = {
            "zh": "好的，那我们明天下午3点再给您打过来。打扰您了，再见！",
            "en": "Of course. We'll call you back tomorrow at 3 pm. Goodbye for now!",
        }[lang]
        assert c.texts() == [said]
        assert c.hung_up.outcome == "callback_requested"

    def test_call_back_later_without_a_time(self, call):
        c = at_fever(call)
        c.say(ZH["call_back_later_no_time"])
        (cb,) = c.of(ScheduleCallback)
        assert cb.at is None
        assert c.texts() == [BUILTIN["callback_later"]["zh"]]

    def test_callback_time_in_the_past_takes_the_next_slot(self, call):
        c = at_fever(
            call, understand=scripted({"昨天打": {"intent": "call_back_later", "value": "2026-11-19T15:00"}})
        )
        c.say("昨天打")
        assert c.of(ScheduleCallback)[0].at is None

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_wrong_person_at_a_question(self, call, lang):
        c = at_fever(call, lang)
        c.say(SAY[lang]["wrong_person"])
        assert c.texts() == [BUILTIN["wrong_person"][lang]]
        assert c.hung_up.outcome == "wrong_person"

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_opt_out(self, call, lang):
        c = at_fever(call, lang)
        c.say(SAY[lang]["opt_out"])
        (dnc,) = c.of(AddDoNotCall)
        assert dnc.reason == SAY[lang]["opt_out"]
        assert c.texts() == [BUILTIN["opt_out"][lang]]
        assert c.hung_up.outcome == "opt_out"

    @pytest.mark.parametrize("lang", ["zh", "en"])
    def test_repeat_says_the_question_again_without_counting(self, call, lang):
        c = at_fever(call, lang)
        before = c.dm.last_prompt
        c.say(SAY[lang]["repeat"])
        assert c.texts()[0] == BUILTIN["repeat"][lang]
        assert c.dm.last_prompt == before
        assert ("" if lang == "zh" else " ").join(c.texts()[1:]) == before
        assert c.question == "fever"
        # The repeat did not use up a no-match retry: two more no-matches still reprompt.
        c.say(SAY[lang]["garbage"])
        c.say(SAY[lang]["garbage"])
        assert c.question == "fever" and not c.captures

    def test_repeat_after_a_reprompt_repeats_the_reprompt(self, call):
        c = at_fever(call)
        c.say(ZH["garbage"])
        c.say(ZH["repeat"])
        assert c.texts()[1] == "不好意思，有没有发烧？您说有或者没有就行。"

    def test_repeat_is_capped(self, call):
        c = at_fever(call)
        for _ in range(MAX_EXTRA_TURNS):
            c.say(ZH["repeat"])
            assert c.texts()[0] == BUILTIN["repeat"]["zh"]
        c.say(ZH["repeat"])
        assert c.texts()[0] == "不好意思，有没有发烧？您说有或者没有就行。"  # counted as a no-match

    def test_unsure_allowed(self, call):
        c = at_fever(call)
        c.say(ZH["unsure"])
        (cap,) = c.of(CaptureAnswer)
        assert (cap.status, cap.value) == ("unsure", None)
        assert c.texts()[0] == BUILTIN["unsure_ack"]["zh"]
        assert c.question == "satisfaction"

    def test_unsure_not_allowed_is_a_no_match(self, call):
        c = at_fever(call)
        c.press("1")
        c.say(ZH["unsure"])
        assert c.question == "satisfaction"
        assert c.texts()[0] == BUILTIN["no_match"]["zh"]
        assert not [a for a in c.captures if a.question_id == "satisfaction"]

    @pytest.mark.parametrize(
        "intent, outcome",
        [
            ("request_human", None),
            ("call_back_later", "callback_requested"),
            ("wrong_person", "wrong_person"),
            ("opt_out", "opt_out"),
            ("repeat", None),
            ("unsure", None),
        ],
    )
    def test_intents_during_identify(self, call, intent, outcome):
        c = call("basic")
        c.say(ZH[intent])
        if outcome is not None:
            assert c.hung_up.outcome == outcome
        elif intent == "request_human":
            assert isinstance(c.last[-1], Transfer)
        else:
            assert c.dm.state is Phase.IDENTIFYING
            assert c.texts()[-1] == "您好，这里是市第一人民医院，请问您是张先生本人吗？"
        assert not c.captures


# --- branches, steps, outcomes -----------------------------------------------------------------------------

BRANCH_VALUES = {
    "pain1": {"value": 1},
    "pain2": {"value": 2},
    "pain3": {"value": 3},
    "pain5": {"value": 5},
    "pain7": {"value": 7},
    "bp150": {"value": {"systolic": 150, "diastolic": 90}},
    "bp130/150": {"value": {"systolic": 130, "diastolic": 150}},
    "bp120": {"value": {"systolic": 120, "diastolic": 80}},
}


class TestBranches:
    def _run(
        self, call, fever="2", recovery="1", symptoms="1", pain: str | None = "pain5", bp="bp120"
    ) -> Call:
        c = call("branches", understand=scripted(BRANCH_VALUES))
        for d in ("1", fever, recovery, symptoms):
            c.press(d)
        assert c.question == "pain"
        if pain is None:
            c.silence()
        else:
            c.say(pain)
        assert c.question == "bp"
        c.say(bp)
        assert c.dm.finished
        return c

    def branch_taken(self, c: Call) -> str:
        said = [t for t in c.texts(c.all) if t.startswith("分支")]
        assert len(said) == 1, said
        return said[0].removeprefix("分支")

    @pytest.mark.parametrize(
        "kw, expected",
        [
            ({}, "none"),
            ({"pain": None}, "skipped"),
            ({"pain": ZH["unsure"]}, "unsure"),
            ({"bp": "bp150"}, "above"),
            ({"bp": "bp130/150"}, "none"),  # blood pressure compares the systolic value
            ({"fever": "1"}, "equals"),
            ({"recovery": "3"}, "in"),
            ({"recovery": "2"}, "in"),
            ({"symptoms": "2"}, "contains"),
            ({"pain": "pain7"}, "at_least"),
            ({"pain": "pain1"}, "below"),
            ({"pain": "pain2"}, "at_most"),  # 2 is not below 2
            ({"pain": "pain3"}, "at_most"),
        ],
    )
    def test_first_matching_rule_wins(self, call, kw, expected):
        assert self.branch_taken(self._run(call, **kw)) == expected

    def test_rule_order(self, call):
        # fever yes and recovery worse both match: equals comes first.
        assert self.branch_taken(self._run(call, fever="1", recovery="3")) == "equals"

    def test_escalate_step_and_falling_off_the_end(self, call):
        c = self._run(call)
        (esc,) = [e for e in c.escalations if e.kind == "clinical"]
        assert (esc.department, esc.text, esc.question_id) == ("心内科二病区", "分支测试完成", None)
        assert "我会转告护士站。" in c.texts()
        assert c.texts()[-1] == BUILTIN["goodbye"]["zh"]
        assert c.hung_up.outcome == "completed"

    def test_escalate_department_falls_back_to_none_when_missing(self, call):
        context = {"patient": {"name": "张伟"}, "visit": {}, "hospital": {}}
        c = call("branches", understand=scripted(BRANCH_VALUES), context=context)
        for d in ("1", "2", "1", "1"):
            c.press(d)
        c.say("pain5")
        c.say("bp120")
        (esc,) = [e for e in c.escalations if e.kind == "clinical"]
        assert esc.department is None


class TestTransferStep:
    def test_transfer_step_then_no_agent_goes_on(self, call):
        c = call("transfer")
        assert c.texts() == ["您好。", "请问是张先生吗？"]
        c.press("1")
        assert c.texts() == ["请稍候，为您转接护士。"]
        assert c.last[-1] == Transfer("handoff")
        assert c.dm.state is Phase.TRANSFERRING
        c.transfer_failed()
        assert c.question == "after"

    def test_transfer_step_completed(self, call):
        c = call("transfer")
        c.press("1")
        c.transfer_completed()
        assert c.hung_up.outcome == "transferred"

    def test_flow_messages_override_builtin(self, call):
        c = call("transfer")
        c.press("1")
        c.transfer_failed()
        c.press("2")
        assert c.texts()[-1] == "测试流程结束，再见。"
        assert c.hung_up.outcome == "completed"

    def test_hangup_during_transfer_with_a_question_ahead_is_partial(self, call):
        c = call("transfer")
        c.press("1")
        c.hangup()
        assert c.hung_up.outcome == "partial"

    def test_hangup_during_final_transfer_is_completed(self, call):
        def change(d):
            d["steps"] = [s for s in d["steps"] if s["id"] != "after"]
            step_data(d, "handoff").pop("next")

        c = call(load("transfer", change))
        c.press("1")
        c.hangup()
        assert c.hung_up.outcome == "completed"

    def test_transfer_step_without_prompt_uses_the_message(self, call):
        c = call(load("transfer", lambda d: step_data(d, "handoff")["transfer"].pop("prompt")))
        c.press("1")
        assert c.texts() == [BUILTIN["transfer"]["zh"]]


class TestEndAndHangup:
    def test_end_step_prompt_and_outcome(self, call):
        c = at_fever(call)
        c.press("2")
        c.press("4")
        assert c.texts() == ["谢谢您的配合，祝您早日康复，再见！"]
        assert c.hung_up.outcome == "completed"
        assert c.dm.answers == {"fever": False, "satisfaction": 4}

    def test_end_step_outcome_from_the_flow(self, call):
        flow = load("basic", lambda d: step_data(d, "end")["end"].update(outcome="escalated", prompt=None))
        c = call(flow)
        c.press("1")
        c.press("2")
        c.press("4")
        assert c.texts() == [BUILTIN["goodbye"]["zh"]]
        assert c.hung_up.outcome == "escalated"

    @pytest.mark.parametrize("where", ["identify", "fever", "satisfaction", "confirm"])
    def test_hangup_mid_flow_is_partial(self, call, where):
        c = call("basic")
        if where != "identify":
            c.press("1")
        if where == "satisfaction":
            c.press("1")
        if where == "confirm":
            c.say(ZH["yes"], confidence=0.1)
        actions = c.hangup()
        assert actions == [Hangup("partial")]
        assert c.dm.finished and c.dm.outcome == "partial"

    def test_handle_after_finish_raises_naming_event_and_phase(self, call):
        c = at_fever(call)
        c.hangup()
        with pytest.raises(DialogStateError, match=r"Utterance.*FINISHED"):
            c.say(ZH["yes"])
        with pytest.raises(DialogStateError, match="Hangup"):
            c.hangup()

    def test_handle_before_start_raises(self):
        dm = DialogManager(load("basic"), "zh", CONTEXT_ZH, now=NOW)
        with pytest.raises(DialogStateError, match=r"NoInput.*START.*start\(\)"):
            dm.handle(NoInput())

    def test_start_twice_raises(self, call):
        c = call("basic")
        with pytest.raises(DialogStateError, match="start_call"):
            c.dm.start()

    def test_transfer_events_only_during_a_transfer(self, call):
        c = at_fever(call)
        with pytest.raises(DialogStateError, match=r"TransferCompleted.*LISTENING"):
            c.send(TransferCompleted())
        c.say(ZH["request_human"])
        with pytest.raises(DialogStateError, match=r"Dtmf.*HANDING_OVER"):
            c.send(Dtmf("1"))

    def test_language_must_be_one_of_the_flows(self):
        flow = load("basic", lambda d: d.update(languages=["zh"]))
        with pytest.raises(ValueError, match="en"):
            DialogManager(flow, "en", {})

    def test_flow_going_round_without_questions_ends(self):
        flow = Flow.model_validate(
            {
                "id": "loop",
                "title": {"zh": "环"},
                "languages": ["zh"],
                "steps": [
                    {"id": "a", "say": {"zh": "甲"}, "next": "b"},
                    {"id": "b", "say": {"zh": "乙"}, "next": "a"},
                ],
            }
        )
        dm = DialogManager(flow, "zh", {})
        actions = dm.start()
        assert actions[-1] == Hangup("partial")
        assert len(actions) < 50

    def test_properties_while_running(self, call):
        c = at_fever(call)
        assert c.dm.current_step == "fever"
        assert not c.dm.finished and c.dm.outcome is None
        assert c.dm.last_prompt == "回家以后有没有发烧？有请按1，没有请按2。"
        assert c.dm.accepts(Utterance) and not c.dm.accepts(TransferCompleted)
        assert [t.value for _, t, _ in c.dm.history][:3] == [
            "start_call",
            "enter_identify",
            "identity_confirmed",
        ]

    def test_every_listen_has_an_expectation_in_the_calls_language(self, call):
        c = call("questions", "en")
        c.press("1")
        for _ in range(30):
            if c.dm.finished:
                break
            assert c.listen.expectation.lang == "en"
            c.silence()
        assert c.dm.finished

    def test_missing_context_fields_do_not_crash(self, call):
        c = call("basic", context={})
        assert c.texts() == ["您好，这里是我们医院，请问您是患者本人吗？"]
        c.press("1")
        c.say(ZH["complaint"])
        assert c.of(Escalate)[0].department is None
        assert "相关科室" in c.texts()[0]
