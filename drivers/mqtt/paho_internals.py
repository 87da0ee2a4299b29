"""Every use of paho-mqtt's private API, behind one wall (the connection's fast path needs them).

paho promises nothing about its underscored names, so drivers/mqtt/connection.py reaches them
only through `PahoInternals`: serving paho's socket reads from one large read and gathering its
writes (``_sock_recv``/``_sock_send`` replaced), knowing that paho sits between packets
(``_in_packet``), having paho read one packet (``_packet_read``), entering a QoS 1 message in
paho's books as ``publish`` does and giving it its PUBACK as paho's ``_handle_pubackcomp`` does,
and telling paho's keepalive check that bytes came.

Trust is checked, not assumed. `PahoInternals.check` refuses, before anything is replaced, a
paho-mqtt outside the minor versions tested (`TESTED`, pinned in pyproject.toml too), names,
types or signatures other than theirs, and a scratch client of the same class that does not
behave as they do (a message entered and acknowledged both ways, a PUBACK read through the
replaced socket read). At run time any surprise (an exception, a value of the wrong kind) is a
fault: `on_fault` runs once with what failed, and each method says what its caller must redo so
that nothing in hand is lost (an unacknowledged PUBACK goes back to paho's own read; a message
not entered goes through paho's ``publish``; a read not done is done by ``loop_read``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

TESTED = ((2, 1), (2, 2))
"""paho-mqtt minor versions the fast path was tested with."""

_PUBACK = (ReasonCode(PacketTypes.PUBACK), Properties(PacketTypes.PUBACK))  # type: ignore[no-untyped-call]
"""The reason code (success) and the empty properties paho gives on_publish for an MQTT 3.1.1
PUBACK; one pair for all, as the connection's on_publish reads neither."""
_LAST_IN_FIELDS = ("_last_bytes_received", "_last_msg_in")
"""paho's time of the last inbound traffic, which its keepalive check reads (2.2, 2.1)."""
_SIGNATURES: dict[str, tuple[object, ...]] = {
    "_sock_recv": (1,),
    "_sock_send": (b"",),
    "_packet_read": (),
    "_loop_rc_handle": (MQTTErrorCode.MQTT_ERR_SUCCESS,),
    "_do_on_publish": (1, *_PUBACK),
    "_mid_generate": (),
}
"""The private methods used, with arguments of the kind they are called with."""

OnFault = Callable[[str, BaseException], None]


def paho_version() -> str:
    return str(getattr(paho.mqtt, "__version__", "unknown"))


class PahoInternals:
    """paho's private API on one client; after the first fault, its methods must not be called
    again (the connection goes on with paho's public API)."""

    def __init__(self, client: mqtt.Client, on_fault: OnFault) -> None:
        self._client = client
        self._on_fault = on_fault
        self._last_in_field = ""
        self._serving = False
        self.fault = ""
        """What failed first at run time; empty while all is well."""

    def _fail(self, what: str, exc: BaseException) -> None:
        if not self.fault:
            self.fault = f"{what}: {type(exc).__name__}: {exc}"
            self._on_fault(self.fault, exc)

    # -- the probe ----------------------------------------------------------------------------

    def check(self) -> str:
        """What stops the fast path on this client ("" when nothing does): run before
        `serve_socket`, with paho's own socket methods in place."""
        try:
            return self._version_problem() or self._shape_problem() or self._behaviour_problem()
        except Exception as exc:
            return f"the probe of paho's internals failed: {type(exc).__name__}: {exc}"

    @staticmethod
    def _version_problem() -> str:
        try:
            minor = tuple(int(part) for part in paho_version().split(".")[:2])
        except ValueError:
            minor = ()
        if minor in TESTED:
            return ""
        tested = ", ".join(f"{major}.{minor}.x" for major, minor in TESTED)
        return f"not a version the MQTT fast path was tested with ({tested})"

    def _shape_problem(self) -> str:
        """The names, types and signatures the fast path relies on."""
        client = self._client
        for name, args in _SIGNATURES.items():
            method = getattr(client, name, None)
            if not callable(method):
                return f"{name} is not a method"
            signature = inspect.signature(method)
            try:
                signature.bind(*args)
            except TypeError:
                shown = signature.replace(
                    parameters=[
                        p.replace(annotation=p.empty) for p in signature.parameters.values()
                    ],
                    return_annotation=signature.empty,
                )
                return f"{name}{shown} does not take what the fast path passes"
        in_packet = getattr(client, "_in_packet", None)
        if not isinstance(in_packet, dict) or type(in_packet.get("command")) is not int:
            return f"_in_packet is not a dict with an int 'command': {in_packet!r:.100}"
        if not isinstance(getattr(client, "_out_messages", None), dict):
            return "_out_messages is not a dict"
        for name in ("_out_message_mutex", "_msgtime_mutex"):
            lock = getattr(client, name, None)
            if not (hasattr(lock, "__enter__") and hasattr(lock, "__exit__")):
                return f"{name} is not a lock"
        for name in ("_inflight_messages", "_max_inflight_messages", "_max_queued_messages"):
            if type(getattr(client, name, None)) is not int:
                return f"{name} is not an int"
        for name in _LAST_IN_FIELDS:
            if isinstance(getattr(client, name, None), float):
                self._last_in_field = name
                return ""
        return f"none of {', '.join(_LAST_IN_FIELDS)} is a float"

    def _behaviour_problem(self) -> str:
        """A scratch client of the same class, off the network, put through what the fast path
        does: two QoS 1 messages entered in its books, one acknowledged here, one by paho's own
        read of a PUBACK served through the replacement socket read."""
        scratch = type(self._client)(
            CallbackAPIVersion.VERSION2,
            client_id="campusctl-probe",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        faults: list[str] = []
        probe = PahoInternals(scratch, lambda what, exc: faults.append(what))
        problem = probe._shape_problem()
        if problem:
            return f"a new client: {problem}"

        def failed(what: str) -> str:
            return f"{what} ({faults[0]})" if faults else what

        acked: list[int] = []
        scratch.on_publish = lambda client, userdata, mid, reason, properties: acked.append(mid)
        stream = bytearray()

        def recv(bufsize: int) -> bytes:
            if not stream:
                raise BlockingIOError
            chunk = bytes(stream[:bufsize])
            del stream[:bufsize]
            return chunk

        probe.serve_socket(recv, len)
        first = probe.enter_qos1(b"campusctl/probe", b"1", retain=False)
        if first is None:
            return failed("a QoS 1 message could not be entered in paho's books")
        if scratch._out_messages.get(first.mid) is not first or scratch._inflight_messages != 1:
            return "a QoS 1 message entered in paho's books is not in flight there"
        done = probe.acknowledge(first.mid)
        if done is not True or acked != [first.mid] or not first.info.is_published():
            return failed("a PUBACK given to paho's books did not acknowledge the message")
        if scratch._out_messages or scratch._inflight_messages != 0:
            return "a PUBACK given to paho's books did not free the message's in-flight slot"
        second = probe.enter_qos1(b"campusctl/probe", b"2", retain=True)
        if second is None or second.mid == first.mid:
            return failed("a second QoS 1 message was not entered with a new id")
        stream += b"\x40\x02" + second.mid.to_bytes(2, "big")
        read = probe.read_one()
        if read != MQTTErrorCode.MQTT_ERR_SUCCESS or stream or acked[1:] != [second.mid]:
            return failed("paho did not read a PUBACK through the replaced socket read")
        if scratch._out_messages or scratch._inflight_messages != 0 or not probe.idle():
            return failed("paho's books or its packet state were not left empty by a PUBACK")
        before = getattr(scratch, probe._last_in_field)
        probe.note_inbound()
        if faults or not getattr(scratch, probe._last_in_field) >= before:
            return failed("the time of the last inbound bytes could not be set")
        return ""

    # -- the socket methods -------------------------------------------------------------------

    def serve_socket(
        self, recv: Callable[[int], bytes], send: Callable[[bytes | bytearray], int]
    ) -> None:
        """paho's socket reads and writes through `recv` and `send` from now on."""
        client: Any = self._client
        client._sock_recv = recv
        client._sock_send = send
        self._serving = True

    def restore_socket(self) -> None:
        """paho's own socket methods back (nothing if `serve_socket` replaced none)."""
        if self._serving:
            self._serving = False
            for name in ("_sock_recv", "_sock_send"):
                vars(self._client).pop(name, None)

    # -- at run time --------------------------------------------------------------------------

    def idle(self) -> bool:
        """Whether paho is between packets (no packet half read); False on a fault."""
        try:
            return self._client._in_packet["command"] == 0
        except Exception as exc:
            self._fail("reading paho's packet state (_in_packet)", exc)
            return False

    def read_one(self) -> MQTTErrorCode:
        """paho's ``loop_read`` for exactly one packet: ``loop_read`` reads as many as QoS>0
        messages are in flight, which with commands awaiting their PUBACK would take the
        readings behind the packet down paho's slow path too. On a fault, ``loop_read`` reads."""
        client = self._client
        try:
            rc = client._packet_read()
            if rc > 0:
                return client._loop_rc_handle(rc)
        except Exception as exc:
            self._fail("reading one packet (_packet_read)", exc)
            return client.loop_read()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def acknowledge(self, mid: int) -> bool | None:
        """A PUBACK for `mid`, handled as paho's ``_handle_pubackcomp`` handles it (MQTT 3.1.1):
        True when done, False when paho's bookkeeping returned an error (handled as its read
        would), None on a fault: the PUBACK is not taken and paho's own read must take it
        (paho ignores a PUBACK whose message its books no longer hold, so it counts once)."""
        client = self._client
        try:
            with client._out_message_mutex:
                if mid not in client._out_messages:
                    return True
                rc = client._do_on_publish(mid, *_PUBACK)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                return True
            if not isinstance(rc, MQTTErrorCode):
                raise TypeError(f"_do_on_publish returned {rc!r}")
            client._loop_rc_handle(rc)
        except Exception as exc:
            self._fail(f"acknowledging message {mid} (_do_on_publish)", exc)
            return None
        return False

    def backlog(self) -> dict[str, int]:
        """How much paho holds (packets queued to write, messages kept until acknowledged,
        those of them in its in-flight window), for soak tests watching for leaks and tests
        checking paho's books; empty if paho no longer has these fields."""
        client = self._client
        try:
            return {
                "paho_out_packets": len(client._out_packet),
                "paho_out_messages": len(client._out_messages),
                "paho_inflight": client._inflight_messages,
            }
        except Exception:
            return {}

    def note_inbound(self) -> None:
        """Tell paho's keepalive check that the broker sent something (as its reads do)."""
        client = self._client
        try:
            with client._msgtime_mutex:
                setattr(client, self._last_in_field, mqtt.time_func())
        except Exception as exc:
            self._fail("noting inbound traffic (_msgtime_mutex)", exc)

    def enter_qos1(self, name: bytes, payload: bytes, retain: bool) -> mqtt.MQTTMessage | None:
        """A QoS 1 message entered in paho's books as its ``publish`` enters it (message id,
        in-flight count, the message kept for resending after a reconnect), for the caller to
        frame and send with the message's `mid`; its PUBACK, a reconnect and on_publish then go
        as for paho's own. None, for paho's ``publish`` to take the message, when the in-flight
        window is full or messages wait for it (paho queues them in order), the id is still
        taken, or on a fault (nothing entered then)."""
        client = self._client
        try:
            with client._out_message_mutex:
                out = client._out_messages
                inflight, window = client._inflight_messages, client._max_inflight_messages
                if len(out) != inflight or (window and inflight >= window):
                    return None
                limit = client._max_queued_messages
                if limit and len(out) >= limit:
                    return None
                mid = client._mid_generate()
                if type(mid) is not int or not 0 < mid <= 0xFFFF:
                    raise TypeError(f"_mid_generate returned {mid!r}")
                if mid in out:
                    return None
                message = mqtt.MQTTMessage(mid, name)
                message.timestamp = mqtt.time_func()
                message.payload = payload
                message.qos = 1
                message.retain = retain
                message.state = mqtt.mqtt_ms_wait_for_puback
                client._inflight_messages = inflight + 1
                out[mid] = message
        except Exception as exc:
            self._fail(
                "entering a QoS 1 message in paho's books (_out_messages, _mid_generate)", exc
            )
            return None
        return message
