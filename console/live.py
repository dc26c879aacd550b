"""The live escalation feed: one poller per process, fanned out to every open queue page (SSE).

The database is the source of truth, so the baseline is polling it: every ``interval`` (0.5 s) one
background task asks for escalations with a higher id than any seen (new cases, whatever the writer's
clock says) or an ``updated_at`` newer than the last look minus an overlap (assigned, resolved; the
overlap absorbs clock skew between the writing processes and this one). A version map drops what was
already sent. Each subscriber (an SSE connection) gets every change on its own queue and filters it by
department; a slow subscriber whose queue is full loses the oldest change rather than stalling others.

The poller starts with the first subscriber and stops with the last one (or when the app shuts down). With a ``redis_url`` it
also listens on the pub/sub channel ``followup:escalations`` (the post-call job publishes there) and
polls at once on any message: a wake-up only, the rows still come from the database, and without Redis
(down, or not configured) the feed polls on its interval as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from models.escalations import Escalation
from models.types import utcnow

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=5)
ESCALATION_CHANNEL = "followup:escalations"  # default of FOLLOWUP_ESCALATION_CHANNEL (dialer.jobs publishes)
REDIS_RETRY_S = 5.0
STOP_TIMEOUT_S = 2.0
QUEUE_SIZE = 256


@dataclass(frozen=True)
class EscalationView:
    """What the queue shows of one escalation (phone unmasked: masking is per viewer, at render time)."""

    id: int
    kind: str
    status: str
    department: str | None
    category: str | None
    text: str
    patient_name: str
    phone: str
    assignee: str | None
    attempt_id: int | None
    created_at: datetime
    updated_at: datetime


def view_of(e: Escalation) -> EscalationView:
    """The queue's view of an escalation row (its patient and assignee loaded)."""
    return EscalationView(
        id=e.id,
        kind=e.kind,
        status=e.status,
        department=e.department,
        category=e.category,
        text=e.text,
        patient_name=e.patient.name,
        phone=e.patient.phone,
        assignee=(e.assignee.display_name or e.assignee.username) if e.assignee else None,
        attempt_id=e.attempt_id,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def open_escalations(db: Session, department: str | None = None, limit: int = 200) -> list[EscalationView]:
    """Open and assigned escalations, newest first, optionally of one department."""
    q = (
        select(Escalation)
        .options(joinedload(Escalation.patient), joinedload(Escalation.assignee))
        .where(Escalation.status != "resolved")
        .order_by(Escalation.id.desc())
        .limit(limit)
    )
    if department:
        q = q.where(Escalation.department == department)
    return [view_of(e) for e in db.scalars(q)]


class EscalationFeed:
    """Polls the escalations table and hands every change to each subscriber's queue."""

    def __init__(
        self, sessions: Callable[[], Session], interval: float = 0.5, redis_url: str | None = None,
        channel: str = ESCALATION_CHANNEL,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.redis_url = redis_url
        self.channel = channel
        self.polls = 0  # completed polls (tests wait for the first one)
        self._subscribers: set[asyncio.Queue[EscalationView]] = set()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._last_id = 0
        self._since: datetime | None = None
        self._versions: dict[int, datetime] = {}

    @property
    def running(self) -> bool:
        """True while the poller task runs (in the current event loop)."""
        if self._task is None or self._task.done():
            return False
        try:
            return self._task.get_loop() is asyncio.get_running_loop()
        except RuntimeError:  # no running loop
            return False

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[EscalationView]]:
        """A queue receiving every escalation change from now on, until the context exits."""
        queue: asyncio.Queue[EscalationView] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        if not self.running:  # no await before create_task: concurrent subscribers start one poller
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="escalation-feed")
            if self.redis_url:
                self._listener = asyncio.create_task(self._listen(self._wake), name="escalation-feed-redis")
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
            if not self._subscribers:  # nobody watching: stop polling until the next page opens
                await self.stop()

    async def stop(self) -> None:
        """Stop the poller and the Redis listener (the last page closed, or app shutdown)."""
        tasks = [t for t in (self._task, self._listener) if t is not None and not t.done()]
        self._task = self._listener = None
        loop = asyncio.get_running_loop()
        mine = [t for t in tasks if t.get_loop() is loop]
        for task in mine:
            task.cancel()
        if mine:  # bounded: a stuck Redis close must not hold up a page or the shutdown
            await asyncio.wait(mine, timeout=STOP_TIMEOUT_S)

    def _start_cursor(self) -> None:
        with self.sessions() as db:
            self._last_id = db.scalar(select(func.max(Escalation.id))) or 0
        self._since = utcnow()
        self._versions.clear()

    async def _run(self) -> None:
        await asyncio.to_thread(self._start_cursor)
        while True:
            try:
                changes = await asyncio.to_thread(self.poll_once)
            except Exception:  # a database hiccup must not end the feed for every open page
                log.exception("escalation feed: poll failed; retrying")
                changes = []
            for view in changes:
                for queue in list(self._subscribers):
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(view)
            self.polls += 1
            wake = self._wake
            if wake is None:
                await asyncio.sleep(self.interval)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.interval)
            wake.clear()

    async def _listen(self, wake: asyncio.Event) -> None:
        """Set ``wake`` on every message of the escalation channel; reconnect quietly when Redis is down."""
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        warned = False
        while True:
            client = aioredis.from_url(self.redis_url, socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    warned = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            wake.set()
            except (RedisError, OSError) as exc:
                if not warned:
                    log.warning("escalation feed: Redis unavailable (%s); polling the database only", exc)
                    warned = True
                await asyncio.sleep(REDIS_RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.aclose(), STOP_TIMEOUT_S)

    def poll_once(self) -> list[EscalationView]:
        """Changes since the last poll (new rows and updated rows), oldest first."""
        since = (self._since or utcnow()) - OVERLAP
        with self.sessions() as db:
            rows = db.scalars(
                select(Escalation)
                .options(joinedload(Escalation.patient), joinedload(Escalation.assignee))
                .where(or_(Escalation.id > self._last_id, Escalation.updated_at > since))
                .order_by(Escalation.id)
            ).all()
            views = [view_of(e) for e in rows]
        changes = []
        for v in views:
            self._last_id = max(self._last_id, v.id)
            if self._versions.get(v.id) == v.updated_at:
                continue
            self._versions[v.id] = v.updated_at
            changes.append(v)
            if self._since is None or v.updated_at > self._since:
                self._since = v.updated_at
        # Forget versions that the overlap window can no longer return.
        horizon = (self._since or utcnow()) - 2 * OVERLAP
        for key in [k for k, at in self._versions.items() if at < horizon]:
            del self._versions[key]
        return changes
