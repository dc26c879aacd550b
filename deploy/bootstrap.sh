#!/usr/bin/env bash
# Set up what the project needs on a Debian machine, idempotently: Debian packages that are missing,
# the virtual environment at .venv with the project installed (editable) and its test tools.
# Re-running is cheap: each step checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }

# Python 3.11 with venv support (Debian 12's python3 is 3.11).
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$(command -v "$cand"); break
    fi
  done
fi
if [ -z "$PYTHON" ]; then missing+=(python3.11 python3.11-venv python3.11-dev); fi
if [ -n "$PYTHON" ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3.11-venv); fi
need_cmd gcc build-essential
need_cmd espeak-ng espeak-ng
need_cmd sox sox
need_cmd curl curl
need_cmd flock util-linux
# The console's browser tests drive Debian's chromium (Playwright's own browser download is not used);
# Chinese pages need a CJK font to render.
need_cmd chromium chromium
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
# The live-transfer tests register baresip as an auto-answering agent phone (PJSIP agent2).
need_cmd baresip baresip

if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -n "$PYTHON" ] || PYTHON=$(command -v python3.11)

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing the project and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
say "environment ready (.venv, $(.venv/bin/python --version))"
