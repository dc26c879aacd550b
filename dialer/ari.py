"""Asyncio client for Asterisk's ARI: REST on httpx, the events websocket on ``websockets``.

Theory of operation
-------------------
One ``AriClient`` per process and Stasis application. ``await client.start()`` opens the events
websocket (``/ari/events?app=<app>&subscribeAll=false``) and returns once Asterisk has registered the
application (originate with ``app=`` fails before that). A background task then reads events for as long
as the client lives and hands each one to every :class:`EventSubscription` interested in it:

- ``client.subscribe(call_id, em_id, bridge_id)`` — the events that mention any of those ids (as
  ``channel``, ``peer``, ``caller``, ``bridge``, a playback's or recording's target, or a
  playback/recording id). One subscription per CallSession; ids can be added later (``sub.add(id)``).
- ``client.events()`` — every event of the application (logging, the campaign engine's bookkeeping).

Subscriptions are unbounded queues, so a slow consumer never stalls the reader (and thereby the
websocket keep-alive); read them with ``await sub.get(timeout=...)``, ``async for event in sub`` or
``await sub.wait_for(predicate, timeout=...)``.

Events websocket drops
~~~~~~~~~~~~~~~~~~~~~~
Asterisk does not replay events missed while the websocket was down. The reader therefore reconnects with
capped exponential backoff (with jitter) and, after every reconnection, *reconciles*: it lists the live
channels (``GET /channels``) and compares them with the channels it has seen events for. For each
tracked channel that is gone it delivers a synthetic ``ChannelDestroyed`` (``cause`` 0,
``"reconciled": True``); for each one still alive whose state changed it delivers a synthetic
``ChannelStateChange``, and for one that entered our application meanwhile a synthetic ``StasisStart``
(both ``"reconciled": True``). Subscribers also get ``{"type": "EventsDisconnected"}`` and, before the
synthetic events, ``{"type": "EventsReconnected", "downtime_s": ...}`` (``"synthetic": True``): whatever
else happened in between (DTMF, playback ends, bridge moves) is lost and a CallSession may want to
re-check. A real ``ChannelDestroyed`` arriving after a synthetic one for the same channel is dropped.

Measured on 22.10: a call answered *while* the websocket is down never reaches us — Asterisk logs
"Stasis app '<app>' not active" and hangs it up; reconciliation then reports it destroyed (the
OutcomeTracker says failed, ``reconciled``). A second websocket for the same application does not
help: it replaces the first (``ApplicationReplaced``, logged as an error here) — so one application
name per dialer process.

The websocket sends pings (``ping_interval``) and closes itself when no pong arrives within
``ping_timeout``, so a half-dead TCP connection is detected in ~ping_interval + ping_timeout seconds.
``client._debug_drop_events(hold_s)`` aborts the connection from outside (tests).

REST
~~~~
Every request has a total time limit (``timeout``). Non-2xx answers raise :class:`AriError` (``status``,
``body``); :class:`AriNotFound` for 404 (a channel that already hung up — ``hangup`` and
``destroy_bridge`` ignore it by default); network failures and time-outs raise
:class:`AriConnectionError`. Methods return ARI's JSON (dicts) as is.

Typical call (what a CallSession does; see ``dialer.media`` for the audio side). Ids are ours and new
for every attempt (``call-<uuid>``, ``em-<uuid>``, ``br-<uuid>``): subscribe *before* originating::

    sub = client.subscribe(call_id, bridge_id, em_id)
    tracker = OutcomeTracker(call_id)                       # dialer.outcome
    try:
        await client.originate("Local/1001@patients", channel_id=call_id, app_args="outbound", timeout=30)
    except (AriError, AriConnectionError) as exc:
        tracker.originate_failed(str(exc))
    while not (tracker.answered or tracker.final):
        tracker.feed(await sub.get(timeout=40))             # > the originate timeout
    if tracker.answered:
        await client.create_bridge(bridge_id)
        media = await open_websocket_media(client, em_id)   # dialer.media.websocket
        await client.add_channel(bridge_id, [call_id, em_id])
        await client.record(bridge_id, f"rec-{call_id}")    # optional: both parties, mixed
        ... dialog: media.frames() → ASR, media.send_audio(prompt), media.flush() on barge-in;
            keep feeding tracker with sub's events (ChannelDtmfReceived → Dtmf, destroyed → Hangup) ...
        await media.close()
        tracker.local_hangup(); await client.hangup(call_id)
        await client.destroy_bridge(bridge_id)
    result = tracker.result()                               # outcome, cause, ended_by, reconciled

Measured on 22.10 (Local-channel patients, this machine): originate → StasisStart 2–5 ms (median, no
ringing), answer → media bridged (bridge + ExternalMedia + connect + StasisStart + addChannel) 6–15 ms.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

Event = dict[str, Any]

# Types of the synthetic events this client delivers itself.
EVENTS_DISCONNECTED = "EventsDisconnected"
EVENTS_RECONNECTED = "EventsReconnected"


class AriError(Exception):
    """ARI answered with a non-2xx status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        super().__init__(f"ARI {method} {path}: {status} {body[:300]}")

    @property
    def message(self) -> str:
        """ARI's ``{"message": ...}`` if the body has one, else the raw body."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.body
        return str(data.get("message", self.body)) if isinstance(data, dict) else self.body


class AriNotFound(AriError):
    """404: the channel, bridge, playback or recording does not exist (any more)."""


class AriConnectionError(Exception):
    """ARI could not be reached, or did not answer in time."""


class SubscriptionClosed(Exception):
    """The subscription (or its client) was closed while waiting for an event."""


_CLOSED: Event = {"type": "__subscription_closed__"}


@dataclass(frozen=True)
class ExternalMedia:
    """An ExternalMedia channel as created: the channel snapshot plus what the transport needs.

    ``connection_id`` is chan_websocket's MEDIA_WEBSOCKET_CONNECTION_ID (connect to
    ``/media/<connection_id>``); ``optimal_frame_size`` its MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE (bytes
    per 20 ms). Both are None for other transports.
    """

    channel: dict[str, Any]
    connection_id: str | None
    optimal_frame_size: int | None

    @property
    def id(self) -> str:
        return str(self.channel["id"])


def event_ids(event: Mapping[str, Any]) -> set[str]:
    """Every channel/bridge/playback/recording id an ARI event is about (for routing to subscribers)."""
    ids: set[str] = set()
    for key in ("channel", "peer", "caller", "replace_channel", "bridge", "destination_bridge"):
        obj = event.get(key)
        if isinstance(obj, dict) and obj.get("id"):
            ids.add(str(obj["id"]))
    for key in ("playback", "recording"):
        obj = event.get(key)
        if isinstance(obj, dict):
            if obj.get("id"):
                ids.add(str(obj["id"]))
            if obj.get("name"):
                ids.add(str(obj["name"]))
            target = obj.get("target_uri")
            if isinstance(target, str) and ":" in target:
                ids.add(target.split(":", 1)[1])  # "channel:<id>" / "bridge:<id>"
    return ids


class EventSubscription:
    """A queue of the ARI events about a set of ids (or all of them). Obtain from ``AriClient``.

    ``get(timeout)`` raises ``TimeoutError`` when nothing arrives in time; ``wait_for`` discards
    events that do not match (use it only where nothing else needs them, e.g. during set-up).
    """

    def __init__(self, client: AriClient, ids: Iterable[str] = (), *, everything: bool = False) -> None:
        self._client = client
        self.ids: set[str] = set(ids)
        self.everything = everything
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.closed = False

    def add(self, *ids: str) -> None:
        """Also receive the events about ``ids`` from now on."""
        self.ids.update(ids)
        self._client._reindex(self)

    def discard(self, *ids: str) -> None:
        self.ids.difference_update(ids)
        self._client._reindex(self)

    def put(self, event: Event) -> None:
        """Deliver an event (the client does this; tests may inject recorded events)."""
        if not self.closed:
            self._queue.put_nowait(event)

    def pending(self) -> int:
        """Events waiting to be read."""
        return max(0, self._queue.qsize() - (1 if self.closed else 0))  # minus the one end marker

    async def _next(self) -> Event:
        event = await self._queue.get()
        if event is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # wake any other reader too
            raise SubscriptionClosed("subscription closed")
        return event

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; ``TimeoutError`` after ``timeout`` seconds (None: wait for ever);
        ``SubscriptionClosed`` once closed and drained."""
        async with asyncio.timeout(timeout):
            return await self._next()

    def get_nowait(self) -> Event | None:
        """The next queued event, or None."""
        try:
            event = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if event is _CLOSED:
            self._queue.put_nowait(_CLOSED)
            return None
        return event

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> Event:
        """Skip events until one satisfies ``predicate``; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._next()
                if predicate(event):
                    return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._next()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving events; events already queued can still be read, then readers get
        ``SubscriptionClosed`` (``async for`` ends)."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_CLOSED)
            self._client._unsubscribe(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _TrackedChannel:
    snapshot: dict[str, Any]
    in_stasis: bool = False


class AriClient:
    """ARI REST + events for one Stasis application. Use ``async with AriClient(...) as client``."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 5.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        reconnect_initial: float = 0.25,
        reconnect_max: float = 8.0,
    ) -> None:
        """``base_url``: ``http://127.0.0.1:8088`` (a trailing ``/ari`` is accepted). ``timeout``: the
        total limit of one REST request; ``connect_timeout``: of opening the events websocket."""
        self.base_url = base_url.rstrip("/").removesuffix("/ari")
        self.user = user
        self.app = app
        self._password = password
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_initial = reconnect_initial
        self.reconnect_max = reconnect_max
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._hold_until = 0.0
        self._all_subs: set[EventSubscription] = set()
        self._by_id: dict[str, set[EventSubscription]] = collections.defaultdict(set)
        self._subs: set[EventSubscription] = set()
        self._channels: dict[str, _TrackedChannel] = {}
        self._destroyed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.reconnects = 0  # successful re-connections after a drop
        self.connect_failures = 0  # failed connection attempts (refused, timed out, rejected)
        self.reconciled_events = 0  # synthetic channel events delivered by reconciliation
        self.last_disconnect_at: float | None = None

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.base_url[len("http"):] if self.base_url.startswith("http") else self.base_url

    @property
    def connected(self) -> bool:
        """True while the events websocket is up (events are flowing)."""
        return self._connected.is_set()

    async def start(self) -> None:
        """Open the HTTP client and the events websocket; returns once the application is registered."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.base_url + "/ari",
                auth=(self.user, self._password),
                timeout=httpx.Timeout(self.timeout),
                # Asterisk closes idle keep-alive connections: drop ours well before it does.
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10, keepalive_expiry=4.0),
            )
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run_events(), name=f"ari-events-{self.app}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._connected.wait()
        except TimeoutError:
            await self.close()
            raise AriConnectionError(
                f"ARI events websocket at {self.ws_base_url} did not connect within {self.connect_timeout} s"
            ) from None

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the events websocket is up (e.g. after a drop); ``TimeoutError`` otherwise."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def close(self) -> None:
        """Stop the events task, close the websocket and the HTTP client. Subscriptions end."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            try:
                await asyncio.wait_for(self._task, timeout=3)
            except (asyncio.CancelledError, TimeoutError):
                pass  # cancelled as asked, or stuck: either way we are done with it
            except Exception as exc:  # noqa: BLE001 - shutting down; report and go on
                log.warning("ARI events task ended with %r", exc)
            self._task = None
        if self._ws is not None:
            self._ws.transport.abort()
            self._ws = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._connected.clear()
        for sub in list(self._subs):
            sub.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --------------------------------------------------------------------------------------- events

    def subscribe(self, *ids: str) -> EventSubscription:
        """A subscription to the events about ``ids`` (channels, bridges, playbacks, recordings)."""
        sub = EventSubscription(self, ids)
        self._subs.add(sub)
        self._reindex(sub)
        return sub

    def events(self) -> EventSubscription:
        """A subscription to every event of the application (``async for event in client.events()``)."""
        sub = EventSubscription(self, everything=True)
        self._subs.add(sub)
        self._all_subs.add(sub)
        return sub

    def _reindex(self, sub: EventSubscription) -> None:
        for i in [i for i, subs in self._by_id.items() if sub in subs and i not in sub.ids]:
            self._by_id[i].discard(sub)
            if not self._by_id[i]:
                del self._by_id[i]
        if sub.closed:
            return
        for i in sub.ids:
            self._by_id[i].add(sub)

    def _unsubscribe(self, sub: EventSubscription) -> None:
        self._subs.discard(sub)
        self._all_subs.discard(sub)
        for i in list(self._by_id):
            self._by_id[i].discard(sub)
            if not self._by_id[i]:
                del self._by_id[i]

    def track_channel(self, snapshot: Mapping[str, Any]) -> None:
        """Watch a channel for reconciliation (done automatically for every channel seen in an event
        and for channels created through this client)."""
        cid = str(snapshot["id"])
        if cid in self._destroyed:
            return
        tracked = self._channels.get(cid)
        if tracked is None:
            self._channels[cid] = _TrackedChannel(dict(snapshot))
        else:
            tracked.snapshot = dict(snapshot)

    @property
    def tracked_channels(self) -> set[str]:
        """Ids of the channels the client believes alive."""
        return set(self._channels)

    def _dispatch(self, event: Event) -> None:
        etype = event.get("type", "")
        channel = event.get("channel")
        if isinstance(channel, dict) and channel.get("id"):
            cid = str(channel["id"])
            if etype == "ChannelDestroyed":
                if cid in self._destroyed:
                    return  # already reported (by reconciliation)
                self._channels.pop(cid, None)
                self._destroyed[cid] = None
                while len(self._destroyed) > 2000:
                    self._destroyed.popitem(last=False)
            elif cid not in self._destroyed:
                self.track_channel(channel)
                if etype == "StasisStart":
                    self._channels[cid].in_stasis = True
                elif etype == "StasisEnd":
                    self._channels[cid].in_stasis = False
        peer = event.get("peer")
        if isinstance(peer, dict) and peer.get("id") and str(peer["id"]) not in self._destroyed:
            self.track_channel(peer)
        targets: set[EventSubscription] = set(self._all_subs)
        for i in event_ids(event):
            targets.update(self._by_id.get(i, ()))
        for sub in targets:
            sub.put(event)

    def _broadcast(self, event: Event) -> None:
        for sub in list(self._subs):
            sub.put(event)

    async def _run_events(self) -> None:
        delay = self.reconnect_initial
        ever_connected = False
        url = f"{self.ws_base_url}/ari/events?app={quote(self.app)}&subscribeAll=false"
        token = base64.b64encode(f"{self.user}:{self._password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}  # not api_key= in the URL: keeps it out of logs
        while not self._closing:
            now = time.monotonic()
            if self._hold_until > now:
                await asyncio.sleep(self._hold_until - now)
            try:
                ws = await websockets.connect(
                    url,
                    additional_headers=headers,
                    open_timeout=self.connect_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    close_timeout=1.0,
                    max_size=2**22,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - refused, timed out, rejected: all mean retry later
                self.connect_failures += 1
                pause = min(delay, self.reconnect_max) * (0.8 + 0.4 * random.random())
                log.warning("ARI events: connect failed (%s); retrying in %.2f s", exc, pause)
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.reconnect_max)
                continue
            self._ws = ws
            connected_at = time.monotonic()
            try:
                self._connected.set()
                if ever_connected:
                    self.reconnects += 1
                    downtime = connected_at - (self.last_disconnect_at or connected_at)
                    log.info("ARI events: reconnected after %.2f s; reconciling", downtime)
                    self._broadcast({"type": EVENTS_RECONNECTED, "synthetic": True,
                                     "downtime_s": round(downtime, 3)})
                    await self._reconcile()
                ever_connected = True
                async for raw in ws:
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        log.warning("ARI events: not JSON: %.200r", raw)
                        continue
                    if isinstance(event, dict):
                        if event.get("type") == "ApplicationReplaced":
                            log.error("ARI events: another connection took over application %r: "
                                      "its events no longer come here", self.app)
                        self._dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the connection died: reconnect
                log.warning("ARI events: connection lost (%s: %s)", type(exc).__name__, exc)
            finally:
                was_up = self._connected.is_set()
                self._connected.clear()
                self._ws = None
                ws.transport.abort()
                if was_up and not self._closing:
                    self.last_disconnect_at = time.monotonic()
                    self._broadcast({"type": EVENTS_DISCONNECTED, "synthetic": True})
            if self._closing:
                break
            if time.monotonic() - connected_at > 10:
                delay = self.reconnect_initial  # it was a healthy connection: start over
            pause = min(delay, self.reconnect_max) * (0.8 + 0.4 * random.random())
            await asyncio.sleep(pause)
            delay = min(delay * 2, self.reconnect_max)

    async def _reconcile(self) -> None:
        """Synthesise the channel events missed while the websocket was down (see module docstring)."""
        if not self._channels:
            return
        # A failure here raises: the caller drops this connection and reconciles on the next one.
        live = {str(c["id"]): c for c in await self.list_channels()}
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for cid, tracked in list(self._channels.items()):
            base = {"application": self.app, "timestamp": stamp, "reconciled": True, "synthetic": True}
            snap = live.get(cid)
            if snap is None:
                self.reconciled_events += 1
                self._dispatch({**base, "type": "ChannelDestroyed", "cause": 0,
                                "cause_txt": "destroyed while the events websocket was down",
                                "channel": tracked.snapshot})
                continue
            if snap.get("state") != tracked.snapshot.get("state"):
                self.reconciled_events += 1
                self._dispatch({**base, "type": "ChannelStateChange", "channel": snap})
            dialplan = snap.get("dialplan") or {}
            app_data = str(dialplan.get("app_data", ""))
            if (not tracked.in_stasis and dialplan.get("app_name") == "Stasis"
                    and app_data.split(",", 1)[0] == self.app):
                self.reconciled_events += 1
                args = app_data.split(",")[1:]
                self._dispatch({**base, "type": "StasisStart", "args": args, "channel": snap})

    def _debug_drop_events(self, hold_s: float = 0.0) -> None:
        """Tests: kill the events websocket as a network failure would (no close handshake) and keep
        it down for at least ``hold_s`` seconds before reconnecting."""
        self._hold_until = time.monotonic() + hold_s
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    # ----------------------------------------------------------------------------------------- REST

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """One ARI request (``path`` below ``/ari``); the decoded JSON answer, or None when empty."""
        if self._http is None:
            raise AriConnectionError("AriClient is not started")
        limit = self.timeout if timeout is None else timeout
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            async with asyncio.timeout(limit):
                resp = await self._http.request(method, path, params=clean, json=json_body,
                                                timeout=httpx.Timeout(limit))
        except TimeoutError:
            raise AriConnectionError(f"ARI {method} {path}: no answer within {limit} s") from None
        except httpx.TimeoutException as exc:
            raise AriConnectionError(f"ARI {method} {path}: timed out ({exc!r})") from exc
        except httpx.HTTPError as exc:
            raise AriConnectionError(f"ARI {method} {path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            cls = AriNotFound if resp.status_code == 404 else AriError
            raise cls(method, path, resp.status_code, resp.text)
        if not resp.content:
            return None
        ctype = resp.headers.get("content-type", "")
        if "json" in ctype:
            return resp.json()
        return resp.content

    @staticmethod
    def _ids(channel_ids: str | Sequence[str]) -> str:
        # ARI takes a comma-separated list in the query string ("a,b" in a JSON body gives 400).
        return channel_ids if isinstance(channel_ids, str) else ",".join(channel_ids)

    async def asterisk_info(self) -> dict[str, Any]:
        """``GET /asterisk/info`` (build, system, config, status)."""
        return await self.request("GET", "/asterisk/info")

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        other_channel_id: str | None = None,
        app_args: str = "",
        timeout: int = 30,
        formats: str | None = "slin16",
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
    ) -> dict[str, Any]:
        """Dial ``endpoint`` (``Local/1001@patients``, ``PJSIP/agent1``) into this application.

        ``timeout``: seconds of ringing before giving up (ChannelDestroyed cause 19). ``formats``: keep
        ``slin16`` for Local channels (without it they run at 192 kHz and cost ~7x the CPU). The answer
        arrives as StasisStart on ``channel_id``; busy/no-answer/failure as events (dialer.outcome).
        """
        params = {
            "endpoint": endpoint,
            "app": self.app,
            "appArgs": app_args,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "timeout": timeout,
            "formats": formats,
            "callerId": caller_id,
        }
        body = {"variables": dict(variables)} if variables else None
        snap = await self.request("POST", "/channels", params=params, json_body=body)
        self.track_channel(snap)
        return snap

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal", *, missing_ok: bool = True) -> bool:
        """Hang up a channel (``reason``: normal, busy, congestion, no_answer, ...). False if it was
        already gone (and ``missing_ok``)."""
        try:
            await self.request("DELETE", f"/channels/{quote(channel_id)}", params={"reason": reason})
        except AriNotFound:
            if not missing_ok:
                raise
            return False
        return True

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/channels/{quote(channel_id)}")

    async def list_channels(self) -> list[dict[str, Any]]:
        """Every live channel of this Asterisk (not only ours)."""
        return await self.request("GET", "/channels") or []

    async def get_variable(self, channel_id: str, name: str) -> str:
        data = await self.request("GET", f"/channels/{quote(channel_id)}/variable", params={"variable": name})
        return str((data or {}).get("value", ""))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/variable",
                           params={"variable": name, "value": value})

    async def send_dtmf(self, channel_id: str, dtmf: str, *, duration_ms: int = 100,
                        between_ms: int = 100) -> None:
        await self.request("POST", f"/channels/{quote(channel_id)}/dtmf",
                           params={"dtmf": dtmf, "duration": duration_ms, "between": between_ms},
                           timeout=self.timeout + len(dtmf) * (duration_ms + between_ms) / 1000)

    async def create_bridge(self, bridge_id: str | None = None, *, type: str = "mixing",
                            name: str | None = None) -> dict[str, Any]:
        """``type``: comma-separated bridge flags (mixing, holding, dtmf_events, proxy_media)."""
        return await self.request("POST", "/bridges", params={"type": type, "bridgeId": bridge_id,
                                                               "name": name})

    async def add_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        await self.request("POST", f"/bridges/{quote(bridge_id)}/addChannel",
                           params={"channel": self._ids(channel_ids)})

    async def remove_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        await self.request("POST", f"/bridges/{quote(bridge_id)}/removeChannel",
                           params={"channel": self._ids(channel_ids)})

    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = True) -> bool:
        try:
            await self.request("DELETE", f"/bridges/{quote(bridge_id)}")
        except AriNotFound:
            if not missing_ok:
                raise
            return False
        return True

    async def get_bridge(self, bridge_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/bridges/{quote(bridge_id)}")

    async def external_media(
        self,
        channel_id: str,
        *,
        transport: str = "websocket",
        encapsulation: str = "none",
        format: str = "slin16",
        external_host: str | None = None,
        connection_type: str | None = None,
        direction: str = "both",
        data: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> ExternalMedia:
        """Create an ExternalMedia channel in this application.

        Defaults: chan_websocket, Asterisk waiting for *our* connection (``external_host=INCOMING``,
        ``connection_type=server``); the channel is answered (StasisStart) once we connect to
        ``/media/<connection_id>``. AudioSocket: ``transport="tcp", encapsulation="audiosocket",
        external_host="127.0.0.1:PORT", data=<uuid>`` (Asterisk connects to us).
        Never send slin16 back over RTP (Asterisk drops it silently; see docs). ``channel_id`` must not
        belong to a live channel (ValueError): reusing one crashes Asterisk 22.10.1.
        """
        # Asterisk 22.10.1 segfaults (the whole process, every call) when a websocket ExternalMedia
        # channel is created with the id of a live channel (measured twice; see asyncari PR #22): refuse.
        if channel_id in self._channels:
            raise ValueError(f"channel id {channel_id!r} is in use: ExternalMedia needs a new one")
        try:
            await self.get_channel(channel_id)
        except AriNotFound:
            pass
        else:
            raise ValueError(f"channel id {channel_id!r} is in use: ExternalMedia needs a new one")
        if transport == "websocket":
            external_host = external_host or "INCOMING"
            connection_type = connection_type or ("server" if external_host == "INCOMING" else "client")
        if external_host is None:
            raise ValueError("external_host is required for this transport")
        params = {
            "app": self.app,
            "channelId": channel_id,
            "external_host": external_host,
            "encapsulation": encapsulation,
            "transport": transport,
            "format": format,
            "direction": direction,
            "connection_type": connection_type,
            "data": data,
        }
        body = {"variables": dict(variables)} if variables else None
        snap = await self.request("POST", "/channels/externalMedia", params=params, json_body=body)
        self.track_channel(snap)
        cvars = snap.get("channelvars") or {}
        size = cvars.get("MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE")
        return ExternalMedia(
            channel=snap,
            connection_id=cvars.get("MEDIA_WEBSOCKET_CONNECTION_ID"),
            optimal_frame_size=int(size) if size else None,
        )

    async def play(self, target_id: str, media: str | Sequence[str], *, playback_id: str | None = None,
                   target: str = "channel", lang: str | None = None) -> dict[str, Any]:
        """Play ``sound:/abs/path/without/extension`` (or a list) on a channel or bridge
        (``target="bridge"``). PlaybackFinished arrives with the playback's id."""
        kind = "bridges" if target == "bridge" else "channels"
        media_param = media if isinstance(media, str) else ",".join(media)
        path = f"/{kind}/{quote(target_id)}/play"
        if playback_id:
            path += f"/{quote(playback_id)}"
        return await self.request("POST", path, params={"media": media_param, "lang": lang})

    async def stop_playback(self, playback_id: str, *, missing_ok: bool = True) -> bool:
        try:
            await self.request("DELETE", f"/playbacks/{quote(playback_id)}")
        except AriNotFound:
            if not missing_ok:
                raise
            return False
        return True

    async def record(
        self,
        target_id: str,
        name: str,
        *,
        target: str = "bridge",
        format: str = "wav",
        if_exists: str = "overwrite",
        beep: bool = False,
        terminate_on: str = "none",
        max_duration_s: int = 0,
        max_silence_s: int = 0,
    ) -> dict[str, Any]:
        """Record a bridge (both parties, mixed) or a channel into the stored recording ``name``
        (Asterisk's ``<spool>/recording/<name>.<format>``). Returns the LiveRecording."""
        kind = "bridges" if target == "bridge" else "channels"
        params = {
            "name": name,
            "format": format,
            "ifExists": if_exists,
            "beep": beep,
            "terminateOn": terminate_on,
            "maxDurationSeconds": max_duration_s,
            "maxSilenceSeconds": max_silence_s,
        }
        return await self.request("POST", f"/{kind}/{quote(target_id)}/record", params=params)

    async def stop_recording(self, name: str, *, missing_ok: bool = True) -> bool:
        """Stop and store a live recording (it also ends when its bridge/channel goes away)."""
        try:
            await self.request("POST", f"/recordings/live/{quote(name)}/stop")
        except AriNotFound:
            if not missing_ok:
                raise
            return False
        return True

    async def get_live_recording(self, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/recordings/live/{quote(name)}")

    async def get_stored_recording(self, name: str) -> dict[str, Any]:
        return await self.request("GET", f"/recordings/stored/{quote(name)}")

    async def fetch_recording(self, name: str, *, timeout: float = 30.0) -> bytes:
        """The stored recording's file (works with a remote Asterisk too)."""
        data = await self.request("GET", f"/recordings/stored/{quote(name)}/file", timeout=timeout)
        return data if isinstance(data, bytes) else json.dumps(data).encode()

    async def delete_recording(self, name: str, *, missing_ok: bool = True) -> bool:
        try:
            await self.request("DELETE", f"/recordings/stored/{quote(name)}")
        except AriNotFound:
            if not missing_ok:
                raise
            return False
        return True


def recording_path(recordings_dir: str, name: str, format: str = "wav") -> str:
    """Where Asterisk writes the stored recording ``name`` (``recordings_dir``: its
    ``<astspooldir>/recording`` as seen from this host, e.g. ``deploy/asterisk.sh paths`` →
    dirs.recordings.host)."""
    return f"{recordings_dir.rstrip('/')}/{name}.{format}"
