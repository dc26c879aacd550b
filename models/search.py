"""Transcript full-text search for the console: ``search_turns(session, "护士态度", ...)``.

Works on SQLite (FTS5 table ``turns_fts``) and PostgreSQL (generated tsvector ``turns.search_tsv`` with
a GIN index), both built by migration 0005 from the dictionary-free tokens of ``models.search_text``:
searching 态度 finds 护士态度太差了, English is case-insensitive, several terms must all match, a quoted
"phrase" must match as a whole.

Results come newest first by turn id (turns are written as they are spoken, so a larger id is a later
turn; ordering by the index's own key lets both backends stop after one page instead of sorting every
match). ``total`` is exact up to ``COUNT_CAP`` matches, after which it says "more than".

The query string is untrusted: bad input raises ``ValueError`` (the console answers 4xx); the raw text
never reaches SQL (see ``models.search_text``), and filters go in as bound parameters.
"""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, cast, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models.calls import CallAttempt, Turn
from models.campaigns import CallTask, Campaign
from models.patients import Visit
from models.search_text import Query, highlight, index_text, parse_query
from models.vocab import ATTEMPT_OUTCOMES, SPEAKERS

__all__ = [
    "COUNT_CAP",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Hit",
    "SearchResult",
    "attempts_matching",
    "is_search_structure",
    "register_sqlite_functions",
    "search_turns",
]

# Counting stops here ("more than 500"). PostgreSQL also picks its plan by it: up to this many matches,
# taking them all and sorting is cheap; beyond it, a newest-first walk finds a page sooner than counting
# further would take (a few hundred is plenty for a person paging through results).
COUNT_CAP = 500
MAX_LIMIT = 200
MAX_OFFSET = 10_000  # deeper pages cost a scan each; narrow the search instead
PG_FIRST_WINDOW = 20_000  # newest turns searched first on PostgreSQL when there are many matches

SQLITE_FTS_TABLE = "turns_fts"
PG_COLUMN = "search_tsv"
PG_INDEX = "ix_turns_search_tsv"


@dataclass(frozen=True)
class Hit:
    """One matching turn. ``snippet``: ``(text, matched)`` parts of the turn's text (plain text)."""

    turn_id: int
    attempt_id: int
    seq: int
    speaker: str
    text: str
    started_at: datetime
    snippet: tuple[tuple[str, bool], ...]

    @property
    def snippet_html(self) -> str:
        """The snippet as HTML: parts escaped, matches in ``<mark>``."""
        return "".join(
            f"<mark>{html.escape(part)}</mark>" if matched else html.escape(part)
            for part, matched in self.snippet
        )


@dataclass(frozen=True)
class SearchResult:
    """One page of hits, newest first. ``total``: matches counted, exact unless ``total_exact`` is False
    (then there are more than ``total``). ``has_more``: a next page exists."""

    hits: tuple[Hit, ...]
    total: int
    total_exact: bool
    has_more: bool
    limit: int
    offset: int


def register_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Register ``followup_search_tokens(text)``, which the FTS triggers of migration 0005 call."""
    dbapi_connection.create_function("followup_search_tokens", 1, index_text, deterministic=True)


def is_search_structure(name: str | None, type_: str, table_name: str | None = None) -> bool:
    """Whether a reflected schema object belongs to transcript search (created by migration 0005 in raw
    SQL, not declared in the models): the model/migration drift check leaves these out."""
    if name is None:
        return False
    if type_ == "table":
        return name == SQLITE_FTS_TABLE or name.startswith(SQLITE_FTS_TABLE + "_")  # FTS5 shadow tables
    if type_ == "column":
        return table_name == "turns" and name == PG_COLUMN
    if type_ == "index":
        return name == PG_INDEX
    return False


def _check_text(name: str, value: object, max_len: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty text of at most {max_len} characters")
    return value


def _bound(name: str, value: date | datetime, tz: tzinfo, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"{name}: give a timezone-aware time")
        return value
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value  # date_to includes its whole day
        return datetime.combine(day, time(), tzinfo=tz)
    raise ValueError(f"{name} must be a date or a datetime")


def search_turns(
    session: Session,
    query: str,
    *,
    campaign_id: int | None = None,
    speaker: str | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    outcome: str | None = None,
    department: str | None = None,
    limit: int = 50,
    offset: int = 0,
    tz: tzinfo = UTC,
) -> SearchResult:
    """Turns whose text matches ``query``, newest first, one page of ``limit`` from ``offset``.

    Filters: the attempt's campaign, outcome and start time (``date_from`` inclusive; ``date_to``: a date
    includes that whole day, a datetime is an exclusive bound; dates are days in ``tz``), the turn's
    speaker (bot/patient/agent), the department (the visit's, else the campaign's). Raises ValueError for an unusable query or
    filter, with a message meant for the person who typed it.
    """
    parsed = parse_query(query)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be between 0 and {MAX_OFFSET}")
    if speaker is not None and speaker not in SPEAKERS:
        raise ValueError(f"speaker must be one of {', '.join(SPEAKERS)}")
    if outcome is not None and outcome not in ATTEMPT_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(ATTEMPT_OUTCOMES)}")
    if campaign_id is not None and (
        isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or not 1 <= campaign_id < 2**63
    ):
        raise ValueError("campaign must be a positive whole number")
    if department is not None:
        _check_text("department", department, 100)
    start = _bound("date_from", date_from, tz, end=False) if date_from is not None else None
    stop = _bound("date_to", date_to, tz, end=True) if date_to is not None else None

    dialect = session.get_bind().dialect.name

    def attempt_filters(stmt: Any) -> Any:
        """``stmt`` (with call_attempts) joined to what the attempt-level filters need, with them."""
        if campaign_id is not None or department is not None:
            stmt = stmt.join(CallTask, CallTask.id == CallAttempt.task_id)
        if department is not None:  # the visit's department, else the campaign's (as the console's call list)
            stmt = (
                stmt.join(Campaign, Campaign.id == CallTask.campaign_id)
                .outerjoin(Visit, Visit.id == CallTask.visit_id)
                .where(func.coalesce(Visit.department, Campaign.department) == department)
            )
        if campaign_id is not None:
            stmt = stmt.where(CallTask.campaign_id == campaign_id)
        if outcome is not None:
            stmt = stmt.where(CallAttempt.outcome == outcome)
        if start is not None:
            stmt = stmt.where(CallAttempt.started_at >= start)
        if stop is not None:
            stmt = stmt.where(CallAttempt.started_at < stop)
        return stmt

    def filtered(stmt: Any) -> Any:
        """``stmt`` (turns) with every filter."""
        stmt = attempt_filters(stmt.join(CallAttempt, CallAttempt.id == Turn.attempt_id))
        return stmt.where(Turn.speaker == speaker) if speaker is not None else stmt

    def count(stmt: Any, key: Any, cap: int) -> int:
        """The number of matches, counting no further than ``cap + 1``."""
        matches = stmt.add_columns(key).limit(cap + 1).subquery()
        return int(session.scalar(select(func.count()).select_from(matches)) or 0)

    def page(stmt: Any, key: Any, *, paged: bool = True) -> list[Any]:
        """Rows of ``stmt`` newest first: one page plus one row (to know if there is more)."""
        stmt = stmt.add_columns(
            Turn.id, Turn.attempt_id, Turn.seq, Turn.speaker, Turn.text, CallAttempt.started_at
        ).order_by(key.desc())
        if paged:
            stmt = stmt.limit(limit + 1).offset(offset)
        return list(session.execute(stmt).all())

    def by_ids(ids: list[int]) -> list[Any]:
        """The rows of these turns, newest first."""
        if not ids:
            return []
        stmt = select().select_from(Turn).join(CallAttempt, CallAttempt.id == Turn.attempt_id)
        return page(stmt.where(Turn.id.in_(ids)), Turn.id, paged=False)

    key, match = _matching(dialect, parsed)
    stmt = filtered(match)
    if dialect == "postgresql":
        # PostgreSQL underestimates phrase/AND matches (it multiplies the bigrams' frequencies as if they
        # were independent; 按时 时吃 吃药 are not), and it estimates dates and departments as if unrelated
        # to turn ids: left alone it picks plans that visit most of the table. So the plan is chosen here.
        # First the ids of up to COUNT_CAP + 1 matches (any order; cheap on the GIN index). If that is
        # all of them: sort them and fetch the page by id. More, and a ``date_to`` (matches may all be
        # old): every match from the index, sorted. More otherwise: walk the turns newest first.
        ids = list(session.scalars(stmt.add_columns(key).limit(COUNT_CAP + 1)))
        total, exact = min(len(ids), COUNT_CAP), len(ids) <= COUNT_CAP
        if exact:
            rows = by_ids(sorted(ids, reverse=True)[offset : offset + limit + 1])
        elif stop is not None:
            rows = page(stmt, key + literal_column("0"))  # "+ 0": not the primary key's order, the index
        else:
            unfiltered = all(f is None for f in (campaign_id, department, outcome, start))
            newest = _newest_matches(
                session, parsed, speaker, None if unfiltered else attempt_filters, offset + limit + 1
            )
            rows = by_ids(newest[offset:])
    else:
        # FTS5 walks its index newest first and stops after one page; count only if there is more.
        rows = page(stmt, key)
        if offset == 0 and len(rows) <= limit:
            total, exact = len(rows), True
        else:
            counted = count(stmt, key, COUNT_CAP)
            total, exact = min(counted, COUNT_CAP), counted <= COUNT_CAP
    has_more = len(rows) > limit
    rows = rows[:limit]
    hits = tuple(
        Hit(
            turn_id=row.id,
            attempt_id=row.attempt_id,
            seq=row.seq,
            speaker=row.speaker,
            text=row.text,
            started_at=row.started_at,
            snippet=tuple(highlight(row.text, parsed)),
        )
        for row in rows
    )
    return SearchResult(hits, total, exact, has_more, limit, offset)


def _newest_matches(
    session: Session, parsed: Query, speaker: str | None, attempt_filters: Any | None, wanted: int
) -> list[int]:
    """PostgreSQL: the ids of the newest ``wanted`` matching turns, newest first. ``attempt_filters``:
    a function adding the attempt-level filters to a SELECT of call attempts (None: there are none).

    Walks the turns in id windows, newest first: the match (and speaker) alone on one window of turns, a
    plan the planner cannot get wrong (the primary key's range, the tsvector checked row by row); then the
    attempt filters on those candidates' attempts, by id. Windows double until enough are found or every
    turn was seen; the first is wide enough if the matches were spread evenly (there are more than
    COUNT_CAP of them).
    """
    _key, recent = _matching("postgresql", parsed, by_recency=True)
    if speaker is not None:
        recent = recent.where(Turn.speaker == speaker)
    newest = int(session.scalar(select(func.max(Turn.id))) or 0)
    window = max(PG_FIRST_WINDOW, wanted * newest // (COUNT_CAP + 1))
    found: list[int] = []
    high = newest
    while high > 0 and len(found) < wanted:
        low = high - window
        in_window = (
            recent.add_columns(Turn.id, Turn.attempt_id)
            .where(Turn.id > low, Turn.id <= high)
            .order_by(Turn.id.desc())
        )
        if attempt_filters is None:  # every candidate counts: stop as soon as there are enough
            found.extend(row.id for row in session.execute(in_window.limit(wanted - len(found))))
        else:
            candidates = session.execute(in_window).all()
            attempts = {row.attempt_id for row in candidates}
            passing = (
                set(
                    session.scalars(
                        attempt_filters(select(CallAttempt.id)).where(CallAttempt.id.in_(attempts))
                    )
                )
                if attempts
                else set()
            )
            found.extend(row.id for row in candidates if row.attempt_id in passing)
        high = low
        window *= 2
    return found[:wanted]


def attempts_matching(dialect: str, query: str) -> ColumnElement[bool]:
    """A condition on ``CallAttempt``: some turn of the attempt matches ``query`` (for a call list that
    filters by transcript, e.g. ``select(CallAttempt).where(attempts_matching("sqlite", "态度"))``).

    ``dialect``: ``session.get_bind().dialect.name``. Raises ValueError like ``search_turns``. It collects
    the attempts of every matching turn: fast for selective terms, slower for very common ones (护士).
    """
    _key, stmt = _matching(dialect, parse_query(query))
    return CallAttempt.id.in_(stmt.add_columns(Turn.attempt_id))


def _matching(dialect: str, parsed: Query, *, by_recency: bool = False) -> tuple[Any, Any]:
    """The ordering key and a SELECT (no columns yet) of the turns matching ``parsed``.

    ``by_recency`` (PostgreSQL): the match in a form the GIN index does not serve, so that with a range of
    ids the planner walks the primary key newest first (it would otherwise trust its low estimate, take
    every match from the index and sort them).
    """
    if dialect == "sqlite":
        fts = table(SQLITE_FTS_TABLE, column("rowid"))
        key = fts.c.rowid  # FTS5 walks its index in rowid order: ORDER BY rowid DESC LIMIT stops early
        stmt = (
            select()
            .select_from(fts)
            .join(Turn, Turn.id == fts.c.rowid)
            .where(text(f"{SQLITE_FTS_TABLE} MATCH :search_match").bindparams(search_match=parsed.fts5()))
        )
        return key, stmt
    if dialect == "postgresql":
        tsv = literal_column(f"turns.{PG_COLUMN}", TSVECTOR)
        if by_recency:
            tsv = func.coalesce(tsv, cast("", TSVECTOR))
        match = tsv.op("@@")(cast(bindparam("search_tsquery", parsed.tsquery()), TSQUERY))
        return Turn.id, select().select_from(Turn).where(match)
    raise NotImplementedError(f"transcript search is not implemented for {dialect}")
