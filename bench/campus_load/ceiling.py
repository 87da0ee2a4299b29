"""The ceiling: a bare paho-mqtt subscriber that only parses each reading's JSON.

Run by the benchmark as ``python ceiling.py PORT``. It publishes how many readings it has parsed
on ``bench/count`` every 100 ms, so the generator can tell whether it keeps up.
"""

import json
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

count = 0


def on_message(client, userdata, message):
    global count  # noqa: PLW0603 (a plain script, as a user writes it)
    json.loads(message.payload)
    count += 1


def on_connect(client, userdata, flags, reason, properties):
    client.subscribe("zigbee2mqtt/+", 0)


def on_socket_open(client, userdata, sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def report(client):
    while True:
        time.sleep(0.1)
        client.publish("bench/count", str(count))


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ceiling")
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_socket_open = on_socket_open
    client.connect("127.0.0.1", int(sys.argv[1]))
    threading.Thread(target=report, args=(client,), daemon=True).start()
    client.loop_forever()


if __name__ == "__main__":
    main()
