"""``followup simulate``: a flow conversation in the terminal — the text channel for the dialog manager.

    followup simulate discharge_general --lang zh                       # interactive: type the replies
    followup simulate discharge_general --lang en --script replies.txt --json

The script has one patient reply per line: ``<silence>`` is a listen timeout (NoInput), ``<dtmf:5>`` a key
press, ``<hangup>`` the patient hanging up; blank lines and lines starting with ``#`` are skipped. When the
script runs out the patient hangs up. The same markers work when typing interactively (end of input hangs
up). A request for a person fails to transfer (no agents on a text channel) unless ``--agents-available``.

This is the I/O edge around ``dialog.manager.DialogManager``: it is the one place here that reads a clock,
files and the terminal. ``run_simulation`` is the library entry point (tests call it directly).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from dialog.actions import (
    AddDoNotCall,
    Escalate,
    Listen,
    Play,
    ScheduleCallback,
    Transfer,
)
from dialog.events import Dtmf, Event, NoInput, TransferCompleted, TransferFailed, Utterance
from dialog.events import Hangup as HangupEvent
from dialog.manager import DialogManager
from dialog.nlu.understand import local_now
from flows.schema import Flow

# Safety net for a broken flow or manager: a real call would have been cut off long before.
MAX_EVENTS = 500

_DTMF = re.compile(r"^<dtmf:([0-9*#])>$", re.IGNORECASE)


def demo_context(lang: str, now: datetime) -> dict[str, Any]:
    """A demo patient for trying flows: 张伟 (张先生) of 心内科, discharged three days before ``now``."""
    discharged = (now - timedelta(days=3)).date()
    if lang == "en":
        return {
            "patient": {"name": "John Smith", "salutation": "Mr Smith", "gender": "male", "age": 62},
            "visit": {
                "department": "Cardiology",
                "doctor": "Li Ming",
                "ward": "Cardiology Ward 2",
                "diagnosis": "coronary heart disease",
                "procedure": "a coronary stent",
                "visit_date": (discharged - timedelta(days=5)).isoformat(),
                "discharge_date": discharged.isoformat(),
                "next_visit_date": (discharged + timedelta(days=14)).isoformat(),
            },
            "hospital": {"name": "City First People's Hospital", "phone": "010 6512 3456"},
        }
    return {
        "patient": {"name": "张伟", "salutation": "张先生", "gender": "male", "age": 62},
        "visit": {
            "department": "心内科",
            "doctor": "李明",
            "ward": "心内科二病区",
            "diagnosis": "冠心病",
            "procedure": "冠状动脉支架植入术",
            "visit_date": (discharged - timedelta(days=5)).isoformat(),
            "discharge_date": discharged.isoformat(),
            "next_visit_date": (discharged + timedelta(days=14)).isoformat(),
        },
        "hospital": {"name": "市第一人民医院", "phone": "010-65123456"},
    }


def parse_reply(line: str) -> Event:
    """One script line (or typed reply) as an event: ``<silence>``, ``<dtmf:N>``, ``<hangup>`` or speech."""
    text = line.strip()
    lowered = text.lower()
    if lowered == "<silence>":
        return NoInput()
    if lowered == "<hangup>":
        return HangupEvent()
    m = _DTMF.match(text)
    if m:
        return Dtmf(m.group(1))
    return Utterance(text)


def read_script(path: str | Path) -> list[str]:
    """The replies of a script file: one per line, blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _resolve_flow(flow: Flow | str | Path) -> Flow:
    if isinstance(flow, Flow):
        return flow
    from flows.loader import find_flow  # the loader reads files: imported only when asked to

    return find_flow(str(flow))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def run_simulation(
    flow: Flow | str | Path,
    lang: str = "zh",
    patient_context: dict[str, Any] | None = None,
    replies: Iterable[str] | None = None,
    interactive: bool = False,
    now: datetime | None = None,
    *,
    agents_available: bool = False,
    input_fn: Callable[[str], str] = input,
    show: Callable[[str, str], None] | None = None,
    understand: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run one conversation of ``flow`` (a Flow, a library id or a path) and return what happened.

    ``replies``: the patient's replies (see ``parse_reply``); used when not ``interactive``. Interactive mode
    reads each reply with ``input_fn("> ")``; end of input is a hang-up. ``show(speaker, text)`` is called
    for every turn as it happens (None: silent). ``patient_context``: {"patient", "visit", "hospital"};
    None gives the demo patient. ``understand``: replaces ``dialog.nlu.understand`` (tests).

    Returns {"outcome", "answers", "escalations", "transcript", "callback_at", "do_not_call"}.
    """
    resolved = _resolve_flow(flow)
    now = now or local_now().replace(second=0, microsecond=0)
    context = patient_context if patient_context is not None else demo_context(lang, now)
    kwargs: dict[str, Any] = {"understand": understand} if understand is not None else {}
    dm = DialogManager(resolved, lang, context, now=now, **kwargs)

    transcript: list[dict[str, str]] = []
    escalations: list[dict[str, Any]] = []
    callback_at: datetime | None = None
    do_not_call = False
    scripted: Iterator[str] = iter(replies or ())
    joiner = "" if lang == "zh" else " "

    def next_reply() -> str | None:
        if interactive:
            try:
                return input_fn("> ")
            except EOFError:
                return None
        return next(scripted, None)

    actions = dm.start()
    for _ in range(MAX_EVENTS):
        waiting: type | None = None
        said: list[str] = []
        for action in actions:
            if isinstance(action, Play):
                said.append(action.text)
            elif isinstance(action, Escalate):
                escalations.append(
                    {
                        "kind": action.kind,
                        "department": action.department,
                        "text": action.text,
                        "question_id": action.question_id,
                    }
                )
            elif isinstance(action, ScheduleCallback):
                callback_at = action.at
            elif isinstance(action, AddDoNotCall):
                do_not_call = True
            elif isinstance(action, Listen | Transfer):
                waiting = type(action)
            # CaptureAnswer and Hangup: the manager keeps the answers and the outcome.
        if said:
            # The prompts of one reply ("question" + "press 1 for yes") are one turn, as heard on the phone.
            text = joiner.join(said)
            transcript.append({"speaker": "bot", "text": text})
            if show is not None:
                show("bot", text)
        if dm.finished or waiting is None:
            break
        if waiting is Transfer:
            event: Event = TransferCompleted() if agents_available else TransferFailed()
        else:
            reply = next_reply()
            event = HangupEvent() if reply is None else parse_reply(reply)
            if reply is not None and not isinstance(event, HangupEvent):
                transcript.append({"speaker": "patient", "text": reply.strip()})
                if show is not None and not interactive:  # typed replies are already on the screen
                    show("patient", reply.strip())
        actions = dm.handle(event)
    else:
        raise RuntimeError(f"the conversation did not end within {MAX_EVENTS} events")

    return {
        "outcome": dm.outcome,
        "answers": _jsonable(dm.answers),
        "escalations": escalations,
        "transcript": transcript,
        "callback_at": callback_at.isoformat() if callback_at is not None else None,
        "do_not_call": do_not_call,
    }


def format_result(result: dict[str, Any], lang: str, with_transcript: bool = True) -> str:
    """A readable report: the transcript (optional), the answers table, escalations, the outcome."""
    zh = lang == "zh"
    label = {"bot": "机器人" if zh else "Bot", "patient": "患者" if zh else "Patient"}
    lines: list[str] = []
    if with_transcript:
        for turn in result["transcript"]:
            lines.append(f"{label[turn['speaker']]}: {turn['text']}")
        lines.append("")
    answers = result["answers"]
    lines.append("回答" if zh else "Answers")
    if answers:
        width = max(len(q) for q in answers)
        for qid, value in answers.items():
            shown = "—" if value is None else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {qid.ljust(width)}  {shown}")
    else:
        lines.append("  " + ("（无）" if zh else "(none)"))
    if result["escalations"]:
        lines.append("转交" if zh else "Escalations")
        for e in result["escalations"]:
            where = f" [{e['question_id']}]" if e["question_id"] else ""
            lines.append(f"  {e['kind']} → {e['department'] or '-'}{where}: {e['text']}")
    lines.append(f"{'结果' if zh else 'Outcome'}: {result['outcome']}")
    if result["callback_at"]:
        lines.append(f"{'回拨时间' if zh else 'Call back at'}: {result['callback_at']}")
    if result["do_not_call"]:
        lines.append("已加入免打扰名单" if zh else "Added to the do-not-call list")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``followup simulate`` (the lead's CLI may reuse it as a subparser)."""
    p = argparse.ArgumentParser(prog="followup simulate", description="Talk through a flow in text.")
    p.add_argument("flow", metavar="FLOW", help="a library flow id or a path to a flow YAML file")
    p.add_argument(
        "--lang", choices=("zh", "en"), default=None, help="call language (default: the flow's first)"
    )
    p.add_argument(
        "--patient", metavar="FILE.json", help='{"patient": {...}, "visit": {...}, "hospital": {...}}'
    )
    p.add_argument("--script", metavar="FILE", help="patient replies, one per line (default: type them)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--now", metavar="ISO", help="the call's local time, e.g. 2026-11-20T10:00 (default: now)")
    p.add_argument(
        "--agents-available", action="store_true", help="a request for a person is transferred successfully"
    )
    return p


def main(
    argv: Sequence[str] | argparse.Namespace | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Entry point of ``followup simulate``: ``argv`` (the words after ``simulate``) or the CLI's parsed
    Namespace (flow, lang, patient, script, json, now, agents_available). Returns the exit status: 0, or 2
    for a usage or flow error."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    inp = stdin or sys.stdin
    args = argv if isinstance(argv, argparse.Namespace) else build_parser().parse_args(argv)
    try:
        flow = _resolve_flow(args.flow)
    except (ValueError, LookupError, OSError) as exc:  # FlowError / FlowNotFound carry file:line messages
        print(f"error: {exc}", file=err)
        return 2
    lang = args.lang or flow.languages[0]
    if lang not in flow.languages:
        print(
            f"error: flow {flow.id} has no {lang} prompts (languages: {', '.join(flow.languages)})", file=err
        )
        return 2
    try:
        now = local_now(datetime.fromisoformat(args.now)) if args.now else local_now().replace(microsecond=0)
    except ValueError:
        print(f"error: --now {args.now!r} is not an ISO date-time such as 2026-11-20T10:00", file=err)
        return 2
    context = None
    if args.patient:
        try:
            context = json.loads(Path(args.patient).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"error: --patient {args.patient}: {exc}", file=err)
            return 2
    replies = None
    if args.script:
        try:
            replies = read_script(args.script)
        except OSError as exc:
            print(f"error: --script {args.script}: {exc}", file=err)
            return 2
    interactive = replies is None
    zh = lang == "zh"
    label = {"bot": "机器人" if zh else "Bot", "patient": "患者" if zh else "Patient"}
    # Live turns go to stderr under --json so that stdout stays one JSON document.
    live = err if args.json else out

    def show(speaker: str, text: str) -> None:
        print(f"{label[speaker]}: {text}", file=live, flush=True)

    def ask(prompt: str) -> str:
        live.write(prompt)
        live.flush()
        line = inp.readline()
        if not line:
            raise EOFError
        if not inp.isatty():  # piped replies are not echoed by a terminal: show them
            live.write(line if line.endswith("\n") else line + "\n")
        return line.rstrip("\n")

    result = run_simulation(
        flow,
        lang,
        context,
        replies,
        interactive,
        now,
        agents_available=getattr(args, "agents_available", False),
        input_fn=ask,
        show=show if (interactive or not args.json) else None,
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2), file=out)
    else:
        print(file=out)
        print(format_result(result, lang, with_transcript=False), file=out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
