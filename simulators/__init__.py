"""Simulated campus: room physics, occupants and Zigbee2MQTT-style devices that talk to the
controller only over MQTT (they import `campus`, never the controller, rules or drivers)."""
