"""Regenerate the recorded ARI event sequences used by tests/dialer/test_outcome.py.

Runs each scenario against a running project Asterisk (deploy/asterisk.sh start) and writes
``events.json``: {scenario: {"channel_id": ..., "events": [...]}} with every application event from the
originate until our channel is destroyed, except ChannelVarset/ChannelDialplan (timestamps and ids as recorded).

    .venv/bin/python tests/dialer/data/record_events.py [ARI_URL]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

from dialer.ari import AriClient, AriError

HERE = Path(__file__).resolve().parent
# The simulated patient's dialplan steps and variables: most of the volume, no signal for outcomes.
SKIPPED = {"ChannelVarset", "ChannelDialplan"}
REPO = HERE.parents[2]

# scenario -> (script lines or a fixed number, originate timeout, hang up ourselves after answer?)
SCENARIOS: dict[str, tuple[str | list[str], int, bool]] = {
    "busy": ("busy", 10, False),
    "noanswer": ("noanswer", 2, False),
    "script_busy_after_ring": (["ring 1", "busy"], 10, False),
    "unallocated": (["#nothing"], 10, False),   # a script with no action line: see below
    "patient_hangup": (["ring 1", "wait 1", "hangup now"], 10, False),
    "we_hang_up": (["wait 1"], 10, True),
    "no_such_extension": ("nosuch", 10, False),   # matches no extension in [patients]
}


def paths() -> dict:
    out = subprocess.run(["bash", str(REPO / "deploy" / "asterisk.sh"), "paths"], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return json.loads(out)


async def record(client: AriClient, scripts: Path, name: str, spec: str | list[str], timeout: int,
                 hang_up: bool) -> dict:
    n = uuid.uuid4().hex[:8]
    if isinstance(spec, list):
        if name == "unallocated":
            number = f"sim-none{n}"          # no script file at all: the dialplan hangs up with cause 1
        else:
            number = f"sim-rec{n}"
            (scripts / f"rec{n}.txt").write_text("\n".join(spec) + "\n")
    else:
        number = spec
    call = f"call-{name}-{n}"
    events: list[dict] = []
    sub = client.events()
    try:
        await client.originate(f"Local/{number}@patients", channel_id=call, other_channel_id=f"patient-{n}",
                               app_args="outbound", timeout=timeout)
    except AriError as exc:
        return {"channel_id": call, "events": [], "originate_error": str(exc)}
    async with asyncio.timeout(30):
        while True:
            ev = await sub.get()
            if ev.get("type") not in SKIPPED:
                events.append(ev)
            if hang_up and ev.get("type") == "StasisStart" and ev["channel"]["id"] == call:
                await asyncio.sleep(0.5)
                await client.hangup(call)
            if ev.get("type") == "ChannelDestroyed" and ev["channel"]["id"] == call:
                break
        await asyncio.sleep(0.3)   # the other half's last events
        while (ev := sub.get_nowait()) is not None:
            if ev.get("type") not in SKIPPED:
                events.append(ev)
    sub.close()
    (scripts / f"rec{n}.txt").unlink(missing_ok=True)
    return {"channel_id": call, "events": events}


async def main() -> None:
    info = paths()
    url = sys.argv[1] if len(sys.argv) > 1 else info["ari_url"]
    scripts = Path(info["dirs"]["scripts"]["host"])
    out = {}
    async with AriClient(url, info["ari_user"], info["ari_password"], "followup-rec") as client:
        for name, (spec, timeout, hang_up) in SCENARIOS.items():
            out[name] = await record(client, scripts, name, spec, timeout, hang_up)
            print(name, len(out[name]["events"]), "events")
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in out.items()]
    (HERE / "events.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    asyncio.run(main())
