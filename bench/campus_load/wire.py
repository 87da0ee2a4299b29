"""Just enough MQTT 3.1.1 on a raw socket for bench/scale.py's probes: a publisher of pre-encoded
packets and a subscriber that stamps what it receives. QoS 0, no keepalive (the broker never
drops a client with keepalive 0). The campus-load generator no longer uses them: it publishes
with paho's public API from separate processes (bench/campus_load/publisher.py), as a real
gateway fleet does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str) -> bytes:
    body = _string("MQTT") + bytes([4, 0x02]) + (0).to_bytes(2, "big") + _string(client_id)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: bytes, payload: bytes) -> bytes:
    """A QoS 0, not retained PUBLISH."""
    body = len(topic).to_bytes(2, "big") + topic + payload
    return b"\x30" + _remaining_length(len(body)) + body


class RawPublisher:
    """A connected publisher socket (TCP_NODELAY) on 127.0.0.1."""

    def __init__(self, port: int, client_id: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id))
        connack = self.sock.recv(4)
        if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"the broker refused the load generator: {connack!r}")
        self.sock.settimeout(None)

    def send(self, packets: bytes) -> None:
        self.sock.sendall(packets)

    def close(self) -> None:
        try:
            self.sock.sendall(b"\xe0\x00")
        finally:
            self.sock.close()


class Receiver(threading.Thread):
    """Subscribes to `topics` on a raw socket, in a thread; stamps each message's arrival."""

    def __init__(
        self, port: int, topics: tuple[str, ...] = ("zigbee2mqtt/+/set", "bench/count")
    ) -> None:
        super().__init__(daemon=True, name="bench-receiver")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(f"bench-receiver-{id(self)}"))
        if self.sock.recv(4)[:1] != b"\x20":
            raise ConnectionError("the broker refused the receiver")
        body = (1).to_bytes(2, "big")
        for topic in topics:
            body += _string(topic) + b"\x00"
        self.sock.sendall(b"\x82" + _remaining_length(len(body)) + body)
        self.sock.settimeout(None)
        self.lock = threading.Lock()
        self.items: list[tuple[float, str, bytes]] = []
        self.count = -1
        """The ceiling's last reported count of parsed readings."""
        self._stop = False

    def run(self) -> None:
        buf = b""
        sock = self.sock
        while not self._stop:
            try:
                data = sock.recv(262144)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buf += data
            got: list[tuple[float, str, bytes]] = []
            pos = 0
            while True:
                if len(buf) - pos < 2:
                    break
                kind = buf[pos]
                length, mult, i = 0, 1, pos + 1
                while i < len(buf):
                    byte = buf[i]
                    length += (byte & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not byte & 0x80:
                        break
                else:
                    break
                if i + length > len(buf):
                    break
                packet = buf[i : i + length]
                pos = i + length
                if kind & 0xF0 == 0x30:
                    tlen = int.from_bytes(packet[:2], "big")
                    topic = packet[2 : 2 + tlen].decode()
                    start = 2 + tlen + (2 if kind & 0x06 else 0)
                    payload = packet[start:]
                    if topic == "bench/count":
                        self.count = int(payload)
                    else:
                        got.append((now, topic, payload))
            buf = buf[pos:]
            if got:
                with self.lock:
                    self.items.extend(got)

    def take(self) -> list[tuple[float, str, bytes]]:
        with self.lock:
            items, self.items = self.items, []
        return items

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
