"""Picking completed calls for second-level review (二级回访): a random share per department.

Each completed call is drawn on its own with probability ``rate``, so every department's share tends to
``rate`` whatever its volume. With a seed the draw is a keyed hash of the attempt id — the same seed picks
the same calls on every run and every worker (reproducible tests, and a re-run post-call job decides the
same way); without one it is ``secrets``-random, so nobody can predict which calls get reviewed.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.qa import QaSample

# Calls the flow brought to one of its ends; partial and unreached calls are not reviewed.
SAMPLED_OUTCOMES: tuple[str, ...] = ("completed", "escalated", "transferred")


def draw(seed: str, attempt_id: int) -> float:
    """A number in [0, 1): a hash of (seed, attempt id) when seeded, else random."""
    if not seed:
        return secrets.randbits(53) / 2**53
    digest = hashlib.sha256(f"{seed}:{attempt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_rate(rate: float) -> float:
    """``rate`` if it is a share in [0, 1], else ValueError naming the setting."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"FOLLOWUP_QA_SAMPLE_RATE must be between 0 and 1, got {rate}")
    return rate


def assign(
    session: Session, attempt_id: int, outcome: str | None, department: str | None, *, rate: float, seed: str
) -> QaSample | None:
    """Sample the attempt when it is completed and the draw falls under ``rate``; returns the sample (the
    existing one when the attempt was sampled before) or None. Commits."""
    existing = session.scalars(select(QaSample).where(QaSample.attempt_id == attempt_id)).first()
    if existing is not None:
        return existing
    if outcome not in SAMPLED_OUTCOMES or draw(seed, attempt_id) >= check_rate(rate):
        return None
    sample = QaSample(attempt_id=attempt_id, department=department, reason="random")
    session.add(sample)
    try:
        session.commit()
    except IntegrityError:  # another worker sampled it a moment ago
        session.rollback()
        return session.scalars(select(QaSample).where(QaSample.attempt_id == attempt_id)).one()
    return sample
