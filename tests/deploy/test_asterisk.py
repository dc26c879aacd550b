"""The project-provisioned Asterisk and its simulated patients, against the real thing.

Each scenario places a call the way the dialer will (ARI originate to Local/<number>@patients with
formats=slin16) to a patient whose script is written into the shared scripts dir, and checks what ARI
reports and what was recorded. The last test stops Asterisk.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from asterisk_helpers import (
    AriTestClient,
    Asterisk,
    active_span,
    install_8k,
    new_call_id,
    of,
    read_wav,
    run,
    run_script,
    script_env,
)

APP = "followup-test"


def write_script(ast: Asterisk, call_id: str, text: str) -> str:
    """Write a patient script; returns the number to dial (sim-<id>)."""
    (ast.dirs["scripts"] / f"{call_id}.txt").write_text(text)
    return f"sim-{call_id}"


def wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.05)


def non_loopback_ipv4() -> str | None:
    """This machine's primary non-loopback address (no packet is sent), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") else addr


def listeners(proto: str, port: int) -> set[str]:
    """Local IPv4 addresses with a socket bound on ``port`` (/proc/net/tcp or udp; TCP: LISTEN only)."""
    found = set()
    for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
        fields = line.split()
        addr_hex, port_hex = fields[1].split(":")
        if int(port_hex, 16) != port or (proto == "tcp" and fields[3] != "0A"):
            continue
        found.add(socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1]))
    return found


# ----------------------------------------------------------------------------------------------- tests

def test_ari_answers_on_loopback_only(asterisk: Asterisk) -> None:
    info = httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", auth=(asterisk.user, asterisk.password), timeout=5)
    assert info.status_code == 200 and info.json()["system"]["version"].startswith("22.")
    assert httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", timeout=5).status_code == 401
    assert listeners("tcp", asterisk.port) == {"127.0.0.1"}
    assert listeners("udp", 5060) == {"127.0.0.1"}  # PJSIP transport (default FOLLOWUP_SIP_PORT)
    addr = non_loopback_ipv4()
    if addr is not None:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((addr, asterisk.port), timeout=3).close()


def test_busy_patient_shows_busy_in_dial_event(asterisk: Asterisk) -> None:
    call = new_call_id()
    number = write_script(asterisk, call, "# line-busy patient\nbusy\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call, timeout=15)
            dial = await ari.wait_for(lambda e: of("Dial", call)(e) and e.get("dialstatus"), 15)
            assert dial["dialstatus"] == "BUSY"
            await ari.wait_for(of("ChannelDestroyed", call), 10)
            assert not [e for e in ari.seen if of("StasisStart", call)(e)], "a busy patient must not answer"

    run(scenario(), 40)


def test_never_answering_patient_times_out_with_no_answer(asterisk: Asterisk) -> None:
    call = new_call_id()
    number = write_script(asterisk, call, "noanswer\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call, timeout=5)
            destroyed = await ari.wait_for(of("ChannelDestroyed", call), 15)
            assert destroyed["cause"] == 19, destroyed  # NO ANSWER
            assert not [e for e in ari.seen if of("StasisStart", call)(e)]

    run(scenario(), 40)


def test_unknown_number_is_unallocated(asterisk: Asterisk) -> None:
    call = new_call_id()

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(f"sim-nosuchscript-{call}", call, timeout=10)
            destroyed = await ari.wait_for(of("ChannelDestroyed", call), 15)
            assert not [e for e in ari.seen if of("StasisStart", call)(e)]
            assert destroyed["cause"] in (1, 0), destroyed

    run(scenario(), 30)


async def _prompt_and_record(
    ari: AriTestClient, ast: Asterisk, call: str, prompt: str, record_s: float,
) -> Path:
    """The bot's side of one turn: play ``prompt`` on ``call`` while recording what the patient says.

    A channel can't play and record at once through ARI (the two are queued one after the other), so the
    recording runs on a snoop channel spying on the audio coming from the patient.
    """
    await ari.wait_for(of("StasisStart", call), 15)
    snoop = f"snoop-{call}"
    await ari.request("POST", f"/channels/{call}/snoop", spy="in", app=ari.app, snoopId=snoop)
    await ari.wait_for(of("StasisStart", snoop), 5)
    await ari.request("POST", f"/channels/{snoop}/record", name=call, format="wav", ifExists="overwrite",
                      maxDurationSeconds=int(record_s) + 15)
    await ari.request("POST", f"/channels/{call}/play", media=f"sound:{prompt}", playbackId=f"pb-{call}")
    await ari.wait_for(lambda e: e.get("type") == "PlaybackFinished"
                       and e["playback"]["id"] == f"pb-{call}", 20)
    await asyncio.sleep(record_s)
    await ari.request("POST", f"/recordings/live/{call}/stop")
    await ari.wait_for(lambda e: e.get("type") == "RecordingFinished"
                       and e["recording"]["name"] == call, 10)
    await ari.hangup(call)
    await ari.hangup(snoop)
    await ari.wait_for(of("ChannelDestroyed", call), 10)
    return ast.dirs["recordings"] / f"{call}.wav"


def test_patient_replies_after_the_prompt_and_the_reply_is_recorded(asterisk: Asterisk) -> None:
    call = new_call_id()
    prompt, prompt_s = install_8k(asterisk, "en05", "prompts", f"prompt-{call}")
    _, reply_s = install_8k(asterisk, "en01", "patient_audio", f"yes-{call}")
    number = write_script(asterisk, call, f"# answers one question\nsay yes-{call}\n")

    async def scenario() -> Path:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            # the patient waits for the end of the prompt (+1 s of silence), then plays its reply
            return await _prompt_and_record(ari, asterisk, call, prompt, record_s=1.0 + reply_s + 1.5)

    recording = run(scenario(), 60)
    samples, rate = read_wav(recording)
    first, last, loud = active_span(samples, rate)
    assert loud >= 0.5, f"no speech in {recording}"
    # nothing from the patient while the bot spoke; the reply started once the prompt was over
    assert first >= prompt_s + 0.5, (first, prompt_s)
    assert last - first <= reply_s + 0.3

    # the patient side was recorded too: what it heard (the prompt) and what it said (the reply)
    rec = asterisk.dirs["patient_recordings"] / call
    wait_file(rec.with_suffix(".done"), 10)
    # (these files hold only the frames that flowed: no silence where no media did, so no wall-clock timing)
    heard, heard_rate = read_wav(rec.with_name(f"{call}.heard.wav"))
    said, said_rate = read_wav(rec.with_name(f"{call}.said.wav"))
    _, h_last, h_loud = active_span(heard, heard_rate)
    s_first, _, s_loud = active_span(said, said_rate)
    assert h_loud >= 0.6 * prompt_loud, (h_loud, prompt_loud)
    assert s_loud >= 0.6 * reply_loud, (s_loud, reply_loud)
    assert s_first > h_last, "the patient spoke before the prompt was over"


def test_barge_in_patient_talks_over_the_prompt(asterisk: Asterisk) -> None:
    call = new_call_id()
    prompt, prompt_s = install_8k(asterisk, "en13", "prompts", f"prompt-{call}")
    _, reply_s = install_8k(asterisk, "en03", "patient_audio", f"no-{call}")
    number = write_script(asterisk, call, f"say no-{call} barge=500\n")

    async def scenario() -> Path:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            return await _prompt_and_record(ari, asterisk, call, prompt, record_s=1.0)

    samples, rate = read_wav(run(scenario(), 60))
    first, _, loud = active_span(samples, rate)
    assert loud >= 0.5
    # started while the (3 s) prompt was still playing
    assert 0.3 <= first < prompt_s - 1.0, (first, prompt_s)


def test_dtmf_patient_sends_digits_after_a_silent_turn(asterisk: Asterisk) -> None:
    call = new_call_id()
    prompt, _ = install_8k(asterisk, "en02", "prompts", f"prompt-{call}")
    number = write_script(asterisk, call, "silence\ndtmf 5#\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            await ari.wait_for(of("StasisStart", call), 15)
            for turn in (1, 2):
                await ari.request("POST", f"/channels/{call}/play", media=f"sound:{prompt}",
                                  playbackId=f"pb{turn}-{call}")
                await ari.wait_for(lambda e, t=turn: e.get("type") == "PlaybackFinished"
                                   and e["playback"]["id"] == f"pb{t}-{call}", 20)
                if turn == 1:  # the silent turn: no digit may come
                    await asyncio.sleep(2.0)
                    assert not [e for e in ari.seen if of("ChannelDtmfReceived", call)(e)]
            first = await ari.wait_for(of("ChannelDtmfReceived", call), 10)
            second = await ari.wait_for(lambda e: of("ChannelDtmfReceived", call)(e) and e is not first, 5)
            assert (first["digit"], second["digit"]) == ("5", "#")
            await ari.hangup(call)

    run(scenario(), 60)


def test_voicemail_patient_answers_with_greeting_and_beep(asterisk: Asterisk) -> None:
    call = new_call_id()
    _, greeting_s = install_8k(asterisk, "en14", "patient_audio", f"vm-{call}")
    number = write_script(asterisk, call, f"ring 1\nvoicemail vm-{call} 10\n")

    async def scenario() -> Path:
        async with AriTestClient(asterisk, APP) as ari:
            t0 = time.monotonic()
            await ari.originate(number, call)
            await ari.wait_for(of("StasisStart", call), 15)
            assert time.monotonic() - t0 >= 0.9  # rang for a second first
            await ari.request("POST", f"/channels/{call}/record", name=call, format="wav",
                              ifExists="overwrite", maxDurationSeconds=20)
            # the machine hangs up by itself after the beep and 3 s of silence
            await ari.wait_for(of("ChannelDestroyed", call), greeting_s + 10)
            await ari.wait_for(lambda e: e.get("type") in ("RecordingFinished", "RecordingFailed")
                               and e["recording"]["name"] == call, 5)
            return asterisk.dirs["recordings"] / f"{call}.wav"

    samples, rate = read_wav(run(scenario(), 40))
    first, last, loud = active_span(samples, rate)
    assert loud >= 0.6 * greeting_s
    assert last - first >= greeting_s  # greeting followed by the beep


def test_external_asterisk_makes_the_script_a_no_op(asterisk: Asterisk, tmp_path: Path) -> None:
    env = script_env() | {"FOLLOWUP_ARI_URL": "http://192.0.2.10:8088", "FOLLOWUP_CACHE_DIR": str(tmp_path)}
    for cmd in ("build", "start", "stop"):
        result = run_script(cmd, timeout=30, env=env)
        assert result.returncode == 0 and "external Asterisk" in result.stderr, result
    assert list(tmp_path.iterdir()) == []
    assert httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", auth=(asterisk.user, asterisk.password),
                     timeout=5).status_code == 200


def test_stop_ends_asterisk(asterisk: Asterisk) -> None:
    """Runs last (file order): stops the Asterisk the other tests used."""
    pid = int(asterisk.pid_file.read_text())
    assert Path(f"/proc/{pid}").exists()
    result = run_script("stop", timeout=60)
    assert result.returncode == 0, result.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", auth=(asterisk.user, asterisk.password), timeout=3)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/comm").read_text().strip() != "asterisk"
    assert not asterisk.pid_file.exists()
    assert run_script("status", timeout=30).returncode == 3
    assert os.path.exists(asterisk.root)  # the built root stays for the next start
