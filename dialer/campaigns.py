"""Campaign service functions: create, start/pause/resume/finish, status. Used by the CLI now and the
console later; each takes a Session and commits.

``create_campaign`` validates everything before writing (the flow exists in the library, the calling
windows, the retry policy, dates, caps) and raises ValueError naming the field, so a bad campaign is never
stored. Status changes record why (``status_reason``): the circuit breaker pauses a campaign with its
reason, an operator with theirs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dialer.retry import RetryPolicy
from dialer.windows import DEFAULT_WINDOWS, PRESETS, CallingWindows
from models.calls import CallAttempt
from models.campaigns import CallTask, Campaign
from models.escalations import Escalation
from models.leases import ACTIVE_STATUSES, ENGINE_LOST, pending_counts
from models.types import utcnow
from models.vocab import ATTEMPT_OUTCOMES, LANGUAGES, VISIT_KINDS

__all__ = [
    "CampaignStatus",
    "create_campaign",
    "finish",
    "get_campaign",
    "list_campaigns",
    "parse_windows",
    "pause",
    "resume",
    "start",
    "status",
]

MAX_CONCURRENT_CALLS = 500  # a sanity bound: one engine's Asterisk will not carry more
MAX_ATTEMPTS = 20


def parse_windows(value: str | dict[str, Any] | None, tz: str) -> CallingWindows:
    """Calling windows from a preset name (``default``, ``weekdays``, ``extended``, ``always``), a JSON
    text or an object; ValueError naming the field."""
    import json

    if value is None:
        data: Any = DEFAULT_WINDOWS
    elif isinstance(value, str):
        text = value.strip()
        if text in PRESETS:
            data = PRESETS[text]
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"windows: neither a preset ({', '.join(PRESETS)}) nor JSON ({exc.msg} at column {exc.colno})"
                ) from None
    else:
        data = value
    return CallingWindows.from_json(data, tz)


def _check_flow(flow_id: str, language: str | None) -> None:
    from flows.errors import FlowError, FlowNotFound
    from flows.loader import find_flow

    if not flow_id or not isinstance(flow_id, str):
        raise ValueError("flow: a flow id from the library is required (see `followup flows list`)")
    try:
        flow = find_flow(flow_id)
    except FlowNotFound as exc:
        raise ValueError(f"flow: {exc}") from None
    except FlowError as exc:
        raise ValueError(f"flow: {flow_id!r} does not load: {exc}") from None
    if language is not None and language not in flow.languages:
        raise ValueError(
            f"language: flow {flow_id!r} has no {language!r} version (it has {', '.join(flow.languages)})"
        )


def _int(name: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}: expected an integer from {low} to {high}, got {value!r}")
    return value


def _date(name: str, value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a date YYYY-MM-DD, got {value!r}") from None


def create_campaign(
    session: Session,
    *,
    name: str,
    flow_id: str,
    language: str | None = None,
    windows: str | dict[str, Any] | None = None,
    timezone: str = "Asia/Shanghai",
    start_date: date | str | None = None,
    end_date: date | str | None = None,
    max_concurrent_calls: int = 10,
    priority: int = 0,
    max_attempts: int = 3,
    retry_policy: dict[str, Any] | None = None,
    caller_id: str | None = None,
    days_after_discharge: list[int] | None = None,
    department: str | None = None,
    visit_kind: str | None = None,
    description: str | None = None,
    created_by_id: int | None = None,
    check_flow: bool = True,
) -> Campaign:
    """Validate and store a new campaign in status ``draft``; ValueError names the bad field.

    ``language`` None: each patient's own language. ``windows``: preset name, JSON text or object
    (default ``DEFAULT_WINDOWS``). ``retry_policy``: ``dialer.retry.RetryPolicy.from_json`` shape; the
    complete policy is stored. ``check_flow=False`` skips the flow library lookup (tests with made-up ids).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: a campaign name is required")
    if len(name) > 200:
        raise ValueError("name: at most 200 characters")
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"language: expected one of {', '.join(LANGUAGES)} (or none for the patient's own)")
    if check_flow:
        _check_flow(flow_id, language)
    cw = parse_windows(windows, timezone)
    if cw.empty:
        raise ValueError("windows: no calling window on any day; nothing could ever be dialled")
    start = _date("start", start_date)
    end = _date("end", end_date)
    if start is not None and end is not None and end < start:
        raise ValueError(f"end: {end} is before start {start}")
    policy = RetryPolicy.from_json(retry_policy)
    if caller_id is not None and (not caller_id.strip() or len(caller_id) > 32):
        raise ValueError("caller_id: 1 to 32 characters (a number or 'Name <number>')")
    if days_after_discharge is not None:
        if not isinstance(days_after_discharge, list) or not days_after_discharge:
            raise ValueError("days_after_discharge: expected a non-empty list of day offsets, e.g. 3,7,30")
        for d in days_after_discharge:
            _int("days_after_discharge", d, 0, 3650)
        days_after_discharge = sorted(set(days_after_discharge))
    if visit_kind is not None and visit_kind not in VISIT_KINDS:
        raise ValueError(f"visit_kind: expected one of {', '.join(VISIT_KINDS)}, got {visit_kind!r}")
    if department is not None and (not department.strip() or len(department) > 100):
        raise ValueError("department: 1 to 100 characters")
    campaign = Campaign(
        name=name.strip(),
        description=description,
        flow_id=flow_id,
        language=language,
        status="draft",
        timezone=timezone,
        calling_windows=cw.to_json(),
        start_date=start,
        end_date=end,
        max_concurrent_calls=_int("concurrency", max_concurrent_calls, 1, MAX_CONCURRENT_CALLS),
        priority=_int("priority", priority, -1000, 1000),
        max_attempts=_int("max_attempts", max_attempts, 1, MAX_ATTEMPTS),
        retry_policy=policy.to_json(),
        caller_id=caller_id,
        days_after_discharge=days_after_discharge,
        department=department,
        visit_kind=visit_kind,
        created_by_id=created_by_id,
        status_changed_at=utcnow(),
    )
    session.add(campaign)
    session.commit()
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    """The campaign, freshly read; ValueError when there is none with that id."""
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise ValueError(f"campaign: no campaign with id {campaign_id}")
    return campaign


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))


# --- status changes -------------------------------------------------------------------------------------

# from-status → allowed to-statuses, per operation (a table, so the CLI's error can say what is allowed).
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft", "paused"), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "finish": (("draft", "running", "paused"), "finished"),
}


def _move(session: Session, campaign_id: int, op: str, reason: str | None) -> Campaign:
    allowed, target = _TRANSITIONS[op]
    # One conditional UPDATE: the breaker pausing and an operator resuming at the same time cannot both win.
    moved = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(allowed))
        .values(status=target, status_reason=reason, status_changed_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        session.rollback()
        campaign = get_campaign(session, campaign_id)
        if campaign.status == target and op in ("pause", "finish"):
            return campaign  # pausing a paused campaign is not an error (breaker and operator may race)
        raise ValueError(
            f"campaign {campaign_id}: cannot {op} a {campaign.status} campaign (only {' or '.join(allowed)})"
        )
    session.commit()
    return get_campaign(session, campaign_id)


def start(session: Session, campaign_id: int, *, reason: str | None = None) -> Campaign:
    """draft/paused → running: its due tasks become claimable."""
    return _move(session, campaign_id, "start", reason)


def pause(session: Session, campaign_id: int, *, reason: str = "paused by operator") -> Campaign:
    """running → paused, saying why. Calls in progress finish; no new task is claimed."""
    return _move(session, campaign_id, "pause", reason)


def resume(session: Session, campaign_id: int, *, reason: str | None = None) -> Campaign:
    """paused → running (clears the pause reason unless a new one is given)."""
    return _move(session, campaign_id, "resume", reason)


def finish(session: Session, campaign_id: int, *, reason: str = "finished by operator") -> Campaign:
    """→ finished: tasks still waiting are cancelled (leased ones too; live calls finish on their own)."""
    campaign = _move(session, campaign_id, "finish", reason)
    session.execute(
        update(CallTask)
        .where(CallTask.campaign_id == campaign_id, CallTask.status.in_(("pending", "leased")))
        .values(status="cancelled", lease_owner=None, lease_expires_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return campaign


# --- status ---------------------------------------------------------------------------------------------


@dataclass
class CampaignStatus:
    """A campaign's progress: what the CLI's ``status`` prints and the console shows."""

    id: int
    name: str
    flow_id: str
    status: str
    status_reason: str | None
    tasks: int
    by_status: dict[str, int]
    by_last_outcome: dict[str, int]
    attempts: int
    answered_attempts: int
    answer_rate: float | None  # of the finished attempts, the share a person picked up
    completed_tasks: int
    completion_rate: float | None  # tasks completed / tasks
    escalations: int
    live_calls: int
    next_due_at: datetime | None
    engine_lost_attempts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # finished attempts by outcome

    @property
    def settled(self) -> bool:
        """Nothing left to do: every task is done, failed or cancelled (or the campaign is finished)."""
        open_tasks = sum(self.by_status.get(s, 0) for s in ("pending", *ACTIVE_STATUSES))
        return self.status == "finished" or (self.tasks > 0 and open_tasks == 0)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["next_due_at"] = self.next_due_at.isoformat() if self.next_due_at else None
        data["settled"] = self.settled
        return data


def status(session: Session, campaign_id: int) -> CampaignStatus:
    """Counts by task status and last outcome, attempts, answer and completion rates, escalations, live
    calls and the next due time of one campaign."""
    campaign = get_campaign(session, campaign_id)
    by_status = pending_counts(session, campaign_id)
    in_campaign = CallTask.campaign_id == campaign_id
    by_last = {o: 0 for o in ATTEMPT_OUTCOMES}
    for outcome, n in session.execute(
        select(CallTask.last_outcome, func.count())
        .where(in_campaign, CallTask.last_outcome.is_not(None))
        .group_by(CallTask.last_outcome)
    ):
        by_last[outcome] = int(n)
    attempt_rows = session.execute(
        select(
            CallAttempt.outcome,
            CallAttempt.hangup_cause,
            func.count(),
            func.count(CallAttempt.answered_at),
        )
        .join(CallTask, CallTask.id == CallAttempt.task_id)
        .where(in_campaign)
        .group_by(CallAttempt.outcome, CallAttempt.hangup_cause)
    ).all()
    attempts = sum(int(n) for *_, n, _a in attempt_rows)
    answered = sum(int(a) for *_, a in attempt_rows)
    ended = [(int(n), int(a)) for o, _c, n, a in attempt_rows if o is not None and o != "answered"]
    finished = sum(n for n, _a in ended)
    answered_finished = sum(a for _n, a in ended)
    lost = sum(int(n) for _o, cause, n, _a in attempt_rows if cause == ENGINE_LOST)
    outcomes: dict[str, int] = {}
    for o, _l, n, _a in attempt_rows:
        if o is not None:
            outcomes[o] = outcomes.get(o, 0) + int(n)
    escalations = session.scalar(
        select(func.count(Escalation.id))
        .join(CallAttempt, CallAttempt.id == Escalation.attempt_id)
        .join(CallTask, CallTask.id == CallAttempt.task_id)
        .where(in_campaign)
    )
    next_due = session.scalar(
        select(func.min(CallTask.due_at)).where(in_campaign, CallTask.status == "pending")
    )
    session.commit()
    tasks = sum(by_status.values())
    completed = (
        session.scalar(
            select(func.count(CallTask.id)).where(
                in_campaign, CallTask.status == "done", CallTask.last_outcome == "completed"
            )
        )
        or 0
    )
    session.commit()
    return CampaignStatus(
        id=campaign.id,
        name=campaign.name,
        flow_id=campaign.flow_id,
        status=campaign.status,
        status_reason=campaign.status_reason,
        tasks=tasks,
        by_status=by_status,
        by_last_outcome={k: v for k, v in by_last.items() if v},
        attempts=attempts,
        answered_attempts=answered,
        answer_rate=(answered_finished / finished) if finished else None,
        completed_tasks=int(completed),
        completion_rate=(completed / tasks) if tasks else None,
        escalations=int(escalations or 0),
        live_calls=by_status.get("in_progress", 0),
        next_due_at=next_due,
        engine_lost_attempts=lost,
        outcomes=outcomes,
    )
