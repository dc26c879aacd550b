"""models.leases on SQLite and PostgreSQL: claiming, renewing, releasing, crash recovery, attempts, capacity."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import models
from dialer.retry import Decision, RetryPolicy, decide, retry_key
from dialer.windows import PRESETS, CallingWindows
from models import db, leases, store

if TYPE_CHECKING:
    from conftest import World

MakeTask = Callable[..., models.CallTask]
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
ALWAYS = CallingWindows.from_json(PRESETS["always"])


@pytest.fixture
def campaign(session: Session, world: World) -> models.Campaign:
    """The world's campaign, running round the clock with room for 50 calls."""
    c = world.campaign
    c.calling_windows = PRESETS["always"]
    c.max_concurrent_calls = 50
    world.task.status = "done"  # keep the world's own task out of the counts
    session.commit()
    return c


def _tasks(make_task: MakeTask, n: int, **fields: object) -> list[int]:
    return [make_task(due_at=NOW - timedelta(minutes=n - i), **fields).id for i in range(n)]


def _task(session: Session, task_id: int) -> models.CallTask:
    return session.get_one(models.CallTask, task_id, populate_existing=True)


def _numbers(session: Session, task_id: int) -> list[int]:
    return list(
        session.scalars(
            select(models.CallAttempt.number)
            .where(models.CallAttempt.task_id == task_id)
            .order_by(models.CallAttempt.number)
        )
    )


# --- claim ----------------------------------------------------------------------------------------------


def test_claim_leases_due_tasks_in_order(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    late = make_task(due_at=NOW - timedelta(minutes=1))
    early = make_task(due_at=NOW - timedelta(minutes=30))
    urgent = make_task(due_at=NOW, priority=5)
    make_task(due_at=NOW + timedelta(seconds=1))  # not yet due
    claimed = leases.claim_due(session, owner="e1", now=NOW, limit=10, lease_s=60)
    assert [c.task_id for c in claimed] == [urgent.id, early.id, late.id]
    assert claimed[0].campaign_id == campaign.id and claimed[0].attempts_made == 0
    t = _task(session, urgent.id)
    assert (t.status, t.lease_owner, t.lease_expires_at) == ("leased", "e1", NOW + timedelta(seconds=60))
    assert leases.claim_due(session, owner="e2", now=NOW, limit=10) == []  # nothing left that is due


def test_claim_respects_the_limit(session: Session, campaign: models.Campaign, make_task: MakeTask) -> None:
    ids = _tasks(make_task, 7)
    first = leases.claim_due(session, owner="e1", now=NOW, limit=3)
    second = leases.claim_due(session, owner="e1", now=NOW, limit=3)
    third = leases.claim_due(session, owner="e1", now=NOW, limit=3)
    assert [c.task_id for c in first + second + third] == ids
    assert (len(first), len(second), len(third)) == (3, 3, 1)
    assert leases.claim_due(session, owner="e1", now=NOW, limit=0) == []


def test_claim_prefers_the_higher_priority_campaign(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    urgent = models.Campaign(
        name="术后",
        flow_id="post_op",
        status="running",
        priority=10,
        calling_windows=PRESETS["always"],
        retry_policy={},
        max_concurrent_calls=5,
    )
    session.add(urgent)
    session.commit()
    old = make_task(due_at=NOW - timedelta(days=1))
    new = make_task(campaign=urgent, due_at=NOW)
    claimed = leases.claim_due(session, owner="e1", now=NOW, limit=1)
    assert [c.task_id for c in claimed] == [new.id]
    assert [c.task_id for c in leases.claim_due(session, owner="e1", now=NOW, limit=5)] == [old.id]


@pytest.mark.parametrize(
    "change",
    [
        {"status": "paused"},
        {"status": "draft"},
        {"status": "finished"},
        {"calling_windows": {"sun": [["09:00", "17:00"]]}},  # NOW is a Monday
        {"calling_windows": {"mon": [["14:00", "17:30"]]}},  # NOW is 10:00 in Shanghai
        {"start_date": date(2026, 12, 8)},
        {"end_date": date(2026, 12, 6)},
        {
            "timezone": "America/New_York",
            "calling_windows": {"mon": [["09:00", "17:00"]]},
        },  # 21:00 Sunday there
    ],
)
def test_nothing_is_claimed_outside_the_campaign_s_time(
    session: Session, campaign: models.Campaign, make_task: MakeTask, change: dict[str, object]
) -> None:
    _tasks(make_task, 2)
    for key, value in change.items():
        setattr(campaign, key, value)
    session.commit()
    assert leases.claim_due(session, owner="e1", now=NOW, limit=10) == []
    assert leases.capacity(session, "e1", 30, now=NOW).get(campaign.id, 0) == 0


def test_claim_inside_the_dates_and_window(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    _tasks(make_task, 2)
    campaign.calling_windows = {"mon": [["09:00", "11:30"]]}
    campaign.start_date, campaign.end_date = date(2026, 12, 7), date(2026, 12, 7)
    session.commit()
    assert len(leases.claim_due(session, owner="e1", now=NOW, limit=10)) == 2


def test_per_campaign_limits(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    other = models.Campaign(
        name="b",
        flow_id="x",
        status="running",
        calling_windows=PRESETS["always"],
        retry_policy={},
        max_concurrent_calls=5,
    )
    session.add(other)
    session.commit()
    _tasks(make_task, 5)
    _tasks(make_task, 5, campaign=other)
    claimed = leases.claim_due(
        session, owner="e1", now=NOW, limit=10, per_campaign={campaign.id: 2, other.id: 1}
    )
    assert Counter(c.campaign_id for c in claimed) == {campaign.id: 2, other.id: 1}
    only = leases.claim_due(session, owner="e1", now=NOW, limit=10, campaign_id=other.id)
    assert {c.campaign_id for c in only} == {other.id} and len(only) == 4


def test_equal_priority_campaigns_share_the_limit(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    other = models.Campaign(
        name="b",
        flow_id="x",
        status="running",
        calling_windows=PRESETS["always"],
        retry_policy={},
        max_concurrent_calls=50,
    )
    session.add(other)
    session.commit()
    _tasks(make_task, 10)
    _tasks(make_task, 10, campaign=other)
    fair = leases.claim_due(session, owner="e1", now=NOW, limit=6)
    assert Counter(c.campaign_id for c in fair) == {campaign.id: 3, other.id: 3}
    leases.release(session, owner="e1")
    # One campaign runs dry: the other gets the rest of the limit, over several rounds, each task once.
    session.execute(
        update(models.CallTask)
        .where(models.CallTask.campaign_id == campaign.id, models.CallTask.status == "pending")
        .values(status="done")
    )
    _tasks(make_task, 1)  # the first campaign has a single due task left
    session.commit()
    got = leases.claim_due(session, owner="e1", now=NOW, limit=8)
    ids = [c.task_id for c in got]
    assert len(ids) == len(set(ids)) == 8
    assert Counter(c.campaign_id for c in got) == {campaign.id: 1, other.id: 7}


def _claim_all(url: URL | str, owner: str, out: list[int], barrier: threading.Barrier | None = None) -> None:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            if barrier is not None:
                barrier.wait()
            while True:
                got = leases.claim_due(s, owner=owner, now=NOW, limit=7)
                if not got:
                    break
                out.extend(c.task_id for c in got)
    finally:
        engine.dispose()


def test_concurrent_claimers_never_share_a_task(
    database_url: URL, session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    campaign.max_concurrent_calls = 500
    session.commit()
    ids = _tasks(make_task, 150)
    results: dict[str, list[int]] = {f"e{i}": [] for i in range(4)}
    barrier = threading.Barrier(len(results))
    threads = [
        threading.Thread(target=_claim_all, args=(database_url, o, r, barrier)) for o, r in results.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    everything = [i for r in results.values() for i in r]
    assert Counter(everything).most_common(1)[0][1] == 1  # no task claimed twice
    assert sorted(everything) == sorted(ids)
    owners = dict(
        session.execute(
            select(models.CallTask.id, models.CallTask.lease_owner).where(models.CallTask.id.in_(ids))
        ).all()
    )
    assert all(owners[i] == o for o, r in results.items() for i in r)


def _claim_in_process(url: str, owner: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out: list[int] = []
    _claim_all(url, owner, out)  # type: ignore[arg-type]
    queue.put(out)


def test_concurrent_processes_never_share_a_task(
    database_url: URL, session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    campaign.max_concurrent_calls = 500
    session.commit()
    ids = _tasks(make_task, 80)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    url = database_url.render_as_string(hide_password=False)
    procs = [ctx.Process(target=_claim_in_process, args=(url, f"proc{i}", queue)) for i in range(2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    everything = [i for r in got for i in r]
    assert len(everything) == len(set(everything)) and sorted(everything) == sorted(ids)


# --- renew and release ----------------------------------------------------------------------------------


def test_renew_only_the_owner_s_leases(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    ids = _tasks(make_task, 3)
    leases.claim_due(session, owner="e1", now=NOW, limit=2, lease_s=30)
    later = NOW + timedelta(seconds=20)
    assert leases.renew(session, owner="e1", task_ids=ids, now=later, lease_s=30) == 2
    assert _task(session, ids[0]).lease_expires_at == later + timedelta(seconds=30)
    assert leases.renew(session, owner="e2", task_ids=ids, now=later) == 0
    assert leases.renew(session, owner="e1", task_ids=[], now=later) == 0


def test_release_returns_leased_but_not_live_tasks(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    ids = _tasks(make_task, 3)
    leases.claim_due(session, owner="e1", now=NOW, limit=3)
    leases.start_attempt(session, owner="e1", task_id=ids[0])
    assert leases.release(session, owner="e2") == 0
    assert leases.release(session, owner="e1", task_ids=[ids[1]]) == 1
    assert leases.release(session, owner="e1") == 1
    states = [(_task(session, i).status, _task(session, i).lease_owner) for i in ids]
    assert states == [("in_progress", "e1"), ("pending", None), ("pending", None)]
    assert _task(session, ids[1]).due_at == NOW - timedelta(minutes=2)  # due time kept


# --- attempts -------------------------------------------------------------------------------------------


def test_start_attempt_needs_the_lease(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1)
    with pytest.raises(store.AttemptConflict, match="not leased"):
        leases.start_attempt(session, owner="e1", task_id=task_id)  # still pending
    leases.claim_due(session, owner="e1", now=NOW, limit=1)
    with pytest.raises(store.AttemptConflict, match="not leased to e2"):
        leases.start_attempt(session, owner="e2", task_id=task_id)
    attempt_id = leases.start_attempt(
        session, owner="e1", task_id=task_id, flow_id="discharge_general", language="zh"
    )
    with pytest.raises(store.AttemptConflict):
        leases.start_attempt(session, owner="e1", task_id=task_id)  # in progress now: not twice
    attempt = session.get_one(models.CallAttempt, attempt_id)
    assert (attempt.number, attempt.flow_id, attempt.outcome) == (1, "discharge_general", None)
    assert _task(session, task_id).status == "in_progress"
    with pytest.raises(store.AttemptConflict, match="no such task"):
        leases.start_attempt(session, owner="e1", task_id=999_999)


def test_start_attempt_refuses_an_expired_lease(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    # Past its lease a recovery may take the task back at any moment (and close the attempt mid-call).
    (task_id,) = _tasks(make_task, 1)
    leases.claim_due(session, owner="e1", now=NOW, limit=1, lease_s=60)
    with pytest.raises(store.AttemptConflict, match="lease expired"):
        leases.start_attempt(session, owner="e1", task_id=task_id, started_at=NOW + timedelta(seconds=60))
    assert _numbers(session, task_id) == []
    attempt_id = leases.start_attempt(
        session, owner="e1", task_id=task_id, now=NOW + timedelta(seconds=59), lease_s=300
    )
    assert _task(session, task_id).lease_expires_at == NOW + timedelta(seconds=359)
    assert session.get_one(models.CallAttempt, attempt_id).number == 1


def test_start_attempt_refuses_when_attempts_are_used_up(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1, attempts_made=3, max_attempts=3)
    leases.claim_due(session, owner="e1", now=NOW, limit=1)
    with pytest.raises(store.AttemptConflict, match="3 of 3 attempts used"):
        leases.start_attempt(session, owner="e1", task_id=task_id)
    assert _numbers(session, task_id) == []


def _decide(outcome: str, task: models.CallTask, now: datetime = NOW) -> Decision:
    key = "hung_up" if outcome == "partial" else outcome
    return decide(
        RetryPolicy.default(),
        outcome,
        attempts_made=task.attempts_made,
        max_attempts=task.max_attempts,
        retries_for_outcome=(task.retries or {}).get(key, 0),
        now=now,
        callback_at=None,
        windows=ALWAYS,
    )


def test_finish_applies_the_decision_and_counts_retries(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1, max_attempts=5)
    now = NOW
    for expected_retries in (1, 2, 3):
        claimed = leases.claim_due(session, owner="e1", now=now, limit=1)
        assert [c.task_id for c in claimed] == [task_id]
        attempt_id = leases.start_attempt(session, owner="e1", task_id=task_id)
        decision = _decide("busy", _task(session, task_id), now)
        assert leases.finish(
            session,
            task_id=task_id,
            attempt_id=attempt_id,
            outcome="busy",
            decision=decision,
            owner="e1",
            hangup_cause="17",
        )
        t = _task(session, task_id)
        assert (t.status, t.last_outcome, t.retries, t.lease_owner) == (
            "pending",
            "busy",
            {"busy": expected_retries},
            None,
        )
        assert t.due_at == decision.due_at and t.due_at > now  # type: ignore[operator]
        now = t.due_at  # type: ignore[assignment]
    # The fourth busy: 3 retries used up → failed.
    leases.claim_due(session, owner="e1", now=now, limit=1)
    attempt_id = leases.start_attempt(session, owner="e1", task_id=task_id)
    decision = _decide("busy", _task(session, task_id), now)
    assert decision.status == "failed"
    leases.finish(session, task_id=task_id, attempt_id=attempt_id, outcome="busy", decision=decision)
    t = _task(session, task_id)
    assert (t.status, t.attempts_made, t.retries) == ("failed", 4, {"busy": 3})
    assert _numbers(session, task_id) == [1, 2, 3, 4]
    attempt = session.get_one(models.CallAttempt, attempt_id, populate_existing=True)
    assert attempt.outcome == "busy" and attempt.ended_at is not None


def test_finish_with_a_callback(session: Session, campaign: models.Campaign, make_task: MakeTask) -> None:
    (task_id,) = _tasks(make_task, 1)
    leases.claim_due(session, owner="e1", now=NOW, limit=1)
    attempt_id = leases.start_attempt(session, owner="e1", task_id=task_id)
    asked = NOW + timedelta(days=1, hours=5)
    decision = decide(
        RetryPolicy.default(),
        "callback_requested",
        attempts_made=1,
        max_attempts=3,
        retries_for_outcome=0,
        now=NOW,
        callback_at=asked,
        windows=ALWAYS,
    )
    leases.finish(
        session,
        task_id=task_id,
        attempt_id=attempt_id,
        outcome="callback_requested",
        decision=decision,
        callback_at=asked,
    )
    t = _task(session, task_id)
    assert (t.status, t.due_at, t.callback_at, t.retries) == (
        "pending",
        asked,
        asked,
        {"callback_requested": 1},
    )
    assert leases.claim_due(session, owner="e1", now=NOW + timedelta(days=1), limit=5) == []
    assert [c.task_id for c in leases.claim_due(session, owner="e1", now=asked, limit=5)] == [task_id]


def test_finish_rejects_bad_input(session: Session, campaign: models.Campaign, make_task: MakeTask) -> None:
    (task_id,) = _tasks(make_task, 1)
    done = Decision("done", None, "completed")
    with pytest.raises(ValueError, match="outcome 'exploded'"):
        leases.finish(session, task_id=task_id, attempt_id=1, outcome="exploded", decision=done)
    with pytest.raises(ValueError, match="no such attempt"):
        leases.finish(session, task_id=task_id, attempt_id=999_999, outcome="completed", decision=done)


# --- crash recovery -------------------------------------------------------------------------------------


def test_expired_leases_are_recovered(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    ids = _tasks(make_task, 3)
    leases.claim_due(session, owner="dead", now=NOW, limit=2, lease_s=60)
    leases.claim_due(session, owner="alive", now=NOW + timedelta(seconds=50), limit=1, lease_s=60)
    assert leases.recover_expired(session, now=NOW + timedelta(seconds=60)) == 0  # not yet expired
    assert leases.recover_expired(session, now=NOW + timedelta(seconds=61)) == 2
    assert [_task(session, i).status for i in ids] == ["pending", "pending", "leased"]
    assert _task(session, ids[0]).due_at == NOW - timedelta(minutes=3)  # a leased task was never dialled
    assert leases.renew(session, owner="dead", task_ids=ids, now=NOW + timedelta(seconds=62)) == 0
    claimed = leases.claim_due(session, owner="alive", now=NOW + timedelta(seconds=62), limit=5)
    assert sorted(c.task_id for c in claimed) == sorted(ids[:2])


def test_a_lost_attempt_is_closed_counted_and_its_answers_kept(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1)
    leases.claim_due(session, owner="dead", now=NOW, lease_s=60, limit=1)
    lost = leases.start_attempt(session, owner="dead", task_id=task_id)
    store.mark_answered(session, lost)
    store.record_answer(session, lost, "recovery", "better", raw_text="好多了")
    # The engine dies here. Another engine recovers after the lease expired.
    later = NOW + timedelta(minutes=5)
    assert leases.recover_expired(session, now=later) == 1
    attempt = session.get_one(models.CallAttempt, lost, populate_existing=True)
    assert (attempt.outcome, attempt.hangup_cause, attempt.ended_at) == ("failed", "engine_lost", later)
    t = _task(session, task_id)
    assert (t.status, t.attempts_made, t.last_outcome, t.lease_owner) == ("pending", 1, "failed", None)
    assert store.answers_of(session, lost) == {"recovery": "better"}
    # The next dial is attempt 2, never attempt 1 again.
    leases.claim_due(session, owner="alive", now=later, limit=1)
    again = leases.start_attempt(session, owner="alive", task_id=task_id)
    assert again != lost and _numbers(session, task_id) == [1, 2]
    # The dead engine wakes up and reports its call: the attempt gets the truth, the task is not touched.
    done = Decision("done", None, "completed")
    assert not leases.finish(
        session, task_id=task_id, attempt_id=lost, outcome="completed", decision=done, owner="dead"
    )
    assert session.get_one(models.CallAttempt, lost, populate_existing=True).outcome == "completed"
    t = _task(session, task_id)
    assert (t.status, t.lease_owner, t.attempts_made) == ("in_progress", "alive", 2)


def test_a_lost_last_attempt_fails_the_task(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1, max_attempts=1)
    leases.claim_due(session, owner="dead", now=NOW, lease_s=1, limit=1)
    leases.start_attempt(session, owner="dead", task_id=task_id)
    assert leases.recover_expired(session, now=NOW + timedelta(seconds=2), retry_delay_s=600) == 1
    assert _task(session, task_id).status == "failed"
    assert leases.claim_due(session, owner="alive", now=NOW + timedelta(hours=1), limit=5) == []


def test_retry_delay_after_a_lost_call(
    session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1)
    leases.claim_due(session, owner="dead", now=NOW, lease_s=1, limit=1)
    leases.start_attempt(session, owner="dead", task_id=task_id)
    leases.recover_expired(session, now=NOW + timedelta(seconds=2), retry_delay_s=600)
    assert _task(session, task_id).due_at == NOW + timedelta(seconds=602)


def _crash_mid_call(url: str, task_id: int) -> None:
    """A child engine: claim, record attempt and an answer, then die without cleaning up."""
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        leases.claim_due(s, owner="crasher", now=NOW, lease_s=30, limit=1)
        attempt_id = leases.start_attempt(s, owner="crasher", task_id=task_id)
        store.record_answer(s, attempt_id, "pain", 3, raw_text="三分")
    os._exit(9)  # like SIGKILL: no finally, no lease release


def test_a_killed_engine_s_task_is_recovered_by_another(
    database_url: URL, session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    (task_id,) = _tasks(make_task, 1)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=_crash_mid_call, args=(database_url.render_as_string(hide_password=False), task_id)
    )
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 9
    t = _task(session, task_id)
    assert (t.status, t.lease_owner) == ("in_progress", "crasher")
    assert leases.claim_due(session, owner="survivor", now=NOW, limit=5) == []  # leased: nobody else dials
    assert leases.recover_expired(session, now=NOW + timedelta(seconds=31)) == 1
    leases.claim_due(session, owner="survivor", now=NOW + timedelta(seconds=31), limit=5)
    second = leases.start_attempt(session, owner="survivor", task_id=task_id)
    assert _numbers(session, task_id) == [1, 2]
    first = session.scalar(
        select(models.CallAttempt.id).where(
            models.CallAttempt.task_id == task_id, models.CallAttempt.number == 1
        )
    )
    assert first != second and store.answers_of(session, first) == {"pain": 3}  # type: ignore[arg-type]


# --- counts and capacity --------------------------------------------------------------------------------


def test_pending_counts(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    _tasks(make_task, 4)
    leases.claim_due(session, owner="e1", now=NOW, limit=1)
    counts = leases.pending_counts(session, campaign.id)
    assert counts == {"pending": 3, "leased": 1, "in_progress": 0, "done": 1, "failed": 0, "cancelled": 0}
    assert leases.pending_counts(session, campaign.id + 1000) == dict.fromkeys(counts, 0)
    assert leases.pending_counts(session)["pending"] == 3


def test_capacity_per_campaign_and_global(
    session: Session, world: World, campaign: models.Campaign, make_task: MakeTask
) -> None:
    campaign.max_concurrent_calls = 4
    urgent = models.Campaign(
        name="急",
        flow_id="x",
        status="running",
        priority=5,
        calling_windows=PRESETS["always"],
        retry_policy={},
        max_concurrent_calls=3,
    )
    paused = models.Campaign(
        name="停",
        flow_id="x",
        status="paused",
        calling_windows=PRESETS["always"],
        retry_policy={},
        max_concurrent_calls=3,
    )
    session.add_all([urgent, paused])
    session.commit()
    _tasks(make_task, 6)
    _tasks(make_task, 6, campaign=urgent)
    assert leases.capacity(session, "e1", 30) == {urgent.id: 3, campaign.id: 4}
    assert leases.capacity(session, "e1", 5) == {urgent.id: 3, campaign.id: 2}  # global cap, priority first
    leases.claim_due(session, owner="e2", now=NOW, limit=2, campaign_id=campaign.id)  # another engine
    assert leases.capacity(session, "e1", 5) == {urgent.id: 3, campaign.id: 2}  # e2's calls use e2's trunk
    leases.claim_due(session, owner="e1", now=NOW, limit=3, campaign_id=urgent.id)
    assert leases.capacity(session, "e1", 5) == {urgent.id: 0, campaign.id: 2}
    assert leases.capacity(session, "e1", 3) == {urgent.id: 0, campaign.id: 0}
    # What the engine's tick does: capacity, then claim at most that.
    free = leases.capacity(session, "e1", 30, now=NOW)
    got = leases.claim_due(session, owner="e1", now=NOW, limit=sum(free.values()), per_campaign=free)
    assert Counter(c.campaign_id for c in got) == {campaign.id: 2}
    n_active = session.scalar(
        select(func.count())
        .select_from(models.CallTask)
        .where(models.CallTask.campaign_id == campaign.id, models.CallTask.status.in_(leases.ACTIVE_STATUSES))
    )
    assert n_active == 4  # never above the campaign's cap
    session.execute(
        update(models.Campaign).where(models.Campaign.id == campaign.id).values(max_concurrent_calls=1)
    )
    session.commit()
    assert leases.capacity(session, "e1", 30)[campaign.id] == 0  # over its (lowered) cap: none, not negative


# --- randomised engines: invariants under claims, crashes, late finishes and recoveries -----------------

OUTCOMES = [
    "completed",
    "busy",
    "no_answer",
    "failed",
    "voicemail",
    "partial",
    "callback_requested",
    "opt_out",
]


def _check_invariants(session: Session) -> None:
    tasks = session.execute(
        select(
            models.CallTask.id,
            models.CallTask.status,
            models.CallTask.attempts_made,
            models.CallTask.lease_owner,
            models.CallTask.max_attempts,
        )
    ).all()
    attempts = session.execute(
        select(models.CallAttempt.task_id, models.CallAttempt.number, models.CallAttempt.ended_at)
    ).all()
    session.commit()
    by_task: dict[int, list[tuple[int, object]]] = {}
    for task_id, number, ended in attempts:
        by_task.setdefault(task_id, []).append((number, ended))
    for task_id, status, made, owner, cap in tasks:
        rows = sorted(by_task.get(task_id, []), key=lambda r: r[0])
        assert [n for n, _ in rows] == list(range(1, made + 1)), f"task {task_id}: attempt numbers {rows}"
        assert made <= cap
        still_open = [n for n, ended in rows if ended is None]
        assert len(still_open) <= 1 and (not still_open or status == "in_progress"), (task_id, status, rows)
        assert (owner is not None) == (status in leases.ACTIVE_STATUSES), (task_id, status, owner)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_engines_keep_the_invariants(
    seed: int, session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    import random

    rng = random.Random(seed)
    _tasks(make_task, 12, max_attempts=4)
    now = NOW
    held: dict[str, dict[int, int | None]] = {e: {} for e in ("A", "B", "C")}  # engine → task → attempt id
    for _ in range(120):
        engine = rng.choice(list(held))
        mine = held[engine]
        op = rng.choices(
            ["claim", "start", "finish", "crash", "renew", "recover", "release"], [25, 25, 25, 4, 10, 8, 3]
        )[0]
        if op == "claim":
            for c in leases.claim_due(session, owner=engine, now=now, limit=rng.randint(1, 4), lease_s=60):
                mine[c.task_id] = None
        elif op == "start" and any(a is None for a in mine.values()):
            task_id = rng.choice([t for t, a in mine.items() if a is None])
            try:
                mine[task_id] = leases.start_attempt(session, owner=engine, task_id=task_id)
            except store.AttemptConflict:
                mine.pop(task_id)
        elif op == "finish" and any(a is not None for a in mine.values()):
            task_id = rng.choice([t for t, a in mine.items() if a is not None])
            attempt_id = mine.pop(task_id)
            assert attempt_id is not None
            outcome = rng.choice(OUTCOMES)
            task = _task(session, task_id)
            decision = decide(
                RetryPolicy.default(),
                outcome,
                attempts_made=task.attempts_made,
                max_attempts=task.max_attempts,
                now=now,
                callback_at=None,
                windows=ALWAYS,
                retries_for_outcome=(task.retries or {}).get(retry_key(outcome) or "", 0),
            )
            leases.finish(
                session,
                task_id=task_id,
                attempt_id=attempt_id,
                outcome=outcome,
                decision=decision,
                owner=engine,
                ended_at=now,
            )
        elif op == "crash":
            mine.clear()  # the engine is killed: its memory is gone, its leases stay until they expire
        elif op == "renew":
            leases.renew(session, owner=engine, task_ids=list(mine), now=now, lease_s=60)
        elif op == "recover":
            leases.recover_expired(session, now=now)
        elif op == "release":
            leases.release(session, owner=engine)
            mine = held[engine] = {t: a for t, a in mine.items() if a is not None}
        now += timedelta(seconds=rng.randint(0, 15))
        _check_invariants(session)
    # The run went through the paths it is about: calls lost with a killed engine and calls finished.
    causes = Counter(session.scalars(select(models.CallAttempt.hangup_cause)))
    finished = session.scalar(
        select(func.count())
        .select_from(models.CallAttempt)
        .where(models.CallAttempt.ended_at.is_not(None), models.CallAttempt.hangup_cause.is_(None))
    )
    assert causes[leases.ENGINE_LOST] > 0 and (finished or 0) > 0, (causes, finished)


def _busy_engine(url: URL | str, owner: str, rounds: int, errors: list[BaseException]) -> None:
    """Claim, dial and finish in a loop with leases so short that a racing recovery takes them back."""
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            busy = Decision("pending", NOW, "busy", "busy")
            for _ in range(rounds):
                for c in leases.claim_due(s, owner=owner, now=NOW, limit=2, lease_s=0.001):
                    try:
                        attempt_id = leases.start_attempt(s, owner=owner, task_id=c.task_id)
                    except store.AttemptConflict:
                        continue
                    if c.task_id % 2:
                        time.sleep(0.005)  # a longer call: a recovery will most likely take it back
                    leases.finish(
                        s,
                        task_id=c.task_id,
                        attempt_id=attempt_id,
                        outcome="busy",
                        decision=busy,
                        owner=owner,
                    )
    except BaseException as exc:  # noqa: BLE001 - reported to the test thread
        errors.append(exc)
    finally:
        engine.dispose()


def _recoverer(url: URL | str, stop: threading.Event, errors: list[BaseException]) -> None:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as s:
            while not stop.is_set():
                leases.recover_expired(s, now=NOW + timedelta(seconds=1))
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        engine.dispose()


def test_recovery_racing_live_engines(
    database_url: URL, session: Session, campaign: models.Campaign, make_task: MakeTask
) -> None:
    # Leases of 1 ms and a recovery running all the time: finishes, claims and recoveries interleave.
    _tasks(make_task, 6, max_attempts=1000)
    errors: list[BaseException] = []
    stop = threading.Event()
    engines = [
        threading.Thread(target=_busy_engine, args=(database_url, f"e{i}", 40, errors)) for i in range(2)
    ]
    recoverer = threading.Thread(target=_recoverer, args=(database_url, stop, errors))
    recoverer.start()
    for t in engines:
        t.start()
    for t in engines:
        t.join(timeout=300)
    stop.set()
    recoverer.join(timeout=60)
    assert errors == []  # no deadlock, no lock error escaped
    _check_invariants(session)
    causes = Counter(session.scalars(select(models.CallAttempt.hangup_cause)))
    assert causes[leases.ENGINE_LOST] > 0  # calls were taken back by the recovery while live
