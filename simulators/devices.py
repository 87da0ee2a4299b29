"""Simulated actuator devices: what a Zigbee2MQTT light, fan, cover or thermostat (or a plain
MQTT device) does with a command, and the state it reports back.

One `Device` per actuator binding topic. The device keeps its own raw state (brightness 0-254,
percentage, cover position with 100 = open, set-point °C) and decodes it into the rule language's
units (RULES.md: `lights` 0-100 % or on/off, `ventilation` 0-100 %, `blinds` 0-100 % closed,
`heating_setpoint` °C) through the binding's `scale` and `invert`, independently of the
controller's codec: the two sides meet only in the payloads on the broker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from campus.model import ActuatorSpec, ActuatorType, MqttBinding, PayloadFormat
from campus.types import Value

log = logging.getLogger("campusctl.sim")


class Kind(StrEnum):
    LIGHT = "light"
    FAN = "fan"
    COVER = "cover"
    THERMOSTAT = "thermostat"
    GENERIC = "generic"


KIND_BY_NAME = {
    "lights": Kind.LIGHT,
    "ventilation": Kind.FAN,
    "blinds": Kind.COVER,
    "heating_setpoint": Kind.THERMOSTAT,
}
LEVEL_KEY = {
    Kind.LIGHT: "brightness",
    Kind.FAN: "percentage",
    Kind.COVER: "position",
    Kind.THERMOSTAT: "occupied_heating_setpoint",
}
FULL = {Kind.LIGHT: 254.0, Kind.FAN: 100.0, Kind.COVER: 100.0}
"""Raw full scale where the device has one (Z2M brightness is 0-254)."""
SWITCHED = (Kind.LIGHT, Kind.FAN, Kind.GENERIC)
"""Kinds with an on/off state beside their level."""


class Channel:
    """One actuator of a device: its raw state, commands and decoding."""

    def __init__(self, spec: ActuatorSpec, binding: MqttBinding) -> None:
        self.spec = spec
        self.binding = binding
        self.kind = KIND_BY_NAME.get(spec.name, Kind.GENERIC)
        self.key = LEVEL_KEY.get(self.kind) or binding.key or spec.name
        self.switch = spec.type is ActuatorType.SWITCH
        z2m_light = self.kind is Kind.LIGHT and binding.format == PayloadFormat.Z2M
        self.scale = binding.scale or (FULL[Kind.LIGHT] if z2m_light else None)
        self.full = self.scale or FULL.get(self.kind, 100.0)
        self.on = True
        self.level = self.full
        self.set_value(spec.default)

    def set_value(self, value: Value) -> None:
        """Put the device in the state that reads as `value` (the relinquish default at start)."""
        if isinstance(value, bool):
            self._switch(value)
            return
        v = 100.0 - value if self.binding.invert else float(value)
        self._set_level(v * self.scale / 100.0 if self.scale else v)

    def value(self) -> Value:
        """The state in the rule language's units."""
        if self.switch:
            return self.on and self.level > 0
        raw = self.level if self.on else 0.0
        v = raw * 100.0 / self.scale if self.scale else raw
        return 100.0 - v if self.binding.invert else v

    def apply(self, command: dict[str, Any]) -> set[str]:
        """Apply the keys of a Z2M command this channel understands; return those keys."""
        used: set[str] = set()
        state = command.get("state")
        if isinstance(state, str) and self._apply_word(state):
            used.add("state")
        if self.key in command:
            level = _number(command[self.key])
            if level is not None:
                self._set_level(level)
                used.add(self.key)
            elif self.kind is Kind.GENERIC and isinstance(command[self.key], bool | str):
                word = command[self.key]
                if self._apply_word(("ON" if word else "OFF") if isinstance(word, bool) else word):
                    used.add(self.key)
        return used

    def apply_plain(self, text: str) -> bool:
        """Apply a plain payload (``ON``, ``OFF``, ``TOGGLE``, ``true``, a number)."""
        level = _number(text)
        if level is not None:
            self._set_level(level)
            return True
        word = {"TRUE": "ON", "FALSE": "OFF"}.get(text.upper(), text)
        return self._apply_word(word)

    def state(self) -> dict[str, Any]:
        """This channel's part of the device's Z2M state."""
        on = "ON" if self.on else "OFF"
        level = round(self.level)
        if self.kind is Kind.LIGHT or self.kind is Kind.FAN:
            return {"state": on} if self.switch else {"state": on, self.key: level}
        if self.kind is Kind.COVER:
            return {"position": level, "state": "OPEN" if level > 0 else "CLOSE"}
        if self.kind is Kind.THERMOSTAT:
            return {self.key: round(self.level, 1), "system_mode": "heat"}
        return {self.key: on if self.switch else _plain_number(self.level)}

    def plain_state(self) -> str:
        if self.switch:
            return "ON" if self.value() else "OFF"
        return _plain_number(self.level if self.on else 0.0)

    def _apply_word(self, word: str) -> bool:
        word = word.upper()
        if self.kind in SWITCHED:
            if word == "TOGGLE":
                self._switch(not self.on)
            elif word in ("ON", "OFF"):
                self._switch(word == "ON")
            else:
                return False
            return True
        if self.kind is Kind.THERMOSTAT:
            return False
        if word in ("ON", "OPEN"):
            self._set_level(self.full)
        elif word in ("OFF", "CLOSE"):
            self._set_level(0.0)
        else:
            return word == "STOP"
        return True

    def _switch(self, on: bool) -> None:
        if self.kind in SWITCHED:
            self.on = on
            if on and self.level <= 0:
                self.level = self.full
        else:
            self._set_level(self.full if on else 0.0)

    def _set_level(self, raw: float) -> None:
        if self.kind is not Kind.THERMOSTAT and self.kind is not Kind.GENERIC:
            raw = min(self.full, max(0.0, raw))
        if self.kind in SWITCHED:
            self.on = raw > 0
            if raw > 0:
                self.level = raw
        else:
            self.level = raw


class Device:
    """One simulated device on one topic, carrying one or more actuators of a room."""

    def __init__(self, binding: MqttBinding, specs: list[ActuatorSpec]) -> None:
        self.binding = binding
        self.topic = binding.topic
        self.channels = [Channel(spec, binding) for spec in specs]

    @property
    def command_topics(self) -> list[str]:
        """Where commands arrive; Z2M devices also answer ``<topic>/get`` with their state."""
        if self.binding.format == PayloadFormat.Z2M:
            return [self.binding.set_topic, f"{self.topic}/get"]
        return [self.binding.set_topic]

    def values(self) -> dict[str, Value]:
        """Actuator name → value in the rule language's units."""
        return {c.spec.name: c.value() for c in self.channels}

    def command(self, topic: str, payload: bytes) -> bool:
        """Apply a command; True when the device should publish its state (as Z2M does)."""
        if topic.endswith("/get") and topic != self.binding.set_topic:
            return True
        try:
            text = payload.decode()
            data = text.strip() if self.binding.format == PayloadFormat.PLAIN else json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.warning("malformed command on %s ignored: %r", topic, payload[:200])
            return False
        if isinstance(data, str):
            if any([c.apply_plain(data) for c in self.channels]):
                return True
            log.warning("command on %s not understood, ignored: %r", topic, payload[:200])
            return False
        if not isinstance(data, dict):
            log.warning("command on %s is not a JSON object, ignored: %r", topic, payload[:200])
            return False
        used: set[str] = set()
        for channel in self.channels:
            used |= channel.apply(data)
        unknown = sorted(set(data) - used)
        if unknown:
            log.info("command on %s: ignoring keys %s", topic, ", ".join(unknown))
        return bool(used)

    def fall_back(self, values: Mapping[str, Value]) -> bool:
        """Set the channels named in `values` (actuator name -> value) on the device's own
        initiative; True when one of them changed."""
        changed = False
        for channel in self.channels:
            if channel.spec.name in values:
                before = channel.value()
                channel.set_value(values[channel.spec.name])
                changed = changed or channel.value() != before
        return changed

    def state(self) -> bytes:
        """The payload the device publishes on its state topic."""
        if self.binding.format == PayloadFormat.PLAIN:
            return self.channels[0].plain_state().encode()
        merged: dict[str, Any] = {}
        for channel in self.channels:
            merged.update(channel.state())
        return json.dumps(merged, separators=(",", ":")).encode()


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
