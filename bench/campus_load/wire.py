"""Just enough MQTT 3.1.1 on a raw socket for the load generator to publish without a client
library in the way: packets are encoded once and written in batches with one ``sendall``, so
the generator costs about a microsecond per reading and the engines, not the generator, limit
the rate. QoS 0, no keepalive (the broker never drops a client with keepalive 0)."""

from __future__ import annotations

import socket


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
