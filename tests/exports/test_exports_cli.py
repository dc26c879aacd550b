"""`followup export` end to end on a SQLite database."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from export_helpers import POST_OP_ANSWERS, make_call, make_campaign
from sqlalchemy import select

from dialer import fhir
from models import AuditLog, db


def test_followup_export_csv_and_fhir(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'followup.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        campaign = make_campaign(s, "post_op")
        make_call(s, campaign, POST_OP_ANSWERS)
        make_call(s, campaign, {"bowel_urine": False}, outcome="partial")
        campaign_id = campaign.id
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")} | {
        "FOLLOWUP_DATABASE_URL": url
    }

    def followup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "followup", *args],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = followup(
        "export", "--campaign", str(campaign_id), "--format", "csv", "--out", str(tmp_path / "a.csv")
    )
    assert out.returncode == 0, out.stderr
    assert "1 call(s) exported as csv" in out.stdout
    rows = list(csv.reader((tmp_path / "a.csv").open(encoding="utf-8-sig", newline="")))
    assert len(rows) == 2 and rows[0][0] == "通话编号"

    out = followup(
        "export",
        "--campaign",
        str(campaign_id),
        "--format",
        "fhir",
        "--include-partial",
        "--lang",
        "en",
        "--out",
        str(tmp_path / "fhir.ndjson"),
    )
    assert out.returncode == 0, out.stderr
    resources = [
        json.loads(line) for line in (tmp_path / "fhir.ndjson").read_text(encoding="utf-8").splitlines()
    ]
    assert [r.get("status") for r in resources[1:]] == ["completed", "in-progress"]
    assert all(fhir.check_questionnaire_response(r, resources[0]) == [] for r in resources[1:])
    assert resources[0]["item"][0]["text"].startswith("First, your wound")

    engine = db.make_engine(url)
    with db.session_factory(engine)() as s:
        audit = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    engine.dispose()
    assert [(a.action, a.object_id, a.detail["format"], a.detail["calls"]) for a in audit] == [
        ("export", str(campaign_id), "csv", 1),
        ("export", str(campaign_id), "fhir", 2),
    ]

    out = followup("export", "--campaign", "999", "--format", "csv", "--out", str(tmp_path / "b.csv"))
    assert out.returncode == 2 and "no campaign with id 999" in out.stderr
