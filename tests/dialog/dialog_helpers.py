"""Shared helpers for the dialog tests: the test flows, contexts, and a ``Call`` driver.

(Named uniquely: test folders are not packages, so helper modules share one import namespace.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from dialog.actions import Action, CaptureAnswer, Escalate, Hangup, Listen, Play
from dialog.events import Dtmf, Event, NoInput, TransferCompleted, TransferFailed, Utterance
from dialog.events import Hangup as HangupEvent
from dialog.manager import DialogManager
from flows.schema import Flow
from flows.source import FlowYamlLoader

FLOWS = Path(__file__).parent / "flows"
NOW = datetime(2026, 11, 20, 10, 0)  # a Friday

CONTEXT_ZH: dict[str, Any] = {
    "patient": {"name": "张伟", "salutation": "张先生", "gender": "male"},
    "visit": {"department": "心内科", "ward": "心内科二病区", "discharge_date": "2026-11-17"},
    "hospital": {"name": "市第一人民医院", "phone": "010-65123456"},
}
CONTEXT_EN: dict[str, Any] = {
    "patient": {"name": "John Smith", "salutation": "Mr Smith", "gender": "male"},
    "visit": {"department": "Cardiology", "ward": "Ward 2", "discharge_date": "2026-11-17"},
    "hospital": {"name": "City Hospital", "phone": "010 6512 3456"},
}


def flow_data(name: str) -> dict[str, Any]:
    """The raw data of test flow ``name`` (read in the flow YAML dialect), to modify before validating."""
    return yaml.load((FLOWS / f"{name}.yaml").read_text(encoding="utf-8"), Loader=FlowYamlLoader)


def load(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> Flow:
    """Test flow ``name``, optionally changed by ``change(data)`` first."""
    data = flow_data(name)
    if change is not None:
        change(data)
    return Flow.model_validate(data)


def step_data(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["id"] == step_id)


class Call:
    """Drives a DialogManager like the I/O side would, keeping every action for the assertions."""

    def __init__(self, flow: Flow | str, lang: str = "zh", context: dict[str, Any] | None = None, **kw: Any):
        self.flow = load(flow) if isinstance(flow, str) else flow
        ctx = context if context is not None else (CONTEXT_ZH if lang == "zh" else CONTEXT_EN)
        self.dm = DialogManager(self.flow, lang, ctx, now=kw.pop("now", NOW), **kw)
        self.all: list[Action] = []
        self.last: list[Action] = []

    def _take(self, actions: list[Action]) -> list[Action]:
        self.all.extend(actions)
        self.last = actions
        return actions

    def start(self) -> list[Action]:
        return self._take(self.dm.start())

    def send(self, event: Event) -> list[Action]:
        return self._take(self.dm.handle(event))

    def say(self, text: str, confidence: float = 1.0, alternatives: tuple[str, ...] = ()) -> list[Action]:
        return self.send(Utterance(text, confidence, alternatives))

    def press(self, digit: str) -> list[Action]:
        return self.send(Dtmf(digit))

    def silence(self) -> list[Action]:
        return self.send(NoInput())

    def hangup(self) -> list[Action]:
        return self.send(HangupEvent())

    def transfer_failed(self) -> list[Action]:
        return self.send(TransferFailed())

    def transfer_completed(self) -> list[Action]:
        return self.send(TransferCompleted())

    # --- what happened ---

    def texts(self, actions: list[Action] | None = None) -> list[str]:
        return [a.text for a in (self.last if actions is None else actions) if isinstance(a, Play)]

    def spoken(self, actions: list[Action] | None = None) -> str:
        return " | ".join(self.texts(actions))

    def of(self, kind: type, actions: list[Action] | None = None) -> list[Any]:
        return [a for a in (self.last if actions is None else actions) if isinstance(a, kind)]

    @property
    def listen(self) -> Listen:
        assert self.last and isinstance(self.last[-1], Listen), f"last action is not a Listen: {self.last}"
        return self.last[-1]

    @property
    def hung_up(self) -> Hangup:
        assert self.last and isinstance(self.last[-1], Hangup), f"last action is not a Hangup: {self.last}"
        return self.last[-1]

    @property
    def captures(self) -> list[CaptureAnswer]:
        return self.of(CaptureAnswer, self.all)

    @property
    def escalations(self) -> list[Escalate]:
        return self.of(Escalate, self.all)

    @property
    def question(self) -> str | None:
        return self.listen.question_id
