"""The engine's scheduling on a real database (SQLite; PostgreSQL where it matters) with a fake clock and
scripted calls (tests/engine/fake_calls.py): calling windows, do-not-call, retries per policy,
call-backs, capacity caps, the circuit breaker, drain and crash recovery. No Asterisk, no speech: the
live tests (test_engine_live.py) place real calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from engine_helpers import SeedPatient, seed_campaign, task_rows
from fake_calls import Behaviour, FakeCalls, FakeClient, fake_resources
from sqlalchemy import select, update

from dialer.clock import FakeClock
from dialer.endpoints import TrunkEndpoints
from dialer.engine import Engine, EngineOptions
from models import db, store
from models.calls import Answer, CallAttempt
from models.campaigns import CallTask, Campaign

pytestmark = pytest.mark.anyio

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 12, 7, tzinfo=TZ)  # a Monday


def local(day: datetime, hh: int, mm: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm)


def phone(n: int) -> str:
    return f"+9991000{n:04d}"


def endpoint(n: int) -> str:
    return f"Local/{phone(n)[1:]}@fake"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'engine.db'}"


class Harness:
    """An Engine on fake calls and a fake clock, with helpers to run ticks to completion."""

    def __init__(self, url: str, clock: FakeClock, script: dict[str, list[Behaviour]], **options: Any) -> None:
        self.db_engine = db.make_engine(url)
        self.sessions = db.session_factory(self.db_engine)
        self.client = FakeClient()
        self.lines: list[str] = []
        self.clock = clock
        opts = {"owner": "engine-test", "max_calls": 10, "tick_real_s": 0.01, "lease_real_s": 120.0,
                "summary_every_real_s": 3600.0, "dials_per_s": 0.0, **options}
        self.engine = Engine(self.sessions, self.client, fake_resources(), TrunkEndpoints("Local/{digits}@fake"),
                             clock, EngineOptions(**opts), emit=self.lines.append, call_factory=FakeCalls(script))

    async def tick(self) -> int:
        """One tick, then wait for the calls it started (non-holding ones end at once)."""
        n = await self.engine.tick()
        await self.settle()
        return n

    async def settle(self) -> None:
        tasks = [c.task for c in self.engine.live.values() if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def close(self) -> None:
        self.db_engine.dispose()


@pytest.fixture
def harnesses() -> Iterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        h.close()


def harness(made: list[Harness], url: str, clock: FakeClock, script: dict[str, list[Behaviour]],
            **options: Any) -> Harness:
    h = Harness(url, clock, script, **options)
    made.append(h)
    return h


BUSY_POLICY = {"busy": {"max": 2, "intervals_min": [10, 30]}, "no_answer": {"max": 1, "intervals_min": [60]}}


async def test_nothing_is_dialled_outside_the_calling_window(url: str, tmp_path: Path,
                                                             harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in (1, 2, 3)],
                           flow="engine_short", windows="default")
    clock = FakeClock(local(MONDAY, 7, 0))
    h = harness(harnesses, url, clock, {endpoint(i): [Behaviour("completed")] for i in (1, 2, 3)})
    with h.sessions() as s:  # patient 3 is due during the noon rest
        s.execute(update(CallTask).where(CallTask.id == seeded.tasks[phone(3)])
                  .values(due_at=local(MONDAY, 12, 0).astimezone(UTC)))
        s.commit()
    for at in [(7, 0), (8, 0), (8, 59)]:
        clock.set(local(MONDAY, *at))
        assert await h.tick() == 0, at
    assert h.client.dials == []
    clock.set(local(MONDAY, 9, 0))
    assert await h.tick() == 2
    assert {d.task for d in h.client.dials} == {seeded.tasks[phone(1)], seeded.tasks[phone(2)]}
    for at in [(12, 0), (12, 30), (13, 59)]:
        clock.set(local(MONDAY, *at))
        assert await h.tick() == 0, at
    clock.set(local(MONDAY, 14, 0))
    assert await h.tick() == 1
    rows = task_rows(url, seeded.campaign_id)
    starts = sorted(row["attempts"][0]["started_at"].astimezone(TZ) for row in rows.values())
    assert starts == [local(MONDAY, 9), local(MONDAY, 9), local(MONDAY, 14)]
    assert all(row["status"] == "done" for row in rows.values())
    # the saturday afternoon and sunday have no window: a task due then waits for Monday 09:00
    saturday = local(MONDAY + timedelta(days=5), 12)
    with h.sessions() as s:
        s.execute(update(CallTask).where(CallTask.id == seeded.tasks[phone(3)])
                  .values(status="pending", due_at=saturday.astimezone(UTC)))
        s.commit()
    for hours in range(0, 44, 4):
        clock.set(saturday + timedelta(hours=hours))
        assert await h.tick() == 0, clock.now()


async def test_retries_follow_the_policy_and_stay_in_the_window(url: str, tmp_path: Path,
                                                                harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(1), None), SeedPatient(phone(2), None)],
                           flow="engine_short", windows="default", retry_policy=BUSY_POLICY)
    clock = FakeClock(local(MONDAY, 11, 15))
    h = harness(harnesses, url, clock, {
        endpoint(1): [Behaviour("busy"), Behaviour("busy"), Behaviour("completed", {"satisfaction": 5})],
        endpoint(2): [Behaviour("no_answer")],
    })
    t1, t2 = seeded.tasks[phone(1)], seeded.tasks[phone(2)]
    assert await h.tick() == 2
    rows = task_rows(url, seeded.campaign_id)
    # busy: 10 minutes later → 11:25, inside the morning window
    assert rows[t1]["status"] == "pending" and rows[t1]["due_at"] == local(MONDAY, 11, 25).astimezone(UTC)
    assert rows[t1]["retries"] == {"busy": 1}
    # no answer: 60 minutes later is 12:15, in the noon rest → moved to 14:00
    assert rows[t2]["due_at"] == local(MONDAY, 14, 0).astimezone(UTC)
    clock.set(local(MONDAY, 11, 24))
    assert await h.tick() == 0
    clock.set(local(MONDAY, 11, 25))
    assert await h.tick() == 1
    rows = task_rows(url, seeded.campaign_id)
    # second busy: 30 minutes → 11:55 is outside → 14:00
    assert rows[t1]["due_at"] == local(MONDAY, 14, 0).astimezone(UTC)
    assert rows[t1]["retries"] == {"busy": 2}
    clock.set(local(MONDAY, 14, 0))
    assert await h.tick() == 2
    rows = task_rows(url, seeded.campaign_id)
    assert rows[t1]["status"] == "done" and rows[t1]["last_outcome"] == "completed"
    assert [a["number"] for a in rows[t1]["attempts"]] == [1, 2, 3]
    assert rows[t1]["attempts"][2]["answers"] == {"satisfaction": 5}
    # no answer, 1 retry allowed and used: failed
    assert rows[t2]["status"] == "failed" and [a["outcome"] for a in rows[t2]["attempts"]] == ["no_answer"] * 2
    # every attempt inside a window
    for row in rows.values():
        for a in row["attempts"]:
            t = a["started_at"].astimezone(TZ).time()
            assert (t >= local(MONDAY, 9).time() and t < local(MONDAY, 11, 30).time()) or \
                (t >= local(MONDAY, 14).time() and t < local(MONDAY, 17, 30).time()), t
    # one dial per (task, attempt)
    keys = [(d.task, d.attempt) for d in h.client.dials]
    assert len(keys) == len(set(keys)) == 5


async def test_callback_lands_at_the_requested_time_moved_into_the_window(url: str, tmp_path: Path,
                                                                          harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(1), None), SeedPatient(phone(2), None)],
                           flow="engine_short", windows="default")
    clock = FakeClock(local(MONDAY, 10, 0))
    h = harness(harnesses, url, clock, {
        endpoint(1): [Behaviour("callback_requested", callback_at="2026-12-08T15:00:00"), Behaviour("completed")],
        endpoint(2): [Behaviour("callback_requested", callback_at="2026-12-08T12:30:00"),  # noon rest
                      Behaviour("completed")],
    })
    assert await h.tick() == 2
    rows = task_rows(url, seeded.campaign_id)
    t1, t2 = seeded.tasks[phone(1)], seeded.tasks[phone(2)]
    tuesday = local(MONDAY + timedelta(days=1), 15)
    assert rows[t1]["due_at"] == tuesday.astimezone(UTC)
    assert rows[t1]["callback_at"] == tuesday.astimezone(UTC)
    assert rows[t2]["due_at"] == local(MONDAY + timedelta(days=1), 14).astimezone(UTC)
    clock.set(tuesday - timedelta(minutes=1))
    assert await h.tick() == 1  # only task 2 (14:00) is due
    clock.set(tuesday)
    assert await h.tick() == 1
    _first, second = task_rows(url, seeded.campaign_id)[t1]["attempts"]
    assert second["started_at"] == tuesday.astimezone(UTC)
    assert second["outcome"] == "completed"


async def test_do_not_call_is_honoured_before_dialling(url: str, tmp_path: Path, harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(1), None), SeedPatient(phone(2), None),
                                           SeedPatient(phone(3), None)], flow="engine_short")
    h = harness(harnesses, url, FakeClock(local(MONDAY, 10)), {
        endpoint(1): [Behaviour("opt_out")], endpoint(2): [Behaviour("completed")],
        endpoint(3): [Behaviour("completed")]})
    with h.sessions() as s:
        store.add_do_not_call(s, phone(2), reason="asked on an earlier campaign")
    # the opted-out patient 1 also has a second task (another campaign), due a little later
    other = seed_campaign(url, tmp_path, [], flow="engine_short", name="second campaign")
    with h.sessions() as s:
        t1 = s.get(CallTask, seeded.tasks[phone(1)])
        s.add(CallTask(campaign_id=other.campaign_id, patient_id=t1.patient_id,
                       due_at=local(MONDAY, 10, 30).astimezone(UTC)))
        s.commit()
    await h.tick()
    h.clock.set(local(MONDAY, 10, 30))
    await h.tick()
    dialled = {d.endpoint for d in h.client.dials}
    assert dialled == {endpoint(1), endpoint(3)}  # patient 2 never; patient 1 once, before opting out
    rows = task_rows(url, seeded.campaign_id)
    assert rows[seeded.tasks[phone(2)]]["status"] == "cancelled"
    assert rows[seeded.tasks[phone(2)]]["attempts"] == []
    second = list(task_rows(url, other.campaign_id).values())
    assert [r["status"] for r in second] == ["cancelled"], second
    assert second[0]["attempts"] == []
    assert any("not dialled: do-not-call" in line and "+999" not in line for line in h.lines)


async def test_caps_per_campaign_and_global(url: str, tmp_path: Path, harnesses: list[Harness]) -> None:
    a = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in range(1, 6)], flow="engine_short",
                      max_concurrent_calls=2, name="a")
    b = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in range(6, 11)], flow="engine_short",
                      max_concurrent_calls=10, name="b")
    hold = {endpoint(i): [Behaviour("completed", hold=True)] for i in range(1, 11)}
    h = harness(harnesses, url, FakeClock(local(MONDAY, 10)), hold, max_calls=5)
    assert await h.engine.tick() == 5
    await asyncio.sleep(0.05)
    by_campaign: dict[int, int] = {}
    for c in h.engine.live.values():
        by_campaign[c.campaign_id] = by_campaign.get(c.campaign_id, 0) + 1
    assert by_campaign == {a.campaign_id: 2, b.campaign_id: 3}
    assert await h.engine.tick() == 0  # full
    await h.client.hangup(next(iter(h.client.live)))
    await asyncio.sleep(0.05)
    assert await h.engine.tick() == 1
    for ev in h.client.live.values():
        ev.set()
    await h.settle()


async def test_pacing_spreads_new_calls(url: str, tmp_path: Path, harnesses: list[Harness]) -> None:
    seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in range(1, 11)], flow="engine_short",
                  max_concurrent_calls=20)
    h = harness(harnesses, url, FakeClock(local(MONDAY, 10)),
                {endpoint(i): [Behaviour("completed", hold=True)] for i in range(1, 11)}, dials_per_s=4.0)
    t0 = time.monotonic()
    assert await h.engine.tick() == 4  # a burst of one second's worth
    total = 4
    while time.monotonic() - t0 < 1.5:
        total += await h.engine.tick()
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    assert 5 <= total <= 4 + 4 * elapsed + 1, (total, elapsed)  # 4 a second after the burst
    for ev in list(h.client.live.values()):
        ev.set()
    await asyncio.sleep(0.05)
    for ev in list(h.client.live.values()):
        ev.set()
    await h.settle()


async def test_breaker_pauses_the_campaign_and_says_why(url: str, tmp_path: Path, harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in range(1, 13)],
                           flow="engine_short", max_concurrent_calls=20)
    h = harness(harnesses, url, FakeClock(local(MONDAY, 10)),
                {endpoint(i): [Behaviour("failed")] for i in range(1, 13)}, max_calls=20, breaker_min_calls=10)
    await h.tick()
    with h.sessions() as s:
        campaign = s.get_one(Campaign, seeded.campaign_id)
        assert campaign.status == "paused"
        assert "circuit breaker" in campaign.status_reason and "failed" in campaign.status_reason
    assert h.engine.stats.paused and h.engine.stats.paused[0][0] == seeded.campaign_id
    assert any("paused" in line for line in h.lines)
    h.clock.advance(3600)
    assert await h.tick() == 0  # paused: nothing more is claimed


async def test_drain_lets_calls_finish_then_hangs_up_and_releases(url: str, tmp_path: Path,
                                                                   harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in range(1, 5)],
                           flow="engine_short", max_concurrent_calls=2)
    h = harness(harnesses, url, FakeClock(local(MONDAY, 10)),
                {endpoint(i): [Behaviour("completed", hold=True)] for i in range(1, 5)},
                drain_timeout_real_s=0.3, hangup_grace_real_s=5.0, tick_real_s=0.05)
    runner = asyncio.create_task(h.engine.run())
    for _ in range(100):
        if len(h.client.live) == 2:
            break
        await asyncio.sleep(0.02)
    h.engine.request_drain()
    stats = await asyncio.wait_for(runner, 10)
    assert sorted(h.client.hangups) == sorted(h.client.live)  # the two live calls, hung up at the limit
    assert len(h.client.dials) == 2  # nothing new after the drain began
    assert stats.hung_up_at_drain == 2
    rows = task_rows(url, seeded.campaign_id)
    assert all(r["lease_owner"] is None for r in rows.values())
    assert sorted(r["status"] for r in rows.values()) == ["pending"] * 4  # 2 to retry (hung up), 2 never claimed
    assert sorted(r["last_outcome"] or "" for r in rows.values()) == ["", "", "partial", "partial"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_dead_engines_call_is_hung_up_recovered_and_redialled_with_the_next_number(
        backend: str, url: str, request: pytest.FixtureRequest, tmp_path: Path, harnesses: list[Harness]) -> None:
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(1), None)], flow="engine_short")
    task_id = seeded.tasks[phone(1)]
    start = local(MONDAY, 10)
    dead = db.session_factory(db.make_engine(url))
    from models import leases

    with dead() as s:  # a dead engine had claimed it, dialled attempt 1 and stored an answer
        [claimed] = leases.claim_due(s, owner="dead-engine", now=start.astimezone(UTC), limit=1, lease_s=120)
        attempt_id = leases.start_attempt(s, owner="dead-engine", task_id=claimed.task_id, channel_id="call-lost1",
                                          asterisk_host="ari-here", started_at=start.astimezone(UTC))
        store.mark_answered(s, attempt_id)
        store.record_answer(s, attempt_id, "satisfaction", 4, raw_text="四分", confidence=0.9)
        s.get_bind().dispose()
    clock = FakeClock(start + timedelta(seconds=60))
    h = harness(harnesses, url, clock, {endpoint(1): [Behaviour("failed"), Behaviour("completed")]},
                asterisk_host="ari-here")
    assert await h.tick() == 0  # lease still valid: not ours to take
    clock.set(start + timedelta(seconds=121))
    assert await h.tick() == 1
    assert h.client.hangups == ["call-lost1"]
    assert [(d.task, d.attempt) for d in h.client.dials] == [(task_id, 2)]
    rows = task_rows(url, seeded.campaign_id)[task_id]
    lost, redial = rows["attempts"]
    assert (lost["number"], lost["outcome"], lost["hangup_cause"]) == (1, "failed", "engine_lost")
    assert lost["answers"] == {"satisfaction": 4}
    assert (redial["number"], redial["outcome"]) == (2, "completed")
    assert rows["status"] == "done"
    with h.sessions() as s:
        assert s.scalar(select(Answer.value).where(Answer.attempt_id == attempt_id)) == 4
        s.execute(update(CallAttempt).values(outcome=CallAttempt.outcome))  # the rows are readable and consistent


async def test_every_finished_attempt_queues_its_post_call_work(url: str, tmp_path: Path,
                                                                harnesses: list[Harness]) -> None:
    seeded = seed_campaign(url, tmp_path, [SeedPatient(phone(i), None) for i in (1, 2)],
                           flow="engine_short", windows="default", retry_policy=BUSY_POLICY)
    queued: list[int] = []
    clock = FakeClock(local(MONDAY, 9, 0))
    h = harness(harnesses, url, clock, {endpoint(1): [Behaviour("completed")],
                                        endpoint(2): [Behaviour("busy"), Behaviour("completed")]},
                post_call=queued.append)
    assert await h.tick() == 2
    clock.set(local(MONDAY, 9, 11))  # the busy line's retry (10 min)
    assert await h.tick() == 1
    with h.sessions() as s:
        attempts = s.scalars(select(CallAttempt.id).join(CallTask).where(
            CallTask.campaign_id == seeded.campaign_id)).all()
    assert len(attempts) == 3
    assert sorted(queued) == sorted(attempts)
