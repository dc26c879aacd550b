"""Transcript full-text search for Chinese: SQLite FTS5 and PostgreSQL (issue #5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Turns are indexed as dictionary-free tokens: word runs whole, CJK runs as overlapping character bigrams
plus the run's last character (models/search_text.py, docs/search.md).

- SQLite: an FTS5 table ``turns_fts`` (rowid = turns.id) holding each turn's tokens, kept in step by
  triggers on ``turns``. The triggers call ``followup_search_tokens(text)``, an application function
  registered on every connection by ``models.db.make_engine`` (so a connection without it, e.g. the
  sqlite3 shell, cannot write turns at all rather than silently leaving the index behind). The FTS5 table
  stores its tokens (not contentless): SQLite 3.40 has no ``contentless_delete``, and a stored copy lets
  a delete remove exactly what was indexed even if the tokeniser changes later.
- PostgreSQL: ``turns.search_tsv``, a STORED generated tsvector column computed by the SQL function
  ``followup_search_tsv(text)`` (the twin of models.search_text.tokens, positions included, so phrase
  queries work), with a GIN index. Generated, so it can never be out of step; no triggers needed.
  Not pg_trgm: a trigram index cannot serve the two-character Chinese words most searches are.

None of this is in the SQLAlchemy models; env.py leaves it out of the drift comparison
(``models.search.is_search_structure``). A later SQLite batch migration that rebuilds ``turns`` drops
the triggers with the old table: it must call ``create_sqlite_triggers()`` again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same classes as models.search_text (CJK_CLASS, WORD_CLASS), frozen here.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = r"0-9a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"

PG_FUNCTION = f"""
CREATE FUNCTION followup_search_tsv(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT coalesce(string_agg('''' || t.token || ''':' || least(t.pos, 16383), ' ')::tsvector, ''::tsvector)
FROM (
    SELECT g.token, row_number() OVER (ORDER BY r.n, g.i) AS pos
    FROM regexp_matches(
        translate(normalize(body, NFKC), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
        '[{_CJK}]+|[{_WORD}]+',
        'g'
    ) WITH ORDINALITY AS r(m, n)
    CROSS JOIN LATERAL (
        SELECT i, CASE WHEN r.m[1] ~ '^[{_WORD}]' THEN r.m[1] ELSE substr(r.m[1], i, 2) END AS token
        FROM generate_series(1, CASE WHEN r.m[1] ~ '^[{_WORD}]' THEN 1 ELSE char_length(r.m[1]) END) AS i
    ) AS g
) AS t
$fn$
"""
# Tokens hold only letters, digits and CJK characters, so quoting them in the tsvector literal is exact.
# Positions above 16383 (PostgreSQL's limit) share the last one; turns are far shorter.

SQLITE_TRIGGERS = (
    """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts(rowid, tokens) VALUES (new.id, followup_search_tokens(new.text));
    END""",
    """CREATE TRIGGER turns_fts_update AFTER UPDATE OF id, text ON turns BEGIN
        DELETE FROM turns_fts WHERE rowid = old.id;
        INSERT INTO turns_fts(rowid, tokens) VALUES (new.id, followup_search_tokens(new.text));
    END""",
    """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
        DELETE FROM turns_fts WHERE rowid = old.id;
    END""",
)


def _register_sqlite_function() -> None:
    # make_engine registers it already; this covers an engine made some other way (alembic -x url=...).
    from models.search import register_sqlite_functions

    register_sqlite_functions(op.get_bind().connection.driver_connection)


def create_sqlite_triggers() -> None:
    """(Re)create the triggers that keep ``turns_fts`` in step with ``turns``."""
    for name in ("turns_fts_insert", "turns_fts_update", "turns_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _register_sqlite_function()
        # ascii tokenizer: splits on ASCII punctuation/space only, so the stored tokens come back as is.
        op.execute("CREATE VIRTUAL TABLE turns_fts USING fts5(tokens, tokenize = 'ascii', columnsize = 0)")
        op.execute("INSERT INTO turns_fts(rowid, tokens) SELECT id, followup_search_tokens(text) FROM turns")
        create_sqlite_triggers()
    elif dialect == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "ALTER TABLE turns ADD COLUMN search_tsv tsvector "
            "GENERATED ALWAYS AS (followup_search_tsv(text)) STORED"
        )  # computes the existing rows too (a table rewrite)
        op.execute("CREATE INDEX ix_turns_search_tsv ON turns USING gin (search_tsv)")
    else:
        raise NotImplementedError(f"transcript search is not implemented for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("turns_fts_insert", "turns_fts_update", "turns_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS turns_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_turns_search_tsv")
        op.execute("ALTER TABLE turns DROP COLUMN IF EXISTS search_tsv")
        op.execute("DROP FUNCTION IF EXISTS followup_search_tsv(text)")
