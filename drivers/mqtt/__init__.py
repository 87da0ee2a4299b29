"""The MQTT driver: Zigbee2MQTT 2.x and plain-value devices over paho-mqtt, on asyncio.

PAYLOADS.md beside this file is the device payload contract the codec implements.
"""

from drivers.mqtt.codec import CONTRACT_VERSION, decode, decode_availability, encode_command
from drivers.mqtt.driver import MessageCallback, MqttDriver
from drivers.mqtt.errors import Fault, PayloadError
from drivers.mqtt.settings import MqttSettings
from drivers.mqtt.stats import MqttStats

__all__ = [
    "CONTRACT_VERSION",
    "Fault",
    "MessageCallback",
    "MqttDriver",
    "MqttSettings",
    "MqttStats",
    "PayloadError",
    "decode",
    "decode_availability",
    "encode_command",
]
