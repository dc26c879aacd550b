"""``followup call``: place one real call through Asterisk to a simulated patient and report it.

    followup call --flow discharge_general --lang zh --patient-script replies.json --json

The patient script is JSON (``dialer.simpatient``): one action per bot question — ``{"say": "a.wav"}``,
``{"say": "a.wav", "barge_in_ms": 800}``, ``{"silence": true}``, ``{"dtmf": "1"}``, ``{"hangup": true}`` —
or a top-level ``{"busy": true}``, ``{"no_answer": true}`` or ``{"voicemail": "greeting.wav"}``. WAVs may
have any rate; they are converted to 8 kHz telephone audio for the simulated patient.

What it does: starts the project's Asterisk if needed (``deploy/asterisk.sh start``; not when
FOLLOWUP_ARI_URL is set), upgrades the settings' database, creates a patient / visit / task / attempt
(the "ad-hoc calls" campaign), pre-renders the flow's prompts, writes the simulated patient, dials
``Local/sim-<id>@patients`` and runs a ``CallSession``. ``--json`` prints exactly::

    {"outcome", "answers", "escalations", "turns": [{"speaker", "text", "start_ms", "end_ms"}],
     "latency_ms": [...], "recording"}

Without ``--json`` the transcript is printed as the call goes, then the answers and the outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``followup call`` (the CLI's subparser gets them from here)."""
    p.add_argument("--flow", required=True, help="a library flow id or a path to a flow YAML file")
    p.add_argument("--lang", choices=("zh", "en"), default=None, help="call language (default: the flow's first)")
    p.add_argument("--patient-script", required=True, metavar="SCRIPT.json",
                   help='what the simulated patient does: [{"say": "a.wav"}, {"silence": true}, {"dtmf": "1"}, '
                        '{"hangup": true}, ...] or {"busy": true} / {"no_answer": true} / {"voicemail": "g.wav"}')
    p.add_argument("--patient", metavar="FILE.json", help='{"patient": {...}, "visit": {...}, "hospital": {...}}')
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--now", metavar="ISO", help="the call's local time for relative dates (default: now)")
    p.add_argument("--ring-timeout", type=int, default=30, metavar="SECONDS",
                   help="how long to let it ring before giving up (default 30)")
    p.add_argument("--transport", choices=("websocket", "audiosocket"), default="websocket",
                   help="media transport (default: chan_websocket)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="followup call", description="Place one call to a simulated patient.")
    add_arguments(p)
    return p


def _sim_dirs(settings: Any) -> tuple[dict[str, Path], str | None]:
    """Host paths of the simulated patients' directories (and the running Asterisk's ARI URL when we
    started it)."""
    from dialer import local_asterisk

    if settings.ari_url:
        # FOLLOWUP_ARI_URL: don't start anything. Simulated patients still need the project's shared
        # directories: use them if that Asterisk's root is on this host.
        root = Path(settings.cache_dir).expanduser() / "asterisk-root"
        dirs = {
            "scripts": root / "var/lib/followup/scripts",
            "patient_audio": root / "var/lib/followup/patient-audio",
            "recordings": root / "var/spool/asterisk/recording",
        }
        if not dirs["scripts"].is_dir():
            raise local_asterisk.AsteriskUnavailable(
                f"FOLLOWUP_ARI_URL is set and there is no simulated-patient directory at {dirs['scripts']}: "
                "followup call needs the project's Asterisk (unset FOLLOWUP_ARI_URL to have it started)")
        return dirs, None
    ast = local_asterisk.ensure_started()
    return ast.dirs, ast.ari_url


def _now(value: str | None) -> datetime:
    from dialog.nlu.understand import local_now

    if value:
        return local_now(datetime.fromisoformat(value))
    return local_now().replace(second=0, microsecond=0)


def main(args: argparse.Namespace | list[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Entry point of ``followup call`` (``args``: the CLI's Namespace or the words after ``call``)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(args)
    from followup.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=getattr(logging, str(settings.log_level).upper(), logging.INFO), stream=err,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from dialer.simpatient import PatientScriptError
    from flows.loader import find_flow

    try:
        flow = find_flow(args.flow)
    except (ValueError, LookupError, OSError) as exc:
        print(f"followup call: error: {exc}", file=err)
        return 2
    lang = args.lang or flow.languages[0]
    if lang not in flow.languages:
        print(f"followup call: error: flow {flow.id} has no {lang} prompts", file=err)
        return 2
    try:
        script_path = Path(args.patient_script)
        script = json.loads(script_path.read_text(encoding="utf-8"))
        now = _now(args.now)
        context = json.loads(Path(args.patient).read_text(encoding="utf-8")) if args.patient else None
    except (OSError, ValueError) as exc:
        print(f"followup call: error: {exc}", file=err)
        return 2
    if context is None:
        from followup.simulate import demo_context

        context = demo_context(lang, now)
    try:
        report = asyncio.run(run_call(settings, flow, lang, script, context, now, base_dir=script_path.parent,
                                      ring_timeout=args.ring_timeout, transport=args.transport,
                                      show=None if args.json else (lambda line: print(line, file=out, flush=True))))
    except PatientScriptError as exc:
        print(f"followup call: error: --patient-script {args.patient_script}: {exc}", file=err)
        return 2
    except Exception as exc:  # noqa: BLE001 - set-up failures (Asterisk, database, models) end the command
        print(f"followup call: error: {type(exc).__name__}: {exc}", file=err)
        return 1
    if args.json:
        print(json.dumps(report.to_contract(), ensure_ascii=False, indent=2), file=out)
    else:
        print(file=out)
        print(format_report(report, lang), file=out)
    return 0


def format_report(report: Any, lang: str) -> str:
    """The answers, escalations, outcome, latencies and recording of a call, readable."""
    zh = lang == "zh"
    lines = ["回答" if zh else "Answers"]
    if report.answers:
        width = max(len(q) for q in report.answers)
        for qid, value in report.answers.items():
            shown = "—" if value is None else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {qid.ljust(width)}  {shown}")
    else:
        lines.append("  " + ("（无）" if zh else "(none)"))
    if report.escalations:
        lines.append("转交" if zh else "Escalations")
        for e in report.escalations:
            where = f" [{e['question_id']}]" if e["question_id"] else ""
            lines.append(f"  {e['kind']} → {e['department'] or '-'}{where}: {e['text']}")
    lines.append(f"{'结果' if zh else 'Outcome'}: {report.outcome}")
    if report.latency_ms:
        lines.append(f"{'响应延迟' if zh else 'Voice-to-voice latency'}: "
                     + ", ".join(f"{ms} ms" for ms in report.latency_ms))
    if report.recording:
        lines.append(f"{'录音' if zh else 'Recording'}: {report.recording}")
    for e in report.errors:
        lines.append(f"! {e}")
    return "\n".join(lines)


async def run_call(settings: Any, flow: Any, lang: str, script: Any, context: dict[str, Any], now: datetime, *,
                   base_dir: Path | None = None, ring_timeout: int = 30, transport: str = "websocket",
                   show: Any = None) -> Any:
    """Everything ``followup call`` does after parsing its arguments; returns the CallReport."""
    from asr.backends import make_recognizer
    from asr.pool import make_decode_pool
    from dialer.ari import AriClient
    from dialer.media import AudioSocketServer
    from dialer.persist import AttemptLog, create_adhoc_attempt
    from dialer.prompts import PromptAudio
    from dialer.session import CallSession, SessionOptions
    from dialer.simpatient import SimulatedPatients
    from models import db
    from tts.factory import prompt_cache_from_settings, synthesizer_from_settings

    dirs, _ = await asyncio.to_thread(_sim_dirs, settings)
    patients = SimulatedPatients(dirs["scripts"], dirs["patient_audio"])
    call_id = f"call-{secrets.token_hex(6)}"
    patient = await asyncio.to_thread(patients.prepare, script, call_id.removeprefix("call-"), base_dir)
    try:
        url = settings.resolved_database_url
        await asyncio.to_thread(db.upgrade, url)
        engine = db.make_engine(url)
        sessions = db.session_factory(engine)
        synth = synthesizer_from_settings(settings)
        prompts = PromptAudio(prompt_cache_from_settings(settings), synth, lang,
                              flow.path.parent if flow.path is not None else None)
        await prompts.prerender(flow, context)
        recognizer = await asyncio.to_thread(make_recognizer, settings)
        phone = "+999" + str(secrets.randbelow(10**10)).zfill(10)  # unassigned country code: never a real number
        adhoc = await asyncio.to_thread(create_adhoc_attempt, sessions, context, flow_id=flow.id, lang=lang,
                                        phone=phone, channel_id=call_id, flow_version=str(flow.version))
        attempt_log = AttemptLog(sessions, adhoc.attempt_id, adhoc.patient_id, adhoc.phone)
        label = {"bot": "机器人" if lang == "zh" else "Bot", "patient": "患者" if lang == "zh" else "Patient"}

        def on_turn(turn: Any) -> None:
            if show is not None:
                mark = " …" if turn.interrupted else ""
                show(f"{label.get(turn.speaker, turn.speaker)}: {turn.text}{mark}")

        options = SessionOptions.from_settings(settings, originate_timeout_s=ring_timeout, transport=transport)
        app = f"{settings.ari_app}-call-{secrets.token_hex(3)}"  # one Stasis app per process (no replacing)
        pool = await asyncio.to_thread(make_decode_pool, recognizer, settings)
        try:
            async with AriClient(settings.resolved_ari_url, settings.ari_user, settings.ari_password, app) as client:
                server = AudioSocketServer("127.0.0.1", 0) if transport == "audiosocket" else None
                if server is not None:
                    await server.start()
                try:
                    session = CallSession(
                        client, endpoint=patient.endpoint, flow=flow, lang=lang, context=context,
                        recognizer=recognizer, prompts=prompts, now=now, log=attempt_log, options=options,
                        pool=pool, call_id=call_id, recordings_dir=dirs.get("recordings"), audiosocket=server,
                        on_turn=on_turn)
                    report = await session.run()
                finally:
                    if server is not None:
                        await server.close()
        finally:
            pool.shutdown(wait=False)
            close = getattr(synth, "close", None)
            if close is not None:
                close()
            engine.dispose()
        report.attempt_id = adhoc.attempt_id
        return report
    finally:
        patients.cleanup()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
