"""The campaign engine: a long-running asyncio process that claims due call tasks and runs their calls.

Theory of operation
-------------------
The database is the source of truth (``models.leases``); the engine keeps nothing that a restart would
need. Every tick (``tick_real_s``, and at once when a call ends):

1. **heartbeat** — the leases of this engine's live calls are renewed (``leases.renew``), before anything
   that could take them;
2. **recovery** — calls left open by a dead engine (its lease expired) are hung up on this engine's
   Asterisk and their attempts closed as ``failed``/``engine_lost``; ``leases.recover_expired`` puts
   their tasks back to ``pending`` (the lost attempt counts, so its number is never dialled again);
3. **capacity** — free slots per campaign: its ``max_concurrent_calls`` across all engines, and this
   engine's global cap (``FOLLOWUP_MAX_CALLS``) across campaigns (``leases.capacity``), only for running
   campaigns inside their dates and calling window;
4. **claim** — ``leases.claim_due`` leases that many due tasks (at most ``dials_per_s`` new calls a
   second: trunks limit call attempts per second, and calls started together would all speak — and
   load the recogniser — at the same moments), and each gets a call task (below).

One call (``_call``): the patient, visit and campaign are read again and checked *at the moment of
dialling* — campaign still running; number not on the do-not-call list (else the task is cancelled,
``last_outcome`` opt_out); patient not deceased; calling window open (else the task goes back to
``pending`` at the window's next opening). Then the attempt row is written (``leases.start_attempt``,
before anything is dialled), the ``CallSession`` runs (``SessionOptions.finish_task=False``), and its
outcome goes through the campaign's retry policy (``retry.decide``) into ``leases.finish``.

Outcomes: completed / escalated / transferred / wrong_person / opt_out → done; callback_requested →
pending at the asked time moved into the window; busy / no_answer / failed / voicemail / hung_up (and
partial, as hung_up) → pending after the policy's interval while retries remain, else failed.
A campaign's ``failed`` outcomes (line failures, not busy or no answer) feed its ``CircuitBreaker``; when
it trips the campaign is paused with the reason (``campaigns.pause``) and the engine says so.

Drain (SIGTERM/SIGINT → ``request_drain``): nothing new is claimed, tasks claimed but not yet dialled are
released, live calls may finish for ``drain_timeout_s``; then the rest are hung up (their outcome goes
through the policy like any other), leases still held are released, and ``run`` returns. A second signal
hangs up at once. SIGKILL needs nothing here: the leases expire and the next engine's recovery takes
over.

Time: ``Clock.now()`` for everything scheduled (due times, windows, leases, the dialog's "tomorrow"), so
a ``ScaledClock`` runs a campaign's minutes in seconds for tests and demos. Real time for what protects
against real stalls and limits: the tick interval, lease length (converted to clock time), the drain limit
and the call itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dialer.breaker import CircuitBreaker
from dialer.clock import Clock
from dialer.endpoints import Dial, Endpoints
from dialer.patient_context import build_context, call_language
from dialer.persist import AttemptLog
from dialer.progress import CallLine, Tally, as_json, call_text, mask_phone, summary, summary_text
from dialer.resources import CallResources
from dialer.retry import RetryPolicy, decide, retry_key
from dialer.session import CallReport, CallSession, SessionOptions
from dialer.windows import CallingWindows
from models import dialling, leases
from models.campaigns import Campaign
from models.store import AttemptConflict, is_do_not_call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    """How one engine process runs. Clock seconds unless named ``*_real_s``."""


    owner: str  # lease owner: unique per engine process
    max_calls: int = 30  # global cap on this engine's live calls (FOLLOWUP_MAX_CALLS)
    campaign_ids: tuple[int, ...] = ()  # only these campaigns (empty: every running campaign)
    tick_real_s: float = 2.0  # between scheduling passes (a finished call wakes the loop at once)
    lease_real_s: float = 120.0  # a lease outlives a dead engine this long (renewed every tick)
    drain_timeout_real_s: float = 120.0  # FOLLOWUP_DRAIN_TIMEOUT_S
    hangup_grace_real_s: float = 15.0  # after hanging up at the drain limit, wait this long for the reports
    dials_per_s: float = 2.0  # pacing: new calls per second at most (trunk CPS; spreads the speech load)
    once: bool = False  # stop when nothing is due and nothing is live
    until_done: bool = False  # stop when the selected running campaigns have no open task left
    summary_every_real_s: float = 30.0
    session: SessionOptions = field(default_factory=lambda: SessionOptions(finish_task=False))
    dial_tag: str = "f"  # first part of every call id / simulated patient id (letters and digits)
    asterisk_host: str | None = None  # stored on attempts; recovery only hangs up channels placed here
    breaker_threshold: float = 0.5
    breaker_min_calls: int = 10
    breaker_window_s: float = 300.0
    hospital: dict[str, str] = field(default_factory=dict)  # name, name_en, phone
    default_lang: str = "zh"
    timezone: str = "Asia/Shanghai"  # of the times in progress lines (the hospital's, like its windows)
    json: bool = False  # progress as JSON lines
    # After each finished attempt: queue its post-call work (dialer.jobs.enqueue_post_call: escalation
    # routing and notices, QA sampling, the HIS webhook). None: no post-call jobs (tests, --no-jobs).
    post_call: Callable[[int], object] | None = None


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign's settings as the engine uses them (parsed once per tick that needs them)."""

    id: int
    name: str
    status: str
    flow_id: str
    language: str | None
    timezone: str
    windows: CallingWindows
    policy: RetryPolicy


@dataclass
class LiveCall:
    """A claimed task this engine is working on (claimed → dialled → finished)."""

    task_id: int
    campaign_id: int
    task: asyncio.Task[None] | None = None
    call_id: str | None = None
    dialled: bool = False
    finishing: bool = False  # its lease is being cleared by leases.finish: no more heartbeats


@dataclass
class EngineStats:
    """What ``Engine.run`` returns (and the benchmark reads)."""

    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    orphans_hung_up: int = 0
    paused: list[tuple[int, str]] = field(default_factory=list)
    reports: list[tuple[int, int, CallReport]] = field(default_factory=list)  # (task, attempt number, report)
    drained: bool = False
    hung_up_at_drain: int = 0


class Engine:
    """Claims due tasks and runs their calls (see the module docstring).

    ``client``: one started ``AriClient`` (one Stasis app) for every call of this process. ``emit``:
    where progress lines go (``print`` by default). ``call_factory``: what runs one call (``CallSession``;
    the scheduling tests pass a scripted stand-in with the same constructor and ``run()``).
    """

    def __init__(self, sessions: sessionmaker[Session], client: Any, resources: CallResources,
                 endpoints: Endpoints, clock: Clock, options: EngineOptions,
                 emit: Callable[[str], None] | None = None,
                 call_factory: Callable[..., Any] = CallSession) -> None:
        self.sessions = sessions
        self.client = client
        self.res = resources
        self.endpoints = endpoints
        self.clock = clock
        self.opt = options
        self.emit = emit or (lambda line: print(line, flush=True))
        self.call_factory = call_factory
        self.live: dict[int, LiveCall] = {}
        self.stats = EngineStats()
        self.tally = Tally(started_at=time.monotonic())
        self._breakers: dict[int, CircuitBreaker] = {}
        self._draining = False
        self._drain_deadline: float | None = None
        self._wake = asyncio.Event()
        self._last_summary = time.monotonic()
        self._claimed_last_tick = 0
        self._tokens = max(1.0, options.dials_per_s)  # pacing bucket (real time)
        self._tokens_at = time.monotonic()
        self._paced_out = False

    # ------------------------------------------------------------------------------------- control

    def request_drain(self) -> None:
        """Stop claiming; let live calls finish up to the drain limit (a second request: hang up now)."""
        now = time.monotonic()
        if self._draining:
            self._drain_deadline = now
            log.warning("engine %s: second stop request: hanging up %d live call(s)", self.opt.owner, len(self.live))
        else:
            self._draining = True
            self._drain_deadline = now + self.opt.drain_timeout_real_s
            log.info("engine %s: draining: no new calls; %d live call(s) may finish within %g s",
                     self.opt.owner, len(self.live), self.opt.drain_timeout_real_s)
        self._wake.set()

    @property
    def draining(self) -> bool:
        return self._draining

    async def run(self) -> EngineStats:
        """Tick until told to stop (``request_drain``), or per ``once``/``until_done``; returns the stats."""
        log.info("engine %s: running (max %d calls%s)", self.opt.owner, self.opt.max_calls,
                 f", campaigns {list(self.opt.campaign_ids)}" if self.opt.campaign_ids else "")
        try:
            failures = 0
            while True:
                try:
                    await self.tick()
                    if await self._finished():
                        break
                    failures = 0
                except Exception:  # a database or ARI hiccup must not end the live calls
                    failures += 1
                    log.exception("engine %s: tick failed (%d in a row); trying again", self.opt.owner, failures)
                    await asyncio.sleep(min(30.0, self.opt.tick_real_s * failures))
                await self._wait_tick()
        finally:
            await self._stop_calls()
            with contextlib.suppress(Exception):
                released = await self._db(lambda s: leases.release(s, owner=self.opt.owner))
                if released:
                    log.info("engine %s: released %d undialled lease(s)", self.opt.owner, released)
            await self._summary(force=True)
        return self.stats

    async def _wait_tick(self) -> None:
        self._wake.clear()
        wait = self.opt.tick_real_s
        if self._paced_out and self.opt.dials_per_s > 0:
            wait = min(wait, 1.0 / self.opt.dials_per_s)  # more is due: come back when pacing allows
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _finished(self) -> bool:
        if self._draining:
            if not self.live:
                self.stats.drained = True
                return True
            return self._drain_deadline is not None and time.monotonic() >= self._drain_deadline
        if self.live:
            return False
        if self.opt.once and self._claimed_last_tick == 0:
            return True
        if self.opt.until_done:
            return await self._db(lambda s: dialling.open_tasks(s, self.opt.campaign_ids)) == 0
        return False

    def _task_counts(self, s: Session) -> dict[str, int]:
        """Tasks by status over the selected campaigns (all when none selected); zeros left out."""
        total: dict[str, int] = {}
        for cid in self.opt.campaign_ids or [None]:
            for k, n in leases.pending_counts(s, cid).items():
                total[k] = total.get(k, 0) + n
        return {k: n for k, n in total.items() if n}

    # ---------------------------------------------------------------------------------------- tick

    async def tick(self) -> int:
        """One scheduling pass: heartbeat, recovery, capacity, claim. Returns how many tasks it claimed."""
        now = self.clock.now()
        self._claimed_last_tick = 0
        held = [t for t, c in self.live.items() if not c.finishing]
        if held:
            kept = await self._db(lambda s: leases.renew(s, owner=self.opt.owner, task_ids=held, now=now,
                                                          lease_s=self._lease_s))
            ended = sum(1 for t in held if t not in self.live or self.live[t].finishing)  # meanwhile
            if kept < len(held) - ended:
                log.warning("engine %s: %d of %d lease(s) no longer held (recovered by another engine?)",
                            self.opt.owner, len(held) - kept, len(held))
        if self._draining:
            await self._summary()
            return 0
        await self._recover(now)
        # Per-campaign room only (each campaign's cap across every engine): capacity() would also share
        # our global cap out by priority up front, giving every slot to a campaign with nothing due.
        # claim_due fills campaigns in priority order up to `limit`, which carries the global cap.
        free = await self._db(lambda s: leases.capacity(s, self.opt.owner, 1 << 30, now=now))
        if self.opt.campaign_ids:
            free = {cid: n for cid, n in free.items() if cid in self.opt.campaign_ids}
        room = self.opt.max_calls - len(self.live)
        paced = self._paced()
        limit = min(room, sum(free.values()), paced)
        claimed: list[leases.Claimed] = []
        if limit > 0:
            claimed = await self._db(lambda s: leases.claim_due(
                s, owner=self.opt.owner, now=now, limit=limit, lease_s=self._lease_s, per_campaign=free))
        if claimed:
            configs = await self._configs({c.campaign_id for c in claimed})
            for c in claimed:
                cfg = configs.get(c.campaign_id)
                live = LiveCall(c.task_id, c.campaign_id)
                self.live[c.task_id] = live
                live.task = asyncio.create_task(self._call(c, cfg, live), name=f"task-{c.task_id}")
        self._claimed_last_tick = len(claimed)
        self._tokens -= len(claimed)
        # Pacing held calls back (maybe more is due): the next tick comes as soon as it allows.
        self._paced_out = bool(claimed) and len(claimed) == paced < min(room, sum(free.values()))
        await self._summary()
        return len(claimed)

    def _paced(self) -> int:
        """How many calls pacing allows now (a token bucket of ``dials_per_s``, burst of one second)."""
        if self.opt.dials_per_s <= 0:
            return 1 << 30
        now = time.monotonic()
        burst = max(1.0, self.opt.dials_per_s)
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * self.opt.dials_per_s)
        self._tokens_at = now
        return int(self._tokens)

    @property
    def _lease_s(self) -> float:
        return self.clock.clock_seconds(self.opt.lease_real_s)

    async def _recover(self, now: datetime) -> None:
        host = self.opt.asterisk_host
        orphans = await self._db(lambda s: dialling.orphaned_channels(s, now=now, asterisk_host=host))
        for channel in orphans:
            # The engine that placed it died: a real patient would be left listening to silence.
            with contextlib.suppress(Exception):
                if await self.client.hangup(channel):
                    self.stats.orphans_hung_up += 1
                    log.info("engine %s: hung up %s, left by a lost engine", self.opt.owner, channel)
        await self._db(lambda s: dialling.close_lost_attempts(s, now=now))
        n = await self._db(lambda s: leases.recover_expired(s, now=now))
        if n:
            self.stats.recovered += n
            log.warning("engine %s: recovered %d task(s) whose lease expired", self.opt.owner, n)

    async def _configs(self, ids: set[int]) -> dict[int, CampaignConfig]:
        def load(s: Session) -> dict[int, Any]:
            rows = s.scalars(select(Campaign).where(Campaign.id.in_(ids))).all()
            return {c.id: (c.name, c.status, c.flow_id, c.language, c.timezone, dict(c.calling_windows or {}),
                           c.retry_policy) for c in rows}

        out: dict[int, CampaignConfig] = {}
        for cid, (name, status, flow_id, language, tz, windows, policy) in (await self._db(load)).items():
            try:
                out[cid] = CampaignConfig(cid, name, status, flow_id, language, tz,
                                          CallingWindows.from_json(windows, tz),
                                          RetryPolicy.from_json(policy or None))
            except ValueError as exc:
                await self._pause(cid, f"campaign settings invalid: {exc}")
        return out

    # ---------------------------------------------------------------------------------------- a call

    async def _call(self, claimed: leases.Claimed, cfg: CampaignConfig | None, live: LiveCall) -> None:
        task_id = claimed.task_id
        dial: Dial | None = None
        try:
            if cfg is None:
                await self._release(task_id, "campaign settings invalid")
                return
            facts = await self._db(lambda s: dialling.load_dial_facts(s, task_id))
            if facts.status != "leased" or facts.lease_owner != self.opt.owner:
                log.warning("engine %s: task %d no longer leased to us (%s)", self.opt.owner, task_id, facts.status)
                return
            if facts.campaign_status != "running":
                await self._release(task_id, f"campaign {facts.campaign_status}")
                return
            phone = facts.patient.phone
            if facts.patient.deceased:
                await self._skip(facts, cfg, "cancelled", reason="patient deceased")
                return
            if await self._db(lambda s: is_do_not_call(s, phone)):
                await self._skip(facts, cfg, "cancelled", reason="do-not-call", last_outcome="opt_out")
                return
            now = self.clock.now()
            if not cfg.windows.is_open(now):
                # Claimed inside the window, but it closed before we got here: never dial outside it.
                await self._skip(facts, cfg, "pending", reason="calling window closed",
                                 due_at=cfg.windows.next_open(now))
                return
            flow = self.res.flow(cfg.flow_id)
            lang = call_language(cfg.language, facts.patient.language, tuple(flow.languages), self.opt.default_lang)
            tz = ZoneInfo(cfg.timezone)
            local_now = now.astimezone(tz).replace(tzinfo=None)
            context = build_context(facts.patient, facts.visit, lang=lang, today=local_now.date(),
                                    hospital_name=self.opt.hospital.get("name", ""),
                                    hospital_name_en=self.opt.hospital.get("name_en", ""),
                                    hospital_phone=self.opt.hospital.get("phone", ""))
            prompts = await self.res.prompts(flow, lang, context)
            number = facts.attempts_made + 1
            ident = f"{self.opt.dial_tag}t{task_id}a{number}x{secrets.token_hex(3)}"
            call_id = f"call-{ident}"
            if self._draining:
                await self._release(task_id, "draining")
                return
            dial = await asyncio.to_thread(self.endpoints.prepare, phone, ident, number)
            started = self.clock.now()
            if not cfg.windows.is_open(started):
                await self._skip(facts, cfg, "pending", reason="calling window closed",
                                 due_at=cfg.windows.next_open(started))
                return
            try:
                attempt_id = await self._db(lambda s: leases.start_attempt(
                    s, owner=self.opt.owner, task_id=task_id, language=lang, flow_id=flow.id,
                    flow_version=str(flow.version), channel_id=call_id, asterisk_host=self.opt.asterisk_host,
                    started_at=started))
            except AttemptConflict as exc:
                log.warning("engine %s: task %d not dialled: %s", self.opt.owner, task_id, exc)
                return
            live.call_id = call_id
            live.dialled = True
            log.info("%s: dialling campaign=%d task=%d attempt=%d phone=%s", call_id, cfg.id, task_id, number,
                     mask_phone(phone))
            attempt_log = AttemptLog(self.sessions, attempt_id, facts.patient.id, phone)
            options = dataclasses.replace(self.opt.session, finish_task=False, timezone=cfg.timezone)
            session = self.call_factory(
                self.client, endpoint=dial.endpoint, flow=flow, lang=lang, context=context,
                recognizer=self.res.recognizer, prompts=prompts, now=local_now, log=attempt_log, options=options,
                pool=self.res.pool, call_id=call_id, recordings_dir=self.res.recordings_dir)
            report = await session.run()
            report.attempt_id = attempt_id
            live.finishing = True
            await self._finish(facts, cfg, number, attempt_id, report, phone)
        except Exception:
            log.exception("engine %s: task %d: call failed inside the engine", self.opt.owner, task_id)
            if not live.dialled:
                with contextlib.suppress(Exception):
                    await self._release(task_id, "engine error")
        finally:
            if dial is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.endpoints.done, dial)
            self.live.pop(task_id, None)
            self._wake.set()

    async def _finish(self, facts: dialling.DialFacts, cfg: CampaignConfig, number: int, attempt_id: int,
                      report: CallReport, phone: str) -> None:
        outcome = report.outcome
        now = self.clock.now()
        callback = None
        if report.callback_at:
            cb = datetime.fromisoformat(report.callback_at)
            callback = cb.replace(tzinfo=ZoneInfo(cfg.timezone)) if cb.tzinfo is None else cb
        key = retry_key(outcome)
        decision = decide(cfg.policy, outcome, attempts_made=number, max_attempts=facts.max_attempts,
                          retries_for_outcome=facts.retries.get(key, 0) if key else 0, now=now,
                          callback_at=callback, windows=cfg.windows)
        moved = await self._db(lambda s: leases.finish(
            s, task_id=facts.task_id, attempt_id=attempt_id, outcome=outcome, decision=decision,
            owner=self.opt.owner, ended_at=now,
            hangup_cause=str(report.hangup_cause) if report.hangup_cause is not None else None,
            recording_path=report.recording, callback_at=callback))
        if not moved:
            log.warning("%s: task %d was recovered meanwhile: outcome %s kept on the attempt only",
                        report.call_id, facts.task_id, outcome)
        if self.opt.post_call is not None:
            post_call = self.opt.post_call
            await asyncio.to_thread(post_call, attempt_id)  # never raises: logs when Redis is down
        if report.errors:
            log.warning("%s: %s", report.call_id, "; ".join(report.errors[:5]))
        self.stats.calls += 1
        self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        self.stats.reports.append((facts.task_id, number, report))
        self.tally.add(outcome, report.answered, [s.total_ms for s in report.latencies])
        tz = ZoneInfo(cfg.timezone)
        self._line(CallLine(at=now.astimezone(tz).isoformat(timespec="seconds"), campaign=cfg.id, task=facts.task_id,
                            attempt=number, phone=mask_phone(phone), outcome=outcome,
                            answers=sum(1 for v in report.answers.values() if v is not None),
                            next_status=decision.status if moved else "recovered",
                            due_at=(decision.due_at.astimezone(tz).isoformat(timespec="seconds")
                                    if decision.due_at else None),
                            reason=decision.reason, call_id=report.call_id, duration_s=report.duration_s))
        breaker = self._breakers.setdefault(cfg.id, CircuitBreaker(
            threshold=self.opt.breaker_threshold, min_calls=self.opt.breaker_min_calls,
            window_s=self.opt.breaker_window_s))
        at = now.timestamp()
        breaker.record(outcome != "failed", at)
        reason = breaker.tripped(at)
        if reason is not None:
            breaker.reset()
            await self._pause(cfg.id, f"circuit breaker: {reason}")

    async def _pause(self, campaign_id: int, reason: str) -> None:
        from dialer import campaigns

        try:
            await self._db(lambda s: campaigns.pause(s, campaign_id, reason=reason))
        except Exception:
            log.exception("engine %s: could not pause campaign %d", self.opt.owner, campaign_id)
            return
        self.stats.paused.append((campaign_id, reason))
        log.error("engine %s: campaign %d paused: %s", self.opt.owner, campaign_id, reason)
        payload = {"campaign": campaign_id, "reason": reason, "at": self.clock.now().isoformat(timespec="seconds")}
        self.emit(as_json("paused", payload) if self.opt.json else f"campaign {campaign_id} paused: {reason}")

    async def _release(self, task_id: int, why: str) -> None:
        await self._db(lambda s: leases.release(s, owner=self.opt.owner, task_ids=[task_id]))
        log.info("engine %s: task %d released (%s)", self.opt.owner, task_id, why)

    async def _skip(self, facts: dialling.DialFacts, cfg: CampaignConfig, status: str, *, reason: str,
                    due_at: datetime | None = None, last_outcome: str | None = None) -> None:
        if status == "pending" and due_at is None:
            await self._release(facts.task_id, reason)
            return
        done = await self._db(lambda s: dialling.skip_task(s, owner=self.opt.owner, task_id=facts.task_id,
                                                           status=status, due_at=due_at,
                                                           last_outcome=last_outcome))
        if not done:
            return
        self.stats.skipped[reason] = self.stats.skipped.get(reason, 0) + 1
        self.tally.skipped[reason] += 1
        payload = {"at": self.clock.now().isoformat(timespec="seconds"), "campaign": cfg.id,
                   "task": facts.task_id, "phone": mask_phone(facts.patient.phone), "reason": reason,
                   "next_status": status, "due_at": due_at.isoformat(timespec="seconds") if due_at else None}
        log.info("engine %s: task %d not dialled: %s → %s", self.opt.owner, facts.task_id, reason, status)
        if self.opt.json:
            self.emit(as_json("skip", payload))
        else:
            nxt = status + (f" {payload['due_at'][:16].replace('T', ' ')}" if due_at else "")
            self.emit(f"{payload['at'][11:19]} campaign {cfg.id} task {facts.task_id} {payload['phone']} "
                      f"not dialled: {reason} → {nxt}")

    # -------------------------------------------------------------------------------------- output

    def _line(self, line: CallLine) -> None:
        self.emit(as_json("call", line) if self.opt.json else call_text(line))

    async def _summary(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_summary < self.opt.summary_every_real_s:
            return
        self._last_summary = now
        tasks: dict[str, int] = {}
        with contextlib.suppress(Exception):
            tasks = await self._db(self._task_counts)
        facts = summary(self.tally, live=len(self.live), max_calls=self.opt.max_calls, now_real=now,
                        clock_now=self.clock.now().astimezone(ZoneInfo(self.opt.timezone)), pending=tasks)
        self.emit(as_json("summary", facts) if self.opt.json else summary_text(facts))

    # ------------------------------------------------------------------------------------- stopping

    async def _stop_calls(self) -> None:
        """Hang up whatever is still live (drain limit reached, or run() left early) and wait for the
        reports; cancel what does not end in time."""
        if not self.live:
            return
        calls = list(self.live.values())
        self.stats.hung_up_at_drain += sum(1 for c in calls if c.dialled)
        log.warning("engine %s: hanging up %d live call(s)", self.opt.owner, len(calls))
        for c in calls:
            if c.call_id is not None:
                with contextlib.suppress(Exception):
                    await self.client.hangup(c.call_id)
        tasks = [c.task for c in calls if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.opt.hangup_grace_real_s)
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    # ------------------------------------------------------------------------------------- helpers

    async def _db(self, fn: Callable[[Session], Any]) -> Any:
        def job() -> Any:
            with self.sessions() as s:
                return fn(s)

        return await asyncio.to_thread(job)


__all__ = ["CampaignConfig", "Engine", "EngineOptions", "EngineStats", "LiveCall"]
