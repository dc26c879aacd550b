"""Transcript search text: how a turn is cut into index tokens, and how a query becomes a safe match.

Pure functions, no database: ``models.search`` turns a ``Query`` into SQLite FTS5 or PostgreSQL tsquery
syntax, and the migration 0005 indexes turns with exactly the tokens ``tokens()`` returns (SQLite calls
it through the SQL function ``followup_search_tokens``; PostgreSQL has a SQL twin, ``followup_search_tsv``,
whose output tests compare with this module's).

Theory of operation (docs/search.md has the why):

- Normalise: Unicode NFKC (full-width ``ＣＴ`` → ``CT``), then ASCII letters to lower case (only ASCII, so
  the PostgreSQL twin gives the same answer under any database locale).
- Cut into runs: a run of CJK characters (Han, kana) or a run of word characters (ASCII digits and
  letters, Latin-1/Latin Extended letters). Everything else separates runs.
- A word run is one token (``nurse``). A CJK run of n characters gives n tokens: its n-1 overlapping
  bigrams, then its last character alone (``护士态度`` → ``护士 士态 态度 度``). Every character thus starts
  exactly one token, which is what lets a one-character query be a prefix query.
- Tokens keep their order, so "this substring occurs" is "these tokens occur at consecutive positions":
  a phrase query. ``态度`` → the token ``态度``; ``护士态度`` → phrase ``护士 士态 态度``; ``态`` → prefix
  ``态*``. No dictionary, no segmenter: any substring of a Chinese run is found.

Queries are untrusted. The raw string never reaches the database: it is cut into the same tokens (which
contain only letters, digits and CJK characters, so no quote, operator or column filter survives) and the
match expression is rebuilt from them. Anything unusable raises ``ValueError`` with a message for people.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "MAX_PHRASE_TOKENS",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "Phrase",
    "Query",
    "highlight",
    "index_text",
    "normalise",
    "parse_query",
    "tokens",
]

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_PHRASE_TOKENS = 64

# Kept in step with the PostgreSQL twin in migrations/versions/0005_transcript_search.py.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_CLASS = "0-9a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_RUN = re.compile(f"[{CJK_CLASS}]+|[{WORD_CLASS}]+")
_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Quotes people type for a phrase: ASCII (also what NFKC makes of the full-width ＂) and Chinese “ ”.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u300c": '"', "\u300d": '"'})
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{CJK_CLASS}])\\s+(?=[{CJK_CLASS}])")


def normalise(text: str) -> str:
    """NFKC, then ASCII letters lower-cased: the form both the index and the queries are cut from."""
    return unicodedata.normalize("NFKC", text).translate(_ASCII_LOWER)


def _run_tokens(run: str) -> list[str]:
    if _CJK_RUN.fullmatch(run):
        return [run[i : i + 2] for i in range(len(run))]  # bigrams, and the last character alone
    return [run]


def tokens(text: str) -> list[str]:
    """The index tokens of ``text`` in order (``护士态度太差了`` → 护士 士态 态度 度太 太差 差了 了)."""
    out: list[str] = []
    for run in _RUN.findall(normalise(text)):
        out.extend(_run_tokens(run))
    return out


def index_text(text: str | None) -> str:
    """The tokens of ``text`` joined by spaces: the document SQLite's FTS5 table stores for a turn."""
    return " ".join(tokens(text)) if text else ""


@dataclass(frozen=True)
class Phrase:
    """Tokens that must occur at consecutive positions; ``prefix``: the last one is a prefix (``态*``).

    ``runs`` are the normalised runs the phrase came from (for highlighting).
    """

    tokens: tuple[str, ...]
    prefix: bool
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """A parsed search: every phrase must match (AND)."""

    phrases: tuple[Phrase, ...]

    def fts5(self) -> str:
        """The SQLite FTS5 MATCH expression. Tokens hold no ASCII punctuation, so quoting is exact."""
        parts = []
        for phrase in self.phrases:
            quoted = '"' + " ".join(phrase.tokens) + '"'
            parts.append(quoted + " *" if phrase.prefix else quoted)
        return " AND ".join(parts)

    def tsquery(self) -> str:
        """The PostgreSQL tsquery text (cast with ``::tsquery``, which does not re-parse the lexemes)."""
        parts = []
        for phrase in self.phrases:
            lexemes = [f"'{token}'" for token in phrase.tokens]
            if phrase.prefix:
                lexemes[-1] += ":*"
            parts.append("(" + " <-> ".join(lexemes) + ")")
        return " & ".join(parts)


def _phrase(text: str) -> Phrase | None:
    runs = _RUN.findall(text)
    if not runs:
        return None
    out: list[str] = []
    prefix = False
    for i, run in enumerate(runs):
        run_tokens = _run_tokens(run)
        if i == len(runs) - 1 and _CJK_RUN.fullmatch(run):
            if len(run) == 1:
                prefix = True  # one character: any token starting with it (it starts exactly one per place)
            else:
                # The text's run may go on after the query's last character: its bigrams, not the lone
                # last character (which the index has only at the end of a run).
                run_tokens = run_tokens[:-1]
        out.extend(run_tokens)
    if len(out) > MAX_PHRASE_TOKENS:
        raise ValueError(f"search term too long: at most {MAX_PHRASE_TOKENS} characters or words per term")
    return Phrase(tuple(out), prefix, tuple(runs))


def parse_query(query: object) -> Query:
    """Parse a search box entry: whitespace-separated terms, all required; ``"..."`` keeps a phrase together.

    A term is itself a phrase of its runs (``CT检查`` finds "CT检查" and "ct 检查", not "CT…检查").
    Operators (AND, OR, NEAR, ``*``, ``:``, parentheses) have no meaning: they are words or separators.
    Raises ValueError: not a string, empty, too long, an unbalanced quote, nothing searchable, too many
    terms.
    """
    if not isinstance(query, str):
        raise ValueError("search text must be a string")  # noqa: TRY004 - one error type for callers
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"search text too long: at most {MAX_QUERY_CHARS} characters")
    text = normalise(query).translate(_QUOTES)
    if not text.strip():
        raise ValueError("enter something to search for")
    if text.count('"') % 2:
        raise ValueError('unbalanced quote: close the phrase with another "')
    pieces: list[str] = []
    for i, chunk in enumerate(text.split('"')):
        if i % 2:  # inside quotes: one phrase; spaces between Chinese characters mean nothing there
            pieces.append(_SPACE_BETWEEN_CJK.sub("", chunk))
        else:
            pieces.extend(chunk.split())
    phrases: list[Phrase] = []
    for piece in pieces:
        phrase = _phrase(piece)
        if phrase is not None and phrase not in phrases:
            phrases.append(phrase)
    if not phrases:
        raise ValueError("nothing to search for: use words, numbers or Chinese characters")
    if len(phrases) > MAX_TERMS:
        raise ValueError(f"too many search terms: at most {MAX_TERMS}")
    return Query(tuple(phrases))


def _run_pattern(run: str) -> str:
    if _CJK_RUN.fullmatch(run):
        return re.escape(run)
    return f"(?<![{WORD_CLASS}]){re.escape(run)}(?![{WORD_CLASS}])"


def highlight(text: str, query: Query, *, width: int = 120) -> list[tuple[str, bool]]:
    """``text`` (cut to about ``width`` characters around the first match) as ``(piece, matched)`` parts.

    Cosmetic only: the database decides what matches. Matching runs on the normalised text and is mapped
    back to the original characters, so ``Nurse`` is marked for ``nurse``. Plain text parts: the caller
    escapes them for HTML.
    """
    norm_chars: list[str] = []
    origin: list[int] = []  # index in ``text`` of each normalised character
    for i, ch in enumerate(text):
        for n in normalise(ch):
            norm_chars.append(n)
            origin.append(i)
    norm = "".join(norm_chars)
    gap = f"[^{CJK_CLASS}{WORD_CLASS}]*"
    marked = [False] * len(text)
    for phrase in query.phrases:
        pattern = gap.join(_run_pattern(run) for run in phrase.runs)
        for m in re.finditer(pattern, norm):
            if m.end() > m.start():
                for k in range(origin[m.start()], origin[m.end() - 1] + 1):
                    marked[k] = True
    start, end = 0, len(text)
    if len(text) > width:
        first = marked.index(True) if True in marked else 0
        start = max(0, first - width // 3)
        end = min(len(text), start + width)
    parts: list[tuple[str, bool]] = []
    for k in range(start, end):
        if parts and parts[-1][1] == marked[k]:
            parts[-1] = (parts[-1][0] + text[k], marked[k])
        else:
            parts.append((text[k], marked[k]))
    if start > 0:
        parts.insert(0, ("…", False))
    if end < len(text):
        parts.append(("…", False))
    return parts
