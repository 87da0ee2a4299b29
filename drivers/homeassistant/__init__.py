"""The Home Assistant driver: entities as points and actuators over HA's websocket API
(hass-client). docs/homeassistant.md is the user's guide; mapping.py the domain table.
"""

from drivers.homeassistant.driver import HomeAssistantDriver
from drivers.homeassistant.mapping import (
    ServiceCall,
    Unusable,
    decode_actuator,
    decode_point,
    encode_command,
)
from drivers.homeassistant.settings import HaSettings
from drivers.homeassistant.stats import CommandFailure, HaStats

__all__ = [
    "CommandFailure",
    "HaSettings",
    "HaStats",
    "HomeAssistantDriver",
    "ServiceCall",
    "Unusable",
    "decode_actuator",
    "decode_point",
    "encode_command",
]
