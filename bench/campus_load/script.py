"""What a user might write instead of adopting a product: the two campus-load rules in a plain
paho-mqtt script (fan on above 1000 ppm and off below 800; lights on while occupied and below
300 lx; commands only on change). Run by the benchmark as ``python script.py PORT``.
"""

import json
import socket
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ON = '{"state":"ON"}'
OFF = '{"state":"OFF"}'
fans = {}
lights = {}


def on_message(client, userdata, message):
    data = json.loads(message.payload)
    device = message.topic[len("zigbee2mqtt/") : -len("-multisensor")]
    co2 = data.get("co2")
    if co2 is not None:
        fan = fans.get(device, False)
        if co2 > 1000:
            fan = True
        elif co2 < 800:
            fan = False
        if fan != fans.get(device, False):
            fans[device] = fan
            client.publish(f"zigbee2mqtt/{device}-fan/set", ON if fan else OFF, qos=1)
    light = bool(data.get("occupancy")) and data.get("illuminance", 100000) < 300
    if light != lights.get(device, False):
        lights[device] = light
        client.publish(f"zigbee2mqtt/{device}-light/set", ON if light else OFF, qos=1)


def on_connect(client, userdata, flags, reason, properties):
    client.subscribe("zigbee2mqtt/+", 0)


def on_socket_open(client, userdata, sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def main():
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-script")
    client.max_inflight_messages_set(100)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_socket_open = on_socket_open
    client.connect("127.0.0.1", int(sys.argv[1]))
    client.loop_forever()


if __name__ == "__main__":
    main()
