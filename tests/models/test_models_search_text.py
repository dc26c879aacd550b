"""The search tokeniser and query parser (models.search_text): pure, no database."""

from __future__ import annotations

import random

import pytest

from models.search_text import highlight, index_text, parse_query, tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("护士态度太差了", "护士 士态 态度 度太 太差 差了 了"),
        ("好", "好"),
        ("The NURSE was rude.", "the nurse was rude"),
        ("做了CT检查", "做了 了 ct 检查 查"),
        ("ＣＴ检查", "ct 检查 查"),  # NFKC: full-width letters
        ("血压140/90", "血压 压 140 90"),
        ("体温37.5度", "体温 温 37 5 度"),
        ("José ÉCOLE", "josé École"),  # only ASCII letters are folded
        ("。。！！ ...", ""),
        ("ひらがな", "ひら らが がな な"),
    ],
)
def test_tokens(text: str, expected: str) -> None:
    assert index_text(text) == expected


@pytest.mark.parametrize(
    ("query", "fts5", "tsquery"),
    [
        ("态度", '"态度"', "('态度')"),
        ("护士态度", '"护士 士态 态度"', "('护士' <-> '士态' <-> '态度')"),
        ("态", '"态" *', "('态':*)"),
        ("护士 态度", '"护士" AND "态度"', "('护士') & ('态度')"),
        ('"Blood Pressure"', '"blood pressure"', "('blood' <-> 'pressure')"),
        ("CT检查", '"ct 检查"', "('ct' <-> '检查')"),
        ("了CT", '"了 ct"', "('了' <-> 'ct')"),
        ("检查CT", '"检查 查 ct"', "('检查' <-> '查' <-> 'ct')"),  # 检查 must end its run, right before CT
        ("“护士 态度”", '"护士 士态 态度"', "('护士' <-> '士态' <-> '态度')"),
        ("态度 态度", '"态度"', "('态度')"),
        ('NEAR(a, b) OR "x" * col:y', None, None),
    ],
)
def test_queries_compile_to_token_phrases(query: str, fts5: str | None, tsquery: str | None) -> None:
    parsed = parse_query(query)
    if fts5 is not None:
        assert parsed.fts5() == fts5
        assert parsed.tsquery() == tsquery
    # Whatever was typed, the expressions hold only quoted tokens of letters, digits and CJK.
    for phrase in parsed.phrases:
        for token in phrase.tokens:
            assert token.isalnum(), token


def test_every_substring_of_a_chinese_run_is_a_phrase_of_its_tokens() -> None:
    rng = random.Random(5)
    text = "您好这里是市第一人民医院随访中心请问您出院后恢复得怎么样护士态度太差了我要投诉"
    index = tokens(text)
    for _ in range(300):
        i = rng.randrange(len(text))
        j = rng.randrange(i + 1, min(len(text), i + 10) + 1)
        (phrase,) = parse_query(text[i:j]).phrases
        want = list(phrase.tokens)
        starts = [k for k in range(len(index)) if index[k : k + len(want)] == want]
        if phrase.prefix:
            starts = [
                k
                for k in range(len(index))
                if index[k : k + len(want) - 1] == want[:-1] and index[k + len(want) - 1].startswith(want[-1])
            ]
        assert starts, text[i:j]
    (absent,) = parse_query("态度好").phrases
    assert not any(index[k : k + 2] == list(absent.tokens) for k in range(len(index)))


def test_highlight_marks_matches_in_the_original_text() -> None:
    parts = highlight("The NURSE was rude; 护士态度太差了", parse_query("nurse 态度"))
    assert [p for p, matched in parts if matched] == ["NURSE", "态度"]
    assert "".join(p for p, _ in parts) == "The NURSE was rude; 护士态度太差了"
    assert highlight("unrelated", parse_query("nurse")) == [("unrelated", False)]


def test_highlight_cuts_long_text_around_the_first_match() -> None:
    text = "前" * 300 + "态度" + "后" * 300
    parts = highlight(text, parse_query("态度"), width=60)
    assert parts[0] == ("…", False) and parts[-1] == ("…", False)
    assert ("态度", True) in parts
    assert sum(len(p) for p, _ in parts) <= 62
