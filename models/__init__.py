"""The data model: SQLAlchemy 2 tables, Alembic migrations and the persistence API of the call path.

Importing the package registers every table on ``Base.metadata`` (Alembic's env.py relies on it).
Timestamps are stored in UTC and always read back timezone-aware; see ``models.types``.
"""

from models.base import Base
from models.calls import Answer, CallAttempt, Turn
from models.campaigns import CallTask, Campaign
from models.console import CallTag, ConsoleSession, EscalationNote, QaScore
from models.do_not_call import DoNotCall
from models.escalations import Escalation
from models.patients import Patient, Visit
from models.qa import QaSample
from models.users import AuditLog, User
from models.webhooks import WebhookDelivery

__all__ = [
    "Answer",
    "AuditLog",
    "Base",
    "CallAttempt",
    "CallTag",
    "CallTask",
    "Campaign",
    "ConsoleSession",
    "DoNotCall",
    "Escalation",
    "EscalationNote",
    "Patient",
    "QaSample",
    "QaScore",
    "Turn",
    "User",
    "Visit",
    "WebhookDelivery",
]
