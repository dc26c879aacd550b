"""Campaigns (a flow called for a set of patients within calling windows) and their call tasks.

A call task is one patient (and usually one visit) to be reached by one campaign. Dialers claim due tasks
by lease: ``pending`` → ``leased`` (``lease_owner``/``lease_expires_at`` set) → ``in_progress`` while an
attempt is live → back to ``pending`` with a new ``due_at`` (retry or call-back) or to a final state
``done``/``failed``/``cancelled``. The ``(status, due_at)`` index serves the claim query.

JSON shapes (validated by whoever writes them; stored as given):

- ``calling_windows``: weekday → list of ``["HH:MM", "HH:MM"]`` local-time windows, in the campaign's
  ``timezone``; a missing weekday means no calls that day::

      {"mon": [["09:00", "11:30"], ["14:00", "17:30"]], ..., "sat": [["09:00", "11:30"]]}

- ``retry_policy``: unreached outcome → ``{"max": n, "intervals_min": [minutes, ...]}`` (cf. rq's
  ``Retry(max, interval=[...])``), e.g. ``{"busy": {"max": 3, "intervals_min": [10, 30, 120]}}``.
- ``days_after_discharge``: offsets that create tasks, e.g. ``[3, 30]`` for day 3 and day 30.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamps, one_of
from models.vocab import ATTEMPT_OUTCOMES, CAMPAIGN_STATUSES, LANGUAGES, TASK_STATUSES, VISIT_KINDS

if TYPE_CHECKING:
    from models.calls import CallAttempt
    from models.patients import Patient, Visit
    from models.users import User

DEFAULT_TIMEZONE = "Asia/Shanghai"


class Campaign(Timestamps, Base):
    """A follow-up campaign: which flow, for whom, when calls may be placed, and how hard to retry."""

    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("status", CAMPAIGN_STATUSES),
        one_of("language", LANGUAGES),
        one_of("visit_kind", VISIT_KINDS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    flow_id: Mapped[str] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(2))  # NULL: each patient's own language
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft", index=True)
    # Why the status last changed ("paused by the circuit breaker: 8 of 10 calls failed in 300 s").
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    calling_windows: Mapped[dict[str, Any]] = mapped_column(default=dict)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    max_concurrent_calls: Mapped[int] = mapped_column(default=1, server_default="1")
    priority: Mapped[int] = mapped_column(default=0, server_default="0")  # higher first
    max_attempts: Mapped[int] = mapped_column(default=3, server_default="3")  # default for new tasks
    retry_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    caller_id: Mapped[str | None] = mapped_column(String(32))
    days_after_discharge: Mapped[list[Any] | None]
    department: Mapped[str | None] = mapped_column(String(100))  # only visits of this department
    visit_kind: Mapped[str | None] = mapped_column(String(16))  # only visits of this kind
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship()
    call_tasks: Mapped[list[CallTask]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", passive_deletes=True
    )


class CallTask(Timestamps, Base):
    """One patient to reach for one campaign, with its lease and attempt counter."""

    __tablename__ = "call_tasks"
    __table_args__ = (
        one_of("status", TASK_STATUSES),
        one_of("last_outcome", ATTEMPT_OUTCOMES),
        Index(None, "status", "due_at"),
        Index(None, "campaign_id", "status", "priority", "due_at"),  # the claim query (models.leases)
        # An importer sets dedupe_key (e.g. "visit:<HIS id>:day3") so re-importing the same export cannot
        # queue a patient twice; NULL keys are not deduplicated.
        UniqueConstraint("campaign_id", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    due_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(default=0, server_default="0")  # higher first, within a campaign
    attempts_made: Mapped[int] = mapped_column(default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(default=3, server_default="3")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    callback_at: Mapped[datetime | None]  # the patient asked to be called back then
    # Retries used so far per outcome, {"busy": 2, "callback_requested": 1} (dialer.retry.retry_key).
    retries: Mapped[dict[str, Any] | None]

    campaign: Mapped[Campaign] = relationship(back_populates="call_tasks")
    patient: Mapped[Patient] = relationship(back_populates="call_tasks")
    visit: Mapped[Visit | None] = relationship()
    attempts: Mapped[list[CallAttempt]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CallAttempt.number",
    )
