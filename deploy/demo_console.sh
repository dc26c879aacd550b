#!/usr/bin/env bash
# The end of `make demo`: demo accounts in the demo campaign's database, then the web console on it
# (runs until Ctrl-C). The passwords are for the demo only: a real deployment creates its own users with
# `followup users create NAME --role ROLE --password-stdin`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FOLLOWUP_DATA_DIR=${FOLLOWUP_DATA_DIR:-var/demo}
HOST=${FOLLOWUP_CONSOLE_HOST:-127.0.0.1}
PORT=${FOLLOWUP_CONSOLE_PORT:-8000}
PASSWORD=${DEMO_PASSWORD:-demo-followup-2026}

# username role department sip-endpoint display-name
ACCOUNTS=(
  "admin admin - - 系统管理员"
  "supervisor supervisor - - 随访中心主任"
  "agent agent 心内科 PJSIP/agent1 心内科坐席"
  "quality quality - - 质控专员"
)
for line in "${ACCOUNTS[@]}"; do
  read -r user role dept sip name <<<"$line"
  args=(--role "$role" --display-name "$name")
  [ "$dept" != - ] && args+=(--department "$dept")
  [ "$sip" != - ] && args+=(--sip-endpoint "$sip")
  if ! out=$(printf '%s\n' "$PASSWORD" | "$BIN/followup" users create "$user" "${args[@]}" --password-stdin 2>&1); then
    case "$out" in *exist*) ;; *) echo "$out" >&2; exit 1 ;; esac
  fi
done

echo
echo "== Web console: http://$HOST:$PORT/ (Ctrl-C stops it) =="
echo "   demo accounts (password: $PASSWORD)"
echo "     admin       系统管理员: users, audit log, everything"
echo "     supervisor  随访中心主任: campaigns, flows, do-not-call list, dashboards"
echo "     agent       心内科坐席: the live escalation queue (the demo's complaints), take calls"
echo "     quality     质控专员: call list, transcript search, recordings, scoring (phones masked)"
exec "$BIN/followup" console --host "$HOST" --port "$PORT"
