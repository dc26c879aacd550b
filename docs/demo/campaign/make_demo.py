"""Writes the demo campaign's patient list (patients.csv, an HIS-style export with two bad rows) and one
simulated-patient script per phone (scripts/<E.164>.json, the `followup call --patient-script` format,
optionally one script per attempt). Run it again after changing the outpatient_satisfaction flow:

    .venv/bin/python docs/demo/campaign/make_demo.py

The flow asks: identify, overall (scale), doctor (scale), waiting (choice 1-3), explanation (choice 1-3),
environment (scale), recommend (yes/no), suggestions (free text) — one script action per question.
The patients with short outcomes come first so they are dialled in the first wave at 09:00.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEECH = "../../../../tests/fixtures/speech/"  # relative to scripts/


def say(fid: str) -> dict:
    return {"say": f"{SPEECH}{fid}.wav"}


def key(digit: str) -> dict:
    return {"dtmf": digit}


# identify, overall, doctor, waiting, explanation, environment, recommend, suggestions
ANSWERS = [
    [say("zh02"), say("zh07"), say("zh08"), key("1"), key("1"), say("zh12"), key("1"), say("zh04")],
    [say("zh01"), key("5"), key("4"), key("2"), key("1"), key("4"), key("1"), say("zh04")],
    [say("zh02"), say("zh08"), say("zh07"), key("1"), key("2"), say("zh09"), key("1"), say("zh04")],
    [say("zh01"), key("4"), key("5"), key("1"), key("1"), key("5"), key("1"), say("zh04")],
    [say("zh02"), say("zh07"), key("5"), key("2"), key("1"), key("4"), key("1"), say("zh04")],
    [say("zh01"), key("3"), say("zh09"), key("3"), key("2"), key("3"), key("2"), say("zh04")],
    [say("zh02"), key("5"), key("5"), key("1"), key("1"), key("5"), key("1"), say("zh04")],
    [say("zh01"), say("zh08"), key("4"), key("2"), key("1"), say("zh12"), key("1"), say("zh04")],
    [say("zh02"), key("4"), key("4"), key("1"), key("2"), key("4"), key("1"), say("zh04")],
    [say("zh01"), say("zh07"), say("zh07"), key("1"), key("1"), key("5"), key("1"), say("zh04")],
    [say("zh02"), key("5"), say("zh08"), key("2"), key("1"), key("4"), key("1"), say("zh04")],
    [say("zh01"), key("4"), key("3"), key("3"), key("2"), key("3"), key("1"), say("zh04")],
]
SPECIAL = [
    # a complaint in the middle of the survey: escalated to the department at once, the survey goes on
    [say("zh02"), say("zh16"), say("zh11"), key("3"), key("3"), key("2"), key("2"), say("zh04")],
    [say("zh01"), say("zh10"), say("zh16"), key("3"), key("2"), key("2"), key("2"), say("zh04")],
    {"attempts": [{"busy": True}, ANSWERS[1]]},  # busy, answers the retry
    {"no_answer": True},  # never answers: retried once, then failed
    {"voicemail": "../../../../tests/e2e/data/vm-zh1.wav"},  # an answering machine
    {"attempts": [[say("zh01"), {"say": "../audio/callback_1000.wav"}], ANSWERS[0]]},  # 十点再打 → called at 10:00
    [say("zh02"), say("zh20")],  # opt-out: do-not-call list
    [say("zh19")],  # wrong number
]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴刚",
         "徐丽", "孙浩", "马俊", "朱红", "胡斌", "郭霞", "何军", "高燕", "林涛", "罗梅"]
GENDERS = "男女女男女男女男女男女男男女男女男女男女"
DEPARTMENTS = ["心内科", "骨科", "消化内科", "呼吸内科", "内分泌科"]
DOCTORS = {"心内科": "王建国", "骨科": "李明", "消化内科": "陈晓", "呼吸内科": "刘芳", "内分泌科": "赵云"}


def main() -> None:
    scripts_dir = HERE / "scripts"
    scripts_dir.mkdir(exist_ok=True)
    for old in scripts_dir.glob("*.json"):
        old.unlink()
    rows = []
    for i, script in enumerate(SPECIAL + ANSWERS):
        phone = f"1380013{8000 + i:04d}"
        dept = DEPARTMENTS[i % len(DEPARTMENTS)]
        rows.append([f"P{20000 + i}", NAMES[i], GENDERS[i], 1950 + (i * 3) % 40, phone, f"MZ2611{i:04d}",
                     "门诊", dept, DOCTORS[dept], "2026-11-20"])
        (scripts_dir / f"+86{phone}.json").write_text(json.dumps(script, ensure_ascii=False) + "\n", "utf-8")
    # two bad rows, reported with their line; the rest are imported
    rows.insert(5, ["P29998", "钱多", "男", 1960, "12345", "MZ26119998", "门诊", "骨科", "李明", "2026-11-20"])
    rows.insert(12, ["P29999", "", "女", 1970, "13900139000", "MZ26119999", "门诊", "骨科", "李明", "2026/11/20"])
    with (HERE / "patients.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["患者ID", "姓名", "性别", "出生年份", "手机号", "就诊号", "就诊类型", "科室", "医生", "就诊日期"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
