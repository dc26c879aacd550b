"""The audit trail: who viewed a call, played a recording, exported data, changed a campaign or a case.

``record`` adds an ``AuditLog`` row to the caller's session (the caller commits, so the entry and the
change it describes are committed together); ``record_now`` commits at once, for reads (views, plays,
exports) that write nothing else. Other modules (campaign pages, exports) call the same functions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.types import utcnow
from models.users import AuditLog, User

# The actions the console writes; the audit page offers them as a filter.
ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "logout",
    "view_call",
    "play_recording",
    "export_calls",
    "score_call",
    "tag_call",
    "untag_call",
    "take_sample",
    "review_sample",
    "view_escalation",
    "assign_escalation",
    "note_escalation",
    "categorize_escalation",
    "resolve_escalation",
    "change_campaign",
    "export_answers",
    "export_dashboard",
    "add_do_not_call",
    "remove_do_not_call",
)


def record(
    db: Session,
    user: User | None,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit entry to ``db`` (not committed)."""
    entry = AuditLog(
        user_id=user.id if user is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail,
        at=utcnow(),
    )
    db.add(entry)
    return entry


def record_now(
    db: Session,
    user: User | None,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit entry and commit it."""
    entry = record(db, user, action, object_type, object_id, detail)
    db.commit()
    return entry
