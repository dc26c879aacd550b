"""Console accounts: ``followup users create`` and its checks."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from console_helpers import Env
from sqlalchemy import select

from console import accounts, security
from followup.cli import main as cli_main
from models import vocab
from models.db import make_engine, session_factory
from models.users import User


def test_roles_match_the_vocabulary() -> None:
    assert accounts.ROLES == vocab.USER_ROLES


def test_create_user_validates(env: Env) -> None:
    with env.sessions() as s:
        user = accounts.create_user(s, "zhou.qa", "quality", "long-enough-1", department="质控科")
        assert user.password_hash.startswith("$argon2id$") and "long-enough-1" not in user.password_hash
        assert security.verify_password(user.password_hash, "long-enough-1")
        for args, message in [
            (("zhou.qa", "quality", "long-enough-1"), "already exists"),
            (("new", "root", "long-enough-1"), "role"),
            (("has space", "agent", "long-enough-1"), "username"),
            (("short", "agent", "1234567"), "at least 8"),
        ]:
            with pytest.raises(ValueError, match=message):
                accounts.create_user(s, *args)
        with pytest.raises(ValueError, match="PJSIP"):
            accounts.create_user(s, "a2", "agent", "long-enough-1", sip_endpoint="agent101")


def test_cli_creates_a_user_reading_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setattr(sys, "stdin", io.StringIO("agent-password-1\n"))
    code = cli_main(
        ["users", "create", "wu.agent", "--role", "agent", "--password-stdin", "--department", "心内科",
         "--sip-endpoint", "PJSIP/agent7", "--url", url]
    )
    assert code == 0 and "created agent 'wu.agent'" in capsys.readouterr().out
    engine = make_engine(url)
    with session_factory(engine)() as s:
        user = s.scalars(select(User)).one()
    engine.dispose()
    assert (user.role, user.department, user.sip_endpoint) == ("agent", "心内科", "PJSIP/agent7")
    assert security.verify_password(user.password_hash, "agent-password-1")
    monkeypatch.setattr(sys, "stdin", io.StringIO("agent-password-1\n"))
    assert cli_main(["users", "create", "wu.agent", "--role", "agent", "--password-stdin", "--url", url]) == 2
    assert "already exists" in capsys.readouterr().err
