"""rq jobs on Redis: the work around calls, done off the call path by ``followup worker`` processes.

Queues (all on ``FOLLOWUP_REDIS_URL``):

- ``followup-post-call``: ``post_call(attempt_id)``, enqueued by the engine after every finished attempt
  (``enqueue_post_call``): routes the attempt's escalations to their departments and announces them on
  the pub/sub channel ``FOLLOWUP_ESCALATION_CHANNEL`` (``followup:escalations``; for SSE/wall boards),
  picks QA samples, and queues the webhook delivery.
- ``followup-webhooks``: ``deliver_webhook(delivery_id)``: one POST of the call's answers to
  ``FOLLOWUP_WEBHOOK_URL``; a failed try raises so rq retries it (``Retry(max=FOLLOWUP_WEBHOOK_RETRIES,
  interval=FOLLOWUP_WEBHOOK_RETRY_INTERVALS)``); every try is recorded on the delivery row.
- ``followup-campaigns``: ``start_campaign(campaign_id)`` at a set time (``schedule_campaign_start``,
  rq's ``enqueue_at``: needs a worker started with the scheduler, which ``followup worker`` is).
- ``followup-imports``: ``import_job(path, campaign_id, mapping)`` for large patient files, with its
  progress in ``job.meta`` (``import_status`` reads it for the console).

Job functions import the other parts of the system lazily and open their own database sessions from the
settings, so any host with the code, the database URL and the Redis URL can run workers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import rq
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, get_current_job
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.config import Settings, get_settings

log = logging.getLogger("followup.jobs")

QUEUE_POST_CALL = "followup-post-call"
QUEUE_WEBHOOKS = "followup-webhooks"
QUEUE_CAMPAIGNS = "followup-campaigns"
QUEUE_IMPORTS = "followup-imports"
QUEUES: tuple[str, ...] = (QUEUE_POST_CALL, QUEUE_WEBHOOKS, QUEUE_CAMPAIGNS, QUEUE_IMPORTS)
ESCALATION_CHANNEL = "followup:escalations"  # the default of FOLLOWUP_ESCALATION_CHANNEL

IMPORT_TIMEOUT_S = 4 * 3600  # a 100,000-row file takes seconds; a slow XLSX on a busy host much longer
RESULT_TTL_S = 7 * 24 * 3600  # the console shows last week's imports and their reports


class WebhookFailed(Exception):
    """A webhook try failed (the message says why); rq retries the job while retries remain."""


# --- connections ------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _redis(url: str) -> Redis:
    return Redis.from_url(url)


def redis_connection(settings: Settings | None = None) -> Redis:
    """The Redis connection of ``FOLLOWUP_REDIS_URL`` (one client per URL and process)."""
    return _redis((settings or get_settings()).redis_url)


def queue(name: str, connection: Redis | None = None) -> Queue:
    """One of the project's queues (``QUEUES``)."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; expected one of {', '.join(QUEUES)}")
    return Queue(name, connection=connection or redis_connection())


@lru_cache(maxsize=8)
def _sessions(url: str) -> sessionmaker[Session]:
    from models.db import make_engine, session_factory

    return session_factory(make_engine(url))


def sessions(settings: Settings | None = None) -> sessionmaker[Session]:
    """A session factory on ``FOLLOWUP_DATABASE_URL`` (one engine per URL and process)."""
    return _sessions((settings or get_settings()).resolved_database_url)


def retry_intervals(value: str) -> list[int]:
    """``"10,60,300"`` → ``[10, 60, 300]`` seconds; ValueError naming the setting."""
    try:
        intervals = [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(
            f"FOLLOWUP_WEBHOOK_RETRY_INTERVALS: expected seconds like 10,60,300, got {value!r}"
        ) from None
    if not intervals or any(i < 0 for i in intervals):
        raise ValueError(f"FOLLOWUP_WEBHOOK_RETRY_INTERVALS: expected seconds like 10,60,300, got {value!r}")
    return intervals


@lru_cache(maxsize=4)
def _routes(value: str, default: str) -> Any:
    from dialer.routing import Routes

    return Routes.from_setting(value, default)


def check_settings(settings: Settings | None = None) -> None:
    """Validate the job settings (routing table, QA rate, retry intervals) so a worker refuses to start
    with a bad one instead of failing every job; ValueError naming the setting."""
    from dialer import qa_sampling

    settings = settings or get_settings()
    _routes(settings.escalation_routes, settings.default_department)
    qa_sampling.check_rate(settings.qa_sample_rate)
    retry_intervals(settings.webhook_retry_intervals)
    if settings.webhook_retries < 0:
        raise ValueError(f"FOLLOWUP_WEBHOOK_RETRIES must be 0 or more, got {settings.webhook_retries}")
    if settings.webhook_url and not settings.webhook_url.startswith(("http://", "https://")):
        raise ValueError(f"FOLLOWUP_WEBHOOK_URL must be an http(s) URL, got {settings.webhook_url!r}")


# --- post-call ------------------------------------------------------------------------------------------


def enqueue_post_call(attempt_id: int, *, connection: Redis | None = None) -> str | None:
    """Queue the post-call work of a finished attempt; returns the job id.

    Called by the engine on the call path: when Redis is unreachable this logs an error and returns None
    instead of raising (the call and its answers are already stored; ``post_call`` can be re-run).
    """
    try:
        job = queue(QUEUE_POST_CALL, connection).enqueue(
            post_call, attempt_id, description=f"post-call attempt {attempt_id}", result_ttl=RESULT_TTL_S
        )
    except RedisError as exc:
        log.error("post-call job for attempt %s not queued: %s", attempt_id, exc)
        return None
    return job.id


def post_call(attempt_id: int) -> dict[str, Any]:
    """The work after one finished attempt (idempotent: safe to run again; escalations no longer open are
    neither moved nor announced again). Returns a summary."""
    from dialer import qa_sampling
    from models.calls import CallAttempt
    from models.escalations import Escalation

    settings = get_settings()
    routes = _routes(settings.escalation_routes, settings.default_department)
    summary: dict[str, Any] = {
        "attempt_id": attempt_id,
        "escalations": [],
        "qa_sample": None,
        "delivery_id": None,
    }
    messages: list[dict[str, Any]] = []
    with sessions(settings)() as s:
        attempt = s.get(CallAttempt, attempt_id)
        if attempt is None:
            raise ValueError(f"post-call: no call attempt with id {attempt_id}")
        if attempt.ended_at is None:
            raise ValueError(f"post-call: attempt {attempt_id} has not ended (the call is still live)")
        task = attempt.task
        visit_department = task.visit.department if task.visit is not None else None

        escalations = s.scalars(
            select(Escalation).where(Escalation.attempt_id == attempt_id).order_by(Escalation.id)
        )
        for esc in escalations:
            if esc.status != "open":  # someone already took the case (a re-run): leave it where it is
                continue
            route = routes.route(esc.kind, esc.text, esc.department, visit_department)
            if esc.department != route.department:
                esc.department = route.department
            messages.append(
                {
                    "event": "escalation",
                    "escalation_id": esc.id,
                    "kind": esc.kind,
                    "department": route.department,
                    "routed_by": route.by,
                    "status": esc.status,
                    "attempt_id": attempt_id,
                    "patient_id": esc.patient_id,
                    "campaign_id": task.campaign_id,
                    "question_id": esc.question_id,
                    "text": esc.text[:500],
                    "at": esc.created_at.isoformat(),
                }
            )
        s.commit()
        summary["escalations"] = [
            {k: m[k] for k in ("escalation_id", "department", "routed_by")} for m in messages
        ]

        department = visit_department or routes.default
        sample = qa_sampling.assign(
            s, attempt_id, attempt.outcome, department, rate=settings.qa_sample_rate, seed=settings.qa_seed
        )
        summary["qa_sample"] = sample.id if sample is not None else None

        if settings.webhook_url and attempt.answered_at is not None:
            delivery = _delivery_for(s, attempt_id, settings.webhook_url)
            summary["delivery_id"] = delivery.id
            deliver = delivery.status != "delivered"
        else:
            deliver = False

    connection = redis_connection(settings)
    for message in messages:
        connection.publish(settings.escalation_channel, json.dumps(message, ensure_ascii=False))
    if deliver:
        queue(QUEUE_WEBHOOKS, connection).enqueue(
            deliver_webhook,
            summary["delivery_id"],
            retry=Retry(
                max=settings.webhook_retries, interval=retry_intervals(settings.webhook_retry_intervals)
            )
            if settings.webhook_retries > 0
            else None,
            description=f"webhook delivery {summary['delivery_id']} (attempt {attempt_id})",
            result_ttl=RESULT_TTL_S,
            failure_ttl=RESULT_TTL_S,
        )
    log.info(
        "post-call attempt %s: %d escalation(s) routed, qa sample %s, delivery %s",
        attempt_id,
        len(messages),
        summary["qa_sample"],
        summary["delivery_id"],
    )
    return summary


def _delivery_for(session: Session, attempt_id: int, url: str) -> Any:
    """The delivery row of (attempt, url), created ``pending`` if new."""
    from sqlalchemy.exc import IntegrityError

    from models.webhooks import WebhookDelivery

    stmt = select(WebhookDelivery).where(WebhookDelivery.attempt_id == attempt_id, WebhookDelivery.url == url)
    delivery = session.scalars(stmt).first()
    if delivery is not None:
        return delivery
    delivery = WebhookDelivery(attempt_id=attempt_id, url=url, status="pending", history=[])
    session.add(delivery)
    try:
        session.commit()
    except IntegrityError:  # the same post-call job running twice at once
        session.rollback()
        return session.scalars(stmt).one()
    return delivery


# --- webhook --------------------------------------------------------------------------------------------


def webhook_payload(session: Session, attempt_id: int, delivery_id: int, lang: str) -> dict[str, Any]:
    """What the HIS receives for one call (docs/jobs.md): the call, the HIS ids (no name, no phone), the
    answers, the escalations and the FHIR QuestionnaireResponse."""
    from dialer import exports
    from flows.errors import FlowError, FlowNotFound
    from models.escalations import Escalation

    call = exports.completed_call(session, attempt_id)
    attempt, task = call.attempt, call.task
    payload: dict[str, Any] = {
        "event": "call.finished",
        "delivery_id": delivery_id,
        "attempt": {
            "id": attempt.id,
            "number": attempt.number,
            "outcome": attempt.outcome,
            "started_at": attempt.started_at.isoformat(),
            "answered_at": attempt.answered_at.isoformat() if attempt.answered_at else None,
            "ended_at": attempt.ended_at.isoformat() if attempt.ended_at else None,
            "language": attempt.language,
            "flow_id": attempt.flow_id or task.campaign.flow_id,
            "flow_version": attempt.flow_version,
        },
        "campaign": {"id": task.campaign_id, "name": task.campaign.name},
        "patient": {"id": call.patient.id, "external_id": call.patient.external_id},
        "visit": (
            {"id": call.visit.id, "external_id": call.visit.external_id, "department": call.visit.department}
            if call.visit is not None
            else None
        ),
        "answers": [
            {
                "question_id": a.question_id,
                "value": a.value,
                "value_text": a.value_text,
                "status": a.status,
                "respondent": a.respondent,
                "confidence": a.confidence,
            }
            for a in sorted(call.answers.values(), key=lambda a: a.id)
        ],
        "escalations": [
            {
                "id": e.id,
                "kind": e.kind,
                "department": e.department,
                "question_id": e.question_id,
                "text": e.text,
            }
            for e in session.scalars(
                select(Escalation).where(Escalation.attempt_id == attempt_id).order_by(Escalation.id)
            )
        ],
        "questionnaire_response": None,
    }
    try:
        flow = exports.flow_for(payload["attempt"]["flow_id"])
        payload["questionnaire_response"] = exports.response_for(call, flow, attempt.language or lang)
    except (
        FlowError,
        FlowNotFound,
        ValueError,
    ) as exc:  # the flow is gone or changed: the plain answers still go out
        log.warning("attempt %s: no FHIR response in the webhook payload: %s", attempt_id, exc)
    return payload


def deliver_webhook(delivery_id: int) -> dict[str, Any]:
    """One try of a webhook delivery. Records the try; on failure raises WebhookFailed so rq retries, and
    marks the delivery ``failed`` when this was the last try."""
    from dialer import webhook
    from models.types import utcnow
    from models.webhooks import WebhookDelivery

    settings = get_settings()
    job = get_current_job()
    with sessions(settings)() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise ValueError(f"webhook: no delivery with id {delivery_id}")
        if delivery.status == "delivered":
            return {"delivery_id": delivery_id, "status": "delivered", "tries": delivery.tries}
        body = webhook.encode(webhook_payload(s, delivery.attempt_id, delivery_id, settings.default_lang))
        result = webhook.post(
            delivery.url,
            body,
            delivery_id=delivery_id,
            secret=settings.webhook_secret,
            timeout_s=settings.webhook_timeout_s,
        )
        now = utcnow()
        delivery.tries += 1
        delivery.http_status = result.http_status
        delivery.history = [
            *delivery.history,
            {
                "at": now.isoformat(),
                "http_status": result.http_status,
                "error": result.error,
                "ms": result.ms,
            },
        ]
        if result.ok:
            delivery.status = "delivered"
            delivery.delivered_at = now
            delivery.last_error = None
        else:
            last_try = job is None or not job.retries_left
            delivery.status = "failed" if last_try else "retrying"
            delivery.last_error = result.error
        s.commit()
        status, tries = delivery.status, delivery.tries
    if not result.ok:
        log.warning("webhook delivery %s try %d failed (%s): %s", delivery_id, tries, status, result.error)
        raise WebhookFailed(f"delivery {delivery_id} try {tries}: {result.error}")
    return {"delivery_id": delivery_id, "status": status, "tries": tries, "http_status": result.http_status}


# --- scheduled campaign starts --------------------------------------------------------------------------


def _start_job_id(campaign_id: int) -> str:
    return f"campaign-start-{campaign_id}"


def start_campaign(campaign_id: int) -> dict[str, Any]:
    """Start a campaign (draft/paused → running). A campaign already running is left alone."""
    from dialer import campaigns

    with sessions()() as s:
        campaign = campaigns.get_campaign(s, campaign_id)
        if campaign.status == "running":
            return {"campaign_id": campaign_id, "status": "running", "note": "already running"}
        campaign = campaigns.start(s, campaign_id, reason="scheduled start")
        log.info("campaign %s started by its schedule", campaign_id)
        return {"campaign_id": campaign_id, "status": campaign.status}


def schedule_campaign_start(campaign_id: int, at: datetime, *, connection: Redis | None = None) -> Job:
    """Start the campaign at ``at`` (aware). Scheduling it again replaces the earlier time."""
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError("the start time must be timezone-aware")
    # rq keeps scheduled times in whole seconds, truncated: round up so the start is never early.
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    q = queue(QUEUE_CAMPAIGNS, connection)
    cancel_campaign_start(campaign_id, connection=q.connection)
    return q.enqueue_at(
        at,
        start_campaign,
        campaign_id,
        job_id=_start_job_id(campaign_id),
        description=f"start campaign {campaign_id}",
        result_ttl=RESULT_TTL_S,
    )


def cancel_campaign_start(campaign_id: int, *, connection: Redis | None = None) -> bool:
    """Drop a scheduled start; True if there was one."""
    from rq.exceptions import NoSuchJobError

    try:
        job = Job.fetch(_start_job_id(campaign_id), connection=connection or redis_connection())
    except NoSuchJobError:
        return False
    if job.get_status(refresh=True) != JobStatus.SCHEDULED:
        return False
    job.delete()
    return True


# --- imports ------------------------------------------------------------------------------------------


def import_job(
    path: str, campaign_id: int | None, mapping: Mapping[str, Any] | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Run ``models.imports.import_file`` on ``path``, keeping the progress in ``job.meta``
    (``rows_done``, ``errors``, ``fraction``, ``rows_per_s``, ``elapsed_s``); returns the report."""
    from models.imports import import_file

    job = get_current_job()

    def progress(p: Any) -> None:
        if job is None:
            return
        job.meta.update(
            rows_done=p.rows_done,
            errors=p.errors,
            fraction=p.fraction,
            rows_per_s=round(p.rate, 1),
            elapsed_s=round(p.elapsed_s, 2),
        )
        job.save_meta()

    report = import_file(
        sessions(), path, campaign_id=campaign_id, mapping=mapping, dry_run=dry_run, progress=progress
    )
    return report.to_dict()


def enqueue_import(
    path: str | Path,
    campaign_id: int | None,
    mapping: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    connection: Redis | None = None,
) -> Job:
    """Queue an import of ``path`` (a file every worker host can read, e.g. on shared storage)."""
    return queue(QUEUE_IMPORTS, connection).enqueue(
        import_job,
        str(Path(path).resolve()),
        campaign_id,
        dict(mapping) if mapping else None,
        dry_run,
        job_timeout=IMPORT_TIMEOUT_S,
        result_ttl=RESULT_TTL_S,
        failure_ttl=RESULT_TTL_S,
        description=f"import {Path(path).name} into campaign {campaign_id}",
    )


def import_status(job_id: str, *, connection: Redis | None = None) -> dict[str, Any]:
    """What the console polls: ``status`` (queued/started/finished/failed), ``progress`` (job.meta),
    ``report`` when finished, ``error`` (the last line of the traceback) when failed."""
    job = Job.fetch(job_id, connection=connection or redis_connection())
    status = job.get_status(refresh=True)
    out: dict[str, Any] = {
        "job_id": job_id,
        "status": str(status.value if status else None),
        "progress": job.get_meta(),
    }
    if status == JobStatus.FINISHED:
        out["report"] = job.return_value()
    elif status == JobStatus.FAILED:
        result = job.latest_result()
        trace = (result.exc_string if result is not None else None) or ""
        out["error"] = trace.strip().splitlines()[-1] if trace.strip() else "failed"
    return out


# --- workers ------------------------------------------------------------------------------------------


class _PromptShutdown:
    """rq 3.0 sends UNSUBSCRIBE and then stops its pub/sub thread; since redis-py 8 ``stop()`` joins the
    thread, which by then is back in a 60 s blocking read, so every worker shutdown (and every burst run)
    could hang for up to a minute. Clearing the thread's run flag *before* unsubscribing lets the
    UNSUBSCRIBE reply wake it into a clean exit."""

    pubsub: Any
    pubsub_thread: Any

    def unsubscribe(self) -> None:
        thread = getattr(self, "pubsub_thread", None)
        if not thread:
            return
        try:
            thread.stop(timeout=0)  # redis-py ≥ 8: clear the flag, do not wait yet
        except TypeError:  # redis-py < 8: stop() only clears the flag
            thread.stop()
        self.pubsub.unsubscribe()
        thread.join(timeout=2)
        self.pubsub.close()


class Worker(_PromptShutdown, rq.Worker):
    """rq's forking Worker (each job in a child process) that shuts down promptly; what ``followup worker``
    runs. With the plain ``rq worker`` command pass ``--worker-class dialer.jobs.Worker``."""


class SimpleWorker(_PromptShutdown, rq.SimpleWorker):
    """rq's in-process worker (no fork), shutting down promptly; for tests and debugging."""


def preload() -> None:
    """Import what the jobs use and parse the flow library once, in the worker's main process: the
    forked child of every job then inherits them instead of paying ~1 s of imports and YAML parsing per
    job. (No database connection is opened here: connections must not cross a fork.)"""
    import importlib

    from flows.loader import load_library

    for name in (
        "models",
        "dialer.exports",
        "dialer.fhir",
        "dialer.qa_sampling",
        "dialer.routing",
        "dialer.webhook",
        "dialer.campaigns",
        "models.imports",
    ):
        importlib.import_module(name)
    load_library()


def run_worker(
    queues: Sequence[str] = QUEUES,
    *,
    burst: bool = False,
    connection: Redis | None = None,
    name: str | None = None,
    fork: bool = True,
) -> bool:
    """Run an rq worker with the scheduler on ``queues`` until stopped (or, with ``burst``, until they are
    empty). Returns whether any job was processed. Start as many as needed, on any host.

    ``fork``: each job in a forked child (rq's default: a crashing or leaking job cannot harm the worker),
    at ~0.1–0.2 s per job; ``fork=False`` runs jobs in the worker process, several times faster."""
    for q in queues:
        queue(q)  # validates the names
    preload()
    connection = connection or redis_connection()
    cls = Worker if fork else SimpleWorker
    worker = cls([Queue(q, connection=connection) for q in queues], connection=connection, name=name)
    return worker.work(burst=burst, with_scheduler=True)
