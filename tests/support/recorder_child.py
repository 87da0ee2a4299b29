"""The process of a `tests.support.devices.CommandRecorder`: subscribes to the commands, says
`SUBSCRIBED`, then writes one line per command (qos, topic, payload in hex) until its stdin
closes, and disconnects.

Usage: python -m tests.support.recorder_child HOST PORT CLIENT_ID clean|persistent
"""

from __future__ import annotations

import sys
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.devices import SUBSCRIBED


def main(host: str, port: str, client_id: str, session: str) -> None:
    out = sys.stdout  # written by paho's thread only

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        out.write(f"{msg.qos} {msg.topic} {bytes(msg.payload).hex()}\n")
        out.flush()

    def on_subscribe(*args: Any) -> None:
        out.write(SUBSCRIBED + "\n")
        out.flush()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=session == "clean"
    )
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.connect(host, int(port))
    client.subscribe("zigbee2mqtt/+/set", qos=1)
    client.loop_start()
    sys.stdin.read()  # until the test closes our stdin
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
