"""Calls against the real Asterisk: outcomes (busy, no answer, failed, hang-ups), DTMF, and the events
websocket failing mid-call (reconnection and reconciliation)."""

from __future__ import annotations

import asyncio
import time

import pytest
from dialer_helpers import (
    APP,
    CALLS,
    Asterisk,
    Patients,
    TcpProxy,
    arun,
    hang_up,
    new_id,
    originate_answered,
)

from dialer.ari import EVENTS_DISCONNECTED, EVENTS_RECONNECTED, AriClient, AriError
from dialer.media import open_websocket_media
from dialer.outcome import ANSWERED, BUSY, FAILED, HUNG_UP, NO_ANSWER, OutcomeTracker


def client_for(asterisk: Asterisk, url: str | None = None, **kwargs: float) -> AriClient:
    return AriClient(url or asterisk.ari_url, asterisk.user, asterisk.password, APP, **kwargs)


# number (or script lines), originate timeout, expected outcome, expected cause (None: any)
UNANSWERED = {
    "busy": ("busy", 10, BUSY, 0),
    "busy_after_ringing": (["ring 1", "busy"], 10, BUSY, 0),
    "no_answer": ("noanswer", 2, NO_ANSWER, 19),
    "unallocated": (None, 10, FAILED, 1),  # no script for the number: the dialplan hangs up, cause 1
}


@pytest.mark.parametrize("case", sorted(UNANSWERED))
def test_unanswered_outcomes(asterisk: Asterisk, patients: Patients, case: str) -> None:
    """(d) busy / no answer / failed, decided by dialer.outcome from the live events."""
    spec, timeout, expected, cause = UNANSWERED[case]
    if isinstance(spec, list):
        number = patients.script(*spec)
    elif spec is None:
        number = f"sim-none{new_id()}"
    else:
        number = spec

    async def main() -> None:
        async with client_for(asterisk) as client:
            call_id = f"call-{new_id()}"
            tracker = OutcomeTracker(call_id)
            with client.subscribe(call_id) as sub:
                await client.originate(f"Local/{number}@patients", channel_id=call_id, timeout=timeout)
                steps = []
                while not tracker.final:
                    steps.append(tracker.feed(await sub.get(timeout=timeout + 5)))
            result = tracker.result()
            assert [s for s in steps if s] == ["ended"]
            assert result.outcome == expected, result
            assert not result.answered and result.ended_by is None
            assert result.cause == cause, result
            assert call_id not in client.tracked_channels

    arun(main(), timeout=30)


def test_originate_error_is_a_failed_attempt(asterisk: Asterisk) -> None:
    """(d) An originate ARI refuses (unknown channel technology) raises AriError → outcome failed."""

    async def main() -> None:
        async with client_for(asterisk) as client:
            tracker = OutcomeTracker("call-x")
            with pytest.raises(AriError) as err:
                await client.originate("Bogus/123", channel_id=f"call-{new_id()}")
            assert 400 <= err.value.status < 600 and err.value.body
            assert tracker.originate_failed(str(err.value)) == "ended"
            assert tracker.result().outcome == FAILED and tracker.result().error

    arun(main(), timeout=20)


@pytest.mark.parametrize("who", ["patient", "us"])
def test_answered_call_ends(asterisk: Asterisk, patients: Patients, who: str) -> None:
    """(d) Answered calls: the patient hanging up is ``hung_up``; our own hang-up keeps ``answered``."""
    number = patients.script("ring 1", "wait 1", "hangup now") if who == "patient" else patients.script("wait 1")

    async def main() -> None:
        async with client_for(asterisk) as client:
            call = await originate_answered(client, number)
            if who == "patient":
                assert call.answered_at - call.originated_at >= 0.9  # it rang for a second first
            if who == "us":
                await asyncio.sleep(0.3)
                await hang_up(client, call)
            else:
                while not call.tracker.final:
                    call.tracker.feed(await call.sub.get(timeout=10))
                call.sub.close()
            result = call.tracker.result()
            assert result.answered and result.cause == 16
            assert result.outcome == (HUNG_UP if who == "patient" else ANSWERED)
            assert result.ended_by == who
            assert result.answered_at and result.ended_at

    arun(main(), timeout=30)


def test_patient_dtmf_arrives_as_events(asterisk: Asterisk, patients: Patients) -> None:
    """(e) Digits the patient keys in arrive as ChannelDtmfReceived on our channel, in order; the
    websocket media channel in the same bridge also reports them (DTMF_END)."""
    number = patients.script("wait 1", "dtmf 12#5 now")

    async def main() -> None:
        async with client_for(asterisk) as client:
            call = await originate_answered(client, number)
            await client.create_bridge(call.bridge_id)
            media = await open_websocket_media(client, call.media_id)
            await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
            digits = []
            async with asyncio.timeout(10):
                while len(digits) < 4:
                    event = await call.sub.get()
                    if event.get("type") == "ChannelDtmfReceived" and event["channel"]["id"] == call.call_id:
                        digits.append(event["digit"])
                        assert event["duration_ms"] > 0
            assert "".join(digits) == "12#5"
            await asyncio.sleep(0.3)
            assert "".join(media.dtmf_digits) == "12#5"
            await media.close()  # media first (AudioSocket: see dialer.media.audiosocket)
            await hang_up(client, call)

    arun(main(), timeout=30)


def test_events_drop_mid_call_reconnects_and_reconciles(asterisk: Asterisk, patients: Patients) -> None:
    """(f) The events websocket is cut (and reconnection refused for 3 s) mid-call; the patient hangs
    up meanwhile. The client reconnects with backoff and reports the call destroyed (reconciled)."""
    number = patients.script("wait 1.5", "hangup now")
    host, port = asterisk.ari_url.split("//", 1)[1].rsplit(":", 1)

    async def main() -> None:
        proxy = TcpProxy(host, int(port))
        await proxy.start()
        try:
            async with client_for(asterisk, proxy.url, ping_interval=1.0, ping_timeout=1.0,
                                  reconnect_initial=0.2, reconnect_max=1.0) as client:
                call = await originate_answered(client, number)
                await client.create_bridge(call.bridge_id)
                # media straight to Asterisk: only the ARI connections go through the proxy
                media = await open_websocket_media(client, call.media_id, media_base_url=asterisk.ari_url)
                call.sub.add(call.media_id)
                await client.add_channel(call.bridge_id, [call.call_id, call.media_id])
                assert proxy.kill(refuse_for=3.0) >= 1
                cut_at = time.monotonic()
                seen = []
                async with asyncio.timeout(15):
                    while not call.tracker.final:
                        event = await call.sub.get()
                        seen.append(event["type"])
                        call.tracker.feed(event)
                result = call.tracker.result()
                assert result.outcome == HUNG_UP and result.ended_by == "patient" and result.reconciled
                assert time.monotonic() - cut_at >= 2.9  # only learnt after the outage
                assert seen.index(EVENTS_DISCONNECTED) < seen.index(EVENTS_RECONNECTED) < seen.index(
                    "ChannelDestroyed")
                assert client.reconnects == 1 and client.connect_failures >= 1 and proxy.refused >= 1
                assert client.connected and call.call_id not in client.tracked_channels
                # events flow again on the new connection: the media channel's end is a real event
                await media.close()
                await call.sub.wait_for(lambda e: e.get("type") == "ChannelDestroyed"
                                        and e["channel"]["id"] == call.media_id and not e.get("reconciled"), 5)
                await hang_up(client, call)
        finally:
            await proxy.close()

    arun(main(), timeout=45)


def test_half_dead_events_socket_is_detected(asterisk: Asterisk) -> None:
    """(f) A connection that stays open but carries nothing (no close, no RST) is noticed by the
    websocket keep-alive and replaced; events flow on the new one."""
    host, port = asterisk.ari_url.split("//", 1)[1].rsplit(":", 1)

    async def main() -> None:
        proxy = TcpProxy(host, int(port))
        await proxy.start()
        try:
            async with client_for(asterisk, proxy.url, ping_interval=0.5, ping_timeout=1.0,
                                  reconnect_initial=0.1) as client:
                sub = client.events()
                assert proxy.blackhole() >= 1
                await sub.wait_for(lambda e: e["type"] == EVENTS_DISCONNECTED, 10)
                await sub.wait_for(lambda e: e["type"] == EVENTS_RECONNECTED, 10)
                call_id = f"call-{new_id()}"
                await client.originate("Local/busy@patients", channel_id=call_id, timeout=5)
                event = await sub.wait_for(lambda e: e.get("type") == "ChannelDestroyed"
                                           and e["channel"]["id"] == call_id, 10)
                assert not event.get("reconciled")
                assert client.reconnects == 1
        finally:
            await proxy.close()

    arun(main(), timeout=40)


def test_answer_during_outage_loses_the_call_and_is_reconciled(asterisk: Asterisk, patients: Patients) -> None:
    """(f) The patient answers while the events websocket is down (``_debug_drop_events``). Asterisk
    then cannot put the channel into the inactive application ("Stasis app ... not active") and hangs
    it up; after reconnecting, reconciliation reports it destroyed and the attempt counts as failed."""
    number = patients.script("ring 1", "wait 5")

    async def main() -> None:
        async with client_for(asterisk, reconnect_initial=0.2) as client:
            call_id = f"call-{new_id()}"
            CALLS.append(call_id)
            tracker = OutcomeTracker(call_id)
            with client.subscribe(call_id) as sub:
                await client.originate(f"Local/{number}@patients", channel_id=call_id, timeout=10)
                await sub.wait_for(lambda e: e.get("type") == "ChannelStateChange", 5)  # ringing
                client._debug_drop_events(hold_s=2.5)
                async with asyncio.timeout(10):
                    while not tracker.final:
                        event = await sub.get()
                        tracker.feed(event)
                assert event["type"] == "ChannelDestroyed" and event["reconciled"]
            result = tracker.result()
            assert result.outcome == FAILED and result.reconciled and not result.answered
            assert client.reconnects == 1 and client.reconciled_events >= 1
            with pytest.raises(AriError) as err:
                await client.get_channel(call_id)
            assert err.value.status == 404

    arun(main(), timeout=30)
