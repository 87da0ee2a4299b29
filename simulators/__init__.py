"""Simulated campus: room physics, occupants and Zigbee2MQTT-style devices that talk to the
controller only over MQTT, and serial sensors on pseudo-terminals (`simulators.serial`). They
import `campus`, never the controller, rules or drivers; the serial devices use only the pure
byte codecs of `drivers.serial.protocols`, so device and driver agree byte for byte."""
