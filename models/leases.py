"""Call-task leases: how engines claim due tasks, dial them at most once per attempt, and recover a
crashed engine's work. Each function takes a Session, writes, and **commits before returning**.

Life of a task (``models.campaigns``)::

    pending ──claim_due──► leased ──start_attempt──► in_progress ──finish──► pending (retry) / done / failed
       ▲                     │ release                    │
       └─────────────────────┘◄──── recover_expired ──────┘   (lease expired: the engine died)

Why a task is never dialled twice for the same attempt:

1. ``claim_due`` moves a task to ``leased`` for one owner in a single statement. On SQLite it is one
   ``UPDATE … WHERE id IN (SELECT … LIMIT n) AND status = 'pending' RETURNING``: SQLite runs one writer at a
   time and the statement opens its own write transaction, so two engines on one file claim disjoint sets.
   On PostgreSQL the inner SELECT takes ``FOR UPDATE SKIP LOCKED`` row locks, so concurrent engines skip
   each other's rows instead of waiting, and the outer ``status = 'pending'`` re-check guards the rest.
2. ``start_attempt`` writes the attempt row (number = attempts_made + 1) *before* the call is originated,
   conditionally on the lease still being ours (``models.store.create_attempt``). The unique
   ``(task_id, number)`` constraint is the last guard.
3. ``recover_expired`` closes an attempt left open by a dead engine as ``failed``/``engine_lost``. That
   attempt *counts*: the next dial is number + 1, so even a call that did go out before the crash is never
   repeated under the same number. Answers and turns stored under the lost attempt stay where they are.
4. ``finish`` only moves the task if it is still this attempt's (``attempts_made == number`` and
   ``in_progress``); a late finish after a recovery records the true outcome on the attempt and leaves the
   task alone.

Times are aware UTC datetimes. Do-not-call and the retry decision are the engine's business
(``dialer.retry.decide``), not this module's.
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.calls import CallAttempt
from models.campaigns import CallTask, Campaign
from models.store import AttemptConflict, create_attempt
from models.types import UTCDateTime, utcnow
from models.vocab import ATTEMPT_OUTCOMES, TASK_STATUSES

if TYPE_CHECKING:
    from dialer.retry import Decision

__all__ = [
    "ACTIVE_STATUSES",
    "ENGINE_LOST",
    "AttemptConflict",
    "Claimed",
    "capacity",
    "claim_due",
    "finish",
    "open_campaigns",
    "pending_counts",
    "recover_expired",
    "release",
    "renew",
    "start_attempt",
]

ACTIVE_STATUSES: tuple[str, ...] = ("leased", "in_progress")
ENGINE_LOST = "engine_lost"  # hangup_cause of an attempt closed by recover_expired
_RETRY_STATES = frozenset({"40P01", "40001"})  # PostgreSQL deadlock_detected, serialization_failure


@dataclass
class Claimed:
    """A task this engine now holds a lease on."""

    task_id: int
    campaign_id: int
    patient_id: int
    visit_id: int | None
    attempts_made: int
    due_at: datetime | None = None
    max_attempts: int = 3
    priority: int = 0


# --- which campaigns may dial now -----------------------------------------------------------------------


@dataclass(frozen=True)
class _CampaignRow:
    id: int
    priority: int
    max_concurrent_calls: int
    timezone: str
    calling_windows: dict[str, Any]
    start_date: date | None
    end_date: date | None


_windows_cache: dict[tuple[str, str], Any] = {}


def _is_dialable(c: _CampaignRow, now: datetime) -> bool:
    """Inside the campaign's dates and an open calling window at ``now`` (campaign time zone)."""
    import json
    from zoneinfo import ZoneInfo

    from dialer.windows import CallingWindows  # pure module; imported here to keep models/ free of dialer/

    key = (c.timezone, json.dumps(c.calling_windows, sort_keys=True))
    windows = _windows_cache.get(key)
    if windows is None:
        try:
            windows = CallingWindows.from_json(c.calling_windows or {}, c.timezone)
        except ValueError:
            windows = CallingWindows({}, "UTC")  # a campaign with broken windows dials nothing
        if len(_windows_cache) > 256:
            _windows_cache.clear()
        _windows_cache[key] = windows
    today = now.astimezone(ZoneInfo(windows.tz_name)).date()
    if c.start_date is not None and today < c.start_date:
        return False
    if c.end_date is not None and today > c.end_date:
        return False
    return windows.is_open(now)


def open_campaigns(session: Session, *, now: datetime) -> list[int]:
    """Ids of the running campaigns that may dial at ``now`` (dates and calling window), by priority desc."""
    return [c.id for c in _running(session) if _is_dialable(c, now)]


def _running(session: Session) -> list[_CampaignRow]:
    rows = session.execute(
        select(
            Campaign.id,
            Campaign.priority,
            Campaign.max_concurrent_calls,
            Campaign.timezone,
            Campaign.calling_windows,
            Campaign.start_date,
            Campaign.end_date,
        )
        .where(Campaign.status == "running")
        .order_by(Campaign.priority.desc(), Campaign.id)
    ).all()
    return [_CampaignRow(*r) for r in rows]


def _end_read(session: Session) -> None:
    """End the read transaction before writing: on SQLite a transaction that read and then writes after
    another writer committed fails at once with 'database is locked' instead of waiting; a write that
    opens its transaction waits (busy timeout)."""
    session.commit()


def _retrying(session: Session, fn: Any, attempts: int = 5) -> Any:
    """Run ``fn()`` (one transaction); when it loses a lock race — SQLite busy beyond the busy timeout,
    a PostgreSQL deadlock or serialization failure — roll back and run it again."""
    for i in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            session.rollback()
            transient = (
                "locked" in str(exc.orig).lower() or getattr(exc.orig, "sqlstate", None) in _RETRY_STATES
            )
            if not transient or i == attempts - 1:
                raise
            _time.sleep(0.05 * (i + 1))
    raise AssertionError("unreachable")


# --- claim, renew, release ------------------------------------------------------------------------------


def claim_due(
    session: Session,
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease_s: float = 120,
    campaign_id: int | None = None,
    per_campaign: Mapping[int, int] | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due tasks to ``owner`` and return them (one commit).

    Due: ``pending``, ``due_at <= now``, of a ``running`` campaign inside its start/end dates and calling
    window at ``now``. Campaigns are served by priority (desc); campaigns of equal priority share the
    ``limit`` fairly (round robin); within a campaign tasks go by priority desc, then due_at.
    ``campaign_id``: only that campaign. ``per_campaign``: at most that many for each campaign id (pass
    ``capacity(...)``; campaigns not in it get none).
    """
    if limit <= 0:
        return []
    campaigns = [c for c in _running(session) if _is_dialable(c, now)]
    if campaign_id is not None:
        campaigns = [c for c in campaigns if c.id == campaign_id]
    _end_read(session)
    if not campaigns:
        return []
    claim = _Claim(session, owner, now, now + timedelta(seconds=lease_s))

    def run() -> list[Claimed]:
        budget = {c.id: limit if per_campaign is None else per_campaign.get(c.id, 0) for c in campaigns}
        taken: list[tuple[int, int]] = []  # (campaign rank, id) in claim order
        for _priority, same in groupby(campaigns, key=lambda c: c.priority):
            group = [c for c in same if budget[c.id] > 0]
            while group and len(taken) < limit:
                share = max(1, -(-(limit - len(taken)) // len(group)))  # ceil: a fair share of what is left
                still: list[_CampaignRow] = []
                for c in group:
                    want = min(share, budget[c.id], limit - len(taken))
                    if want <= 0:
                        continue
                    got = claim.campaign(c.id, want)
                    taken += [(len(taken) + i, task_id) for i, task_id in enumerate(got)]
                    budget[c.id] -= len(got)
                    if len(got) == want and budget[c.id] > 0:
                        still.append(c)  # it may have more
                group = still
            if len(taken) >= limit:
                break
        rows = claim.finish([task_id for _, task_id in taken])
        session.commit()
        order = {task_id: i for i, task_id in taken}
        return sorted(rows, key=lambda t: order[t.task_id])

    return _retrying(session, run)


class _Claim:
    """The statements of one claim, all in one transaction.

    Per campaign, in three bands so each query is an ordered range of the ``(campaign_id, status,
    priority, due_at)`` index that stops after ``limit`` rows: raised priority (few rows, sorted), the
    usual priority 0 (read in due_at order straight from the index), lowered priority. A single
    ``ORDER BY priority DESC, due_at`` over the backlog would sort every due task of the campaign on
    every tick.

    SQLite: each band is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` (the first one takes
    the database write lock for the transaction). PostgreSQL: each band is a ``SELECT … FOR UPDATE SKIP
    LOCKED`` and one ``UPDATE … WHERE id IN (ids) AND status = 'pending'`` leases them all at the end — not
    ``IN (subquery)``, which PostgreSQL may re-run per row and so lease more than ``limit`` with SKIP LOCKED.
    """

    BANDS = (CallTask.priority > 0, CallTask.priority == 0, CallTask.priority < 0)
    RETURNED = (
        CallTask.id,
        CallTask.campaign_id,
        CallTask.patient_id,
        CallTask.visit_id,
        CallTask.attempts_made,
        CallTask.due_at,
        CallTask.max_attempts,
        CallTask.priority,
    )

    def __init__(self, session: Session, owner: str, now: datetime, expires: datetime) -> None:
        self.session = session
        self.now = now
        self.values = {
            "status": "leased",
            "lease_owner": owner,
            "lease_expires_at": expires,
            "updated_at": now,
        }
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.rows: dict[int, Claimed] = {}  # SQLite: already leased
        self.locked: set[int] = set()  # PostgreSQL: locked, leased in finish()

    def campaign(self, campaign_id: int, limit: int) -> list[int]:
        """Choose (PostgreSQL: lock; SQLite: lease) up to ``limit`` due tasks of one campaign, in order."""
        ids: list[int] = []
        for band in self.BANDS:
            if len(ids) >= limit:
                break
            chosen = (
                select(CallTask.id)
                .where(
                    CallTask.campaign_id == campaign_id,
                    CallTask.status == "pending",
                    band,
                    CallTask.due_at <= self.now,
                )
                .order_by(CallTask.priority.desc(), CallTask.due_at, CallTask.id)
                .limit(limit - len(ids))
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it
            )
            if self.postgres:
                if self.locked:  # our own locks do not hide rows from us: skip what this claim holds
                    chosen = chosen.where(CallTask.id.not_in(self.locked))
                got = list(self.session.scalars(chosen))
                self.locked.update(got)
                ids += got
                continue
            # No outer status condition: the write lock makes the subquery's check hold, and one would
            # make SQLite scan the (status, due_at) index instead of looking up the few ids.
            rows = self.session.execute(
                update(CallTask)
                .where(CallTask.id.in_(chosen.scalar_subquery()))
                .values(**self.values)
                .returning(*self.RETURNED)
                .execution_options(synchronize_session=False)
            ).all()
            band_rows = sorted((Claimed(*r) for r in rows), key=lambda t: (-t.priority, t.due_at, t.task_id))
            self.rows.update((t.task_id, t) for t in band_rows)
            ids += [t.task_id for t in band_rows]
        return ids

    def finish(self, ids: list[int]) -> list[Claimed]:
        """The claimed tasks (PostgreSQL: lease the locked ids now)."""
        if not self.postgres:
            return [self.rows[i] for i in ids]
        if not ids:
            return []
        rows = self.session.execute(
            update(CallTask)
            .where(CallTask.id.in_(ids), CallTask.status == "pending")
            .values(**self.values)
            .returning(*self.RETURNED)
            .execution_options(synchronize_session=False)
        ).all()
        return [Claimed(*r) for r in rows]


def renew(
    session: Session, *, owner: str, task_ids: Sequence[int], now: datetime, lease_s: float = 120
) -> int:
    """Extend ``owner``'s leases on ``task_ids`` (leased or in progress) to ``now + lease_s``; returns how
    many are still held (a task missing from the count was recovered: stop working on it)."""
    if not task_ids:
        return 0
    stmt = (
        update(CallTask)
        .where(
            CallTask.id.in_(list(task_ids)),
            CallTask.lease_owner == owner,
            CallTask.status.in_(ACTIVE_STATUSES),
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )

    def run() -> int:
        n = session.execute(stmt).rowcount
        session.commit()
        return n

    return _retrying(session, run)


def release(session: Session, *, owner: str, task_ids: Sequence[int] | None = None) -> int:
    """Give back ``owner``'s leased (not yet dialled) tasks — all of them when ``task_ids`` is None — as
    ``pending`` with their due time unchanged. In-progress tasks are not touched: their call is live."""
    conditions = [CallTask.lease_owner == owner, CallTask.status == "leased"]
    if task_ids is not None:
        if not task_ids:
            return 0
        conditions.append(CallTask.id.in_(list(task_ids)))
    stmt = (
        update(CallTask)
        .where(*conditions)
        .values(status="pending", lease_owner=None, lease_expires_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )

    def run() -> int:
        n = session.execute(stmt).rowcount
        session.commit()
        return n

    return _retrying(session, run)


# --- crash recovery -------------------------------------------------------------------------------------


def recover_expired(session: Session, *, now: datetime, retry_delay_s: float = 0.0) -> int:
    """Take back tasks whose lease expired before ``now`` (their engine died or hung); returns how many.

    A leased task goes back to ``pending`` as it was. An in-progress task's open attempt (no ``ended_at``,
    answered or not) is closed as
    ``failed`` with hangup cause ``engine_lost`` (it counts: the next dial is number + 1); the task becomes
    ``pending`` (due at ``now + retry_delay_s``), or ``failed`` when that was its last allowed attempt.
    """
    expired = [
        CallTask.status.in_(ACTIVE_STATUSES),
        CallTask.lease_expires_at.is_not(None),
        CallTask.lease_expires_at < now,
    ]

    def run() -> int:
        # Lock the expired rows first (PostgreSQL): a renew racing us waits, then finds the lease gone.
        # On SQLite the first UPDATE below takes the database write lock for the whole transaction.
        ids_stmt = select(CallTask.id).where(*expired).with_for_update(skip_locked=True)
        if session.get_bind().dialect.name == "sqlite":
            touched = session.execute(
                update(CallTask).where(*expired).values(updated_at=now).returning(CallTask.id)
            ).scalars()
            ids = list(touched)
        else:
            ids = list(session.scalars(ids_stmt))
        if not ids:
            session.commit()
            return 0
        session.execute(
            update(CallAttempt)
            .where(CallAttempt.task_id.in_(ids), CallAttempt.ended_at.is_(None))  # open, even if answered
            .values(outcome="failed", hangup_cause=ENGINE_LOST, ended_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        lost = CallTask.status == "in_progress"
        exhausted = and_(lost, CallTask.attempts_made >= CallTask.max_attempts)
        session.execute(
            update(CallTask)
            .where(CallTask.id.in_(ids))
            .values(
                status=_case(exhausted, "failed", "pending"),
                last_outcome=_case(lost, "failed", CallTask.last_outcome),
                due_at=_case(lost, now + timedelta(seconds=retry_delay_s), CallTask.due_at),
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return len(ids)

    return _retrying(session, run)


def _case(condition: Any, then: Any, otherwise: Any) -> Any:
    """CASE WHEN condition THEN then ELSE otherwise END; Python values become typed literals (datetimes
    through UTCDateTime, so SQLite stores them as every other timestamp)."""
    if isinstance(then, datetime):
        then = literal(then, UTCDateTime())
    elif not isinstance(then, ColumnElement):
        then = literal(then)
    return case((condition, then), else_=otherwise)


# --- attempts -------------------------------------------------------------------------------------------


def start_attempt(
    session: Session,
    *,
    owner: str,
    task_id: int,
    language: str | None = None,
    flow_id: str | None = None,
    flow_version: str | None = None,
    channel_id: str | None = None,
    asterisk_host: str | None = None,
    started_at: datetime | None = None,
    lease_s: float | None = None,
    now: datetime | None = None,
) -> int:
    """Record the next attempt of a task ``owner`` holds, *before* dialling; returns the attempt id.

    Raises AttemptConflict (nothing written: do not dial) when the lease is no longer ``owner``'s, the
    task is not ``leased``, the lease has expired at ``now`` (default ``started_at``, else the current
    time: a recovery could take it back mid-call), its attempts are used up, or the attempt number was
    already recorded. ``lease_s``: also extend the lease to now + lease_s.
    """
    at = now or started_at or utcnow()
    task = session.get(CallTask, task_id, populate_existing=True)
    if task is None:
        session.rollback()
        raise AttemptConflict(f"task {task_id}: no such task")
    if task.status != "leased" or task.lease_owner != owner:
        state = f"status {task.status}, lease {'ours' if task.lease_owner == owner else 'not ours'}"
        session.rollback()
        raise AttemptConflict(f"task {task_id}: not leased to {owner} ({state})")
    if task.lease_expires_at is not None and task.lease_expires_at <= at:
        session.rollback()
        raise AttemptConflict(f"task {task_id}: lease expired at {task.lease_expires_at.isoformat()}")
    if task.attempts_made >= task.max_attempts:
        session.rollback()
        raise AttemptConflict(f"task {task_id}: {task.attempts_made} of {task.max_attempts} attempts used")
    _end_read(session)
    attempt = _retrying(
        session,
        lambda: create_attempt(
            session,
            task,
            lease_owner=owner,
            started_at=started_at,
            channel_id=channel_id,
            asterisk_host=asterisk_host,
            language=language,
            flow_id=flow_id,
            flow_version=flow_version,
        ),
    )
    if lease_s is not None:
        renew(session, owner=owner, task_ids=[task_id], now=at, lease_s=lease_s)
    return int(attempt.id)


def finish(
    session: Session,
    *,
    task_id: int,
    attempt_id: int,
    outcome: str,
    decision: Decision,
    owner: str | None = None,
    ended_at: datetime | None = None,
    hangup_cause: str | None = None,
    recording_path: str | None = None,
    callback_at: datetime | None = None,
) -> bool:
    """Close the attempt with ``outcome`` and apply ``decision`` to the task, in one commit.

    The task gets ``status``/``due_at`` from the decision, ``last_outcome``, its per-outcome retry counter
    advanced (``decision.retry_key``), and its lease cleared — but only if it still belongs to this attempt
    (``in_progress``, ``attempts_made`` = the attempt's number, and ``owner``'s lease when given). Returns
    False when it did not (the lease was recovered meanwhile): the attempt still gets the true outcome.
    """
    if outcome not in ATTEMPT_OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(ATTEMPT_OUTCOMES)}")
    if decision.status not in TASK_STATUSES:
        raise ValueError(f"decision status {decision.status!r} is not one of {', '.join(TASK_STATUSES)}")
    ended = ended_at or utcnow()

    postgres = session.get_bind().dialect.name == "postgresql"

    def run() -> bool:
        if postgres:
            # Lock the task row before the attempt row: the same order as recover_expired and
            # create_attempt, so a finish racing a recovery waits instead of deadlocking.
            session.execute(select(CallTask.id).where(CallTask.id == task_id).with_for_update())
        # SQLite: write first (takes the database write lock), then read the task under it.
        attempt_values: dict[str, Any] = {"outcome": outcome, "ended_at": ended, "updated_at": utcnow()}
        if hangup_cause is not None:
            attempt_values["hangup_cause"] = hangup_cause
        if recording_path is not None:
            attempt_values["recording_path"] = recording_path
        number = session.execute(
            update(CallAttempt)
            .where(CallAttempt.id == attempt_id, CallAttempt.task_id == task_id)
            .values(**attempt_values)
            .returning(CallAttempt.number)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if number is None:
            session.rollback()
            raise ValueError(f"attempt {attempt_id} of task {task_id}: no such attempt")
        guard = [CallTask.id == task_id, CallTask.status == "in_progress", CallTask.attempts_made == number]
        if owner is not None:
            guard.append(CallTask.lease_owner == owner)
        row = session.execute(select(CallTask.retries).where(*guard).with_for_update()).one_or_none()
        if row is None:
            session.commit()  # the attempt's true outcome is kept; the task moved on without us
            return False
        retries = dict(row[0] or {})
        if decision.status == "pending" and decision.retry_key:
            retries[decision.retry_key] = int(retries.get(decision.retry_key, 0)) + 1
        values: dict[str, Any] = {
            "status": decision.status,
            "last_outcome": outcome,
            "retries": retries or None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": utcnow(),
        }
        if decision.due_at is not None:
            values["due_at"] = decision.due_at
        if callback_at is not None:
            values["callback_at"] = callback_at
        session.execute(
            update(CallTask).where(*guard).values(**values).execution_options(synchronize_session=False)
        )
        session.commit()
        return True

    return bool(_retrying(session, run))


# --- counts and capacity --------------------------------------------------------------------------------


def pending_counts(session: Session, campaign_id: int | None = None) -> dict[str, int]:
    """Tasks by status (every status present, 0 when none), for one campaign or all."""
    stmt = select(CallTask.status, func.count()).group_by(CallTask.status)
    if campaign_id is not None:
        stmt = stmt.where(CallTask.campaign_id == campaign_id)
    counts = dict.fromkeys(TASK_STATUSES, 0)
    for status, n in session.execute(stmt):
        counts[status] = int(n)
    session.commit()
    return counts


def capacity(session: Session, owner: str, global_cap: int, *, now: datetime | None = None) -> dict[int, int]:
    """Free call slots per running campaign: ``{campaign_id: n}``, by campaign priority.

    A campaign's own cap (``max_concurrent_calls``) counts its leased and in-progress tasks across every
    engine; ``global_cap`` (``FOLLOWUP_MAX_CALLS``, one engine's Asterisk/trunk) counts ``owner``'s tasks
    across every campaign and is shared out to campaigns in priority order. With ``now``, campaigns
    outside their dates or calling window get 0. (Sharing the global cap up front can hand every slot to
    a high-priority campaign with nothing due: an engine may pass a large ``global_cap`` and bound
    ``claim_due``'s ``limit`` by its own free room instead.)
    """
    campaigns = _running(session)
    active_rows = session.execute(
        select(
            CallTask.campaign_id,
            func.count(),
            func.sum(_case(CallTask.lease_owner == owner, 1, 0)),
        )
        .where(CallTask.status.in_(ACTIVE_STATUSES))
        .group_by(CallTask.campaign_id)
    ).all()
    session.commit()
    active = {cid: int(n) for cid, n, _ in active_rows}
    mine = sum(int(m or 0) for _, _, m in active_rows)
    left = max(global_cap - mine, 0)
    free: dict[int, int] = {}
    for c in campaigns:
        slots = max(c.max_concurrent_calls - active.get(c.id, 0), 0)
        if now is not None and slots and not _is_dialable(c, now):
            slots = 0
        slots = min(slots, left)
        left -= slots
        free[c.id] = slots
    return free
