"""The tests start Mosquitto the same way the demo does."""

from controller.broker import Broker, free_port, running_mosquitto

__all__ = ["Broker", "free_port", "running_mosquitto"]
