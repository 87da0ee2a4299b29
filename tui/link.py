"""The TUI's own MQTT client: follows one site's control plane and sends requests.

paho-mqtt runs its network loop in its own thread (the TUI's traffic is small; the Textual
event loop stays free for drawing). Everything that reaches the app goes through the callbacks
given here, which the app turns into `post_message` calls (thread-safe); request answers are
handed to the app's loop with `call_soon_threadsafe`. MQTT 3.1.1, so the demo's embedded broker
works too; who asks travels in the request's ``user`` field (docs/mqtt.md says why).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from campus import wire
from campus.brokerurl import BrokerAddress
from campus.mqttclient import paho_client
from campus.wire import SITES_FILTER, Kind, Topics, parse_topic

REQUEST_TIMEOUT = 10.0


class RequestFailed(Exception):
    """The controller refused a request, or did not answer; the message says which and why."""


MessageHandler = Callable[[str, Any], None]
"""(topic, payload): JSON payloads parsed, the status topic as text."""
ConnectionHandler = Callable[[bool, str], None]
"""(connected, a sentence for the status line)."""
RawHandler = Callable[[str, bytes], None]
"""(topic, payload as it came): for `MqttLink.watch`."""


class MqttLink:
    def __init__(
        self,
        broker: BrokerAddress,
        *,
        user: str,
        on_message: MessageHandler,
        on_connection: ConnectionHandler,
    ) -> None:
        self.user = user
        self.site: str | None = None
        self._on_message = on_message
        self._on_connection = on_connection
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._watched: list[str] = []
        self._on_watched: RawHandler | None = None
        self._answering: set[str] = set()
        """Sites other than the followed one that requests went to: their answers' topics."""
        self._prefix = f"tui-{os.getpid()}-{id(self) & 0xFFFF:x}"
        self.client, self.broker = paho_client(broker, self._prefix, 10)
        self.client.on_connect = self._connected
        self.client.on_connect_fail = self._connect_failed
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect in the background (and keep reconnecting)."""
        self._loop = loop
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()

    def follow(self, site: str) -> None:
        """Subscribe to one site's control plane (retained state arrives at once)."""
        with self._lock:
            old, self.site = self.site, site
        if old is not None and old != site:
            self.client.unsubscribe(Topics(old).all)
        if self.client.is_connected():
            self.client.subscribe(Topics(site).all, qos=1)

    def watch(self, filters: list[str], handler: RawHandler) -> None:
        """Also subscribe to `filters` (every site's, for the district view), now and after
        each reconnect; their messages go to `handler` as they came, besides `on_message`."""
        with self._lock:
            self._watched, self._on_watched = list(filters), handler
        if self.client.is_connected():
            self.client.subscribe([(f, 1) for f in filters])

    async def request(
        self, name: str, body: dict[str, Any], *, changes: bool = True, site: str | None = None
    ) -> Any:
        """Send a request to `site` (default: the followed one) and return its ``data``;
        RequestFailed with the controller's words when it answers with an error or not at
        all. Another site's answers are subscribed to first (the broker handles the
        subscription before the request, so the answer cannot be missed)."""
        site = site or self.site
        if site is None or self._loop is None:
            raise RequestFailed("not following a controller yet")
        if site != self.site and site not in self._answering:
            with self._lock:
                self._answering.add(site)
            self.client.subscribe(_answers(site), qos=1)
        transaction = f"{self._prefix}-{next(self._ids)}"
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._lock:
            self._pending[transaction] = future
        message = {**body, "transaction": transaction}
        if changes:
            message["user"] = self.user
        try:
            info = self.client.publish(Topics(site).request(name), json.dumps(message), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and not self.client.is_connected():
                raise RequestFailed("not connected to the broker: the request was not sent")
            try:
                answer = await asyncio.wait_for(future, REQUEST_TIMEOUT)
            except TimeoutError:
                raise RequestFailed(
                    f"the controller did not answer {name} within {REQUEST_TIMEOUT:g} s: "
                    "is it running (see the status in the header)?"
                ) from None
        finally:
            with self._lock:
                self._pending.pop(transaction, None)
        response = wire.decode(wire.Response, answer)
        if response.status != "ok":
            raise RequestFailed(response.error or f"the controller refused {name}")
        return response.data

    # -- paho callbacks (its network thread) ---------------------------------------------------

    def _connected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._on_connection(False, f"the broker refused the connection: {reason}")
            return
        filters = [(SITES_FILTER, 1)]
        if self.site is not None:
            filters.append((Topics(self.site).all, 1))
        with self._lock:
            filters += [(f, 1) for f in self._watched]
            filters += [(_answers(site), 1) for site in self._answering]
        client.subscribe(filters)
        self._on_connection(True, f"connected to {self.broker}")

    def _connect_failed(self, client: mqtt.Client, userdata: Any) -> None:
        self._on_connection(False, f"cannot reach the broker at {self.broker}; retrying")

    def _disconnected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._on_connection(False, f"lost the broker at {self.broker} ({reason}); reconnecting")

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic = parse_topic(msg.topic)
        if topic is None or topic.kind is Kind.REQUEST:
            return
        raw = bytes(msg.payload)
        watched = self._on_watched
        if watched is not None and any(mqtt.topic_matches_sub(f, msg.topic) for f in self._watched):
            watched(msg.topic, raw)
        if topic.kind is Kind.STATUS:
            self._on_message(msg.topic, raw.decode("utf-8", errors="replace"))
            return
        try:
            payload = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if topic.kind is Kind.RESPONSE:
            self._answer(payload)
            return
        self._on_message(msg.topic, payload)

    def _answer(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        transaction = payload.get("transaction")
        with self._lock:
            future = self._pending.get(transaction) if isinstance(transaction, str) else None
        if future is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_settle, future, payload)


def _answers(site: str) -> str:
    return f"{Topics(site).of(Kind.RESPONSE)}/#"


def _settle(future: asyncio.Future[Any], payload: Any) -> None:
    if not future.done():
        future.set_result(payload)
