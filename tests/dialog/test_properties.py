"""Generated conversations: whatever the patient says, presses or doesn't, the manager never raises, always
waits with a Listen that carries an expectation (or a Transfer, or has hung up), and ends the call within a
bounded number of events."""

from __future__ import annotations

from typing import Any

from dialog_helpers import CONTEXT_EN, CONTEXT_ZH, NOW, load, step_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialog.actions import OUTCOMES, Action, CaptureAnswer, Hangup, Listen, Transfer
from dialog.events import Dtmf, Event, NoInput, TransferCompleted, TransferFailed, Utterance
from dialog.events import Hangup as HangupEvent
from dialog.manager import DialogManager
from dialog.nlu.expectation import Expectation
from dialog.state import LISTENING_PHASES, TRANSFER_PHASES, Phase
from flows.loader import load_library
from flows.schema import Flow

TEXTS = {
    "zh": [
        "是的", "不是", "对", "有", "没有", "我是他女儿", "我是他老伴", "我要投诉", "你们护士很好，表扬一下",
        "我有个建议", "转人工", "明天下午三点再打", "晚点再打", "你打错了", "以后别打了", "再说一遍",
        "不知道", "不清楚", "非常满意", "不满意", "五分", "三十八度五", "一百四十，九十", "好多了", "更差了",
        "头晕", "胸闷和乏力", "十二月五号", "七", "嗯", "", "啊啊啊", "今天天气不错", "1234", "？？",
    ],
    "en": [
        "yes", "no", "yeah", "nope", "I'm his wife", "I want to complain", "the nurses were great",
        "I have a suggestion", "let me talk to a person", "call me back tomorrow at 3 pm", "call me later",
        "wrong number", "stop calling me", "say that again", "I don't know", "very satisfied", "five",
        "thirty eight point five", "140 over 90", "much better", "worse", "dizziness", "December 5th",
        "seven", "um", "", "blah blah", "the weather is nice", "???",
    ],
}  # fmt: skip


def _family(policy: str):
    return lambda d: step_data(d, "identify")["identify"].update(family=policy)


FLOWS: list[Flow] = [
    load("basic"),
    load("basic", _family("callback")),
    load("basic", _family("end")),
    load("questions"),
    load("policies"),
    load("branches"),
    load("transfer"),
]

LIBRARY: list[Flow] = load_library()


def _budget(flow: Flow) -> int:
    """An upper bound on the events one call can take (see dialog/state.py, termination)."""
    per_step = 0
    for s in flow.steps:
        if s.ask is not None:
            nm, ni = s.ask.no_match.max + 1, s.ask.no_input.max + 1
            per_step += 2 * nm + ni + 3 + 2  # read-backs double the no-matches; repeats/feedback capped at 3
        elif s.identify is not None:
            per_step += 3 * (3 + 3 + 3 + 2)  # identity, family check, callback time
        else:
            per_step += 1
    return per_step + 10


def _event(data: st.DataObject, dm: DialogManager, lang: str, allow_hangup: bool) -> Event:
    if dm.state in TRANSFER_PHASES:
        choices: list[Any] = [TransferCompleted(), TransferFailed()]
        if allow_hangup:
            choices.append(HangupEvent())
        return data.draw(st.sampled_from(choices))
    kinds = ["say", "say", "say", "dtmf", "silence"] + (["hangup"] if allow_hangup else [])
    kind = data.draw(st.sampled_from(kinds))
    if kind == "say":
        text = data.draw(st.one_of(st.sampled_from(TEXTS[lang]), st.text(max_size=12)))
        confidence = data.draw(st.sampled_from([1.0, 0.9, 0.5, 0.2]))
        alternatives = tuple(data.draw(st.lists(st.sampled_from(TEXTS[lang]), max_size=2)))
        return Utterance(text, confidence, alternatives)
    if kind == "dtmf":
        return Dtmf(data.draw(st.sampled_from(list("0123456789*#"))))
    if kind == "silence":
        return NoInput()
    return HangupEvent()


def _check_batch(dm: DialogManager, actions: list[Action], lang: str, flow: Flow) -> None:
    assert actions, "every start()/handle() answers with at least one action"
    last = actions[-1]
    hangups = [a for a in actions if isinstance(a, Hangup)]
    if dm.state is Phase.FINISHED:
        assert isinstance(last, Hangup) and hangups == [last]
        assert last.outcome in OUTCOMES and dm.outcome == last.outcome
    elif dm.state in LISTENING_PHASES:
        assert isinstance(last, Listen) and not hangups
    else:
        assert dm.state in TRANSFER_PHASES
        assert isinstance(last, Transfer) and not hangups
    questions = {s.id for s in flow.questions()}
    for a in actions:
        if isinstance(a, Listen):
            assert isinstance(a.expectation, Expectation)
            assert a.expectation.lang == lang
            assert a.question_id is None or a.question_id in questions
        if isinstance(a, CaptureAnswer):
            assert a.question_id in questions
            assert a.status in ("answered", "unsure", "skipped")
            assert (a.value is None) == (a.status != "answered") or a.status == "answered"


def _converse(
    data: st.DataObject, allow_hangup: bool, flows: list[Flow] = FLOWS
) -> tuple[DialogManager, int, int]:
    flow = data.draw(st.sampled_from(flows), label="flow")
    lang = data.draw(st.sampled_from(flow.languages), label="lang")
    dm = DialogManager(flow, lang, CONTEXT_ZH if lang == "zh" else CONTEXT_EN, now=NOW)
    _check_batch(dm, dm.start(), lang, flow)
    budget = _budget(flow)
    events = 0
    while not dm.finished and events < budget:
        event = _event(data, dm, lang, allow_hangup)
        _check_batch(dm, dm.handle(event), lang, flow)
        events += 1
    assert set(dm.answers) <= {s.id for s in flow.questions()}
    return dm, events, budget


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_conversations_never_raise_and_always_wait_properly(data):
    dm, _, _ = _converse(data, allow_hangup=True)
    if dm.finished:
        assert dm.outcome in OUTCOMES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_calls_end_within_a_bounded_number_of_events_even_if_the_patient_never_hangs_up(data):
    dm, events, budget = _converse(data, allow_hangup=False)
    assert dm.finished, f"still in {dm.state} after {events} events (budget {budget})"
    assert dm.outcome in OUTCOMES


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FLOWS), st.data())
def test_silence_only_ends_every_flow(flow, data):
    lang = data.draw(st.sampled_from(flow.languages))
    dm = DialogManager(flow, lang, {}, now=NOW)
    actions = dm.start()
    for _ in range(_budget(flow)):
        if dm.finished:
            break
        event: Event = TransferFailed() if dm.state in TRANSFER_PHASES else NoInput()
        actions = dm.handle(event)
    assert dm.finished and isinstance(actions[-1], Hangup)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_conversations_through_the_shipped_flows(data):
    """The same properties on the library flows (flows/library): the real prompts, policies and branches."""
    dm, events, budget = _converse(data, allow_hangup=data.draw(st.booleans()), flows=LIBRARY)
    assert dm.finished, f"{dm.flow.id}: still in {dm.state} after {events} events (budget {budget})"
