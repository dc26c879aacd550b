"""post_call on a real rq worker and Redis: escalation routing + pub/sub notification, QA samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from jobs_helpers import work
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import jobs, qa_sampling
from models import Escalation, QaSample
from tests.exports.export_helpers import POST_OP_ANSWERS, make_call, make_campaign

ROUTES = {
    "rules": [
        {"kind": "complaint", "keywords": ["收费", "billing"], "department": "财务科"},
        {"kind": ["request_human"], "department": "客服中心"},
    ],
    "default": "随访办公室",
}


def _messages(pubsub: Any, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        m = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            got.append(json.loads(m["data"]))
    return got


def test_escalations_routed_to_departments_and_announced(
    env: Callable[..., None], session: Session, redis_conn: Redis
) -> None:
    channel = f"followup:escalations:test-{uuid.uuid4().hex[:8]}"  # channels are server-wide: our own
    env(escalation_routes=json.dumps(ROUTES, ensure_ascii=False), escalation_channel=channel)
    campaign = make_campaign(session, "post_op")
    call = make_call(
        session,
        campaign,
        POST_OP_ANSWERS,
        outcome="escalated",
        department="普外科",
        escalations=(
            {"kind": "complaint", "department": "普外科", "text": "收费太贵了，多收了我两百块"},
            {"kind": "alarm", "department": None, "text": "体温38.6度", "question_id": "temperature"},
            {"kind": "praise", "department": "心内科", "text": "李护士特别耐心"},
            {"kind": "request_human", "department": "普外科", "text": "我要找人工"},
        ),
    )
    lonely = make_call(
        session,
        campaign,
        {},
        outcome="escalated",
        visit=False,
        escalations=({"kind": "clinical", "department": "{visit.department}", "text": "伤口流脓"},),
    )
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"

    job_ids = [jobs.enqueue_post_call(call.id), jobs.enqueue_post_call(lonely.id)]
    assert all(job_ids)
    post_call_queue = jobs.queue(jobs.QUEUE_POST_CALL, redis_conn)
    work(redis_conn, lambda: all(post_call_queue.fetch_job(j).is_finished for j in job_ids))

    messages = _messages(pubsub, 5)
    pubsub.close()
    by_kind = {m["kind"]: m for m in messages}
    assert len(messages) == 5
    assert (by_kind["complaint"]["department"], by_kind["complaint"]["routed_by"]) == ("财务科", "rule:1")
    assert (by_kind["alarm"]["department"], by_kind["alarm"]["routed_by"]) == ("普外科", "visit")
    assert (by_kind["praise"]["department"], by_kind["praise"]["routed_by"]) == ("心内科", "escalation")
    assert (by_kind["request_human"]["department"], by_kind["request_human"]["routed_by"]) == (
        "客服中心",
        "rule:2",
    )
    assert (by_kind["clinical"]["department"], by_kind["clinical"]["routed_by"]) == ("随访办公室", "default")
    assert by_kind["complaint"]["text"] == "收费太贵了，多收了我两百块"
    assert by_kind["alarm"]["question_id"] == "temperature"
    assert by_kind["alarm"]["attempt_id"] == call.id and by_kind["alarm"]["campaign_id"] == campaign.id

    session.expire_all()
    stored = {e.kind: e.department for e in session.scalars(select(Escalation))}
    assert stored == {
        "complaint": "财务科",
        "alarm": "普外科",
        "praise": "心内科",
        "request_human": "客服中心",
        "clinical": "随访办公室",
    }
    # A re-run moves no case someone already took, and announces nothing again for it.
    taken = session.scalars(select(Escalation).where(Escalation.kind == "complaint")).one()
    taken.status, taken.department = "assigned", "医务科"
    session.commit()
    again = jobs.post_call(call.id)
    session.expire_all()
    assert session.get(Escalation, taken.id).department == "医务科"
    assert taken.id not in {e["escalation_id"] for e in again["escalations"]}
    assert len(again["escalations"]) == 3

    summary = post_call_queue.fetch_job(job_ids[0]).return_value()
    assert summary["attempt_id"] == call.id and len(summary["escalations"]) == 4
    assert summary["delivery_id"] is None  # no webhook configured


def test_bad_routing_table_fails_the_job_with_the_reason(
    env: Callable[..., None], session: Session, redis_conn: Redis
) -> None:
    env(escalation_routes='{"rules": [{"kind": "complaint"}]}')
    campaign = make_campaign(session, "post_op")
    call = make_call(
        session, campaign, {}, escalations=({"kind": "complaint", "department": None, "text": "x"},)
    )
    job_id = jobs.enqueue_post_call(call.id)
    job = jobs.queue(jobs.QUEUE_POST_CALL, redis_conn).fetch_job(job_id)
    work(redis_conn, lambda: job.get_status(refresh=True) == "failed")
    assert "rule 1: 'department' must be a non-empty text" in job.latest_result().exc_string


def test_enqueue_without_redis_returns_none_instead_of_breaking_the_call_path(
    env: Callable[..., None],
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    assert jobs.enqueue_post_call(1, connection=dead) is None


def test_qa_share_per_department_over_1000_calls(env: Callable[..., None], session: Session) -> None:
    env(qa_sample_rate="0.3", qa_seed="ward-audit-2026")
    campaign = make_campaign(session, "post_op")
    departments: dict[int, str] = {}
    for _ in range(20):  # short sessions: one session holding 1,000 calls makes every commit slower
        with jobs.sessions()() as s:
            for n in range(50):
                department = "心内科" if n % 2 else "普外科"
                departments[make_call(s, campaign, {"bowel_urine": True}, department=department).id] = (
                    department
                )
    unreached = [
        make_call(session, campaign, {}, outcome=o) for o in ("busy", "no_answer", "partial", "opt_out")
    ]
    for attempt_id in [*departments, *(c.id for c in unreached)]:
        jobs.post_call(attempt_id)

    samples = {s.attempt_id: s for s in session.scalars(select(QaSample))}
    assert not set(samples) & {c.id for c in unreached}
    for department in ("心内科", "普外科"):
        ids = [i for i, d in departments.items() if d == department]
        share = sum(i in samples for i in ids) / len(ids)
        assert 0.24 <= share <= 0.36, (department, share)
        assert all(samples[i].department == department for i in ids if i in samples)
    # Deterministic: the seed alone decides, so the picks are exactly the draws under the rate ...
    assert set(samples) == {i for i in departments if qa_sampling.draw("ward-audit-2026", i) < 0.3}
    # ... a re-run changes nothing, and another seed picks other calls.
    for attempt_id in list(departments)[:50]:
        jobs.post_call(attempt_id)
    assert session.query(QaSample).count() == len(samples)
    other = {i for i in departments if qa_sampling.draw("another-seed", i) < 0.3}
    assert other != set(samples) and 240 <= len(other) <= 360


def test_unseeded_draws_are_random_and_rates_are_checked() -> None:
    draws = [qa_sampling.draw("", 7) for _ in range(20)]
    assert len(set(draws)) > 15 and all(0 <= d < 1 for d in draws)
    for bad in (-0.1, 1.5):
        try:
            qa_sampling.check_rate(bad)
        except ValueError as exc:
            assert "FOLLOWUP_QA_SAMPLE_RATE" in str(exc)
        else:
            raise AssertionError(f"rate {bad} accepted")


def test_a_live_attempt_is_refused(env: Callable[..., None], session: Session) -> None:
    from models import store

    campaign = make_campaign(session, "post_op")
    call = make_call(session, campaign, {})
    live = store.create_attempt(session, call.task)  # attempt 2, still on the phone
    with pytest.raises(ValueError, match="has not ended"):
        jobs.post_call(live.id)
    with pytest.raises(ValueError, match="no call attempt with id 999999"):
        jobs.post_call(999999)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("qa_sample_rate", "1.5", "FOLLOWUP_QA_SAMPLE_RATE must be between 0 and 1"),
        ("webhook_retry_intervals", "10,soon", "FOLLOWUP_WEBHOOK_RETRY_INTERVALS"),
        ("webhook_url", "ftp://his", "FOLLOWUP_WEBHOOK_URL must be an http"),
        ("escalation_routes", '{"rules": [{"kind": "x", "department": "y"}]}', "rule 1: kind 'x'"),
    ],
)
def test_the_worker_refuses_to_start_with_a_bad_setting(
    env: Callable[..., None], setting: str, value: str, message: str
) -> None:
    env(**{setting: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        jobs.check_settings()
    if setting == "qa_sample_rate":  # and the command says so
        out = subprocess.run(
            [sys.executable, "-m", "followup", "worker", "--burst"],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 2 and message in out.stderr
