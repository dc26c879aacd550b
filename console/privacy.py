"""What each role may see of a patient: the quality role sees only the last 4 digits of a phone number."""

from __future__ import annotations

MASKED_ROLES: frozenset[str] = frozenset({"quality"})


def mask_phone(phone: str | None) -> str:
    """``+8613800138000`` → ``*********8000``: every character but the last four replaced by ``*``."""
    if not phone:
        return ""
    return "*" * max(len(phone) - 4, 0) + phone[-4:]


def phone_for(role: str, phone: str | None) -> str:
    """The phone number as ``role`` may see it."""
    return mask_phone(phone) if role in MASKED_ROLES else (phone or "")
