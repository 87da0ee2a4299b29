"""What a user might write instead of adopting a product: the two campus-load rules in a plain
paho-mqtt script (fan on while occupied above 1000 ppm, off below 800 ppm or when vacant; light
on while occupied and below 300 lx, off when vacant; commands only on change). Run by the
benchmark as ``python script.py PORT QOS`` (QOS: the commands' MQTT QoS, 0 or 1).
"""

import json
import socket
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ON = '{"state":"ON"}'
OFF = '{"state":"OFF"}'
QOS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
fans = {}
lights = {}


def on_message(client, userdata, message):
    data = json.loads(message.payload)
    device = message.topic[len("zigbee2mqtt/") : -len("-multisensor")]
    occupied = data.get("occupancy") is True
    co2 = data.get("co2")
    lux = data.get("illuminance")
    fan = was_fan = fans.get(device, False)
    if not fan and occupied and co2 is not None and co2 > 1000:
        fan = True
    elif fan and (not occupied or (co2 is not None and co2 < 800)):
        fan = False
    if fan != was_fan:
        fans[device] = fan
        client.publish(f"zigbee2mqtt/{device}-fan/set", ON if fan else OFF, qos=QOS)
    light = was_light = lights.get(device, False)
    if not light and occupied and lux is not None and lux < 300:
        light = True
    elif light and not occupied:
        light = False
    if light != was_light:
        lights[device] = light
        client.publish(f"zigbee2mqtt/{device}-light/set", ON if light else OFF, qos=QOS)


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
