"""Console accounts from the command line: ``followup users create USERNAME --role ROLE``.

The password is read from stdin with ``--password-stdin`` (one line, for scripts) or prompted twice
without echo; it is never an argument (it would show in ``ps`` and the shell history).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: building the CLI parser must stay cheap
    from sqlalchemy.orm import Session

    from models.users import User

# The same tuple as models.vocab.USER_ROLES (a test keeps them equal); not imported, see above.
ROLES: tuple[str, ...] = ("admin", "supervisor", "agent", "quality")


def create_user(
    db: Session,
    username: str,
    role: str,
    password: str,
    *,
    display_name: str = "",
    department: str | None = None,
    sip_endpoint: str | None = None,
) -> User:
    """Create and commit a console user; ValueError for a bad role/username/password or a taken name."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from console.security import hash_password
    from models.users import User

    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise ValueError("username: 1-64 characters, no spaces")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if sip_endpoint is not None and "/" not in sip_endpoint:
        raise ValueError(f"sip endpoint {sip_endpoint!r}: expected TECH/resource, e.g. PJSIP/agent101")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        department=department,
        sip_endpoint=sip_endpoint,
    )
    db.add(user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ValueError(f"user {username!r} already exists") from None
    return user


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``followup users`` subcommands."""
    sub = parser.add_subparsers(dest="users_cmd", required=True)
    c = sub.add_parser("create", help="create a console account")
    c.add_argument("username")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    c.add_argument("--display-name", default="")
    c.add_argument("--department", help="escalations of this department go to this user's queue")
    c.add_argument("--sip-endpoint", help="where transfers ring this agent, e.g. PJSIP/agent101")
    c.add_argument("--url", help="SQLAlchemy URL (default: FOLLOWUP_DATABASE_URL or the embedded SQLite)")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def main(args: argparse.Namespace) -> int:
    """Run ``followup users create``."""
    from followup.config import get_settings
    from models.db import make_engine, session_factory, upgrade

    url = args.url or get_settings().resolved_database_url
    password = _read_password(args.password_stdin)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as db:
            user = create_user(
                db,
                args.username,
                args.role,
                password,
                display_name=args.display_name,
                department=args.department,
                sip_endpoint=args.sip_endpoint,
            )
            print(f"created {user.role} {user.username!r} (id {user.id})")
    finally:
        engine.dispose()
    return 0
