"""``followup hear``: the speech path on recordings. Wired by ``followup.cli`` (``asr_cli.cmd_hear(args)``).

    followup hear --lang {zh,en} --expect TYPE [--phone] [--now ISO8601] FILE.wav
    followup hear [--phone] --batch FILE        (JSON lines {"lang","expect","audio","now"}; - for stdin)

Prints one JSON object per utterance: {"text", "intent", "value", "confidence"}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO


def _dump(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def cmd_hear(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``hear`` (one file) or ``hear_batch`` (``--batch``) and print JSON; return the exit status
    (0 ok, 1 some batch line failed, 2 usage error; a missing model raises ModelMissing with the fix)."""
    from asr.backends import make_recognizer
    from asr.hear import hear, hear_batch
    from followup.cli import parse_now

    out = out or sys.stdout
    phone = bool(getattr(args, "phone", False))
    if getattr(args, "batch", None):
        recognizer = make_recognizer()
        failed = 0
        if args.batch == "-":
            source: Any = contextlib.nullcontext(sys.stdin)
            base_dir = Path.cwd()
        else:
            source = open(args.batch, encoding="utf-8")  # noqa: SIM115 - closed by the with below
            base_dir = Path(args.batch).resolve().parent
        with source as lines:
            for result in hear_batch(
                lines, phone=phone, base_dir=base_dir, recognizer=recognizer, parse_now=parse_now
            ):
                failed += "error" in result
                _dump(result, out)
        return 1 if failed else 0
    if not args.file or not args.lang or not args.expect:
        print("followup hear: needs --lang, --expect and FILE.wav (or --batch FILE)", file=sys.stderr)
        return 2
    if not Path(args.file).is_file():
        raise FileNotFoundError(f"no such audio file: {args.file}")
    # The recogniser is built only if the file holds speech: silence needs no model.
    result = hear(args.file, args.lang, args.expect, phone, parse_now(args.now))
    _dump(result, out)
    return 0

