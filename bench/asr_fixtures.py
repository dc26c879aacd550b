"""Benchmark: every speech fixture through ``hear --phone`` (8 kHz phone line simulated).

    .venv/bin/python bench/asr_fixtures.py [--fixtures DIR] [--labels TSV] [--window S] [--no-plain]
                                           [--only zh07,en10] [--json OUT]

For each fixture: the expectation its label implies (tests/asr/fixture_labels.tsv: expect type, expected
intent and value), what was heard and understood, and whether the meaning survived. Prints, per language:
- understanding accuracy through the 8 kHz path (target ≥ 95 %), next to the text ceiling (the same
  labels checked on the reference text, so NLU misses are not blamed on speech);
- mean CER (zh) / WER (en) of the unbiased and the biased transcript (zh: Arabic numerals read out as
  Chinese before scoring, as in the notes; en: raw);
- decode time per utterance and RTF (decode time / length of the speech span decoded).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.audio import load_audio, phone_band
from asr.hear import hear_audio
from asr.normalize import bare, to_simplified
from asr.vad import speech_span

DEFAULT_FIXTURES = ROOT / "tests" / "fixtures" / "speech"
DEFAULT_LABELS = ROOT / "tests" / "asr" / "fixture_labels.tsv"
NOW = datetime(2026, 11, 25, 10, 0, 0)
_DIGITS = "零一二三四五六七八九"


def zh_number(num: str) -> str:
    """Read an Arabic numeral the Chinese way (135 → 一百三十五, 7.2 → 七点二); for scoring only."""
    whole, _, frac = num.partition(".")
    n = int(whole) if whole else 0
    if n >= 10000:
        out = "".join(_DIGITS[int(d)] for d in whole)
    elif n == 0:
        out = "零"
    else:
        out = ""
        units = [(1000, "千"), (100, "百"), (10, "十"), (1, "")]
        zero = False
        for value, name in units:
            d = n // value % 10
            if d:
                if zero and out:
                    out += "零"
                out += ("" if (value == 10 and d == 1 and not out) else _DIGITS[d]) + name
                zero = False
            elif out:
                zero = True
    if frac:
        out += "点" + "".join(_DIGITS[int(d)] for d in frac)
    return out


def zh_for_scoring(text: str) -> str:
    import re

    text = to_simplified(text)
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: zh_number(m.group(0)), text)
    return bare(text).replace(" ", "")


def edit_distance(a: list[str] | str, b: list[str] | str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def error_rate(ref: str, hyp: str | None, lang: str) -> float:
    hyp = hyp or ""
    if lang == "zh":
        r, h = zh_for_scoring(ref), zh_for_scoring(hyp)
        return edit_distance(r, h) / max(1, len(r))
    rw, hw = bare(ref).split(), bare(hyp).split()
    return edit_distance(rw, hw) / max(1, len(rw))


def load_labels(path: Path) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = {}
    for r in rows:
        value: Any = "*" if r["value"] == "*" else json.loads(r["value"])
        out[r["id"]] = {"expect": r["expect"], "intent": r["intent"], "value": value}
    return out


def value_matches(expected: Any, got: Any) -> bool:
    """Expected label value vs the NLU's: "*" matches anything; numbers within 1e-6; a dict label
    checks its own keys only."""
    if expected == "*":
        return True
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return abs(expected - got) < 1e-6
    if isinstance(expected, dict) and isinstance(got, dict):
        return all(k in got and value_matches(v, got[k]) for k, v in expected.items())
    return expected == got


def meaning_kept(label: dict[str, Any], result: dict[str, Any]) -> bool:
    return result.get("intent") == label["intent"] and value_matches(label["value"], result.get("value"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    ap.add_argument("--window", type=float, default=30.0, help="Whisper encoder window in seconds")
    ap.add_argument("--plain-below", type=float, default=None,
                   help="decode the unbiased alternative only when the biased confidence is below this")
    ap.add_argument("--no-plain", action="store_true", help="biased decoding only (no unbiased alternative)")
    ap.add_argument("--only", help="comma-separated fixture ids")
    ap.add_argument("--json", type=Path, help="write per-fixture results here")
    args = ap.parse_args(argv)

    from asr.whisper import WhisperRecognizer
    from dialog.nlu import Expectation, understand

    labels = load_labels(args.labels)
    with open(args.fixtures / "manifest.tsv", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh, delimiter="\t"))
    if args.only:
        wanted = set(args.only.split(","))
        manifest = [m for m in manifest if m["id"] in wanted]

    t0 = time.perf_counter()
    rec = WhisperRecognizer(window_s=args.window, decode_plain=not args.no_plain, plain_below=args.plain_below)
    print(f"model loaded in {time.perf_counter() - t0:.2f} s ({rec.model_dir})", file=sys.stderr)
    # Warm-up (first call allocates): not counted.
    rec.transcribe(phone_band(load_audio(args.fixtures / f"{manifest[0]['id']}.wav")), manifest[0]["lang"])

    rows: list[dict[str, Any]] = []
    for m in manifest:
        fid, lang = m["id"], m["lang"]
        label = labels[fid]
        exp = Expectation(type=label["expect"], lang=lang)
        audio = load_audio(args.fixtures / f"{fid}.wav")
        span = speech_span(phone_band(audio))
        heard = hear_audio(audio, lang, exp, NOW, phone=True, recognizer=rec)
        tr = heard.transcript
        text_result = understand(m["text"], exp, NOW).to_json()
        row = {
            "id": fid,
            "lang": lang,
            "reference": m["text"],
            "expect": label["expect"],
            "want": f"{label['intent']} {json.dumps(label['value'], ensure_ascii=False)}",
            "heard": heard.result,
            "transcript": tr.text if tr else "",
            "plain": tr.plain_text if tr else "",
            "alternatives": list(tr.alternatives) if tr else [],
            "asr_confidence": tr.confidence if tr else 0.0,
            "no_speech_prob": tr.no_speech_prob if tr else 1.0,
            "kept": meaning_kept(label, heard.result),
            "text_ok": meaning_kept(label, text_result),
            "text_result": text_result,
            "err_biased": error_rate(m["text"], tr.text if tr else "", lang),
            "err_plain": error_rate(m["text"], tr.plain_text if tr else "", lang),
            "decode_s": tr.decode_s if tr else 0.0,
            "speech_s": (len(span) / 16000) if span is not None else 0.0,
        }
        rows.append(row)
        mark = "ok " if row["kept"] else "XX "
        print(
            f"{mark}{fid} {m['text']} | heard {row['transcript']!r} (plain {row['plain']!r}) → "
            f"{heard.result['intent']} {json.dumps(heard.result['value'], ensure_ascii=False)} "
            f"conf {heard.result['confidence']:.2f} | want {row['want']}"
            + ("" if row["text_ok"] else f" | NLU on reference text: {text_result}"),
            flush=True,
        )

    print()
    print("lang  n   meaning kept   text ceiling   err plain  err biased  decode s (mean/median/max)  RTF")
    for lang in ("zh", "en"):
        rs = [r for r in rows if r["lang"] == lang]
        if not rs:
            continue
        kept = sum(r["kept"] for r in rs)
        ceil = sum(r["text_ok"] for r in rs)
        dec = [r["decode_s"] for r in rs]
        rtf = sum(dec) / max(1e-9, sum(r["speech_s"] for r in rs))
        metric = "CER" if lang == "zh" else "WER"
        print(
            f"{lang}   {len(rs):2d}   {kept:2d}/{len(rs)} {100 * kept / len(rs):5.1f} %   "
            f"{ceil:2d}/{len(rs)} {100 * ceil / len(rs):5.1f} %   "
            f"{metric} {statistics.mean(r['err_plain'] for r in rs):.3f}  {statistics.mean(r['err_biased'] for r in rs):.3f}"
            f"       {statistics.mean(dec):.2f} / {statistics.median(dec):.2f} / {max(dec):.2f}            {rtf:.2f}"
        )
    confident_wrong = [r["id"] for r in rows if not r["kept"] and r["heard"]["confidence"] >= 0.55]
    low_right = [r["id"] for r in rows if r["kept"] and r["heard"]["confidence"] < 0.55]
    print(f"wrong but confidence ≥ 0.55 (would not be read back): {confident_wrong or 'none'}")
    print(f"right but confidence < 0.55 (would be read back): {low_right or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
