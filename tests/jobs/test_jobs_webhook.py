"""Webhook delivery of a call's answers to a local HTTP server standing in for the HIS, through rq retries."""

from __future__ import annotations

import json
from collections.abc import Callable

from jobs_helpers import work
from redis import Redis
from rq.registry import FailedJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import fhir, jobs, webhook
from flows.loader import find_flow
from models import WebhookDelivery
from tests.exports.export_helpers import POST_OP_ANSWERS, make_call, make_campaign

SECRET = "s3cret-his-key"


def _delivery(session: Session) -> WebhookDelivery:
    session.expire_all()
    return session.scalars(select(WebhookDelivery)).one()


def test_fails_twice_then_delivered_with_every_try_recorded(
    env: Callable[..., None], session: Session, redis_conn: Redis, endpoint: Callable
) -> None:
    his = endpoint([500, 503, 200])
    env(webhook_url=his.url, webhook_secret=SECRET, webhook_retries=3, webhook_retry_intervals="1")
    campaign = make_campaign(session, "post_op")
    call = make_call(
        session,
        campaign,
        POST_OP_ANSWERS,
        unsure=("stitches_date",),
        escalations=({"kind": "praise", "department": "普外科", "text": "护士很好"},),
    )
    assert jobs.enqueue_post_call(call.id)
    seen_retrying = []

    def delivered() -> bool:
        status = _delivery(session).status
        seen_retrying.append(status)
        return status == "delivered"

    work(redis_conn, delivered)
    d = _delivery(session)
    assert (d.tries, d.http_status, d.last_error, d.url) == (3, 200, None, his.url)
    assert d.delivered_at is not None
    assert [h["http_status"] for h in d.history] == [500, 503, 200]
    assert d.history[0]["error"].startswith("HTTP 500") and d.history[2]["error"] is None
    assert "retrying" in seen_retrying

    assert len(his.requests) == 3
    ids = {r["headers"][webhook.DELIVERY_HEADER] for r in his.requests}
    assert ids == {str(d.id)}  # the same delivery id on every retry: the HIS can drop duplicates
    last = his.requests[-1]
    assert last["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert webhook.verify(
        SECRET,
        last["headers"][webhook.TIMESTAMP_HEADER],
        last["body"],
        last["headers"][webhook.SIGNATURE_HEADER],
    )
    assert not webhook.verify(
        "wrong",
        last["headers"][webhook.TIMESTAMP_HEADER],
        last["body"],
        last["headers"][webhook.SIGNATURE_HEADER],
    )
    assert not webhook.verify(
        SECRET,
        last["headers"][webhook.TIMESTAMP_HEADER],
        last["body"] + b" ",
        last["headers"][webhook.SIGNATURE_HEADER],
    )

    payload = json.loads(last["body"].decode("utf-8"))
    assert payload["event"] == "call.finished" and payload["delivery_id"] == d.id
    assert payload["attempt"]["id"] == call.id and payload["attempt"]["outcome"] == "completed"
    assert payload["patient"]["external_id"].startswith("HIS-P-")
    assert "name" not in payload["patient"] and "phone" not in payload["patient"]
    answers = {a["question_id"]: a for a in payload["answers"]}
    assert answers["wound"]["value"] == ["pain", "redness"]
    assert answers["stitches_date"]["status"] == "unsure"
    assert payload["escalations"][0]["text"] == "护士很好"
    qr = payload["questionnaire_response"]
    assert fhir.check_questionnaire_response(qr, fhir.questionnaire(find_flow("post_op"))) == []
    assert qr["status"] == "completed"


def test_a_permanently_failing_endpoint_ends_failed_with_the_error(
    env: Callable[..., None], session: Session, redis_conn: Redis, endpoint: Callable
) -> None:
    his = endpoint([503])
    env(webhook_url=his.url, webhook_retries=2, webhook_retry_intervals="0")
    campaign = make_campaign(session, "post_op")
    call = make_call(session, campaign, POST_OP_ANSWERS)
    jobs.enqueue_post_call(call.id)
    failed = FailedJobRegistry(jobs.QUEUE_WEBHOOKS, connection=redis_conn)
    work(redis_conn, lambda: _delivery(session).status == "failed" and failed.count == 1)
    d = _delivery(session)
    assert d.tries == 3 and len(his.requests) == 3  # the first try and 2 retries
    assert d.http_status == 503 and d.last_error.startswith("HTTP 503")
    assert d.delivered_at is None
    assert webhook.SIGNATURE_HEADER not in his.requests[0]["headers"]  # no secret set: unsigned


def test_an_unreachable_endpoint_is_recorded_too(
    env: Callable[..., None], session: Session, redis_conn: Redis
) -> None:
    env(webhook_url="http://127.0.0.1:1/his", webhook_retries=0)
    campaign = make_campaign(session, "post_op")
    call = make_call(session, campaign, {"bowel_urine": True}, outcome="partial")
    jobs.enqueue_post_call(call.id)
    work(redis_conn, lambda: _delivery(session).status == "failed")
    d = _delivery(session)
    assert d.tries == 1 and d.http_status is None
    assert "URLError" in d.last_error and "refused" in d.last_error.lower()


def test_unanswered_calls_are_not_sent_and_delivered_ones_not_twice(
    env: Callable[..., None], session: Session, redis_conn: Redis, endpoint: Callable
) -> None:
    his = endpoint([200])
    env(webhook_url=his.url, webhook_retries=1, webhook_retry_intervals="0")
    campaign = make_campaign(session, "post_op")
    busy = make_call(session, campaign, {}, outcome="busy")
    session.get(type(busy), busy.id).answered_at = None
    session.commit()
    done = make_call(session, campaign, POST_OP_ANSWERS)
    for attempt_id in (busy.id, done.id, done.id):  # the engine (or an operator) queued it twice
        jobs.enqueue_post_call(attempt_id)
    q = jobs.queue(jobs.QUEUE_POST_CALL, redis_conn)
    work(redis_conn, lambda: q.count == 0 and _delivery(session).status == "delivered")
    work(redis_conn, lambda: jobs.queue(jobs.QUEUE_WEBHOOKS, redis_conn).count == 0)
    assert len(his.requests) == 1
    assert session.scalars(select(WebhookDelivery)).one().attempt_id == done.id


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    body = webhook.encode({"答案": "好多了"})
    assert body == '{"答案":"好多了"}'.encode()
    expected = "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook.sign("k", 1700000000, body) == expected
    assert webhook.verify("k", "1700000000", body, expected, now=1700000100)
    assert not webhook.verify("k", "1700000000", body, expected, now=1700001000)  # too old: replay
    assert not webhook.verify("k", "yesterday", body, expected)
