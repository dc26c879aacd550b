"""Transcript search (models.search) on SQLite FTS5 and PostgreSQL: matching, filters, pages, index upkeep,
untrusted queries, and the migration that builds the index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import models
from models import db, search, store
from models.search import search_turns
from models.search_text import tokens

if TYPE_CHECKING:
    from conftest import World

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def say(session: Session, world: World) -> Callable[..., models.Turn]:
    """Record a turn in a fresh attempt of the world's task (or ``attempt=``), started ``day`` days after T0."""

    def say(
        text_: str,
        *,
        speaker: str = "patient",
        day: int = 0,
        attempt: models.CallAttempt | None = None,
        task: models.CallTask | None = None,
        outcome: str | None = None,
    ) -> models.Turn:
        if attempt is None:
            attempt = store.create_attempt(session, task or world.task, started_at=T0 + timedelta(days=day))
            if outcome is not None:
                store.finish_attempt(session, attempt.id, outcome)
        return store.record_turn(session, attempt.id, speaker, text_)

    return say


def _ids(session: Session, query: str, **filters: object) -> list[int]:
    return [hit.turn_id for hit in search_turns(session, query, **filters).hits]


# --- matching -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("态度", True),  # the case: a two-character word inside a sentence
        ("护士态度", True),
        ("士态", True),  # any substring, no dictionary
        ("护士态度太差了", True),
        ("态", True),  # one character: prefix of the token it starts
        ("了", True),  # the last character of a run
        ("度太差", True),
        ("态度好", False),
        ("差护士", False),
        ("医生", False),
        ("“护士态度”", True),  # Chinese quotes make a phrase too
    ],
)
def test_chinese_substrings_are_found_without_a_dictionary(
    session: Session, say: Callable[..., models.Turn], query: str, found: bool
) -> None:
    turn = say("护士态度太差了，我要投诉")
    say("医院环境很好", speaker="bot")
    assert _ids(session, query) == ([turn.id] if found else [])


def test_english_is_case_insensitive_whole_words(session: Session, say: Callable[..., models.Turn]) -> None:
    rude = say("The NURSE was rude to my mother.")
    kind = say("the nurse was kind")
    assert _ids(session, "nurse") == [kind.id, rude.id]
    assert _ids(session, "Nurse RUDE") == [rude.id]
    assert _ids(session, "nurs") == []  # whole words, no stemming
    assert _ids(session, "ＮＵＲＳＥ rude") == [rude.id]  # full-width letters are normalised


def test_several_terms_must_all_match(session: Session, say: Callable[..., models.Turn]) -> None:
    both = say("护士态度太差了，等了两个小时")
    one = say("护士很好")
    assert _ids(session, "护士 小时") == [both.id]
    assert _ids(session, "护士") == [one.id, both.id]
    assert _ids(session, "护士 不存在") == []


def test_quoted_phrases_match_as_a_whole(session: Session, say: Callable[..., models.Turn]) -> None:
    phrase = say("My blood pressure is 140 over 90")
    apart = say("blood test, pressure fine")
    assert _ids(session, '"blood pressure"') == [phrase.id]
    assert _ids(session, "blood pressure") == [apart.id, phrase.id]
    assert _ids(session, '"pressure blood"') == []
    assert _ids(session, '"140 over 90"') == [phrase.id]


def test_mixed_scripts_numbers_and_punctuation(session: Session, say: Callable[..., models.Turn]) -> None:
    ct = say("昨天做了CT检查，体温37.5度")
    assert _ids(session, "ct检查") == [ct.id]
    assert _ids(session, "CT") == [ct.id]
    assert _ids(session, "37.5") == [ct.id]
    assert _ids(session, '"检查，体温"') == [ct.id]  # punctuation between runs is not part of the match
    assert _ids(session, "做了ct") == [ct.id]
    assert _ids(session, "了CT检") == [ct.id]  # runs of the query may start/end inside the text's runs
    assert _ids(session, '"检查 体温"') == []  # in quotes, spaces between Chinese mean nothing: 检查体温
    assert _ids(session, "查ct") == []


def test_hits_carry_the_attempt_time_and_a_safe_highlighted_snippet(
    session: Session, say: Callable[..., models.Turn]
) -> None:
    turn = say("<script>alert(1)</script> 护士态度太差了", day=3)
    (hit,) = search_turns(session, "态度 script").hits
    assert (hit.turn_id, hit.attempt_id, hit.speaker, hit.seq) == (turn.id, turn.attempt_id, "patient", 1)
    assert hit.started_at == T0 + timedelta(days=3)
    assert ("态度", True) in hit.snippet
    assert "<script>" not in hit.snippet_html
    assert "<mark>态度</mark>" in hit.snippet_html
    assert "&lt;<mark>script</mark>&gt;" in hit.snippet_html


# --- filters and pages ----------------------------------------------------------------------------------


@pytest.fixture(params=["few", "many"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test as is ("few" matches) and with COUNT_CAP 0, so every match is "many": on PostgreSQL
    the filters then go through the newest-first walk instead of the index-then-sort plan."""
    if request.param == "many":
        monkeypatch.setattr(search, "COUNT_CAP", 0)
        monkeypatch.setattr(search, "PG_FIRST_WINDOW", 2)
    return str(request.param)


def test_filters(
    session: Session,
    world: World,
    say: Callable[..., models.Turn],
    make_task: Callable[..., models.CallTask],
    plan: str,
) -> None:
    other_campaign = models.Campaign(name="体检回访", flow_id="checkup", created_by=world.user)
    ortho = models.Visit(
        patient=world.patient, kind="outpatient", department="骨科", visit_date=date(2026, 11, 2)
    )
    session.add_all([other_campaign, ortho])
    session.commit()
    a = say("态度不好", day=0, outcome="completed")
    b = say("态度不好", day=5, speaker="bot", task=make_task(campaign=other_campaign), outcome="escalated")
    c = say("态度不好", day=10, task=make_task(visit=ortho))
    assert _ids(session, "态度") == [c.id, b.id, a.id]
    assert _ids(session, "态度", speaker="bot") == [b.id]
    assert _ids(session, "态度", campaign_id=other_campaign.id) == [b.id]
    assert _ids(session, "态度", campaign_id=world.campaign.id) == [c.id, a.id]
    assert _ids(session, "态度", outcome="escalated") == [b.id]
    assert _ids(session, "态度", department="骨科") == [c.id]
    assert _ids(session, "态度", department="心内科") == [a.id]  # the world's task: its visit
    assert _ids(session, "态度", date_from=T0 + timedelta(days=1)) == [c.id, b.id]
    assert _ids(session, "态度", date_to=(T0 + timedelta(days=5)).date()) == [b.id, a.id]  # whole day
    assert _ids(session, "态度", date_to=T0 + timedelta(days=5)) == [a.id]  # an instant is exclusive
    assert _ids(session, "态度", date_from=date(2026, 11, 25), date_to=date(2026, 11, 25)) == [b.id]


def test_dates_are_days_in_the_given_timezone(session: Session, world: World, plan: str) -> None:
    late = store.create_attempt(session, world.task, started_at=datetime(2026, 11, 20, 20, 0, tzinfo=UTC))
    turn = store.record_turn(session, late.id, "patient", "头痛")  # 04:00 on 21 November in Shanghai
    day = date(2026, 11, 20)
    assert _ids(session, "头痛", date_from=day, date_to=day) == [turn.id]
    shanghai = ZoneInfo("Asia/Shanghai")
    assert _ids(session, "头痛", date_from=day, date_to=day, tz=shanghai) == []
    assert _ids(session, "头痛", date_from=date(2026, 11, 21), tz=shanghai) == [turn.id]


def test_pages_newest_first_with_totals(session: Session, say: Callable[..., models.Turn]) -> None:
    turns = [say(f"第{i}次：头痛好些了") for i in range(7)]
    say("完全不相关")
    newest_first = [t.id for t in reversed(turns)]
    first = search_turns(session, "头痛", limit=3)
    assert [h.turn_id for h in first.hits] == newest_first[:3]
    assert (first.total, first.total_exact, first.has_more) == (7, True, True)
    second = search_turns(session, "头痛", limit=3, offset=3)
    assert [h.turn_id for h in second.hits] == newest_first[3:6]
    last = search_turns(session, "头痛", limit=3, offset=6)
    assert [h.turn_id for h in last.hits] == newest_first[6:]
    assert (last.total, last.has_more) == (7, False)
    assert search_turns(session, "头痛", offset=50).hits == ()


CAP = 40  # search.COUNT_CAP in these tests, so that a few dozen turns exceed it


def test_total_is_capped(session: Session, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "COUNT_CAP", CAP)
    attempt = store.create_attempt(session, world.task)
    session.add_all(
        models.Turn(attempt_id=attempt.id, seq=i, speaker="patient", text="还好", source="speech")
        for i in range(1, CAP + 3)
    )
    session.commit()
    result = search_turns(session, "还好", limit=10)
    assert (result.total, result.total_exact, result.has_more) == (CAP, False, True)
    newest = session.scalars(select(models.Turn.id).order_by(models.Turn.id.desc())).all()
    assert [h.turn_id for h in result.hits] == newest[:10]


@pytest.mark.parametrize("first_window", [3, 10_000])
def test_many_matches_page_through_widening_windows(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch, first_window: int
) -> None:
    # PostgreSQL looks for a page of a frequent term among the newest turns first, widening the window
    # until it holds the page; the pages must be the same as with one window over everything.
    monkeypatch.setattr(search, "PG_FIRST_WINDOW", first_window)
    monkeypatch.setattr(search, "COUNT_CAP", CAP)
    attempt = store.create_attempt(session, world.task)
    texts = ["还好" if i % 3 else "不太好" for i in range(1, 6 * CAP)]
    session.add_all(
        models.Turn(attempt_id=attempt.id, seq=i, speaker="patient", text=t, source="speech")
        for i, t in enumerate(texts, start=1)
    )
    session.commit()
    expected = session.scalars(
        select(models.Turn.id).where(models.Turn.text == "还好").order_by(models.Turn.id.desc())
    ).all()
    assert len(expected) > CAP
    for offset in (0, 7, 60, len(expected) - 5, len(expected) + 3):
        result = search_turns(session, "还好", limit=10, offset=offset)
        assert [h.turn_id for h in result.hits] == expected[offset : offset + 10], offset
        assert result.has_more == (offset + 10 < len(expected))
        # With date_to, PostgreSQL takes every match from the index and sorts them: the same pages.
        dated = search_turns(
            session, "还好", limit=10, offset=offset, date_to=datetime.now(UTC) + timedelta(days=1)
        )
        assert dated.hits == result.hits


# --- the index stays in step ----------------------------------------------------------------------------


def test_updates_and_deletes_keep_the_index_in_step(
    session: Session, world: World, say: Callable[..., models.Turn]
) -> None:
    turn = say("护士态度太差了")
    turn.text = "医生很耐心"
    session.commit()
    assert _ids(session, "态度") == []
    assert _ids(session, "耐心") == [turn.id]
    session.delete(turn)
    session.commit()
    assert _ids(session, "耐心") == []
    # Deleting an attempt cascades to its turns in the database: their index entries go too.
    kept = say("挂号太难了")
    session.execute(text("DELETE FROM call_attempts WHERE id = :id"), {"id": kept.attempt_id})
    session.commit()
    session.expunge_all()
    assert _ids(session, "挂号") == []


def test_bulk_inserts_outside_the_orm_are_indexed(session: Session, world: World) -> None:
    attempt = store.create_attempt(session, world.task)
    session.execute(
        text(
            "INSERT INTO turns (attempt_id, seq, speaker, text, source, created_at) "
            "VALUES (:a, 1, 'patient', '伤口有点红肿', 'speech', CURRENT_TIMESTAMP)"
        ),
        {"a": attempt.id},
    )
    session.commit()
    assert len(_ids(session, "红肿")) == 1


# --- untrusted input ------------------------------------------------------------------------------------

HOSTILE = [
    '"',  # unbalanced quote
    '护士"态度',
    "态度 OR 1=1",
    "' OR '1'='1",
    "'; DROP TABLE turns; --",
    "态度'); DELETE FROM turns; --",
    "NEAR(护士 态度, 2)",
    "护士 NOT 态度",
    "turns_fts: 态度",
    "tokens:态度",
    "{tokens}: 态度",
    "态度*",
    "*",
    "^态度",
    "(((态度",
    "态度)))",
    "态度 AND",
    "OR",
    "态度 & 医生 | 护士 <-> !",
    "态度:*",
    "'态度':A",
    "\\' \\\\ \\x00",
    "\x00态度",
    "态度\x00",
    "\u202e态度",
    "%态度%",
    "_",
    "護士態度",
    "😀😀",
    "a" * 64,
    "护士" * 40,
    "x" * 5000,
    "",
    "   ",
    "\t\n",
    "一 二 三 四 五 六 七 八 九 十",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_give_a_clean_error_or_a_safe_result(
    session: Session, say: Callable[..., models.Turn], query: str
) -> None:
    turn = say("护士态度太差了 OR 1=1")
    try:
        result = search_turns(session, query)
    except ValueError as exc:
        assert str(exc)  # a message for the person who typed it
    else:
        assert all(hit.turn_id == turn.id for hit in result.hits)
    # Nothing was run as SQL: the turn and its index entry are still there.
    assert _ids(session, "态度") == [turn.id]


def test_operators_are_plain_words(session: Session, say: Callable[..., models.Turn]) -> None:
    turn = say("护士态度太差了 OR 1=1")
    assert _ids(session, "态度 OR 1=1") == [turn.id]
    assert _ids(session, "态度 NEAR") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "enter something"),
        ("  \t", "enter something"),
        ("x" * 201, "too long"),
        ('"态度', "unbalanced quote"),
        ("*** ()", "nothing to search for"),
        ("一 二 三 四 五 六 七 八 九", "too many"),
        ("护" * 70, "too long"),
        (None, "must be a string"),
    ],
)
def test_unusable_queries_are_explained(session: Session, query: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search_turns(session, query)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"speaker": "robot"}, "speaker"),
        ({"outcome": "'; DROP TABLE turns; --"}, "outcome"),
        ({"campaign_id": "1 OR 1=1"}, "campaign"),
        ({"campaign_id": 2**70}, "campaign"),
        ({"department": "骨科\x00"}, "department"),
        ({"department": "科" * 101}, "department"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**9}, "offset"),
        ({"date_from": datetime(2026, 11, 1)}, "timezone"),
        ({"date_to": "2026-11-01"}, "date"),
    ],
)
def test_bad_filters_are_explained(session: Session, filters: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search_turns(session, "态度", **filters)  # type: ignore[arg-type]


# --- the PostgreSQL twin of the tokeniser ---------------------------------------------------------------

TWIN_CASES = [
    "护士态度太差了",
    "护士态度太差了，Nurse was RUDE! 血压140/90，ＣＴ检查 护士",
    "My blood pressure is 140 over 90.",
    "José's café — naïve ÉCOLE",
    "好",
    "",
    "。。。!!!",
    "ひらがな カタカナ 漢字",
    "体温37.5度，covid19阴性",
    "護士態度 ﬁne",
]


def test_the_database_tokenises_like_python(session: Session) -> None:
    """The index is built in the database (PostgreSQL: the SQL twin; SQLite: the registered function)
    and queries in Python: they must cut text the same way."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    for case in TWIN_CASES:
        if postgresql:
            literal = " ".join(f"'{tok}':{pos}" for pos, tok in enumerate(tokens(case), start=1))
            got, expected = session.execute(
                text("SELECT followup_search_tsv(:t)::text, CAST(:lit AS tsvector)::text"),
                {"t": case, "lit": literal},
            ).one()
        else:
            got = session.scalar(text("SELECT followup_search_tokens(:t)"), {"t": case})
            expected = " ".join(tokens(case))
        assert got == expected, case
    assert tokens(TWIN_CASES[0]) == ["护士", "士态", "态度", "度太", "太差", "差了", "了"]


# --- the migration --------------------------------------------------------------------------------------


def test_migration_indexes_existing_turns_and_downgrade_removes_the_index(empty_url: URL) -> None:
    db.upgrade(empty_url, "0004")
    engine = db.make_engine(empty_url)
    try:
        with db.session_factory(engine)() as s:
            user = models.User(username="u", display_name="u", password_hash="x", role="admin")
            patient = models.Patient(name="李", phone="+8613800138001")
            campaign = models.Campaign(name="c", flow_id="f", created_by=user)
            task = models.CallTask(campaign=campaign, patient=patient, due_at=T0)
            s.add_all([user, patient, campaign, task])
            s.commit()
            attempt = store.create_attempt(s, task)
            before = store.record_turn(s, attempt.id, "patient", "护士态度太差了")
        db.upgrade(empty_url)
        with db.session_factory(engine)() as s:
            assert [h.turn_id for h in search_turns(s, "态度").hits] == [before.id]
        db.downgrade(empty_url, "0004")
        names = set(inspect(engine).get_table_names())
        assert "turns_fts" not in names
        assert "search_tsv" not in {c["name"] for c in inspect(engine).get_columns("turns")}
        with db.session_factory(engine)() as s:  # turns can still be written without the index
            store.record_turn(s, attempt.id, "bot", "好的")
            assert s.scalar(select(models.Turn.id).where(models.Turn.seq == 2)) is not None
    finally:
        engine.dispose()


def test_department_falls_back_to_the_campaigns(
    session: Session,
    world: World,
    say: Callable[..., models.Turn],
    make_task: Callable[..., models.CallTask],
    plan: str,
) -> None:
    eye = models.Campaign(name="眼科回访", flow_id="f", department="眼科", created_by=world.user)
    session.add(eye)
    session.commit()
    turn = say("视力好多了", task=make_task(campaign=eye))  # a task without a visit
    assert _ids(session, "视力", department="眼科") == [turn.id]
    assert _ids(session, "视力", department="心内科") == []


def test_attempts_matching_filters_calls_by_transcript(
    session: Session, world: World, say: Callable[..., models.Turn]
) -> None:
    complaint = say("护士态度太差了")
    say("医生很好", attempt=session.get(models.CallAttempt, complaint.attempt_id))
    praise = say("医生很好")
    dialect = session.get_bind().dialect.name
    matching = search.attempts_matching(dialect, "医生")
    assert set(session.scalars(select(models.CallAttempt.id).where(matching))) == {
        complaint.attempt_id,
        praise.attempt_id,
    }
    only = select(models.CallAttempt.id).where(search.attempts_matching(dialect, "态度"))
    assert session.scalars(only).all() == [complaint.attempt_id]
    with pytest.raises(ValueError, match="unbalanced"):
        search.attempts_matching(dialect, '"态度')
