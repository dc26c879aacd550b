"""What happened on the phone: call attempts, the turns spoken in them and the answers captured.

An attempt row is written *before* the dialer originates the call, so the ``(task_id, number)`` unique
constraint is the last guard against dialling the same attempt twice (two dialers, or one restarted
after a crash). Turns and answers are written as they happen, not at hang-up: a crash mid-call keeps
everything the patient said up to then.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, Timestamps, one_of
from models.types import BigId, utcnow
from models.vocab import (
    ANSWER_SOURCES,
    ANSWER_STATUSES,
    ATTEMPT_OUTCOMES,
    LANGUAGES,
    RESPONDENTS,
    SPEAKERS,
    TURN_SOURCES,
)

if TYPE_CHECKING:
    from models.campaigns import CallTask


class CallAttempt(Timestamps, Base):
    """One dial of a call task. ``number`` counts from 1 per task. Times are UTC; ``outcome`` is NULL while
    the call is live."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        UniqueConstraint("task_id", "number"),
        one_of("outcome", ATTEMPT_OUTCOMES),
        one_of("language", LANGUAGES),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("call_tasks.id", ondelete="CASCADE"))
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))  # Asterisk/Q.850 cause, as text
    channel_id: Mapped[str | None] = mapped_column(String(128), index=True)  # ARI channel id
    asterisk_host: Mapped[str | None] = mapped_column(String(255))
    recording_path: Mapped[str | None] = mapped_column(String(1024))
    language: Mapped[str | None] = mapped_column(String(2))
    flow_id: Mapped[str | None] = mapped_column(String(100))
    flow_version: Mapped[str | None] = mapped_column(String(64))

    task: Mapped[CallTask] = relationship(back_populates="attempts")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="attempt", cascade="all, delete-orphan", passive_deletes=True, order_by="Turn.seq"
    )
    answers: Mapped[list[Answer]] = relationship(
        back_populates="attempt", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(CreatedAt, Base):
    """One utterance in an attempt: what the bot said, or what the patient said/keyed as recognised.

    ``start_ms``/``end_ms`` are offsets into the attempt's recording, so QA can play a single turn.
    """

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("attempt_id", "seq"),
        one_of("speaker", SPEAKERS),
        one_of("source", TURN_SOURCES),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"))
    seq: Mapped[int]  # 1, 2, ... within the attempt
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None]
    start_ms: Mapped[int | None]
    end_ms: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(8))
    question_id: Mapped[str | None] = mapped_column(String(100))  # the question being asked/answered
    intent: Mapped[str | None] = mapped_column(String(64))  # global intent recognised, e.g. complaint
    prompt_key: Mapped[str | None] = mapped_column(String(200))  # bot turns: which prompt was played

    attempt: Mapped[CallAttempt] = relationship(back_populates="turns")


class Answer(Timestamps, Base):
    """The answer to one question in one attempt; answering again (a correction) updates the row.

    ``value`` is the typed value as JSON: bool, int, float, str (dates as ISO ``YYYY-MM-DD``), a dict
    (blood pressure ``{"systolic": 130, "diastolic": 85}``) or a list (multiple choice); NULL when
    ``status`` is unsure/skipped. ``value_text`` is a flat text rendering for search and export.
    ``respondent``: ``family`` when a relative answered for the patient.
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question_id"),
        one_of("status", ANSWER_STATUSES),
        one_of("source", ANSWER_SOURCES),
        one_of("respondent", RESPONDENTS),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempts.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(100), index=True)
    value: Mapped[Any | None]
    value_text: Mapped[str | None] = mapped_column(Text)
    raw_text: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(16), default="answered", server_default="answered")
    source: Mapped[str] = mapped_column(String(8), default="speech", server_default="speech")
    respondent: Mapped[str] = mapped_column(String(8), default="patient", server_default="patient")
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="SET NULL"))

    attempt: Mapped[CallAttempt] = relationship(back_populates="answers")
    turn: Mapped[Turn | None] = relationship()
