"""The live escalation feed: the poller finds new and changed cases once each, and the SSE stream of an
open queue page delivers them (filtered by department, rendered for the viewer's role)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from console_helpers import Env
from fastapi.testclient import TestClient
from sqlalchemy import update

import models
from console.live import EscalationFeed
from models.store import record_escalation

READ_TIMEOUT_S = 20  # only so a broken feed fails the test instead of hanging it


def _raise(env: Env, text: str, department: str = "心内科", kind: str = "complaint") -> int:
    with env.sessions() as s:
        return record_escalation(
            s,
            patient_id=env.patient_id,
            attempt_id=env.attempt_id,
            kind=kind,
            department=department,
            text=text,
        ).id


def _age_fixture_case(env: Env) -> None:
    with env.sessions() as s:
        s.execute(update(models.Escalation).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
        s.commit()


def test_first_poll_repeats_cases_changed_just_before_subscribing(env: Env) -> None:
    # A case raised between rendering the page and opening the stream must not be lost.
    feed = EscalationFeed(env.sessions)
    feed._start_cursor()
    assert [c.id for c in feed.poll_once()] == [env.escalation_id]
    assert feed.poll_once() == []


def test_poll_once_reports_new_and_changed_cases_once(env: Env) -> None:
    _age_fixture_case(env)
    feed = EscalationFeed(env.sessions)
    feed._start_cursor()
    assert feed.poll_once() == []  # the fixture's case predates the cursor and has not changed
    new_id = _raise(env, "我要转人工", kind="request_human")
    changes = feed.poll_once()
    assert [(c.id, c.status, c.text) for c in changes] == [(new_id, "open", "我要转人工")]
    assert changes[0].patient_name == "王小明"
    assert feed.poll_once() == []  # not twice
    with env.sessions() as s:
        e = s.get(models.Escalation, env.escalation_id)
        assert e is not None
        e.status = "resolved"
        e.resolved_at = datetime.now(UTC)
        s.commit()
    assert [(c.id, c.status) for c in feed.poll_once()] == [(env.escalation_id, "resolved")]
    assert feed.poll_once() == []


def test_poll_sees_rows_written_with_a_lagging_clock(env: Env) -> None:
    _age_fixture_case(env)
    feed = EscalationFeed(env.sessions)
    feed._start_cursor()
    with env.sessions() as s:  # a writer whose clock is 3 s behind this process
        e = s.get(models.Escalation, env.escalation_id)
        assert e is not None
        e.status = "assigned"
        e.updated_at = datetime.now(UTC) - timedelta(seconds=3)
        s.commit()
    assert [c.status for c in feed.poll_once()] == ["assigned"]


def _events(response) -> Iterator[dict]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "escalation":
            yield json.loads(line.split(":", 1)[1])


def _first_event(client: TestClient, path: str, trigger) -> dict:
    """Open the stream, run ``trigger`` once subscribed, return the first escalation event."""
    result: dict = {}
    done = threading.Event()

    def read() -> None:
        with client.stream("GET", path, timeout=READ_TIMEOUT_S) as response:
            assert response.status_code == 200
            subscribed.set()
            for data in _events(response):
                result.update(data)
                break
        done.set()

    subscribed = threading.Event()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert subscribed.wait(READ_TIMEOUT_S)
    trigger()
    assert done.wait(READ_TIMEOUT_S), "no escalation event arrived"
    return result


def test_stream_delivers_a_new_case_rendered_for_the_viewer(env: Env) -> None:
    _age_fixture_case(env)
    with TestClient(env.app) as client:
        agent = env.session_for("agent")
        client.cookies.update(agent.cookies)
        ids: list[int] = []
        event = _first_event(
            client, "/escalations/stream", lambda: ids.append(_raise(env, "血压 180/110，头晕", kind="alarm"))
        )
    assert event["id"] == ids[0] and event["status"] == "open"
    assert "血压 180/110，头晕" in event["html"] and f'id="esc-{ids[0]}"' in event["html"]
    assert "+8613800138000" in event["html"]  # agents see the number


def test_stream_filters_by_department(env: Env) -> None:
    _age_fixture_case(env)
    with TestClient(env.app) as client:
        client.cookies.update(env.session_for("supervisor").cookies)
        ids: list[int] = []

        def two_cases() -> None:
            ids.append(_raise(env, "骨科的投诉", department="骨科"))
            ids.append(_raise(env, "心内科的投诉", department="心内科"))

        event = _first_event(client, "/escalations/stream?department=心内科", two_cases)
    assert event["id"] == ids[1] and "心内科的投诉" in event["html"]


def test_an_open_stream_holds_no_database_connection(env: Env) -> None:
    # Queue pages stay open for hours: each must not pin one of the pool's connections.
    with TestClient(env.app) as client:
        client.cookies.update(env.session_for("agent").cookies)
        with client.stream("GET", "/escalations/stream", timeout=READ_TIMEOUT_S) as response:
            assert response.status_code == 200
            samples = []
            for _ in range(20):  # the poller itself borrows a connection for a moment every 0.1 s
                samples.append(env.engine.pool.checkedout())
                time.sleep(0.01)
            assert min(samples) == 0


def test_agents_stream_defaults_to_their_department(env: Env) -> None:
    _age_fixture_case(env)
    with TestClient(env.app) as client:
        client.cookies.update(env.session_for("agent").cookies)  # agent1 works for 心内科
        ids: list[int] = []

        def two_cases() -> None:
            ids.append(_raise(env, "骨科的投诉", department="骨科"))
            ids.append(_raise(env, "心内科的投诉", department="心内科"))

        event = _first_event(client, "/escalations/stream", two_cases)
    assert event["id"] == ids[1]


def test_a_redis_message_wakes_the_feed_before_its_interval(env: Env) -> None:
    import asyncio

    import redis

    _age_fixture_case(env)
    publisher = redis.Redis.from_url("redis://127.0.0.1:6379/0")

    async def scenario() -> tuple[int, int]:
        # An interval far beyond the wait below: only the wake-up can deliver in time.
        feed = EscalationFeed(env.sessions, interval=3600, redis_url="redis://127.0.0.1:6379/0")
        try:
            async with feed.subscribe() as queue:
                while feed.polls == 0:
                    await asyncio.sleep(0.02)
                new_id = await asyncio.to_thread(_raise, env, "我要转人工", "心内科", "request_human")
                deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
                while True:  # publish until the listener (subscribing in the background) hears one
                    await asyncio.to_thread(publisher.publish, "followup:escalations", '{"test": 1}')
                    try:
                        view = await asyncio.wait_for(queue.get(), 0.3)
                        return view.id, new_id
                    except TimeoutError:
                        assert asyncio.get_running_loop().time() < deadline, "the feed was not woken"
        finally:
            await feed.stop()

    got, expected = asyncio.run(scenario())
    publisher.close()
    assert got == expected
