#!/usr/bin/env bash
# The demo's real calls: provision and start the project's Asterisk, then place a handful of Mandarin calls
# to simulated patients (scripts in docs/demo/calls/, replies from tests/fixtures/speech/) concurrently,
# and print each call's transcript, answers and escalations.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
NOW=${DEMO_NOW:-2026-11-25T10:00:00}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== Real calls through Asterisk to simulated patients (Mandarin) =="
deploy/asterisk.sh start
declare -A FLOW=(
  [1_hypertension_answers]=hypertension
  [2_outpatient_complaint]=outpatient_satisfaction
  [3_discharge_callback]=discharge_general
  [4_checkup_optout]=checkup_satisfaction
  [5_busy]=discharge_general
)
pids=()
for name in $(printf '%s\n' "${!FLOW[@]}" | sort); do
  "$BIN/followup" call --flow "${FLOW[$name]}" --lang zh --patient-script "docs/demo/calls/$name.json" \
    --now "$NOW" >"$out/$name.txt" 2>"$out/$name.log" &
  pids+=($!)
  echo "placing call $name (flow ${FLOW[$name]})"
done
echo "waiting for ${#pids[@]} calls to finish (each takes one to four minutes: prompts are spoken in full)…"
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
for name in $(printf '%s\n' "${!FLOW[@]}" | sort); do
  echo
  echo "---- call $name (flow ${FLOW[$name]}) ----"
  cat "$out/$name.txt"
  grep -E "ERROR|Traceback" "$out/$name.log" && tail -n 20 "$out/$name.log" || true
done
exit $fail
