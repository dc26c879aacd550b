"""Patients and their hospital visits (门诊 outpatient, 住院 inpatient, 体检 check-up, surgery), as imported
from the HIS.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from models.base import Base, Timestamps, one_of
from models.vocab import GENDERS, LANGUAGES, VISIT_KINDS

if TYPE_CHECKING:
    from models.campaigns import CallTask
    from models.escalations import Escalation

# E.164: "+", country code, subscriber number, at most 15 digits in all (mainland mobile: +861xxxxxxxxxx).
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def check_e164(phone: str) -> str:
    """Return ``phone`` if it is an E.164 number, else raise ValueError (normalise before storing)."""
    if not E164.match(phone):
        raise ValueError("phone number must be E.164, e.g. +8613800138000")
    return phone


class Patient(Timestamps, Base):
    """A person the hospital may call. ``phone`` is E.164; ``phone_hash`` is a keyed hash of it for logs
    and joins that must not carry the number itself (computed by the importer; the key is a setting)."""

    __tablename__ = "patients"
    __table_args__ = (one_of("gender", GENDERS), one_of("language", LANGUAGES))

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # HIS patient id
    name: Mapped[str] = mapped_column(String(100))
    salutation: Mapped[str | None] = mapped_column(String(32))  # 先生 / 女士 / 阿姨 / Mr / Ms, as spoken
    gender: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    birth_year: Mapped[int | None]
    phone: Mapped[str] = mapped_column(String(16), index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(2), default="zh", server_default="zh")
    deceased: Mapped[bool] = mapped_column(default=False, server_default=false())  # never call
    notes: Mapped[str | None] = mapped_column(Text)

    visits: Mapped[list[Visit]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    call_tasks: Mapped[list[CallTask]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    escalations: Mapped[list[Escalation]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("phone")
    def _check_phone(self, _key: str, phone: str) -> str:
        return check_e164(phone)

    def age(self, today: date) -> int | None:
        """Age in years reached during ``today``'s year (the HIS often gives only a birth year)."""
        return None if self.birth_year is None else today.year - self.birth_year


class Visit(Timestamps, Base):
    """One encounter: the thing a follow-up call asks about (department, doctor, ward, discharge date)."""

    __tablename__ = "visits"
    __table_args__ = (
        one_of("kind", VISIT_KINDS),
        Index(None, "discharge_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # HIS visit/admission id
    kind: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(100))
    doctor: Mapped[str | None] = mapped_column(String(100))
    ward: Mapped[str | None] = mapped_column(String(100))
    diagnosis: Mapped[str | None] = mapped_column(Text)
    procedure: Mapped[str | None] = mapped_column(Text)
    visit_date: Mapped[date]  # outpatient visit or admission date
    discharge_date: Mapped[date | None]

    patient: Mapped[Patient] = relationship(back_populates="visits")
