"""The closed vocabularies stored in text columns, in one place.

Each tuple becomes a CHECK constraint on its column (see ``models.base.one_of``) instead of a native
PostgreSQL ENUM: a CHECK is the same on SQLite and PostgreSQL, and widening it later is a plain
drop/create in a migration rather than an ``ALTER TYPE`` that cannot run inside a transaction.
Changing a tuple therefore needs a migration; ``tests/models/test_migrations.py`` compares the CHECK
constraints in the database with these tuples so a forgotten migration fails the tests.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("zh", "en")

GENDERS: tuple[str, ...] = ("male", "female", "unknown")

VISIT_KINDS: tuple[str, ...] = ("outpatient", "inpatient", "checkup", "surgery")

CAMPAIGN_STATUSES: tuple[str, ...] = ("draft", "running", "paused", "finished")

TASK_STATUSES: tuple[str, ...] = ("pending", "leased", "in_progress", "done", "failed", "cancelled")

# How one attempt ended: the dialer's unreached outcomes plus dialog.actions.OUTCOMES (a test checks that
# every dialog outcome is storable).
ATTEMPT_OUTCOMES: tuple[str, ...] = (
    "answered",  # answered, still in progress or ended without a dialog outcome
    "completed",
    "partial",
    "busy",
    "no_answer",
    "failed",
    "voicemail",
    "hung_up",
    "wrong_person",
    "opt_out",
    "callback_requested",
    "escalated",
    "transferred",
)

SPEAKERS: tuple[str, ...] = ("bot", "patient", "agent")

TURN_SOURCES: tuple[str, ...] = ("speech", "dtmf", "tts")

ANSWER_STATUSES: tuple[str, ...] = ("answered", "unsure", "skipped")

ANSWER_SOURCES: tuple[str, ...] = ("speech", "dtmf")

# Who gave an answer: the patient, or a family member answering for them (dialog.actions.CaptureAnswer).
RESPONDENTS: tuple[str, ...] = ("patient", "family")

# Same kinds as dialog.actions.Escalate.
ESCALATION_KINDS: tuple[str, ...] = (
    "complaint",
    "praise",
    "suggestion",
    "alarm",
    "request_human",
    "clinical",
    "no_answer",
)

ESCALATION_STATUSES: tuple[str, ...] = ("open", "assigned", "resolved")

USER_ROLES: tuple[str, ...] = ("admin", "supervisor", "agent", "quality")

# Delivery of a call's answers to the hospital's webhook (models.webhooks.WebhookDelivery).
WEBHOOK_STATUSES: tuple[str, ...] = ("pending", "retrying", "delivered", "failed")
