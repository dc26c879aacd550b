"""The project-provisioned Asterisk and its simulated patients, against the real thing.

Each scenario places a call the way the dialer will (ARI originate to Local/<number>@patients with
formats=slin16) to a patient whose script is written into the shared scripts dir, and checks what ARI
reports and what was recorded. The last test stops Asterisk and starts it again.
"""

from __future__ import annotations

import array
import asyncio
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
import websockets
from asterisk_helpers import (
    FIXTURES,
    AriTestClient,
    Asterisk,
    active_span,
    frame_rms,
    install_8k,
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


def test_busy_patient_shows_busy_in_dial_event(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    number = write_script(asterisk, call, "# line-busy patient\nbusy\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call, timeout=15)
            dial = await ari.wait_for(lambda e: of("Dial", call)(e) and e.get("dialstatus"), 15)
            assert dial["dialstatus"] == "BUSY"
            await ari.wait_for(of("ChannelDestroyed", call), 10)
            assert not [e for e in ari.seen if of("StasisStart", call)(e)], "a busy patient must not answer"

    run(scenario(), 40)


def test_never_answering_patient_times_out_with_no_answer(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    number = write_script(asterisk, call, "noanswer\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call, timeout=5)
            destroyed = await ari.wait_for(of("ChannelDestroyed", call), 15)
            assert destroyed["cause"] == 19, destroyed  # NO ANSWER
            assert not [e for e in ari.seen if of("StasisStart", call)(e)]

    run(scenario(), 40)


def test_unknown_number_is_unallocated(asterisk: Asterisk, call_id: str) -> None:
    call = call_id

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(f"sim-nosuchscript-{call}", call, timeout=10)
            destroyed = await ari.wait_for(of("ChannelDestroyed", call), 15)
            assert not [e for e in ari.seen if of("StasisStart", call)(e)]
            assert destroyed["cause"] == 1, destroyed  # unallocated number

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


def test_patient_replies_after_the_prompt_and_the_reply_is_recorded(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    prompt = install_8k(asterisk, "en05", "prompts", f"prompt-{call}")
    reply = install_8k(asterisk, "en01", "patient_audio", f"yes-{call}")
    number = write_script(asterisk, call, f"# answers one question\nsay yes-{call}\n")

    async def scenario() -> Path:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            # the patient waits for the end of the prompt (+1 s of silence), then plays its reply
            return await _prompt_and_record(ari, asterisk, call, prompt.path,
                                            record_s=1.0 + reply.duration + 1.5)

    samples, rate = read_wav(run(scenario(), 60))
    first, _, loud = active_span(samples, rate)
    # the reply, all of it and nothing else (spy=in: the prompt is not in this recording)
    assert 0.7 * reply.loud <= loud <= reply.loud + 0.2, (loud, reply)
    # nothing from the patient until the prompt was over
    assert first >= prompt.duration + reply.first, (first, prompt)

    # the patient side was recorded too: what it heard (the prompt) and what it said (the reply);
    # these files hold only the frames that flowed (no silence where no media did: no wall-clock timing)
    rec = asterisk.dirs["patient_recordings"] / call
    wait_file(rec.with_suffix(".done"), 10)
    heard, heard_rate = read_wav(rec.with_name(f"{call}.heard.wav"))
    said, said_rate = read_wav(rec.with_name(f"{call}.said.wav"))
    _, h_last, h_loud = active_span(heard, heard_rate)
    s_first, _, s_loud = active_span(said, said_rate)
    assert abs(h_loud - prompt.loud) <= 0.2, (h_loud, prompt)
    assert abs(s_loud - reply.loud) <= 0.2, (s_loud, reply)
    assert s_first > h_last, "the patient spoke before the prompt was over"


def test_barge_in_patient_talks_over_the_prompt(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    prompt = install_8k(asterisk, "en13", "prompts", f"prompt-{call}")
    reply = install_8k(asterisk, "en03", "patient_audio", f"no-{call}")
    number = write_script(asterisk, call, f"say no-{call} barge=500\n")

    async def scenario() -> Path:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            return await _prompt_and_record(ari, asterisk, call, prompt.path, record_s=1.0)

    samples, rate = read_wav(run(scenario(), 60))
    first, _, loud = active_span(samples, rate)
    assert 0.7 * reply.loud <= loud <= reply.loud + 0.2, (loud, reply)
    # started 500 ms after the prompt's speech started, while the bot was still speaking
    assert prompt.first + 0.5 + reply.first <= first < prompt.last, (first, prompt, reply)


def test_dtmf_patient_sends_digits_after_a_silent_turn(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    prompt = install_8k(asterisk, "en02", "prompts", f"prompt-{call}").path
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


def test_patient_hangs_up_after_the_prompt(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    prompt = install_8k(asterisk, "en02", "prompts", f"prompt-{call}")
    number = write_script(asterisk, call, "hangup\n")

    async def scenario() -> None:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate(number, call)
            await ari.wait_for(of("StasisStart", call), 15)
            await asyncio.sleep(1.5)
            assert not [e for e in ari.seen if of("ChannelHangupRequest", call)(e)], "hung up before the prompt"
            await ari.request("POST", f"/channels/{call}/play", media=f"sound:{prompt.path}",
                              playbackId=f"pb-{call}")
            finished = await ari.wait_for(lambda e: e.get("type") == "PlaybackFinished"
                                          and e["playback"]["id"] == f"pb-{call}", 20)
            destroyed = await ari.wait_for(of("ChannelDestroyed", call), 10)
            assert destroyed["timestamp"] > finished["timestamp"]
            assert destroyed["cause"] == 16, destroyed  # normal clearing, from the patient's side

    run(scenario(), 40)


def test_echo_patient_over_websocket_external_media(asterisk: Asterisk, call_id: str) -> None:
    """The dialer's media path: patient call + chan_websocket ExternalMedia in a mixing bridge."""
    call = call_id
    em, bridge = f"em-{call}", f"br-{call}"
    samples, _ = read_wav(FIXTURES / "en05.wav")   # 16 kHz = slin16
    _, _, sent_loud = active_span(samples, 16000)

    async def scenario() -> array.array:
        async with AriTestClient(asterisk, APP) as ari:
            await ari.originate("echo", call)
            await ari.wait_for(of("StasisStart", call), 15)
            channel = (await ari.request(
                "POST", "/channels/externalMedia", app=APP, channelId=em, external_host="INCOMING",
                transport="websocket", encapsulation="none", connection_type="server", format="slin16",
                direction="both",
            )).json()
            media_id = channel["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
            url = asterisk.ari_url.replace("http://", "ws://") + f"/media/{media_id}"
            received = bytearray()
            async with websockets.connect(url, subprotocols=["media"], open_timeout=5) as ws:
                await ari.wait_for(of("StasisStart", em), 5)   # only once the socket is connected
                await ari.request("POST", "/bridges", type="mixing", bridgeId=bridge)
                await ari.request("POST", f"/bridges/{bridge}/addChannel", channel=f"{call},{em}")
                start = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(start, str) and start.startswith("MEDIA_START") and "format:slin16" in start
                data = samples.tobytes()
                for i in range(0, len(data), 640):   # Asterisk paces what we send; one message per 20 ms
                    await ws.send(data[i:i + 640])
                deadline = time.monotonic() + len(samples) / 16000 + 2.0
                while time.monotonic() < deadline:
                    try:
                        message = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    if isinstance(message, bytes):
                        received += message
            await ari.hangup(call)
            await ari.hangup(em)
            await ari.request("DELETE", f"/bridges/{bridge}")
            return array.array("h", bytes(received))

    echoed = run(scenario(), 40)
    _, _, loud = active_span(echoed, 16000)
    assert abs(loud - sent_loud) <= 0.1, (loud, sent_loud)


def test_voicemail_patient_answers_with_greeting_and_beep(asterisk: Asterisk, call_id: str) -> None:
    call = call_id
    greeting = install_8k(asterisk, "en14", "patient_audio", f"vm-{call}")
    number = write_script(asterisk, call, f"ring 1\nvoicemail vm-{call} 10\n")

    async def scenario() -> tuple[Path, float]:
        async with AriTestClient(asterisk, APP) as ari:
            t0 = time.monotonic()
            await ari.originate(number, call)
            await ari.wait_for(of("StasisStart", call), 15)
            rang = time.monotonic() - t0
            await ari.request("POST", f"/channels/{call}/record", name=call, format="wav",
                              ifExists="overwrite", maxDurationSeconds=30)
            # the machine hangs up by itself after greeting, beep and 3 s of silence
            await ari.wait_for(of("ChannelDestroyed", call), greeting.duration + 10)
            await ari.wait_for(lambda e: e.get("type") in ("RecordingFinished", "RecordingFailed")
                               and e["recording"]["name"] == call, 5)
            return asterisk.dirs["recordings"] / f"{call}.wav", rang

    recording, rang = run(scenario(), 40)
    assert rang >= 0.9, "it should ring for a second before answering"
    samples, rate = read_wav(recording)
    rms = frame_rms(samples, rate)
    loud_frames = [i for i, r in enumerate(rms) if r > 300]
    assert abs(len(loud_frames) * 0.02 - greeting.loud) <= 0.8  # greeting (+ a short beep)
    # a beep after the greeting: a pure tone right after the greeting's speech
    assert loud_frames[-1] * 0.02 > greeting.last, (loud_frames[-1] * 0.02, greeting)


def test_external_asterisk_makes_the_script_a_no_op(asterisk: Asterisk, tmp_path: Path) -> None:
    env = script_env() | {"FOLLOWUP_ARI_URL": "http://192.0.2.10:8088", "FOLLOWUP_CACHE_DIR": str(tmp_path)}
    for cmd in ("build", "start", "stop"):
        result = run_script(cmd, timeout=30, env=env)
        assert result.returncode == 0 and "external Asterisk" in result.stderr, result
    assert list(tmp_path.iterdir()) == []
    assert httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", auth=(asterisk.user, asterisk.password),
                     timeout=5).status_code == 200


def test_stop_ends_asterisk_and_start_brings_it_back(asterisk: Asterisk) -> None:
    """Runs last (file order). Starts Asterisk again at the end, for whatever tests come after."""
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

    result = run_script("start", timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(asterisk.pid_file.read_text()) != pid
    info = httpx.get(f"{asterisk.ari_url}/ari/asterisk/info", auth=(asterisk.user, asterisk.password), timeout=5)
    assert info.status_code == 200
