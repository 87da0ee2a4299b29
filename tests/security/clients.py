"""A plain paho client for the security tests: connects as one account over TLS, records what
it receives, and proves a negative without sleeping (`Monitor.settled`)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.secure_mosquitto import SecureBroker

WAIT = 10.0
_ids = itertools.count(1)


class Account:
    """One MQTT session as `user` (None: anonymous) with `password`."""

    def __init__(
        self,
        broker: SecureBroker,
        user: str | None,
        password: str | None = None,
        *,
        tls: bool = True,
    ) -> None:
        self.user = user
        self.refusal: str | None = None
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sec-{user or 'anon'}-{next(_ids)}",
            protocol=mqtt.MQTTv311,
        )
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.pki.ca_cert))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *_: self._answered.set()
        self.connected = False
        try:
            self.client.connect(broker.host, broker.port, keepalive=30)
        except OSError as exc:
            self.refusal = f"{type(exc).__name__}: {exc}"
            self._answered.set()
            return
        self.client.loop_start()
        self._answered.wait(WAIT)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self.refusal = str(reason)
        else:
            self.connected = True
        self._answered.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def subscribe(self, topic_filter: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic_filter, qos=1)
        assert self._subscribed.wait(WAIT), f"{self.user}: no SUBACK for {topic_filter}"

    def publish(self, topic: str, payload: bytes | str) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK: the broker has routed it (or,
        denied by the ACL, dropped it) by the time this returns."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(WAIT)
        assert info.is_published(), f"{self.user}: no PUBACK for {topic}"

    def received(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.messages if t == topic]

    def close(self) -> None:
        if self.connected:
            self.client.disconnect()
        self.client.loop_stop()


class Monitor(Account):
    """An account allowed to read and write everything (test-only ACL lines)."""

    MARK = "test/marker"

    def __init__(self, broker: SecureBroker, user: str, password: str) -> None:
        super().__init__(broker, user, password)
        assert self.connected, f"the monitor could not connect: {self.refusal}"
        self.subscribe("#")
        self._marks = itertools.count(1)

    def settled(self) -> None:
        """Return once everything the broker routed before now has reached this monitor.

        The broker delivers to one subscriber in the order it routed the messages, so once a
        marker published after a (PUBACKed) publish is back, that publish was delivered too,
        or never will be.
        """
        mark = str(next(self._marks)).encode()
        self.publish(self.MARK, mark)
        end = threading.Event()
        for _ in range(int(WAIT / 0.01)):
            if mark in self.received(self.MARK):
                return
            end.wait(0.01)
        raise AssertionError("the monitor's marker did not come back")

    def saw(self, topic: str, payload: bytes | str) -> bool:
        self.settled()
        data = payload.encode() if isinstance(payload, str) else payload
        return data in self.received(topic)


@contextlib.contextmanager
def logins(
    broker: SecureBroker, passwords: Mapping[str, str]
) -> Iterator[Callable[[str], Account]]:
    """Open accounts by user name (each must connect); every one is closed at the end."""
    opened: list[Account] = []

    def open_as(user: str) -> Account:
        account = Account(broker, user, passwords[user])
        opened.append(account)
        assert account.connected, f"{user} could not connect: {account.refusal}"
        return account

    try:
        yield open_as
    finally:
        for account in opened:
            account.close()
