"""``followup call ... --json`` as a subprocess: the output contract other checks rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import db
from models.calls import Answer, CallAttempt

CONTRACT = {"outcome", "answers", "escalations", "turns", "latency_ms", "recording"}


@pytest.mark.calls("cli")
def test_followup_call_json_contract(calls: dict[str, Result]) -> None:
    r = calls["cli"]
    assert not r.error, f"{r.error}\n{r.cli_stderr}"
    assert r.cli_returncode == 0, r.cli_stderr
    out = r.cli_json
    assert set(out) == CONTRACT
    assert out["outcome"] == "completed"
    assert out["answers"] == {"satisfaction": 5, "bp": {"systolic": 135, "diastolic": 85}}
    assert out["escalations"] == []
    turns = out["turns"]
    assert [t["speaker"] for t in turns] == ["bot", "patient"] * 3 + ["bot"]
    for t in turns:
        assert set(t) == {"speaker", "text", "start_ms", "end_ms"}
        assert isinstance(t["text"], str) and t["text"]
        assert isinstance(t["start_ms"], int) and isinstance(t["end_ms"], int) and t["start_ms"] <= t["end_ms"]
    starts = [t["start_ms"] for t in turns]
    assert starts == sorted(starts)
    assert len(out["latency_ms"]) == 3 and all(isinstance(v, int) and v > 0 for v in out["latency_ms"])
    assert Path(out["recording"]).is_file()
    # the command wrote to the settings' database (FOLLOWUP_DATABASE_URL)
    engine = db.make_engine(r.db_url)
    try:
        with Session(engine) as s:
            [attempt] = s.scalars(select(CallAttempt)).all()
            assert attempt.outcome == "completed" and attempt.recording_path == out["recording"]
            stored = {a.question_id: a.value for a in s.scalars(select(Answer))}
            assert stored == out["answers"]
    finally:
        engine.dispose()
