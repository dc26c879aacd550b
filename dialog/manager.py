"""The dialog manager: a sans-IO walker of one flow for one call. Events in, actions out.

    dm = DialogManager(flow, "zh", context, now=now)
    actions = dm.start()                       # greeting + identity question, ending in Listen
    actions = dm.handle(Utterance("是的"))      # ... until an action is Hangup
    dm.finished, dm.outcome, dm.answers

It never reads a clock, a socket, a database or a model: the caller feeds it events (``dialog.events``)
and carries out the actions (``dialog.actions``) it returns, in order. The phases and their transitions are
one table in ``dialog.state``; this module decides which trigger an event amounts to and which actions go
with it.

How an event is read
--------------------
``NoInput`` is a no-input. A ``Dtmf`` key is looked up in the ``dtmf`` map of the current ``Listen``
(confidence 1.0, source ``dtmf``); an unmapped key is a no-match. The keypad maps are:

- yes/no (and identity, family and confirmation questions): 1 → yes (True), 2 → no (False);
- scale: key *n* → score *n* for every n within the scale (default 1–5: 5 = best, 1 = worst — dtmf_prompt
  texts must read like "非常满意请按5 … 非常不满意请按1");
- single choice: the choice's ``dtmf`` key, else its position (1 for the first choice);
- multiple choice: the same keys, a key selecting that one choice (value ``[choice_id]``).

An ``Utterance`` goes through ``understand(text, expectation, now)``. Its confidence is the lower of the
recogniser's and the understanding's. When the best hypothesis is not understood, the recogniser's
alternatives are tried in turn; an answer found in an alternative is always read back for confirmation.

Reprompt counting: ``Reprompt.max`` is the number of *retries*. The n-th failed try (n ≤ max) is answered
with the policy's n-th prompt (the last one repeats) — or, when the policy has no prompts, the default
no-input/no-match message followed by the question again — plus the keypad hint on closed questions. The
failure after that applies ``then``. No-input and no-match count separately. Identity, family and callback
time questions use the default policy (two retries); when it runs out an unconfirmed identity ends the call
(outcome partial) and an unanswered callback time takes the campaign's next slot.

Other rules
-----------
- Nothing medical before identity: until the patient (or, with ``family: continue``, a relative) is
  confirmed, only identify prompts and system messages are said, and those hear a neutral word instead of
  the department.
- A relative ("不是，我是他女儿", "我是他爱人，他在睡觉") is recognised before yes/no and wrong-person
  readings; explicit requests (opt out, a person, feedback) said at the same time still win.
- A complaint said along with a request ("我要投诉，转人工") is recorded as its own escalation.
- Repeats and feedback re-asks at one step beyond ``MAX_EXTRA_TURNS`` count as no-matches, so a call
  always ends (see ``dialog.state``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from dialog import messages
from dialog.actions import (
    Action,
    AddDoNotCall,
    CaptureAnswer,
    Escalate,
    Hangup,
    Listen,
    Play,
    ScheduleCallback,
    Transfer,
)
from dialog.events import (
    Dtmf,
    Event,
    NoInput,
    TransferCompleted,
    TransferFailed,
    Utterance,
)
from dialog.events import Hangup as HangupEvent
from dialog.nlu import FEEDBACK_INTENTS, is_family_member, normalize, understand
from dialog.nlu.dates import parse_callback_time as _nlu_callback_time
from dialog.nlu.expectation import ChoiceOption, Expectation
from dialog.nlu.understand import local_now
from dialog.render import blood_pressure_parts, lookup, render, render_answer, text_of
from dialog.state import MAX_EXTRA_TURNS, DialogState, Phase, Trigger
from flows.schema import CLOSED_TYPES, Ask, Flow, Reprompt, Step, Text, When

YES_NO_DTMF: dict[str, Any] = {"1": True, "2": False}
SCALE_DEFAULT: tuple[int, int] = (1, 5)
# The policy for the bot's own yes/no questions (identity, family, read-backs of no-input): two retries.
DEFAULT_REPROMPT = Reprompt()
# Intents that end or redirect the call wherever they are said.
_CALL_INTENTS = frozenset({"request_human", "call_back_later", "wrong_person", "opt_out"})
_NUMERIC_TYPES = frozenset({"scale", "number", "glucose", "temperature"})

Understander = Callable[..., Any]
FamilyDetector = Callable[[str, str], bool]
CallbackTimeParser = Callable[[str, str, "datetime | None"], "str | None"]


def parse_callback_time(text: str, lang: str, now: datetime | None) -> str | None:
    """A callback time ("YYYY-MM-DDTHH:MM") said in ``text``, by the understanding layer's parser."""
    parsed = _nlu_callback_time(normalize(text, lang), local_now(now))
    return parsed.value if parsed is not None else None


@dataclass(frozen=True)
class _Reading:
    """One event as the walker sees it: an answer, a no-match, a no-input or a global intent."""

    kind: str  # "answer" | "no_match" | "no_input" | "unsure" | a global intent
    value: Any = None
    confidence: float = 1.0
    text: str = ""
    source: str = "speech"
    feedback: str | None = None  # complaint/praise/suggestion said together with an answer
    from_alternative: bool = False


class DialogManager:
    """Walks ``flow`` in language ``lang`` for one call; see the module docstring."""

    def __init__(
        self,
        flow: Flow,
        lang: str,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        understand: Understander = understand,
        is_family_member: FamilyDetector = is_family_member,
        max_step_entries: int | None = None,
        callback_time: CallbackTimeParser | None = None,
    ) -> None:
        """``context``: {"patient": {...}, "visit": {...}, "hospital": {...}} for templates. ``now``: the
        call's local time, for relative times ("tomorrow afternoon"). ``understand``/``is_family_member``:
        the understanding functions (injectable for tests); ``callback_time(text, lang, now)`` reads "when
        to call back" from a family member's reply ("YYYY-MM-DDTHH:MM" or None). ``max_step_entries``:
        guard against a flow that loops without asking anything (default four entries per step)."""
        if lang not in flow.languages:
            raise ValueError(
                f"flow {flow.id!r} has no {lang!r} prompts (languages: {', '.join(flow.languages)})"
            )
        self.flow = flow
        self.lang = lang
        self.context: dict[str, Any] = dict(context or {})
        self.now = now
        self._understand = understand
        self._callback_time_of = callback_time or parse_callback_time
        self._is_family_member = is_family_member
        self._max_entries = max_step_entries if max_step_entries is not None else 4 * len(flow.steps) + 4
        self._state = DialogState()
        self._step: Step | None = None
        self._answers: dict[str, Any] = {}
        self._statuses: dict[str, str] = {}
        self._outcome: str | None = None
        self._respondent = "patient"
        self._identified = False
        self._entries = 0
        # Per step: failed tries and turns that count against no policy.
        self._tries = {"no_match": 0, "no_input": 0}
        self._extra_turns = 0
        self._pending: _Reading | None = None  # an answer awaiting confirmation
        self._base_prompt: list[Play] = []  # the current phase's question, for default reprompts
        self._last_prompt: list[Play] = []  # what was last asked, for "repeat"
        self._listen: Listen | None = None
        self._handover_text = ""
        self._handover_question: str | None = None
        self._department = self._render_department(flow.department)

    # --- public surface -------------------------------------------------------------------------------

    @property
    def state(self) -> Phase:
        """The current phase (``dialog.state.Phase``)."""
        return self._state.phase

    @property
    def finished(self) -> bool:
        """True once a Hangup action has been emitted."""
        return self._state.phase is Phase.FINISHED

    @property
    def outcome(self) -> str | None:
        """How the call ended (one of ``dialog.actions.OUTCOMES``), None while it goes on."""
        return self._outcome

    @property
    def answers(self) -> dict[str, Any]:
        """question_id → value for every question captured so far (None when unsure or skipped)."""
        return dict(self._answers)

    @property
    def statuses(self) -> dict[str, str]:
        """question_id → answered / unsure / skipped."""
        return dict(self._statuses)

    @property
    def respondent(self) -> str:
        """Who is answering: ``patient``, or ``family`` once a family member was allowed to continue."""
        return self._respondent

    @property
    def current_step(self) -> str | None:
        """The id of the step the walk is at (None before start)."""
        return self._step.id if self._step is not None else None

    @property
    def last_prompt(self) -> str:
        """The text of what the bot last asked (the question as most recently put), for display or repeat."""
        return self._join(p.text for p in self._last_prompt)

    @property
    def history(self) -> list[tuple[Phase, Trigger, Phase]]:
        """Every (phase, trigger, phase) transition so far."""
        return list(self._state.history)

    def accepts(self, event_type: type) -> bool:
        """Whether ``handle`` would accept an event of this type now."""
        return self._state.accepts(event_type)

    def start(self) -> list[Action]:
        """Begin the call: the actions up to the first Listen (or Transfer/Hangup)."""
        self._state.fire(Trigger.START_CALL)
        out: list[Action] = []
        self._walk(self.flow.steps[0].id, out)
        return out

    def handle(self, event: Event) -> list[Action]:
        """Feed one event; the actions to carry out. DialogStateError when it does not fit the phase."""
        self._state.check_event(event)
        out: list[Action] = []
        if isinstance(event, HangupEvent):
            self._patient_hung_up(out)
        elif isinstance(event, TransferCompleted):
            self._fire(Trigger.TRANSFER_COMPLETED)
            self._finish("transferred", out)
        elif isinstance(event, TransferFailed):
            self._transfer_failed(out)
        else:
            self._on_reading(self._read(event), out)
        return out

    # --- reading events -------------------------------------------------------------------------------

    def _read(self, event: Event) -> _Reading:
        assert self._listen is not None
        if isinstance(event, NoInput):
            return _Reading("no_input")
        if isinstance(event, Dtmf):
            if event.digit in self._listen.dtmf:
                return _Reading("answer", self._listen.dtmf[event.digit], 1.0, event.digit, "dtmf")
            return _Reading("no_match", text=event.digit, source="dtmf")
        assert isinstance(event, Utterance)
        reading = self._understood(event.text, event.confidence)
        if reading.kind == "no_match":
            for alt in event.alternatives:
                other = self._understood(alt, event.confidence)
                if other.kind == "answer":
                    return replace(other, from_alternative=True)
        return reading

    def _understood(self, text: str, asr_confidence: float) -> _Reading:
        u = self._understand(text, self._listen.expectation, self.now)  # type: ignore[union-attr]
        confidence = min(float(u.confidence), float(asr_confidence))
        # A complaint said along with something else ("不满意，护士态度太差了", "我要投诉，转人工").
        feedback = u.feedback if u.feedback in FEEDBACK_INTENTS and u.intent not in FEEDBACK_INTENTS else None
        return _Reading(u.intent, u.value, confidence, text, "speech", feedback)

    def _on_reading(self, r: _Reading, out: list[Action]) -> None:
        phase = self.state
        if phase in (Phase.IDENTIFYING, Phase.FAMILY_CHECK) and self._says_family(r):
            self._family_member(out)
            return
        if phase is Phase.FAMILY_TIME:
            if r.kind == "call_back_later":
                self._time_taken(r.value, out)
                return
            if r.source == "speech" and r.kind in ("answer", "no_match", "unsure"):
                # "明天下午三点吧" answers "when can he be reached?" with a time, which the date parser
                # would cut down to a day.
                at = self._callback_time_of(r.text, self.lang, self.now)
                if at is not None:
                    self._time_taken(at, out)
                    return
        if r.kind in FEEDBACK_INTENTS:
            self._feedback(r.kind, r, out)
        elif r.kind in _CALL_INTENTS:
            if r.feedback is not None:
                # The call ends or moves to a person, but the complaint is still recorded as one.
                out.append(Escalate(r.feedback, self._department, r.text, question_id=self._question_id()))
            self._call_intent(r, out)
        elif r.feedback is not None:
            self._feedback(r.feedback, r, out)
        elif r.kind == "repeat":
            self._repeat(out)
        else:
            self._answer_in_phase(r, out)

    def _says_family(self, r: _Reading) -> bool:
        """A relative answered: "不是，我是他女儿" is no wrong number, and "我是他爱人，他在睡觉" (read as
        call-back-later) is the family case too unless a time was named; explicit requests still win."""
        if r.source != "speech" or not r.text:
            return False
        family_kinds = ("answer", "no_match", "unsure", "wrong_person")
        if r.kind not in family_kinds and not (r.kind == "call_back_later" and r.value is None):
            return False
        return self._is_family_member(r.text, self.lang)

    def _answer_in_phase(self, r: _Reading, out: list[Action]) -> None:
        """An answer, unsure, no-match or no-input, interpreted by the phase."""
        kind = r.kind if r.kind in ("answer", "unsure", "no_input") else "no_match"
        if kind == "answer" and r.value is None:  # an "answer" with nothing in it is no answer
            kind = "no_match"
        phase = self.state
        if phase is Phase.IDENTIFYING:
            if kind == "answer" and r.value is True:
                self._fire(Trigger.IDENTITY_CONFIRMED)
                self._identified = True
                self._go_on(out)
            elif kind == "answer" and r.value is False:
                self._fire(Trigger.IDENTITY_DENIED)
                self._reset_tries()
                identify = self._here.identify
                assert identify is not None
                self._ask_yes_no(self._play(identify.family_prompt, f"{self._here.id}.family"), out)
            else:
                self._fail("no_input" if kind == "no_input" else "no_match", out)
        elif phase is Phase.FAMILY_CHECK:
            if kind == "answer" and r.value is True:
                self._family_member(out)
            elif kind == "answer" and r.value is False:
                self._wrong_person(out)
            else:
                self._fail("no_input" if kind == "no_input" else "no_match", out)
        elif phase is Phase.FAMILY_TIME:
            if kind == "no_input":
                self._fail("no_input", out)
            else:
                self._time_taken(r.value if kind == "answer" else None, out)
        elif phase is Phase.LISTENING:
            if kind == "answer":
                self._accept(r, out)
            elif kind == "unsure" and self._ask.allow_unsure:
                self._capture("unsure", None, r, out)
                out.append(self._message_play("unsure_ack"))
                self._fire(Trigger.UNSURE)
                self._go_on(out)
            else:
                self._fail("no_input" if kind == "no_input" else "no_match", out)
        elif phase is Phase.CONFIRMING:
            if kind == "answer" and r.value is True:
                pending = self._pending
                assert pending is not None
                self._pending = None
                self._capture("answered", pending.value, pending, out)
                self._check_alarm(pending.value, out)
                self._fire(Trigger.ANSWERED)
                self._go_on(out)
            else:
                # "No", "不知道" or something unclear: the read-back was wrong; counts as a no-match.
                self._fail("no_input" if kind == "no_input" else "no_match", out)
        else:  # pragma: no cover - check_event admits no other phase here
            raise AssertionError(phase)

    # --- questions ------------------------------------------------------------------------------------

    @property
    def _here(self) -> Step:
        """The current step (the walk has started)."""
        assert self._step is not None
        return self._step

    @property
    def _ask(self) -> Ask:
        assert self._here.ask is not None
        return self._here.ask

    def _go_on(self, out: list[Action]) -> None:
        """Walk on from the current step."""
        self._walk(self.flow.next_of(self._here), out)

    def _accept(self, r: _Reading, out: list[Action]) -> None:
        """An answer to the current question: read it back when unsure of it, else capture and go on."""
        ask = self._ask
        if not self._in_range(ask, r.value):
            self._fail("no_match", out)
            return
        if r.source == "speech" and (r.confidence < ask.confirm_below or r.from_alternative):
            self._pending = r
            self._fire(Trigger.CHECK_ANSWER)
            answer = render_answer(r.value, ask, self.lang, self.context)
            confirm = self._message_play("confirm", answer=answer, prompt_key=f"{self._here.id}.confirm")
            self._ask_yes_no(confirm, out, question_id=self._here.id)
            return
        self._capture("answered", r.value, r, out)
        self._check_alarm(r.value, out)
        self._fire(Trigger.ANSWERED)
        self._go_on(out)

    @staticmethod
    def _in_range(ask: Ask, value: Any) -> bool:
        if ask.type not in _NUMERIC_TYPES or isinstance(value, bool) or not isinstance(value, int | float):
            return True
        lo = ask.min if ask.min is not None else (SCALE_DEFAULT[0] if ask.type == "scale" else None)
        hi = ask.max if ask.max is not None else (SCALE_DEFAULT[1] if ask.type == "scale" else None)
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    def _question_id(self) -> str | None:
        """The question being asked, when the bot is at one (not during identity checks)."""
        if self.state in (Phase.LISTENING, Phase.CONFIRMING) and self._step is not None:
            return self._step.id
        return None

    def _capture(self, status: str, value: Any, r: _Reading, out: list[Action]) -> None:
        qid = self._here.id
        self._answers[qid] = value
        self._statuses[qid] = status
        out.append(
            CaptureAnswer(
                question_id=qid,
                value=value,
                raw_text=r.text,
                confidence=r.confidence if status == "answered" else 0.0,
                status=status,
                source=r.source,
                respondent=self._respondent,
            )
        )

    def _check_alarm(self, value: Any, out: list[Action]) -> None:
        alarm = self._ask.alarm
        if alarm is None or value is None:
            return
        hit = False
        if self._ask.type == "blood_pressure":
            parts = blood_pressure_parts(value)
            if parts is not None:
                systolic, diastolic = parts
                hit = (
                    (alarm.above is not None and systolic > alarm.above)
                    or (alarm.below is not None and systolic < alarm.below)
                    or (alarm.diastolic_above is not None and diastolic > alarm.diastolic_above)
                )
        else:
            number = _as_number(value)
            if number is not None:
                hit = (alarm.above is not None and number > alarm.above) or (
                    alarm.below is not None and number < alarm.below
                )
        if alarm.equals is not None and _equals(value, alarm.equals):
            hit = True
        if not hit:
            return
        department = self._render_department(alarm.department) if alarm.department else self._department
        if alarm.reason is not None:
            text = self._render(text_of(alarm.reason, self.lang))
        else:
            question = self._render(text_of(self._ask.prompt, self.lang))
            answer = render_answer(value, self._ask, self.lang, self.context)
            text = f"{question} → {answer}"
        out.append(Escalate("alarm", department, text, question_id=self._here.id))

    # --- failures and reprompts -----------------------------------------------------------------------

    def _policy(self, kind: str) -> Reprompt:
        if self.state in (Phase.LISTENING, Phase.CONFIRMING):
            return getattr(self._ask, kind)
        return DEFAULT_REPROMPT

    def _fail(self, kind: str, out: list[Action]) -> None:
        """A no-match or no-input: reprompt while the policy allows, then apply its ``then``."""
        self._tries[kind] += 1
        n = self._tries[kind]
        policy = self._policy(kind)
        if n <= policy.max:
            self._reprompt(kind, n, policy, out)
        else:
            self._exhausted(kind, policy, out)

    def _reprompt(self, kind: str, n: int, policy: Reprompt, out: list[Action]) -> None:
        phase = self.state
        if phase is Phase.CONFIRMING and kind == "no_input":
            # Silence after "you said 4, is that right?": ask the read-back again.
            self._fire(Trigger.REPROMPT)
            self._say_and_listen([self._message_play("no_input")], self._last_prompt, out)
            return
        if phase in (Phase.LISTENING, Phase.CONFIRMING):
            rejected = phase is Phase.CONFIRMING
            self._fire(Trigger.REJECTED if rejected else Trigger.REPROMPT)
            self._pending = None
            self._set_prompt(self._question_plays(), *self._question_listen_parts())
            step_id = self._here.id
            if policy.prompts:
                prompt = policy.prompts[min(n, len(policy.prompts)) - 1]
                plays = [self._play(prompt, f"{step_id}.{kind}.{n}")] + self._dtmf_hint()
                preface: list[Play] = []
            else:
                plays = self._question_plays()
                # After "no, that's not it" the question is simply asked again, without "I didn't catch that".
                preface = [] if rejected else [self._message_play(kind)]
            self._say_and_listen(preface, plays, out)
            return
        self._fire(Trigger.REPROMPT)
        self._say_and_listen([self._message_play(kind)], self._base_prompt, out)

    def _exhausted(self, kind: str, policy: Reprompt, out: list[Action]) -> None:
        phase = self.state
        if phase in (Phase.LISTENING, Phase.CONFIRMING):
            self._pending = None
            self._capture("skipped", None, _Reading(kind, confidence=0.0), out)
            if policy.then == "end":
                self._fire(Trigger.GIVE_UP)
                out.append(self._message_play("hangup_no_input"))
                self._finish("partial", out)
                return
            if policy.then == "escalate":
                question = self._render(text_of(self._ask.prompt, self.lang))
                reason = "no answer" if self.lang == "en" else "多次询问未获得有效回答"
                text = f"{reason}: {question}"
                out.append(Escalate("no_answer", self._department, text, question_id=self._here.id))
            self._fire(Trigger.SKIPPED)
            self._go_on(out)
            return
        if phase is Phase.FAMILY_TIME:
            self._time_taken(None, out)
            return
        # Identity unconfirmed: nothing may be asked, so the call ends (the dialer may try again later).
        self._fire(Trigger.GIVE_UP)
        out.append(self._message_play("hangup_no_input"))
        self._finish("partial", out)

    # --- global intents -------------------------------------------------------------------------------

    def _feedback(self, kind: str, r: _Reading, out: list[Action]) -> None:
        """A complaint, praise or suggestion: record it, thank the patient, then as ``on_intent`` says."""
        out.append(Escalate(kind, self._department, r.text, question_id=self._question_id()))
        out.append(self._message_play(f"{kind}_ack"))
        policy = getattr(self.flow.on_intent, kind)
        has_answer = r.value is not None
        if policy == "end":
            if has_answer and self.state is Phase.LISTENING and self._in_range(self._ask, r.value):
                self._capture("answered", r.value, r, out)
                self._check_alarm(r.value, out)
            self._fire(Trigger.FEEDBACK_END)
            out.append(self._message_play("goodbye"))
            self._finish("escalated", out)
            return
        if has_answer:
            # "满意，护士特别好": the praise is recorded and the answer counts.
            self._answer_in_phase(replace(r, kind="answer", feedback=None), out)
            return
        if self._extra_turn_exceeded():
            self._fail("no_match", out)
            return
        self._fire(Trigger.FEEDBACK_REASK)
        self._say_and_listen([], self._last_prompt, out)

    def _call_intent(self, r: _Reading, out: list[Action]) -> None:
        kind = r.kind
        if kind == "wrong_person":
            self._wrong_person(out)
        elif kind == "opt_out":
            self._fire(Trigger.OPT_OUT)
            out.append(AddDoNotCall(reason=r.text or "opt_out"))
            out.append(self._message_play("opt_out"))
            self._finish("opt_out", out)
        elif kind == "call_back_later":
            self._fire(Trigger.WANTS_CALLBACK)
            self._schedule_callback(r.value, "call_back_later", out)
        elif kind == "request_human":
            qid = self._question_id()
            if self.flow.on_intent.request_human == "callback":
                self._fire(Trigger.WANTS_CALLBACK)
                out.append(self._message_play("no_agent"))
                out.append(ScheduleCallback(None, "request_human"))
                out.append(Escalate("request_human", self._department, r.text, question_id=qid))
                self._finish("callback_requested", out)
            else:
                self._fire(Trigger.WANTS_HUMAN)
                self._handover_text, self._handover_question = r.text, qid
                out.append(self._message_play("transfer"))
                out.append(Transfer("request_human"))

    def _repeat(self, out: list[Action]) -> None:
        if self._extra_turn_exceeded():
            self._answer_in_phase(_Reading("no_match"), out)
            return
        self._fire(Trigger.REPEAT)
        self._say_and_listen([self._message_play("repeat")], self._last_prompt, out)

    def _extra_turn_exceeded(self) -> bool:
        self._extra_turns += 1
        return self._extra_turns > MAX_EXTRA_TURNS

    def _wrong_person(self, out: list[Action]) -> None:
        self._fire(Trigger.WRONG_PERSON)
        out.append(self._message_play("wrong_person"))
        self._finish("wrong_person", out)

    def _schedule_callback(self, value: Any, reason: str, out: list[Action]) -> None:
        at = self._callback_time(value)
        out.append(ScheduleCallback(at, reason))
        if at is not None:
            out.append(self._message_play("callback_at", callback_time=at))
        else:
            out.append(self._message_play("callback_later"))
        self._finish("callback_requested", out)

    def _callback_time(self, value: Any) -> datetime | None:
        """A callback time from an understood value ("2026-11-21T15:00", a date, a datetime), or None.

        A bare date gets the time of day of this call (the patient was reachable then); a time already
        past is no use, so the campaign's next slot is taken instead.
        """
        at: datetime | None = None
        if isinstance(value, datetime):
            at = value
        elif isinstance(value, date):
            at = self._on_day(value)
        elif isinstance(value, str):
            try:
                at = (
                    datetime.fromisoformat(value) if "T" in value else self._on_day(date.fromisoformat(value))
                )
            except ValueError:
                at = None
        comparable = (
            at is not None and self.now is not None and (at.tzinfo is None) == (self.now.tzinfo is None)
        )
        if comparable and at <= self.now:  # type: ignore[operator]
            return None
        return at

    def _on_day(self, day: date) -> datetime:
        clock = self.now.time().replace(second=0, microsecond=0) if self.now is not None else time(10, 0)
        return datetime.combine(day, clock)

    # --- identity and family --------------------------------------------------------------------------

    def _family_member(self, out: list[Action]) -> None:
        identify = self._here.identify
        assert identify is not None
        if identify.family == "continue":
            self._fire(Trigger.FAMILY_CONTINUES)
            self._respondent = "family"
            self._identified = True
            if identify.family_continue_prompt is not None:
                key = f"{self._here.id}.family_continue"
                out.append(self._play(identify.family_continue_prompt, key))
            else:
                out.append(self._message_play("family_continue"))
            self._go_on(out)
        elif identify.family == "callback":
            self._fire(Trigger.FAMILY_CALLBACK)
            self._reset_tries()
            ask_time = self._message_play("family_ask_time")
            listen = self._set_prompt([ask_time], Expectation("date", self.lang), {}, None)
            out.extend((ask_time, listen))
        else:
            self._fire(Trigger.FAMILY_ENDS)
            out.append(self._message_play("family_end"))
            self._finish("partial", out)

    def _time_taken(self, value: Any, out: list[Action]) -> None:
        self._fire(Trigger.TIME_TAKEN)
        self._schedule_callback(value, "family_answered", out)

    # --- transfers and hang-ups -----------------------------------------------------------------------

    def _transfer_failed(self, out: list[Action]) -> None:
        if self.state is Phase.HANDING_OVER:
            self._fire(Trigger.TRANSFER_FAILED)
            out.append(self._message_play("no_agent"))
            out.append(ScheduleCallback(None, "request_human"))
            out.append(
                Escalate(
                    "request_human",
                    self._department,
                    self._handover_text,
                    question_id=self._handover_question,
                )
            )
            self._finish("callback_requested", out)
        else:
            self._fire(Trigger.TRANSFER_FAILED)
            self._go_on(out)

    def _patient_hung_up(self, out: list[Action]) -> None:
        was_waiting_for_agent = self.state is Phase.HANDING_OVER
        outcome = "partial" if self._questions_ahead() else "completed"
        self._fire(Trigger.HANGUP)
        if was_waiting_for_agent:
            # They asked for a person and gave up waiting: someone should still call them back.
            out.append(
                Escalate(
                    "request_human",
                    self._department,
                    self._handover_text,
                    question_id=self._handover_question,
                )
            )
        self._finish(outcome, out)

    def _questions_ahead(self) -> bool:
        """Whether a question is still due: the current one unanswered, or one the walk would reach next."""
        step = self._step
        if step is None or self.state in (Phase.IDENTIFYING, Phase.FAMILY_CHECK, Phase.FAMILY_TIME):
            return True
        if step.ask is not None and step.id not in self._statuses:
            return True
        seen: set[str] = set()
        step_id = self.flow.next_of(step)
        while step_id is not None and step_id not in seen:
            seen.add(step_id)
            s = self.flow.step(step_id)
            if s.ask is not None or s.identify is not None:
                return True
            if s.end is not None:
                return False
            step_id = self._branch_target(s) if s.branch is not None else self.flow.next_of(s)
        return False

    def _finish(self, outcome: str, out: list[Action]) -> None:
        self._outcome = outcome
        self._listen = None
        out.append(Hangup(outcome))

    # --- walking --------------------------------------------------------------------------------------

    def _walk(self, step_id: str | None, out: list[Action]) -> None:
        """Pass steps that need no reply until one waits for the outside world (or the call ends)."""
        while True:
            if step_id is None:
                self._fire(Trigger.ENTER_END)
                out.append(self._message_play("goodbye"))
                self._finish("completed", out)
                return
            self._entries += 1
            if self._entries > self._max_entries:
                # A flow that goes round without asking anything; flows.validate should have refused it.
                self._fire(Trigger.ENTER_END)
                out.append(self._message_play("goodbye"))
                self._finish("partial", out)
                return
            step = self.flow.step(step_id)
            self._step = step
            self._reset_tries()
            self._extra_turns = 0
            self._pending = None
            if step.say is not None:
                self._fire(Trigger.PASS_STEP)
                out.append(self._play(step.say, step.id))
                step_id = self.flow.next_of(step)
            elif step.branch is not None:
                self._fire(Trigger.PASS_STEP)
                step_id = self._branch_target(step)
            elif step.escalate is not None:
                self._fire(Trigger.PASS_STEP)
                spec = step.escalate
                department = self._render_department(spec.department) if spec.department else self._department
                reason = self._render(text_of(spec.reason, self.lang)) if spec.reason else ""
                out.append(Escalate(spec.kind, department, reason))
                if spec.prompt is not None:
                    out.append(self._play(spec.prompt, step.id))
                step_id = self.flow.next_of(step)
            elif step.identify is not None:
                self._fire(Trigger.ENTER_IDENTIFY)
                self._ask_yes_no(self._play(step.identify.prompt, step.id), out, hints=self._name_hints())
                return
            elif step.ask is not None:
                self._fire(Trigger.ENTER_ASK)
                listen = self._set_prompt(self._question_plays(), *self._question_listen_parts())
                out.extend(self._base_prompt)
                out.append(listen)
                return
            elif step.transfer is not None:
                self._fire(Trigger.ENTER_TRANSFER)
                if step.transfer.prompt is not None:
                    out.append(self._play(step.transfer.prompt, step.id))
                else:
                    out.append(self._message_play("transfer"))
                out.append(Transfer(step.id))
                return
            else:
                assert step.end is not None
                self._fire(Trigger.ENTER_END)
                if step.end.prompt is not None:
                    out.append(self._play(step.end.prompt, step.id))
                else:
                    out.append(self._message_play("goodbye"))
                self._finish(step.end.outcome, out)
                return

    def _branch_target(self, step: Step) -> str | None:
        for rule in step.branch or ():
            if self._holds(rule.when):
                return rule.goto
        return self.flow.next_of(step)

    def _holds(self, when: When) -> bool:
        """Whether condition ``when`` holds for the answers captured so far."""
        qid = when.answer
        status = self._statuses.get(qid)
        op = when.operator
        if op == "unsure":
            return (status == "unsure") == when.unsure
        if op == "skipped":
            return (status == "skipped") == when.skipped
        if status != "answered":
            return False
        value = self._answers[qid]
        if op == "equals":
            return _equals(value, when.equals)
        if op == "in_":
            return any(_equals(value, v) for v in when.in_ or ())
        if op == "contains":
            if isinstance(value, (list, tuple, set, frozenset)):
                return when.contains in value
            return isinstance(value, str) and when.contains is not None and when.contains in value
        number = self._comparable(qid, value)
        if number is None:
            return False
        limit = float(getattr(when, op))
        return {
            "above": number > limit,
            "below": number < limit,
            "at_least": number >= limit,
            "at_most": number <= limit,
        }[op]

    def _comparable(self, qid: str, value: Any) -> float | None:
        try:
            step = self.flow.step(qid)
        except KeyError:
            step = None
        if step is not None and step.ask is not None and step.ask.type == "blood_pressure":
            parts = blood_pressure_parts(value)
            return parts[0] if parts else None  # the systolic value
        return _as_number(value)

    # --- prompts --------------------------------------------------------------------------------------

    def _question_plays(self) -> list[Play]:
        step = self._step
        assert step is not None and step.ask is not None
        return [self._play(step.ask.prompt, step.id)] + self._dtmf_hint()

    def _dtmf_hint(self) -> list[Play]:
        step = self._step
        assert step is not None and step.ask is not None
        if step.ask.type in CLOSED_TYPES and step.ask.dtmf_prompt is not None:
            return [self._play(step.ask.dtmf_prompt, f"{step.id}.dtmf")]
        return []

    def _question_listen_parts(self) -> tuple[Expectation, dict[str, Any], str]:
        return expectation_for(self._ask, self.lang, self.context), dtmf_map(self._ask), self._here.id

    def _set_prompt(
        self, plays: list[Play], expectation: Expectation, dtmf: dict[str, Any], question_id: str | None
    ) -> Listen:
        """Make ``plays`` the current phase's question; its Listen is returned (and kept for re-asks)."""
        self._base_prompt = list(plays)
        self._last_prompt = list(plays)
        self._listen = Listen(
            expectation, question_id=question_id, dtmf=dtmf, timeout_s=_timeout(expectation.type)
        )
        return self._listen

    def _ask_yes_no(
        self, play: Play, out: list[Action], question_id: str | None = None, hints: tuple[str, ...] = ()
    ) -> None:
        listen = self._set_prompt(
            [play], Expectation("yes_no", self.lang, hints=hints), dict(YES_NO_DTMF), question_id
        )
        out.extend((play, listen))

    def _say_and_listen(self, preface: list[Play], plays: list[Play], out: list[Action]) -> None:
        self._last_prompt = list(plays)
        out.extend(preface)
        out.extend(plays)
        assert self._listen is not None
        out.append(self._listen)

    def _reset_tries(self) -> None:
        self._tries = {"no_match": 0, "no_input": 0}

    def _name_hints(self) -> tuple[str, ...]:
        return tuple(
            str(v)
            for v in (lookup(self.context, "patient.name"), lookup(self.context, "patient.salutation"))
            if v
        )

    # --- rendering ------------------------------------------------------------------------------------

    def _render(self, template: str, **extra: Any) -> str:
        return render(template, {**self.context, **extra}, self.lang, self.now)

    def _render_department(self, template: str) -> str | None:
        text = render(template, self.context, self.lang, self.now, fallback=False).strip()
        return text or None

    def _play(self, text: Text, key: str) -> Play:
        audio = text.audio.get(self.lang)  # type: ignore[call-overload]
        return Play(self._render(text_of(text, self.lang)), audio=audio, prompt_key=key)

    def _message_play(self, key: str, *, prompt_key: str | None = None, **fields: Any) -> Play:
        """System message ``key`` as a Play; ``fields``: answer= / callback_time= where it uses them."""
        template = messages.template(key, self.lang, self.flow)
        # Before identity is confirmed even the department is medical information ("心内科" says why the
        # patient was in hospital): whoever answered hears the neutral fallback instead.
        department = self._department if self._identified else None
        return Play(
            self._render(template, department=department, **fields),
            audio=messages.audio(key, self.lang, self.flow),
            prompt_key=prompt_key or f"msg.{key}",
        )

    def _join(self, texts: Any) -> str:
        return ("" if self.lang == "zh" else " ").join(t for t in texts if t)

    def _fire(self, trigger: Trigger) -> None:
        self._state.fire(trigger)


# --- helpers shared with other modules ----------------------------------------------------------------


def expectation_for(ask: Ask, lang: str, context: Mapping[str, Any] | None = None) -> Expectation:
    """The Expectation a question's Listen carries: its type, choices (label + synonyms), range, unit."""
    ctx = context or {}
    choices = []
    for c, key in zip(ask.choices, _choice_keys(ask), strict=True):
        synonyms: list[str] = c.synonyms.get(lang, [])  # type: ignore[call-overload]
        words = (render(text_of(c.label, lang), ctx, lang), *synonyms)
        choices.append(ChoiceOption(id=c.id, words=tuple(w for w in words if w), dtmf=key))
    unit = render(text_of(ask.unit, lang), ctx, lang) if ask.unit is not None else None
    return Expectation(
        type=ask.type,
        lang=lang,
        choices=tuple(choices),
        min=ask.min,
        max=ask.max,
        unit=unit or None,
        allow_unsure=ask.allow_unsure,
    )


def _choice_keys(ask: Ask) -> list[str | None]:
    return [c.dtmf or (str(i + 1) if i < 9 else None) for i, c in enumerate(ask.choices)]


def dtmf_map(ask: Ask) -> dict[str, Any]:
    """Keypad digit → answer value for a question (see the module docstring); empty for open questions."""
    if ask.type == "yes_no":
        return dict(YES_NO_DTMF)
    if ask.type == "scale":
        lo = ask.min if ask.min is not None else SCALE_DEFAULT[0]
        hi = ask.max if ask.max is not None else SCALE_DEFAULT[1]
        return {str(d): d for d in range(10) if lo <= d <= hi}
    if ask.type in ("single_choice", "multi_choice"):
        keys = _choice_keys(ask)
        multi = ask.type == "multi_choice"
        return {key: ([c.id] if multi else c.id) for c, key in zip(ask.choices, keys, strict=True) if key}
    return {}


def _timeout(question_type: str) -> float:
    # Someone describing symptoms pauses to think; a yes/no comes quickly.
    return 10.0 if question_type == "free_text" else 6.0


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None
    return float(value)


_TRUE_WORDS = frozenset({"true", "yes", "y", "是", "有"})
_FALSE_WORDS = frozenset({"false", "no", "n", "否", "没有"})


def _equals(value: Any, expected: Any) -> bool:
    """Answer equality tolerant of YAML spelling: 5 == 5.0, True == "yes", a date == "2026-11-20"."""
    if isinstance(value, bool) and isinstance(expected, str):
        word = expected.strip().lower()
        return (value and word in _TRUE_WORDS) or (not value and word in _FALSE_WORDS)
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if isinstance(value, int | float) and isinstance(expected, int | float):
        return float(value) == float(expected)
    if isinstance(value, date) or isinstance(expected, date):  # a datetime is a date too
        return str(value)[:10] == str(expected)[:10]
    return value == expected or str(value) == str(expected)
