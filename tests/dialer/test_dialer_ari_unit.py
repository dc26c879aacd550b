"""dialer.ari without Asterisk: request building and error mapping (httpx MockTransport), event routing,
duplicate suppression and reconciliation after a reconnect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from dialer_helpers import arun

from dialer.ari import AriClient, AriConnectionError, AriError, AriNotFound, SubscriptionClosed, event_ids

Handler = Any


def client_with(handler: Handler, timeout: float = 2.0) -> AriClient:
    client = AriClient("http://127.0.0.1:1/ari/", "u", "p", "app", timeout=timeout)
    client._http = httpx.AsyncClient(base_url=client.base_url + "/ari", transport=httpx.MockTransport(handler))
    return client


def test_base_url_normalised() -> None:
    client = AriClient("http://h:8088/ari/", "u", "p", "app")
    assert client.base_url == "http://h:8088" and client.ws_base_url == "ws://h:8088"


def test_originate_request_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "call-1", "state": "Down"})

    async def main() -> None:
        client = client_with(handler)
        snap = await client.originate("Local/1001@patients", channel_id="call-1", other_channel_id="p-1",
                                      app_args="outbound", timeout=25, variables={"CALLERID(num)": "1"})
        assert snap["id"] == "call-1" and "call-1" in client.tracked_channels
        await client.add_channel("br-1", ["call-1", "em-1"])
        await client._http.aclose()

    arun(main())
    originate, add = seen
    assert originate.method == "POST" and originate.url.path == "/ari/channels"
    q = originate.url.params
    assert (q["endpoint"], q["app"], q["appArgs"], q["channelId"], q["otherChannelId"], q["timeout"],
            q["formats"]) == ("Local/1001@patients", "app", "outbound", "call-1", "p-1", "25", "slin16")
    assert "callerId" not in q  # None parameters are left out
    assert json.loads(originate.content) == {"variables": {"CALLERID(num)": "1"}}
    # channel ids as one comma-separated query parameter (a JSON body "a,b" gives 400)
    assert add.url.path == "/ari/bridges/br-1/addChannel" and add.url.params["channel"] == "call-1,em-1"
    assert add.content == b""


def test_external_media_websocket_defaults() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the "is this id free?" check
            if request.url.path.endswith("/call-1"):
                return httpx.Response(200, json={"id": "call-1", "state": "Up"})
            return httpx.Response(404, json={"message": "Channel not found"})
        q = request.url.params
        assert (q["external_host"], q["connection_type"], q["transport"], q["encapsulation"], q["format"]) == (
            "INCOMING", "server", "websocket", "none", "slin16")
        return httpx.Response(200, json={"id": "em-1", "channelvars": {
            "MEDIA_WEBSOCKET_CONNECTION_ID": "abc", "MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE": "640"}})

    async def main() -> None:
        client = client_with(handler)
        em = await client.external_media("em-1")
        assert (em.id, em.connection_id, em.optimal_frame_size) == ("em-1", "abc", 640)
        with pytest.raises(ValueError, match="external_host"):
            await client.external_media("em-2", transport="tcp", encapsulation="audiosocket")
        # reusing a live channel's id would crash Asterisk 22.10.1: refused, locally or after asking
        with pytest.raises(ValueError, match="in use"):
            await client.external_media("em-1")
        with pytest.raises(ValueError, match="in use"):
            await client.external_media("call-1")
        await client._http.aclose()

    arun(main())


def test_errors_are_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"message": "Channel not found"})
        if "/bad/" in request.url.path:
            return httpx.Response(422, json={"message": "Channel not in Stasis application"})
        raise httpx.ConnectError("refused")

    async def main() -> None:
        client = client_with(handler)
        with pytest.raises(AriNotFound) as nf:
            await client.get_channel("gone")
        assert nf.value.status == 404 and nf.value.message == "Channel not found"
        assert await client.hangup("gone") is False  # already gone: fine by default
        with pytest.raises(AriNotFound):
            await client.hangup("gone", missing_ok=False)
        with pytest.raises(AriError) as err:
            await client.answer("bad")
        assert err.value.status == 422 and "Stasis" in err.value.body
        assert not isinstance(err.value, AriNotFound)
        with pytest.raises(AriConnectionError):
            await client.list_channels()
        await client._http.aclose()

    arun(main())


def test_requests_have_a_time_limit() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200)

    async def main() -> None:
        client = client_with(handler, timeout=0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(AriConnectionError, match="no answer within"):
            await client.asterisk_info()
        assert loop.time() - started < 5
        await client._http.aclose()

    arun(main())


def test_start_fails_cleanly_without_asterisk() -> None:
    async def main() -> None:
        client = AriClient("http://127.0.0.1:9", "u", "p", "app", connect_timeout=0.5, reconnect_initial=0.05)
        with pytest.raises(AriConnectionError, match="did not connect"):
            await client.start()
        assert client.connect_failures >= 1 and not client.connected

    arun(main())


def test_event_ids() -> None:
    assert event_ids({"type": "Dial", "peer": {"id": "call-1"}}) == {"call-1"}
    assert event_ids({"type": "ChannelEnteredBridge", "channel": {"id": "c"}, "bridge": {"id": "b"}}) == {"c", "b"}
    assert event_ids({"type": "PlaybackFinished",
                      "playback": {"id": "pb-1", "target_uri": "channel:call-1"}}) == {"pb-1", "call-1"}
    assert event_ids({"type": "RecordingFinished",
                      "recording": {"name": "rec-1", "target_uri": "bridge:br-1"}}) == {"rec-1", "br-1"}
    assert event_ids({"type": "EventsReconnected"}) == set()


def ev(etype: str, cid: str, state: str = "Up", **extra: Any) -> dict[str, Any]:
    return {"type": etype, "channel": {"id": cid, "state": state}, **extra}


def test_routing_subscriptions_and_duplicates() -> None:
    async def main() -> None:
        client = AriClient("http://x", "u", "p", "app")
        everything = client.events()
        one = client.subscribe("call-1", "br-1")
        two = client.subscribe("call-2")
        client._dispatch(ev("StasisStart", "call-1"))
        client._dispatch({"type": "ChannelEnteredBridge", "channel": {"id": "call-1"}, "bridge": {"id": "br-1"}})
        client._dispatch(ev("StasisStart", "call-2"))
        assert [one.get_nowait()["type"], one.get_nowait()["type"], one.get_nowait()] == [
            "StasisStart", "ChannelEnteredBridge", None]  # the two-id event arrives once
        assert two.pending() == 1 and everything.pending() == 3
        two.add("em-2")
        client._dispatch(ev("StasisStart", "em-2"))
        assert two.pending() == 2
        two.close()
        client._dispatch(ev("StasisEnd", "call-2"))
        assert two.pending() == 2 and everything.pending() == 5
        # a second ChannelDestroyed for the same channel (real after synthetic) is dropped
        client._dispatch(ev("ChannelDestroyed", "call-1", cause=0, reconciled=True))
        client._dispatch(ev("ChannelDestroyed", "call-1", cause=16))
        first = one.get_nowait()
        assert first is not None and first["type"] == "ChannelDestroyed" and first["reconciled"]
        assert one.get_nowait() is None
        assert "call-1" not in client.tracked_channels
        got = await everything.wait_for(lambda e: e["type"] == "ChannelDestroyed", 1)
        assert got.get("reconciled") is True
        assert everything.get_nowait() is None

    arun(main())


def test_reconcile_synthesises_missed_channel_events() -> None:
    async def main() -> None:
        client = AriClient("http://x", "u", "p", "app")
        sub = client.events()
        client._dispatch(ev("StasisStart", "call-gone"))
        client._dispatch(ev("ChannelStateChange", "call-ringing", state="Ringing"))
        client._dispatch(ev("StasisStart", "call-same"))
        while sub.get_nowait():
            pass
        live = [
            {"id": "call-ringing", "state": "Up", "dialplan": {"app_name": "Stasis", "app_data": "app,outbound"}},
            {"id": "call-same", "state": "Up", "dialplan": {"app_name": "Stasis", "app_data": "app"}},
            {"id": "someone-else", "state": "Up"},
        ]

        async def list_channels() -> list[dict[str, Any]]:
            return live

        client.list_channels = list_channels  # type: ignore[method-assign]
        await client._reconcile()
        events = [sub.get_nowait() for _ in range(sub.pending())]
        summary = [(e["type"], e["channel"]["id"]) for e in events]
        assert summary == [("ChannelDestroyed", "call-gone"), ("ChannelStateChange", "call-ringing"),
                           ("StasisStart", "call-ringing")]
        assert all(e["reconciled"] and e["synthetic"] for e in events)
        assert events[2]["args"] == ["outbound"]
        assert client.tracked_channels == {"call-ringing", "call-same"}
        assert client.reconciled_events == 3
        # reconciling again with nothing changed says nothing
        await client._reconcile()
        assert sub.pending() == 0

    arun(main())


def test_closing_a_subscription_wakes_its_readers() -> None:
    async def main() -> None:
        client = AriClient("http://x", "u", "p", "app")
        sub = client.subscribe("call-1")
        client._dispatch(ev("StasisStart", "call-1"))
        waiting = asyncio.create_task(sub.get())
        assert (await waiting)["type"] == "StasisStart"
        reader = asyncio.create_task(sub.get(timeout=5))
        iterated: list[str] = []

        async def iterate() -> None:
            async for event in sub:
                iterated.append(event["type"])

        iterating = asyncio.create_task(iterate())
        await asyncio.sleep(0.05)
        sub.close()
        with pytest.raises(SubscriptionClosed):
            await asyncio.wait_for(reader, 1)
        await asyncio.wait_for(iterating, 1)  # the async for ended
        assert iterated == [] and sub.pending() == 0 and sub.get_nowait() is None
        client._dispatch(ev("StasisEnd", "call-1"))
        assert sub.pending() == 0 and not client._by_id

    arun(main())
