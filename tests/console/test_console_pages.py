"""What the pages show and record: masking for the quality role, the audit trail, the recording with
Range requests, escalation handling, scoring and tags, CSV export, language switching, the audit page."""

from __future__ import annotations

import csv
import io

import pytest
from console_helpers import PATIENT_PHONE, Env
from sqlalchemy import select

import models
from console.privacy import mask_phone, phone_for
from models.console import CallTag, EscalationNote, QaScore
from models.users import AuditLog


def _audit(env: Env) -> list[tuple[str, str | None, str | None, int | None]]:
    with env.sessions() as s:
        return [
            (a.action, a.object_type, a.object_id, a.user_id)
            for a in s.scalars(select(AuditLog).order_by(AuditLog.id))
        ]


# --- masking -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+8613800138000", "**********8000"), ("1234", "1234"), ("", ""), (None, ""), ("057188888888", "********8888")],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_only_quality_is_masked() -> None:
    assert phone_for("quality", PATIENT_PHONE).endswith("8000") and PATIENT_PHONE not in phone_for("quality", PATIENT_PHONE)
    for role in ("agent", "supervisor", "admin"):
        assert phone_for(role, PATIENT_PHONE) == PATIENT_PHONE


def test_quality_never_sees_a_full_number(env: Env) -> None:
    client = env.session_for("quality")
    csrf = env.csrf("quality")
    pages = [
        client.get("/calls").text,
        client.get(f"/calls/{env.attempt_id}").text,
        client.get("/calls/export.csv").text,
    ]
    client.post(f"/calls/{env.attempt_id}/tags", data={"tag": "x", "csrf_token": csrf})
    pages.append(client.get(f"/calls/{env.attempt_id}").text)
    for text in pages:
        assert PATIENT_PHONE not in text and "13800138000" not in text
        assert mask_phone(PATIENT_PHONE) in text


def test_agents_and_supervisors_see_the_number(env: Env) -> None:
    assert PATIENT_PHONE in env.session_for("agent").get(f"/escalations/{env.escalation_id}").text
    assert PATIENT_PHONE in env.session_for("agent").get("/escalations").text
    assert PATIENT_PHONE in env.session_for("supervisor").get(f"/calls/{env.attempt_id}").text


# --- the audit trail -----------------------------------------------------------------------------------


def test_viewing_a_call_and_exporting_are_audited(env: Env) -> None:
    client = env.session_for("quality")
    qid = env.users["quality"]
    client.get(f"/calls/{env.attempt_id}")
    export = client.get("/calls/export.csv?outcome=escalated")
    assert export.status_code == 200
    entries = _audit(env)
    assert ("view_call", "call", str(env.attempt_id), qid) in entries
    assert ("export_calls", "calls", None, qid) in entries
    with env.sessions() as s:
        detail = s.scalars(select(AuditLog.detail).where(AuditLog.action == "export_calls")).one()
    assert detail == {"rows": 1, "filters": "outcome=escalated&page=1"}


def test_recording_supports_ranges_and_is_audited_once_per_playback(env: Env) -> None:
    client = env.session_for("quality")
    url = f"/calls/{env.attempt_id}/recording"
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    first = client.get(url, headers={"Range": "bytes=0-"})
    seek = client.get(url, headers={"Range": "bytes=48000-48999"})
    assert first.status_code == seek.status_code == 206
    assert seek.headers["content-range"] == f"bytes 48000-48999/{size}"
    assert seek.content == full.content[48000:49000]
    plays = [e for e in _audit(env) if e[0] == "play_recording"]
    assert len(plays) == 2  # the plain GET and the bytes=0- start, not the seek


def test_missing_recording_is_404(env: Env) -> None:
    (env.data_dir / "recordings" / "call-1.wav").unlink()
    client = env.session_for("quality")
    assert client.get(f"/calls/{env.attempt_id}/recording").status_code == 404
    assert "此通话没有录音" in client.get(f"/calls/{env.attempt_id}").text


def test_unknown_ids_are_404(env: Env) -> None:
    assert env.session_for("quality").get("/calls/999999").status_code == 404
    assert env.session_for("agent").get("/escalations/999999").status_code == 404
    assert env.session_for("agent").get("/escalations/abc").status_code == 422


# --- escalation handling -------------------------------------------------------------------------------


def test_escalation_lifecycle(env: Env) -> None:
    client = env.session_for("agent")
    csrf = env.csrf("agent")
    base = f"/escalations/{env.escalation_id}"
    page = client.get(base).text
    assert "护士态度太差了" in page and "王小明" in page and "心内科" in page and "冠心病" in page
    assert "您出院后恢复得怎么样" in page  # the transcript
    assert client.post(f"{base}/assign", data={"csrf_token": csrf}).status_code == 303
    assert client.post(f"{base}/notes", data={"text": "已致电患者道歉", "csrf_token": csrf}).status_code == 303
    assert client.post(f"{base}/category", data={"category": "服务态度", "csrf_token": csrf}).status_code == 303
    assert client.post(f"{base}/resolve", data={"note": "患者接受", "csrf_token": csrf}).status_code == 303
    with env.sessions() as s:
        e = s.get(models.Escalation, env.escalation_id)
        notes = s.scalars(select(EscalationNote.text).order_by(EscalationNote.id)).all()
    assert e is not None and e.status == "resolved" and e.assignee_id == env.users["agent"]
    assert e.category == "服务态度" and e.resolved_at is not None
    assert notes == ["已致电患者道歉", "患者接受"]
    actions = [a for a, *_ in _audit(env)]
    for action in ("view_escalation", "assign_escalation", "note_escalation", "categorize_escalation",
                   "resolve_escalation"):
        assert action in actions
    # A resolved case is final; the queue no longer lists it.
    assert client.post(f"{base}/notes", data={"text": "再补充", "csrf_token": csrf}).status_code == 409
    assert f'id="esc-{env.escalation_id}"' not in client.get("/escalations").text


def test_queue_filters_by_department(env: Env) -> None:
    with env.sessions() as s:
        s.add(models.Escalation(patient_id=env.patient_id, kind="praise", department="骨科", text="医生很好"))
        s.commit()
    client = env.session_for("agent")  # an agent of 心内科: their department's queue by default
    own = client.get("/escalations").text
    assert "医生很好" not in own and "护士态度太差了" in own
    everything = client.get("/escalations?department=all").text
    assert "医生很好" in everything and "护士态度太差了" in everything
    orthopaedics = client.get("/escalations?department=骨科").text
    assert "医生很好" in orthopaedics and "护士态度太差了" not in orthopaedics
    supervisor = env.session_for("supervisor").get("/escalations").text  # no department: everything
    assert "医生很好" in supervisor and "护士态度太差了" in supervisor


# --- scoring and tags ----------------------------------------------------------------------------------


def test_score_is_saved_and_updated_per_reviewer(env: Env) -> None:
    client = env.session_for("quality")
    csrf = env.csrf("quality")
    form = {"recognition": "4", "answers": "5", "flow": "4", "courtesy": "5", "escalation": "2", "comments": "及时上报"}
    assert client.post(f"/calls/{env.attempt_id}/score", data={**form, "csrf_token": csrf}).status_code == 303
    form["escalation"] = "5"
    assert client.post(f"/calls/{env.attempt_id}/score", data={**form, "csrf_token": csrf}).status_code == 303
    with env.sessions() as s:
        scores = s.scalars(select(QaScore)).all()
    assert len(scores) == 1
    assert scores[0].scores == {"recognition": 4, "answers": 5, "flow": 4, "courtesy": 5, "escalation": 5}
    assert scores[0].total == pytest.approx(4.6)
    assert "4.6" in client.get("/calls").text
    assert client.get("/calls?min_score=4.5").text.count('id="call-') == 1
    assert client.get("/calls?min_score=5").text.count('id="call-') == 0
    assert [a for a, *_ in _audit(env)].count("score_call") == 2


def test_tags_add_split_and_remove(env: Env) -> None:
    client = env.session_for("quality")
    csrf = env.csrf("quality")
    client.post(f"/calls/{env.attempt_id}/tags", data={"tag": "态度问题，asr_error, 态度问题", "csrf_token": csrf})
    with env.sessions() as s:
        assert sorted(s.scalars(select(CallTag.tag))) == ["asr_error", "态度问题"]
    client.post(f"/calls/{env.attempt_id}/tags/delete", data={"tag": "asr_error", "csrf_token": csrf})
    with env.sessions() as s:
        assert list(s.scalars(select(CallTag.tag))) == ["态度问题"]
    actions = [a for a, *_ in _audit(env)]
    assert "tag_call" in actions and "untag_call" in actions


# --- the call list -------------------------------------------------------------------------------------


def test_call_list_filters(env: Env) -> None:
    client = env.session_for("quality")
    count = lambda q: client.get(f"/calls?{q}").text.count('id="call-')
    assert count("") == 1
    assert count(f"campaign={env.campaign_id}") == 1
    assert count(f"campaign={env.campaign_id + 1}") == 0
    assert count("outcome=escalated") == 1 and count("outcome=completed") == 0
    assert count("department=心内科") == 1 and count("department=骨科") == 0
    assert count("escalated=yes") == 1 and count("escalated=no") == 0
    assert count("date_from=2000-01-01") == 1 and count("date_to=2000-01-01") == 0


def test_csv_export_is_safe_for_spreadsheets(env: Env) -> None:
    with env.sessions() as s:
        p = s.get(models.Patient, env.patient_id)
        assert p is not None
        p.name = "=HYPERLINK(\"http://evil\")"
        s.commit()
    text = env.session_for("supervisor").get("/calls/export.csv").text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "call_id" and rows[1][5].startswith("'=")
    assert rows[1][6] == PATIENT_PHONE  # supervisors see the number


# --- language ------------------------------------------------------------------------------------------


def test_mandarin_first_and_english_switchable(env: Env) -> None:
    client = env.session_for("agent")
    assert "待处理上报" in client.get("/escalations").text
    english = client.get("/escalations?lang=en")
    assert "Open escalations" in english.text and "followup_lang=en" in english.headers["set-cookie"]
    assert "Open escalations" in client.get("/escalations").text  # the cookie keeps it
    assert "待处理上报" in client.get("/escalations?lang=zh").text
    assert "待处理上报" in client.get("/escalations?lang=fr").text  # an unknown language is ignored


# --- the audit page ------------------------------------------------------------------------------------


def test_audit_page_filters(env: Env) -> None:
    quality = env.session_for("quality")
    quality.get(f"/calls/{env.attempt_id}")
    quality.get(f"/calls/{env.attempt_id}/recording")
    admin = env.session_for("admin")
    page = admin.get("/audit").text
    assert "view_call" in page and "play_recording" in page and "quality1" in page
    only_plays = admin.get("/audit?action=play_recording").text
    assert "play_recording" in only_plays and "<td>view_call</td>" not in only_plays
    assert "<td>view_call</td>" in admin.get(f"/audit?username=quality1&object_type=call&object_id={env.attempt_id}").text
    assert "<td>view_call</td>" not in admin.get("/audit?username=agent1").text
    assert admin.get("/audit?date_from=2999-01-01").text.count("<td>view_call</td>") == 0


# --- transcript search in the call list ----------------------------------------------------------------


def test_call_list_searches_transcripts_in_chinese(env: Env) -> None:
    client = env.session_for("quality")
    count = lambda q: client.get("/calls", params={"q": q}).text.count('id="call-')
    assert count("态度") == 1  # inside 护士态度太差了
    assert count("护士 投诉") == 1  # every term
    assert count('"态度太差"') == 1
    assert count("骨折") == 0
    assert count("") == 1  # blank: no search
    assert 'value="态度"' in client.get("/calls", params={"q": "态度"}).text


@pytest.mark.parametrize("q", ["' OR 1=1 --", "态度\"", "NEAR(态度 投诉)", "*", "态度 AND", "\\", "%"])
def test_search_injection_attempts_get_a_clean_answer(env: Env, q: str) -> None:
    client = env.session_for("quality")
    response = client.get("/calls", params={"q": q}, headers={"accept": "application/json"})
    assert response.status_code in (200, 422), response.text[:300]
    if response.status_code == 422:
        assert [e["field"] for e in response.json()["detail"]] == ["q"]
    else:
        assert 'id="call-' not in response.text  # matched nothing, ran no injected SQL


def test_search_over_long_is_refused(env: Env) -> None:
    response = env.session_for("quality").get("/calls", params={"q": "态" * 201})
    assert response.status_code == 422 and "q" in response.text


# --- the second-level review queue ---------------------------------------------------------------------


def test_review_queue_take_score_and_close(env: Env) -> None:
    client = env.session_for("quality")
    csrf = env.csrf("quality")
    queue = client.get("/review").text
    assert f'id="sample-{env.sample_id}"' in queue and "王小明" in queue
    assert PATIENT_PHONE not in queue and mask_phone(PATIENT_PHONE) in queue
    assert f'id="sample-{env.sample_id}"' not in client.get("/review?department=骨科").text

    taken = client.post(f"/review/{env.sample_id}/take", data={"csrf_token": csrf})
    assert taken.status_code == 303 and taken.headers["location"] == f"/calls/{env.attempt_id}"
    page = client.get(f"/calls/{env.attempt_id}").text
    assert "抽检样本" in page and "陈质检" in client.get("/review").text

    form = {"recognition": "5", "answers": "5", "flow": "5", "courtesy": "5", "escalation": "5"}
    client.post(f"/calls/{env.attempt_id}/score", data={**form, "csrf_token": csrf})
    with env.sessions() as s:
        sample = s.get(models.QaSample, env.sample_id)
        assert sample is not None and sample.reviewed_at is not None
        assert sample.assigned_to_id == env.users["quality"]
    assert f'id="sample-{env.sample_id}"' not in client.get("/review").text
    assert "已完成抽检" in client.get(f"/calls/{env.attempt_id}").text
    assert client.post(f"/review/{env.sample_id}/take", data={"csrf_token": csrf}).status_code == 409
    assert client.post("/review/999999/take", data={"csrf_token": csrf}).status_code == 404
    actions = [a for a, *_ in _audit(env)]
    assert "take_sample" in actions and "review_sample" in actions


def test_scoring_an_unsampled_call_touches_no_sample(env: Env) -> None:
    with env.sessions() as s:
        s.delete(s.get(models.QaSample, env.sample_id))
        s.commit()
    client = env.session_for("quality")
    form = {"recognition": "3", "answers": "3", "flow": "3", "courtesy": "3", "escalation": "3"}
    assert client.post(f"/calls/{env.attempt_id}/score", data={**form, "csrf_token": env.csrf("quality")}).status_code == 303
    assert "review_sample" not in [a for a, *_ in _audit(env)]
