#!/usr/bin/env bash
# The project's own Asterisk: Debian 12 has no asterisk package, so we debootstrap a Debian sid root
# outside the clone, install asterisk there, and run it with chroot (no container runtime needed).
#
#   deploy/asterisk.sh build       debootstrap sid + apt-get install asterisk (once; cached)
#   deploy/asterisk.sh configure   render deploy/asterisk/templates/* into the root
#   deploy/asterisk.sh start       build/configure if needed, start, wait until ARI answers
#   deploy/asterisk.sh stop        core stop now, then by PID
#   deploy/asterisk.sh restart     stop + start
#   deploy/asterisk.sh status      running/stopped, PID, RSS, ARI info
#   deploy/asterisk.sh cli CMD     asterisk -rx CMD inside the root
#   deploy/asterisk.sh paths       JSON: host and in-Asterisk paths, ARI URL (for Python code and tests)
#
# Settings (environment): FOLLOWUP_CACHE_DIR (default ~/.cache/followup), FOLLOWUP_ARI_PORT (8088),
# FOLLOWUP_ARI_USER (followup), FOLLOWUP_ARI_PASSWORD (followup), FOLLOWUP_SIP_PORT (5060),
# FOLLOWUP_SIP_AGENT_PASSWORD (followup), FOLLOWUP_RTP_PORT_START/END (10000/20000),
# FOLLOWUP_DEBIAN_MIRROR (debootstrap's default), FOLLOWUP_ASTERISK_START_TIMEOUT (30 s).
# FOLLOWUP_ARI_URL set means an external Asterisk is used: every subcommand then does nothing.
# See docs/asterisk.md.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
TEMPLATES="$HERE/asterisk/templates"

CACHE_DIR="${FOLLOWUP_CACHE_DIR:-${HOME:-/root}/.cache/followup}"
ROOT="$CACHE_DIR/asterisk-root"
RUN_DIR="$CACHE_DIR/asterisk-run"          # host-side: PID file, stdout log, config stamp
PID_FILE="$RUN_DIR/asterisk.pid"
LOG_FILE="$RUN_DIR/asterisk.log"
LOCK_FILE="$CACHE_DIR/asterisk.lock"
MARKER="$ROOT/.followup-built"              # written last by `build`: its presence means a complete root
# Debian sid packages installed in the root (asterisk pulls in asterisk-core-sounds-en-gsm: beep etc.).
PACKAGES=(asterisk asterisk-moh-opsound-gsm)

export FOLLOWUP_ARI_PORT="${FOLLOWUP_ARI_PORT:-8088}"
export FOLLOWUP_ARI_USER="${FOLLOWUP_ARI_USER:-followup}"
export FOLLOWUP_ARI_PASSWORD="${FOLLOWUP_ARI_PASSWORD:-followup}"
export FOLLOWUP_SIP_PORT="${FOLLOWUP_SIP_PORT:-5060}"
export FOLLOWUP_SIP_AGENT_PASSWORD="${FOLLOWUP_SIP_AGENT_PASSWORD:-followup}"
export FOLLOWUP_RTP_PORT_START="${FOLLOWUP_RTP_PORT_START:-10000}"
export FOLLOWUP_RTP_PORT_END="${FOLLOWUP_RTP_PORT_END:-20000}"
START_TIMEOUT="${FOLLOWUP_ASTERISK_START_TIMEOUT:-30}"

# Paths as Asterisk sees them (inside the root); the host path is "$ROOT$path".
AST_CONF_DIR=/etc/asterisk-followup        # only our rendered configs, never the package's samples
AST_CONF="$AST_CONF_DIR/asterisk.conf"
AST_RECORDINGS=/var/spool/asterisk/recording          # ARI stored recordings (POST .../record)
AST_PATIENT_RECORDINGS=/var/spool/asterisk/patients   # MixMonitor of every simulated patient call
AST_LIB=/var/lib/followup
AST_PROMPTS=$AST_LIB/prompts                          # bot prompts: sound:/var/lib/followup/prompts/NAME
AST_PATIENT_AUDIO=$AST_LIB/patient-audio              # simulated patients' replies (NAME.wav)
AST_SCRIPTS=$AST_LIB/scripts                          # simulated patients' scripts (<number>.txt)
AST_LOG_DIR=/var/log/asterisk

# Variables the templates may use (envsubst renders only these; other $ signs stay as they are).
TEMPLATE_VARS='$FOLLOWUP_ARI_PORT $FOLLOWUP_ARI_USER $FOLLOWUP_ARI_PASSWORD $FOLLOWUP_SIP_PORT
  $FOLLOWUP_SIP_AGENT_PASSWORD $FOLLOWUP_RTP_PORT_START $FOLLOWUP_RTP_PORT_END $AST_CONF_DIR
  $AST_PATIENT_RECORDINGS $AST_PATIENT_AUDIO $AST_SCRIPTS $AST_PROMPTS $AST_LIB $AST_LOG_DIR'
export AST_CONF_DIR AST_PATIENT_RECORDINGS AST_PATIENT_AUDIO AST_SCRIPTS AST_PROMPTS AST_LIB AST_LOG_DIR

say() { printf '[asterisk] %s\n' "$*" >&2; }
die() { printf '[asterisk] error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "this needs root (debootstrap and chroot); run it as root or with sudo -E"
}

# Run a command inside the root with a clean environment (the host's locale/PATH mean nothing there).
in_root() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 LANG=C.UTF-8 TERM=dumb \
    DEBIAN_FRONTEND=noninteractive chroot "$ROOT" "$@"
}

with_lock() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    say "another deploy/asterisk.sh is running; waiting for its lock ($LOCK_FILE)"
    flock -w 900 9 || die "timed out waiting for $LOCK_FILE"
  fi
}

# ---------------------------------------------------------------------------------------------- build

host_apt_install() {
  say "installing $* on the host (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
  }
}

unmount_proc() {
  local dir=$1
  if mountpoint -q "$dir/proc" 2>/dev/null; then umount "$dir/proc" || umount -l "$dir/proc"; fi
}

# apt-get inside a root ($1) with /proc mounted only meanwhile; output to $CACHE_DIR/apt.log.
root_apt_install() {
  local dir=$1; shift
  mount -t proc proc "$dir/proc"
  trap 'unmount_proc "'"$dir"'"' EXIT
  local saved=$ROOT rc=0
  ROOT=$dir
  # sid's InRelease may carry a Valid-Until behind this machine's clock: don't let that stop us.
  { in_root apt-get -q -o Acquire::Check-Valid-Until=false update &&
    in_root apt-get install -y -q --no-install-recommends "$@" &&
    in_root apt-get clean; } >"$CACHE_DIR/apt.log" 2>&1 || rc=$?
  rm -rf "$dir"/var/lib/apt/lists/*
  ROOT=$saved
  unmount_proc "$dir"
  trap - EXIT
  if [ $rc != 0 ]; then
    tail -n 20 "$CACHE_DIR/apt.log" >&2
    die "apt-get inside the root failed (full log: $CACHE_DIR/apt.log)"
  fi
}

write_marker() {
  local dir=$1 version
  version=$(ROOT=$dir in_root dpkg-query -W -f='${Version}' asterisk)
  printf 'asterisk %s built %s\npackages: %s\n' "$version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${PACKAGES[*]}" \
    >"$dir/.followup-built"
}

cmd_build() {
  need_root
  with_lock
  if [ -f "$MARKER" ]; then
    if [ "$(sed -n 's/^packages: //p' "$MARKER")" = "${PACKAGES[*]}" ]; then
      say "already built: $(head -n 1 "$MARKER") in $ROOT"
      return 0
    fi
    # The package list grew since this root was built: add the packages instead of starting over.
    running_pid >/dev/null && die "Asterisk is running from $ROOT: stop it before 'build' adds packages"
    say "adding packages to the existing root: ${PACKAGES[*]}"
    root_apt_install "$ROOT" "${PACKAGES[@]}"
    write_marker "$ROOT"
    say "updated: $(head -n 1 "$MARKER")"
    return 0
  fi
  local t0=$SECONDS
  command -v debootstrap >/dev/null 2>&1 || host_apt_install debootstrap

  # Build in a side directory and rename at the end, so a half-built root is never mistaken for a
  # good one. A leftover from an interrupted build is thrown away (after unmounting its /proc).
  local tmp="$ROOT.partial"
  if [ -e "$tmp" ]; then
    say "removing an interrupted build: $tmp"
    unmount_proc "$tmp"
    rm -rf --one-file-system "$tmp"
  fi
  if [ -e "$ROOT" ]; then   # a root without marker: also incomplete
    say "removing an incomplete root: $ROOT"
    unmount_proc "$ROOT"
    rm -rf --one-file-system "$ROOT"
  fi
  mkdir -p "$tmp"

  say "debootstrap --variant=minbase sid into $tmp (about 30 s)"
  local -a mirror=()
  [ -n "${FOLLOWUP_DEBIAN_MIRROR:-}" ] && mirror=("$FOLLOWUP_DEBIAN_MIRROR")
  if ! debootstrap --variant=minbase sid "$tmp" "${mirror[@]}" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/debootstrap.log" >&2 || true
    [ -f "$tmp/debootstrap/debootstrap.log" ] && tail -n 20 "$tmp/debootstrap/debootstrap.log" >&2
    if grep -qiE 'signature|NO_PUBKEY|unknown key' "$CACHE_DIR/debootstrap.log"; then
      say "hint: sid is signed with a key this host does not know yet: update the host's keyring with" \
        "'apt-get update && apt-get install debian-archive-keyring' (bookworm-updates has the newer keys)"
    fi
    die "debootstrap failed (full log: $CACHE_DIR/debootstrap.log)"
  fi

  # Maintainer scripts must not start services inside the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"
  [ -f /etc/resolv.conf ] && cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"

  say "installing ${PACKAGES[*]} inside the root (about 15 s)"
  root_apt_install "$tmp" "${PACKAGES[@]}"
  write_marker "$tmp"
  mv "$tmp" "$ROOT"
  say "done in $((SECONDS - t0)) s: $(head -n 1 "$MARKER"), $ROOT ($(du -sh --one-file-system "$ROOT" | cut -f1))"
}

# ------------------------------------------------------------------------------------------ configure

# Render every template with only the variables above; write the stamp that `start` compares.
render_configs() {
  local out=$1 f
  mkdir -p "$out"
  for f in "$TEMPLATES"/*; do
    envsubst "$TEMPLATE_VARS" <"$f" >"$out/$(basename "$f")"
  done
}

config_digest() { (cd "$1" && cat ./* | sha256sum | cut -d' ' -f1); }

cmd_configure() {
  need_root
  [ -f "$MARKER" ] || die "no Asterisk root at $ROOT: run 'deploy/asterisk.sh build' first"
  command -v envsubst >/dev/null 2>&1 || host_apt_install gettext-base
  local staging
  staging=$(mktemp -d "$CACHE_DIR/asterisk-conf.XXXXXX")
  render_configs "$staging"
  rm -rf "$ROOT$AST_CONF_DIR"
  mkdir -p "$(dirname "$ROOT$AST_CONF_DIR")"
  mv "$staging" "$ROOT$AST_CONF_DIR"
  chmod 755 "$ROOT$AST_CONF_DIR"
  # /var/run is an absolute symlink to /run in the root: only ever use $ROOT/run from the host.
  mkdir -p "$ROOT/run/asterisk" "$ROOT$AST_LOG_DIR" "$RUN_DIR"
  # Shared directories the host (Python, tests) reads and writes.
  local d
  for d in "$AST_RECORDINGS" "$AST_PATIENT_RECORDINGS" "$AST_PROMPTS" "$AST_PATIENT_AUDIO" "$AST_SCRIPTS"; do
    mkdir -p "$ROOT$d"
    chmod 1777 "$ROOT$d"
  done
  say "configured $ROOT$AST_CONF_DIR (ARI 127.0.0.1:$FOLLOWUP_ARI_PORT, SIP 127.0.0.1:$FOLLOWUP_SIP_PORT)"
}

# ------------------------------------------------------------------------------------- start / stop

ari_url() { printf 'http://127.0.0.1:%s' "$FOLLOWUP_ARI_PORT"; }

# GET an ARI path with the configured credentials; prints the body, fails unless HTTP 200.
# Pure bash (/dev/tcp) so that a fresh machine needs no curl. Loopback connects never hang.
ari_get() {
  local path=$1 auth response
  auth=$(printf '%s:%s' "$FOLLOWUP_ARI_USER" "$FOLLOWUP_ARI_PASSWORD" | base64 -w0)
  { exec 3<>"/dev/tcp/127.0.0.1/$FOLLOWUP_ARI_PORT"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Basic %s\r\n\r\n' \
    "$path" "$auth" >&3
  response=$(timeout 3 cat <&3) || { exec 3<&-; return 1; }
  exec 3<&-
  case "${response%%$'\r'*}" in "HTTP/1."?" 200"*) ;; *) return 1 ;; esac
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}

port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# PID of our Asterisk if it runs (from the PID file, checked against /proc so a reused PID is ignored).
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = asterisk ] || return 1
  printf '%s\n' "$pid"
}

show_log_tail() {
  say "--- last lines of $LOG_FILE"
  tail -n 25 "$LOG_FILE" >&2 2>/dev/null || true
  if [ -f "$ROOT$AST_LOG_DIR/messages.log" ]; then
    say "--- last lines of $ROOT$AST_LOG_DIR/messages.log"
    tail -n 25 "$ROOT$AST_LOG_DIR/messages.log" >&2 || true
  fi
}

wait_for_ari() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ari_get /ari/asterisk/info >/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      die "Asterisk exited during start-up (see above)"
    fi
    sleep 0.05
  done
  show_log_tail
  die "ARI did not answer on $(ari_url) within ${START_TIMEOUT} s (PID $pid still running; see above)"
}

# Succeeds when our Asterisk runs (waiting for its ARI if it is still starting); warns when the
# templates or settings changed since it started.
already_running() {
  local pid
  pid=$(running_pid) || return 1
  if ! ari_get /ari/asterisk/info >/dev/null; then
    say "running (PID $pid) but ARI does not answer yet; waiting"
    wait_for_ari "$pid"
  fi
  if [ -f "$RUN_DIR/config.sha256" ]; then
    local staging
    staging=$(mktemp -d)
    render_configs "$staging"
    if [ "$(config_digest "$staging")" != "$(cat "$RUN_DIR/config.sha256")" ]; then
      say "warning: templates or settings changed since start; 'deploy/asterisk.sh restart' applies them"
    fi
    rm -rf "$staging"
  fi
  say "already running (PID $pid), ARI answers on $(ari_url)"
}

cmd_start() {
  need_root
  local pid
  already_running && return 0
  [ -f "$MARKER" ] || cmd_build
  with_lock
  already_running && return 0   # a concurrent start may have won the lock
  cmd_configure
  if port_open "$FOLLOWUP_ARI_PORT"; then
    die "127.0.0.1:$FOLLOWUP_ARI_PORT is already taken by another process (not our Asterisk): stop it or set FOLLOWUP_ARI_PORT"
  fi
  rm -f "$ROOT/run/asterisk/asterisk.ctl" "$ROOT/run/asterisk/asterisk.pid" "$PID_FILE"
  : >"$ROOT$AST_LOG_DIR/messages.log"
  local t0
  t0=$(date +%s.%N)
  # -f: stay in the foreground of this background job (we own the PID); -n: no colours in the log.
  # setsid detaches it from our terminal/session so it survives this script and Ctrl-C in the caller.
  # Not inside in_root: `env -i ... chroot` would become the PID we track, asterisk must be it.
  setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    chroot "$ROOT" /usr/sbin/asterisk -f -n -C "$AST_CONF" </dev/null >"$LOG_FILE" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  # setsid only forks when it is a process-group leader (not the case here), so $! is Asterisk itself
  # after the execs; prefer Asterisk's own pid file when it appears.
  wait_for_ari "$pid"
  if [ -s "$ROOT/run/asterisk/asterisk.pid" ]; then
    pid=$(cat "$ROOT/run/asterisk/asterisk.pid")
    echo "$pid" >"$PID_FILE"
  fi
  config_digest "$ROOT$AST_CONF_DIR" >"$RUN_DIR/config.sha256"
  local dt
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  say "started (PID $pid); ARI answered after ${dt} s on $(ari_url); log $LOG_FILE"
}

cmd_stop() {
  need_root
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping Asterisk (PID $pid)"
  timeout 10 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$ROOT" \
    /usr/sbin/asterisk -C "$AST_CONF" -rx 'core stop now' >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after 'core stop now': SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  kill -0 "$pid" 2>/dev/null && die "could not stop PID $pid"
  rm -f "$PID_FILE" "$RUN_DIR/config.sha256"
  say "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    local rss
    rss=$(awk '/^VmRSS/ { printf "%d MB", $2 / 1024 }' "/proc/$pid/status")
    echo "running (PID $pid, RSS $rss)"
    if info=$(ari_get /ari/asterisk/info); then
      echo "ARI $(ari_url): $info"
    else
      echo "ARI $(ari_url): not answering"
      return 1
    fi
  else
    echo "stopped"
    if [ -f "$MARKER" ]; then echo "root: $ROOT ($(head -n 1 "$MARKER"))"; else echo "root: not built ($ROOT)"; fi
    return 3
  fi
}

cmd_cli() {
  need_root
  [ $# -gt 0 ] || die "usage: deploy/asterisk.sh cli 'core show channels'"
  running_pid >/dev/null || die "Asterisk is not running"
  in_root /usr/sbin/asterisk -C "$AST_CONF" -rx "$*"
}

json_str() { # minimal JSON string escaping (paths and URLs have no control characters)
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

cmd_paths() {
  local pair name path
  printf '{\n  "external": false,\n  "ari_url": %s,\n  "ari_user": %s,\n  "ari_password": %s,\n' \
    "$(json_str "$(ari_url)")" "$(json_str "$FOLLOWUP_ARI_USER")" "$(json_str "$FOLLOWUP_ARI_PASSWORD")"
  printf '  "sip": %s,\n' "$(json_str "127.0.0.1:$FOLLOWUP_SIP_PORT")"
  printf '  "root": %s,\n  "built": %s,\n' "$(json_str "$ROOT")" "$([ -f "$MARKER" ] && echo true || echo false)"
  printf '  "pid_file": %s,\n  "log_file": %s,\n' "$(json_str "$PID_FILE")" "$(json_str "$LOG_FILE")"
  printf '  "messages_log": %s,\n' "$(json_str "$ROOT$AST_LOG_DIR/messages.log")"
  printf '  "dirs": {\n'
  local first=1
  for pair in "config=$AST_CONF_DIR" "recordings=$AST_RECORDINGS" "patient_recordings=$AST_PATIENT_RECORDINGS" \
              "prompts=$AST_PROMPTS" "patient_audio=$AST_PATIENT_AUDIO" "scripts=$AST_SCRIPTS"; do
    name=${pair%%=*}; path=${pair#*=}
    [ $first = 1 ] || printf ',\n'
    first=0
    printf '    "%s": {"host": %s, "asterisk": %s}' "$name" "$(json_str "$ROOT$path")" "$(json_str "$path")"
  done
  printf '\n  }\n}\n'
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    ""|-h|--help|help) usage; return 0 ;;
  esac
  if [ -n "${FOLLOWUP_ARI_URL:-}" ]; then
    if [ "$cmd" = paths ]; then
      printf '{"external": true, "ari_url": %s}\n' "$(json_str "$FOLLOWUP_ARI_URL")"
    else
      say "FOLLOWUP_ARI_URL is set ($FOLLOWUP_ARI_URL): an external Asterisk is used, nothing to do for '$cmd'"
    fi
    return 0
  fi
  case "$cmd" in
    build) cmd_build ;;
    configure) with_lock; cmd_configure ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    cli) cmd_cli "$@" ;;
    paths) cmd_paths ;;
    *) usage >&2; die "unknown subcommand '$cmd'" ;;
  esac
}

main "$@"
