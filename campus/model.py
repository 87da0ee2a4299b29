"""The campus as the controller sees it once campus.yaml is resolved.

site -> buildings -> rooms; each room has its points (sensors) and actuators, already expanded
from its kind's template, with topics filled in. Ids: a room is ``b1.r101``, a point or actuator
``b1.r101.co2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from campus.history import HistorySection
from campus.types import Value


class PayloadFormat(StrEnum):
    """How a device's MQTT payload is shaped."""

    Z2M = "z2m"
    """Zigbee2MQTT 2.x JSON object; the value is under `key`; commands go to ``<topic>/set``."""
    PLAIN = "plain"
    """The payload is the value itself (``412``, ``21.5``, ``true``, ``ON``)."""


class ValueType(StrEnum):
    NUMBER = "number"
    BOOL = "bool"


class ActuatorType(StrEnum):
    SWITCH = "switch"
    """on/off (bool)."""
    LEVEL = "level"
    """A number within `range` (0-100 % for lights, ventilation, blinds; °C for set-points)."""


@dataclass(frozen=True, slots=True)
class MqttBinding:
    """Where a point or actuator lives on the broker.

    For a point: the state topic and the JSON key (Z2M) to read. For an actuator: the device's
    state topic; commands are published to ``<topic>/set`` (Z2M) or to `command_topic` (plain).
    `scale` maps 100 % of a level to the device's raw unit (254 for Z2M brightness); `invert`
    sends ``100 - value`` (blinds closed % -> cover position open %). `qos`: the QoS of an
    actuator's commands (1, acknowledged, by default; 0 for devices that want fire-and-forget).
    """

    topic: str
    format: PayloadFormat = PayloadFormat.Z2M
    key: str | None = None
    command_topic: str | None = None
    scale: float | None = None
    invert: bool = False
    qos: int = 1

    @property
    def availability_topic(self) -> str:
        return f"{self.topic}/availability"

    @property
    def set_topic(self) -> str:
        if self.command_topic is not None:
            return self.command_topic
        return f"{self.topic}/set"


@dataclass(frozen=True, slots=True)
class HaBinding:
    """A Home Assistant entity behind a point or actuator.

    A point reads the entity's state, or one of its attributes when `attribute` is set. An
    actuator is driven through the service calls of the entity's domain (light, switch, fan,
    cover, climate, input_boolean, input_number); `invert` sends and reads ``100 - value``
    (blinds "% closed" to a cover's position "% open").
    """

    entity: str
    attribute: str | None = None
    invert: bool = False

    @property
    def domain(self) -> str:
        """``light`` for ``light.r101``."""
        return self.entity.partition(".")[0]


HA_ACTUATOR_DOMAINS: dict[str, tuple[ActuatorType, ...]] = {
    "light": (ActuatorType.SWITCH, ActuatorType.LEVEL),
    "switch": (ActuatorType.SWITCH,),
    "input_boolean": (ActuatorType.SWITCH,),
    "fan": (ActuatorType.SWITCH, ActuatorType.LEVEL),
    "cover": (ActuatorType.SWITCH, ActuatorType.LEVEL),
    "climate": (ActuatorType.SWITCH, ActuatorType.LEVEL),
    "input_number": (ActuatorType.LEVEL,),
}
"""Home Assistant domains that can back an actuator, and the actuator types each can be."""


@dataclass(frozen=True, slots=True)
class HomeAssistantSite:
    """The Home Assistant instance the campus's entities live on.

    The token itself is never part of the model: it is read when the driver connects, from the
    environment variable `token_env` or the file `token_file`, so the campus can be printed and
    logged freely.
    """

    url: str
    """``http(s)://host:port`` of Home Assistant (or its ``ws(s)://.../api/websocket``)."""
    token_env: str | None = None
    token_file: str | None = None
    """An absolute path (a relative one in campus.yaml is resolved against its folder)."""


class SerialProtocol(StrEnum):
    """What a serial port speaks (drivers/serial/protocols/ has the codecs)."""

    MHZ19B = "mhz19b"
    SDS011 = "sds011"
    SENSEAIR_S8 = "senseair-s8"
    ASCII = "ascii"
    """``key=value`` lines from an Arduino-style board."""

    @property
    def polled(self) -> bool:
        """Whether campusctl asks for each value (else the device streams)."""
        return self in (SerialProtocol.MHZ19B, SerialProtocol.SENSEAIR_S8)


SERIAL_FIELDS: dict[SerialProtocol, tuple[str, ...]] = {
    SerialProtocol.MHZ19B: ("co2", "temperature"),
    SerialProtocol.SDS011: ("pm2_5", "pm10"),
    SerialProtocol.SENSEAIR_S8: ("co2", "status"),
    SerialProtocol.ASCII: (),
}
"""The values each sensor gives; an ASCII board's fields are its keys (or its port's key map)."""


@dataclass(frozen=True, slots=True)
class SerialPort:
    """A serial line with one sensor or board on it, as declared under campus.yaml's serial:."""

    name: str
    device: str
    """A device path (``/dev/ttyUSB0``) or a pyserial URL (``rfc2217://host:port``)."""
    protocol: SerialProtocol
    baud: int = 9600
    poll_interval: float | None = None
    """Seconds between requests; None: the device streams (SDS011 active mode, ASCII boards)."""
    timeout: float = 1.0
    """Seconds to wait for a reply (or for the rest of a frame)."""
    address: int = 0xFE
    """Modbus address (Senseair S8; 0xFE = whichever sensor is on the line)."""
    keys: dict[str, str] = field(default_factory=dict)
    """ASCII boards: the board's key -> field name (``lux`` -> ``illuminance``)."""


@dataclass(frozen=True, slots=True)
class SerialBinding:
    """Which port, and which of its values, feeds a point."""

    port: str
    field: str


@dataclass(frozen=True, slots=True)
class PointSpec:
    """A sensor value of a room."""

    id: str
    name: str
    room: str
    type: ValueType = ValueType.NUMBER
    unit: str = ""
    range: tuple[float, float] | None = None
    """Plausible range; a value outside is rejected (counted and logged), never used."""
    stale_after: float | None = None
    """Seconds after the last reading when the point becomes unknown (None: never)."""
    mqtt: MqttBinding | None = None
    homeassistant: HaBinding | None = None
    serial: SerialBinding | None = None

    def plausible(self, value: Value) -> bool:
        if self.range is None or isinstance(value, bool):
            return True
        low, high = self.range
        return low <= value <= high


@dataclass(frozen=True, slots=True)
class ActuatorSpec:
    """A device the controller drives in a room."""

    id: str
    name: str
    room: str
    type: ActuatorType
    default: Value
    """The relinquish default: the value when no slot of the priority array holds one."""
    unit: str = ""
    range: tuple[float, float] = (0.0, 100.0)
    min_switch_interval: float = 0.0
    """Seconds that must pass between two commands (equipment protection)."""
    deadband: float = 0.0
    """A level change smaller than this is not sent."""
    power_w: float | None = None
    """Electric power when on (a level: at the top of its range); None: the default of its
    name (controller.kpi)."""
    mqtt: MqttBinding | None = None
    homeassistant: HaBinding | None = None

    def accepts(self, value: Value) -> bool:
        if self.type is ActuatorType.SWITCH:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        low, high = self.range
        return low <= value <= high


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    """``b1.r101``."""
    key: str
    """The room's own id inside its building: ``r101``."""
    building: str
    name: str
    kind: str
    capacity: int = 0
    area: float = 0.0
    """Floor area in m²."""
    height: float = 3.0
    orientation: str = "S"
    """Facade orientation (N, NE, E, SE, S, SW, W, NW, or none for interior rooms)."""
    points: dict[str, PointSpec] = field(default_factory=dict)
    actuators: dict[str, ActuatorSpec] = field(default_factory=dict)

    @property
    def volume(self) -> float:
        return self.area * self.height


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    name: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class Period:
    """A named period of the timetable, in minutes after local midnight."""

    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    """Used in topics (``campusctl/<id>/...``): ``[a-z0-9-]``."""
    name: str
    timezone: str
    latitude: float = 59.91
    """Degrees north; the simulators' sun position uses it."""
    longitude: float = 10.75


@dataclass(frozen=True, slots=True)
class Campus:
    site: Site
    buildings: tuple[Building, ...]
    timetable: dict[int, tuple[Period, ...]] = field(default_factory=dict)
    """Weekday (0 = Monday) -> that day's periods in order."""
    source: str = ""
    """The file it was loaded from."""
    homeassistant: HomeAssistantSite | None = None
    """Where entities bound with ``homeassistant:`` live (None: no Home Assistant)."""
    history: HistorySection | None = None
    """campus.yaml's ``history:`` section (InfluxDB), as written; None: not configured there."""
    serial_ports: dict[str, SerialPort] = field(default_factory=dict)
    """campus.yaml's ``serial:`` ports by name."""

    @property
    def rooms(self) -> list[Room]:
        return [room for building in self.buildings for room in building.rooms]

    def room(self, room_id: str) -> Room:
        for room in self.rooms:
            if room.id == room_id:
                return room
        raise KeyError(room_id)

    def points(self) -> dict[str, PointSpec]:
        return {p.id: p for room in self.rooms for p in room.points.values()}

    def actuators(self) -> dict[str, ActuatorSpec]:
        return {a.id: a for room in self.rooms for a in room.actuators.values()}
