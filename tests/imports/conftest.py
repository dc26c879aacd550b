"""Fixtures for the import tests: the data-model tests' databases (SQLite and PostgreSQL, see
tests/models/conftest.py) plus a session factory, a campaign maker and the bad-input files in data/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import models
from models import db
from tests.models.conftest import database_url, engine, pg_server, session  # noqa: F401 - fixtures

DATA = Path(__file__).parent / "data"


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:  # noqa: F811 - the fixture above
    """The session factory import_file takes."""
    return db.session_factory(engine)


@pytest.fixture
def make_campaign(factory: sessionmaker[Session]) -> Callable[..., int]:
    """Create a campaign; returns its id."""

    def make(**fields: object) -> int:
        values: dict[str, object] = {"name": "出院随访", "flow_id": "discharge_general"}
        values.update(fields)
        with factory() as s:
            campaign = models.Campaign(**values)
            s.add(campaign)
            s.commit()
            return campaign.id

    return make
