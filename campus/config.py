"""campus.yaml: what it may say (the dataclasses below, also the shipped JSON Schema) and how it
resolves into the `campus.model.Campus` every component uses.

Room kinds are templates: a kind lists its points and actuators once, with topic patterns such as
``zigbee2mqtt/{building}-{room}-multisensor``; a room line such as ``{id: r101..r130, kind:
classroom}`` makes thirty rooms. So a campus of a thousand rooms stays a short file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campus.history import HistorySection
from campus.model import (
    HA_ACTUATOR_DOMAINS,
    ActuatorSpec,
    ActuatorType,
    Building,
    Campus,
    HaBinding,
    HomeAssistantSite,
    MqttBinding,
    PayloadFormat,
    Period,
    PointSpec,
    Room,
    SerialBinding,
    SerialPort,
    Site,
    ValueType,
)
from campus.problems import ConfigError, Position, Problem
from campus.serialconfig import (
    SerialBindingSection,
    SerialPortSection,
    resolve_binding,
    resolve_ports,
)
from campus.types import Value
from campus.yamlmodel import Duration, Located, did_you_mean, load

ID = re.compile(r"[a-z][a-z0-9_]*")
SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HA_ENTITY = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")
HA_TOKEN_ENV = "CAMPUSCTL_HA_TOKEN"


@dataclass(frozen=True)
class MqttSection:
    """Where the device publishes (Zigbee2MQTT JSON by default)."""

    topic: str = field(metadata={"doc": "state topic; {building}, {room}, {site} are filled in"})
    format: Literal["z2m", "plain"] = field(
        default="z2m", metadata={"doc": "z2m: JSON object, commands to <topic>/set; plain: value"}
    )
    key: str | None = field(
        default=None,
        metadata={"doc": "JSON key (z2m); default: the point's name, or 'state' for switches"},
    )
    command_topic: str | None = field(default=None, metadata={"doc": "plain format: set topic"})
    scale: float | None = field(
        default=None, metadata={"doc": "device value at 100 % (254 for Z2M brightness)"}
    )
    invert: bool = field(default=False, metadata={"doc": "send 100 - value (blinds -> position)"})
    qos: Literal[0, 1] = field(
        default=1, metadata={"doc": "actuators: MQTT QoS of the commands (1: acknowledged)"}
    )


@dataclass(frozen=True)
class HaBindingSection:
    """A Home Assistant entity (the top-level homeassistant: section says where HA is)."""

    entity: Located[str] = field(
        metadata={"doc": "entity id like sensor.{building}_{room}_co2; {site}, {kind} too"}
    )
    attribute: str | None = field(
        default=None, metadata={"doc": "points only: read this attribute instead of the state"}
    )
    invert: bool = field(
        default=False, metadata={"doc": "send and read 100 - value (blinds % closed -> cover)"}
    )


@dataclass(frozen=True)
class HomeAssistantSection:
    """Where Home Assistant is, and where its long-lived token is read (never the token)."""

    url: Located[str] = field(metadata={"doc": "http(s)://host:8123 of Home Assistant"})
    token_env: str | None = field(
        default=None,
        metadata={"doc": f"environment variable holding the token (default {HA_TOKEN_ENV})"},
    )
    token_file: str | None = field(
        default=None, metadata={"doc": "file holding the token (relative to campus.yaml)"}
    )
    pos: Position | None = None


@dataclass(frozen=True)
class PointSection:
    """A sensor value of the room."""

    type: Literal["number", "bool"] = "number"
    unit: str = ""
    range: tuple[float, float] | None = field(
        default=None, metadata={"doc": "plausible [low, high]; values outside are rejected"}
    )
    stale_after: Duration | None = field(
        default=None, metadata={"doc": "unknown when no reading came for this long"}
    )
    mqtt: MqttSection | None = None
    homeassistant: HaBindingSection | None = None
    serial: SerialBindingSection | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class ActuatorSection:
    """A device the controller drives."""

    type: Literal["switch", "level"] = field(metadata={"doc": "switch: on/off; level: a number"})
    default: Located[bool | float] = field(
        metadata={"doc": "the relinquish default: the value when no rule or person holds it"}
    )
    unit: str = ""
    range: tuple[float, float] = (0.0, 100.0)
    min_switch_interval: Duration = field(
        default=Duration(0), metadata={"doc": "at least this long between two commands"}
    )
    deadband: float = field(default=0.0, metadata={"doc": "level changes smaller are not sent"})
    power_w: float | None = field(
        default=None,
        metadata={
            "doc": "electric power in W when on (a level: at its top of range), for the energy "
            "figures; default: lights 8 W per m² of the room (400 W without an area), "
            "ventilation 150 W, others not counted"
        },
    )
    mqtt: MqttSection | None = None
    homeassistant: HaBindingSection | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class KindSection:
    """A room kind: the template of points and actuators its rooms have."""

    extends: Located[str] | None = field(
        default=None, metadata={"doc": "another kind whose points and actuators this one adds to"}
    )
    points: dict[str, PointSection] = field(default_factory=dict)
    actuators: dict[str, ActuatorSection] = field(default_factory=dict)


@dataclass(frozen=True)
class RoomSection:
    """One room, or a numbered range of rooms (``r101..r130``)."""

    id: Located[str] = field(metadata={"doc": "room id, or a range like r101..r130"})
    kind: Located[str]
    name: str | None = field(default=None, metadata={"doc": "display name; default: the id"})
    capacity: int = 0
    area: float = field(default=0.0, metadata={"doc": "floor area in m²"})
    height: float = field(default=3.0, metadata={"doc": "ceiling height in m"})
    orientation: Literal["N", "NE", "E", "SE", "S", "SW", "W", "NW", "none"] = "S"


@dataclass(frozen=True)
class BuildingSection:
    id: Located[str]
    name: str | None = None
    rooms: list[RoomSection] = field(default_factory=list)


@dataclass(frozen=True)
class SiteSection:
    id: Located[str] = field(metadata={"doc": "used in MQTT topics: campusctl/<id>/..."})
    name: str
    timezone: Located[str] = field(metadata={"doc": "IANA time zone, e.g. Europe/Oslo"})
    latitude: float = 59.91
    longitude: float = 10.75


@dataclass(frozen=True)
class TimetableSection:
    """The named periods of some weekdays (``Mon-Fri``, ``Sat``, ``Mon,Wed``)."""

    days: Located[str]
    periods: dict[str, Located[str]] = field(
        metadata={"doc": "period name -> HH:MM-HH:MM in the site's time zone"}
    )


@dataclass(frozen=True)
class CampusFile:
    """campus.yaml: the site, its room kinds, buildings and rooms, and the timetable."""

    site: SiteSection
    kinds: dict[str, KindSection]
    buildings: list[BuildingSection]
    timetable: list[TimetableSection] = field(default_factory=list)
    homeassistant: HomeAssistantSection | None = field(
        default=None, metadata={"doc": "the Home Assistant that homeassistant: bindings use"}
    )
    history: HistorySection | None = field(
        default=None, metadata={"doc": "record to InfluxDB (docs/influxdb.md)"}
    )
    serial: dict[str, SerialPortSection] = field(
        default_factory=dict,
        metadata={"doc": "serial sensors by port name (docs/serial.md)"},
    )


def load_campus(path: Path) -> Campus:
    """Read and resolve campus.yaml; raises ConfigError listing every problem found."""
    raw, problems = load(path, CampusFile)
    if raw is None:
        raise ConfigError(problems)
    resolver = _Resolver(str(path))
    campus = resolver.campus(raw)
    if resolver.problems:
        raise ConfigError(resolver.problems)
    return campus


def parse_days(text: str) -> list[int]:
    """``"Mon-Fri"`` -> [0, 1, 2, 3, 4]; ``"Mon,Wed"`` -> [0, 2]. Raises ValueError."""
    days: list[int] = []
    for part in text.replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        if first[:3] not in WEEKDAYS or (last and last[:3] not in WEEKDAYS):
            raise ValueError(f"bad days {text!r}: write Mon-Fri, Sat or Mon,Wed")
        a = WEEKDAYS.index(first[:3])
        b = WEEKDAYS.index(last[:3]) if last else a
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def parse_clock_range(text: str) -> tuple[int, int]:
    """``"08:15-09:00"`` -> (495, 540) minutes after midnight. Raises ValueError."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"bad time range {text!r}: write HH:MM-HH:MM, like 08:15-09:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and start < end):
        raise ValueError(f"bad time range {text!r}: the start must come before the end")
    return start, end


def expand_room_ids(text: str) -> list[str]:
    """``"r101..r103"`` -> ["r101", "r102", "r103"]; a plain id is itself. Raises ValueError."""
    if ".." not in text:
        return [text]
    first, last = text.split("..", 1)
    a, b = re.fullmatch(r"(.*?)(\d+)", first), re.fullmatch(r"(.*?)(\d+)", last)
    if not a or not b or a.group(1) != b.group(1) or int(a.group(2)) > int(b.group(2)):
        raise ValueError(f"bad room range {text!r}: write it like r101..r130")
    width = len(a.group(2))
    return [f"{a.group(1)}{n:0{width}d}" for n in range(int(a.group(2)), int(b.group(2)) + 1)]


class _Resolver:
    """Turns the decoded file into the model, checking what the types alone cannot."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.homeassistant: HomeAssistantSite | None = None
        self.serial_ports: dict[str, SerialPort] = {}

    def error(self, pos: Position | None, message: str) -> None:
        """Record a problem once, though a kind's template is resolved for each of its rooms."""
        problem = Problem(pos or Position(self.file, 1, 1), message)
        if problem not in self.problems:
            self.problems.append(problem)

    def campus(self, raw: CampusFile) -> Campus:
        site = self.site(raw.site)
        self.homeassistant = self.ha_site(raw.homeassistant)
        self.serial_ports = resolve_ports(raw.serial, self.error)
        kinds = self.kinds(raw.kinds)
        buildings = []
        seen: set[str] = set()
        for b in raw.buildings:
            if not ID.fullmatch(b.id.value):
                self.error(b.id.pos, f"building id {b.id.value!r} must match [a-z][a-z0-9_]*")
                continue
            if b.id.value in seen:
                self.error(b.id.pos, f"duplicate building id {b.id.value!r}")
                continue
            seen.add(b.id.value)
            rooms = tuple(self.rooms(site, b, kinds))
            buildings.append(Building(b.id.value, b.name or b.id.value, rooms))
        timetable = self.timetable(raw.timetable)
        return Campus(
            site,
            tuple(buildings),
            timetable,
            self.file,
            self.homeassistant,
            raw.history,
            serial_ports=self.serial_ports,
        )

    def site(self, raw: SiteSection) -> Site:
        if not SITE_ID.fullmatch(raw.id.value):
            self.error(raw.id.pos, f"site id {raw.id.value!r} must match [a-z0-9][a-z0-9-]*")
        try:
            ZoneInfo(raw.timezone.value)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(raw.timezone.pos, f"unknown time zone {raw.timezone.value!r}")
        return Site(raw.id.value, raw.name, raw.timezone.value, raw.latitude, raw.longitude)

    def kinds(self, raw: dict[str, KindSection]) -> dict[str, KindSection]:
        """Each kind with the points and actuators of the kinds it extends merged in."""
        resolved: dict[str, KindSection] = {}

        def resolve(name: str, chain: tuple[str, ...]) -> KindSection:
            if name in resolved:
                return resolved[name]
            kind = raw[name]
            if kind.extends is None:
                resolved[name] = kind
                return kind
            parent_name = kind.extends.value
            if parent_name not in raw or parent_name in chain:
                why = "a loop" if parent_name in chain else "no such kind"
                hint = did_you_mean(parent_name, list(raw))
                self.error(kind.extends.pos, f"kind {name!r} extends {parent_name!r}: {why}{hint}")
                resolved[name] = kind
                return kind
            parent = resolve(parent_name, (*chain, name))
            merged = KindSection(
                None, {**parent.points, **kind.points}, {**parent.actuators, **kind.actuators}
            )
            resolved[name] = merged
            return merged

        for name in raw:
            resolve(name, ())
        return resolved

    def rooms(self, site: Site, b: BuildingSection, kinds: dict[str, KindSection]) -> list[Room]:
        rooms: list[Room] = []
        seen: set[str] = set()
        for r in b.rooms:
            try:
                keys = expand_room_ids(r.id.value)
            except ValueError as exc:
                self.error(r.id.pos, str(exc))
                continue
            kind = kinds.get(r.kind.value)
            if kind is None:
                hint = did_you_mean(r.kind.value, list(kinds))
                self.error(r.kind.pos, f"unknown room kind {r.kind.value!r}{hint}")
                continue
            for key in keys:
                if not ID.fullmatch(key):
                    self.error(r.id.pos, f"room id {key!r} must match [a-z][a-z0-9_]*")
                    break
                if key in seen:
                    self.error(r.id.pos, f"duplicate room id {key!r} in building {b.id.value!r}")
                    continue
                seen.add(key)
                rooms.append(self.room(site, b, r, key, kind))
        return rooms

    def room(
        self, site: Site, b: BuildingSection, r: RoomSection, key: str, kind: KindSection
    ) -> Room:
        room_id = f"{b.id.value}.{key}"
        fill = {"site": site.id, "building": b.id.value, "room": key, "kind": r.kind.value}
        points = {name: self.point(room_id, name, spec, fill) for name, spec in kind.points.items()}
        actuators = {
            name: self.actuator(room_id, name, spec, fill) for name, spec in kind.actuators.items()
        }
        for name in points.keys() & actuators.keys():
            self.error(r.kind.pos, f"kind {r.kind.value!r} names {name!r} twice")
        return Room(
            id=room_id,
            key=key,
            building=b.id.value,
            name=r.name or key.upper(),
            kind=r.kind.value,
            capacity=r.capacity,
            area=r.area,
            height=r.height,
            orientation=r.orientation,
            points=points,
            actuators=actuators,
        )

    def point(self, room: str, name: str, s: PointSection, fill: dict[str, str]) -> PointSpec:
        self.check_name(name, s.pos)
        if s.range is not None and s.range[0] >= s.range[1]:
            self.error(s.pos, f"point {name!r}: range low must be below high, got {s.range}")
        return PointSpec(
            id=f"{room}.{name}",
            name=name,
            room=room,
            type=ValueType(s.type),
            unit=s.unit,
            range=s.range,
            stale_after=s.stale_after,
            mqtt=self.binding(s.mqtt, fill, default_key=name, pos=s.pos),
            homeassistant=self.ha_binding(f"point {name!r}", s.mqtt, s.homeassistant, fill),
            serial=self.serial_binding(name, s, fill),
        )

    def serial_binding(
        self, name: str, s: PointSection, fill: dict[str, str]
    ) -> SerialBinding | None:
        if s.serial is None:
            return None
        also = tuple(k for k, v in (("mqtt", s.mqtt), ("homeassistant", s.homeassistant)) if v)
        return resolve_binding(name, s.serial, self.serial_ports, fill, self.error, also=also)

    def actuator(
        self, room: str, name: str, s: ActuatorSection, fill: dict[str, str]
    ) -> ActuatorSpec:
        self.check_name(name, s.pos)
        kind = ActuatorType(s.type)
        default: Value = s.default.value
        if kind is ActuatorType.SWITCH and not isinstance(default, bool):
            self.error(s.default.pos, f"actuator {name!r} is a switch: default must be on or off")
        if kind is ActuatorType.LEVEL:
            if isinstance(default, bool):
                self.error(s.default.pos, f"actuator {name!r} is a level: default must be a number")
            elif not s.range[0] <= default <= s.range[1]:
                self.error(s.default.pos, f"default {default} is outside the range {s.range}")
        mqtt = s.mqtt
        if kind is ActuatorType.LEVEL and mqtt and mqtt.format == "z2m" and mqtt.key is None:
            self.error(s.pos, f"actuator {name!r}: a z2m level needs mqtt.key (brightness...)")
        if s.power_w is not None and not 0 <= s.power_w < 1e6:
            self.error(s.pos, f"actuator {name!r}: power_w {s.power_w} is not a power in W")
        return ActuatorSpec(
            id=f"{room}.{name}",
            name=name,
            room=room,
            type=kind,
            default=default,
            unit=s.unit,
            range=s.range,
            min_switch_interval=s.min_switch_interval,
            deadband=s.deadband,
            power_w=s.power_w,
            mqtt=self.binding(s.mqtt, fill, default_key="state", pos=s.pos),
            homeassistant=self.ha_actuator(name, kind, s, fill),
        )

    def binding(
        self, s: MqttSection | None, fill: dict[str, str], default_key: str, pos: Position | None
    ) -> MqttBinding | None:
        if s is None:
            return None
        try:
            topic = s.topic.format(**fill)
            command_topic = s.command_topic.format(**fill) if s.command_topic else None
        except (KeyError, IndexError, ValueError) as exc:
            self.error(
                pos,
                f"topic {s.topic!r}: only {{site}}, {{building}}, {{room}}, {{kind}} "
                f"can be filled in ({exc})",
            )
            return None
        fmt = PayloadFormat(s.format)
        key = s.key if s.key is not None else (default_key if fmt is PayloadFormat.Z2M else None)
        return MqttBinding(topic, fmt, key, command_topic, s.scale, s.invert, s.qos)

    def ha_site(self, s: HomeAssistantSection | None) -> HomeAssistantSite | None:
        if s is None:
            return None
        if not re.match(r"(https?|wss?)://[^/]", s.url.value):
            self.error(s.url.pos, f"homeassistant url {s.url.value!r}: write http://host:8123")
        if s.token_env is not None and s.token_file is not None:
            self.error(s.pos, "homeassistant: give token_env or token_file, not both")
        token_file = None
        if s.token_file is not None:
            token_file = str(Path(self.file).parent / Path(s.token_file).expanduser())
        token_env = s.token_env if s.token_env or token_file else HA_TOKEN_ENV
        return HomeAssistantSite(s.url.value, token_env, token_file)

    def ha_binding(
        self, what: str, mqtt: MqttSection | None, s: HaBindingSection | None, fill: dict[str, str]
    ) -> HaBinding | None:
        if s is None:
            return None
        if self.homeassistant is None:
            self.error(
                s.entity.pos,
                f"{what} is bound to Home Assistant: add a top-level "
                "homeassistant: section with its url",
            )
        if mqtt is not None:
            self.error(s.entity.pos, f"{what} has both mqtt: and homeassistant:; keep one")
        try:
            entity = s.entity.value.format(**fill)
        except (KeyError, IndexError, ValueError) as exc:
            self.error(
                s.entity.pos,
                f"entity {s.entity.value!r}: only {{site}}, {{building}}, {{room}}, {{kind}} "
                f"can be filled in ({exc})",
            )
            return None
        if not HA_ENTITY.fullmatch(entity):
            self.error(
                s.entity.pos,
                f"entity {entity!r} is not a Home Assistant entity id "
                "(domain.object_id in lower case, like sensor.r101_co2)",
            )
            return None
        return HaBinding(entity, s.attribute, s.invert)

    def ha_actuator(
        self, name: str, kind: ActuatorType, s: ActuatorSection, fill: dict[str, str]
    ) -> HaBinding | None:
        binding = self.ha_binding(f"actuator {name!r}", s.mqtt, s.homeassistant, fill)
        if binding is None or s.homeassistant is None:
            return None
        pos = s.homeassistant.entity.pos
        if binding.attribute is not None:
            self.error(pos, f"actuator {name!r}: attribute is for points; remove it")
        types = HA_ACTUATOR_DOMAINS.get(binding.domain)
        if types is None:
            self.error(
                pos,
                f"actuator {name!r}: Home Assistant {binding.domain} entities "
                f"cannot be driven; use one of {', '.join(HA_ACTUATOR_DOMAINS)}",
            )
        elif kind not in types:
            self.error(
                pos,
                f"actuator {name!r} is a {kind}, but a {binding.domain} entity "
                f"can only be a {' or a '.join(types)}",
            )
        return binding

    def check_name(self, name: str, pos: Position | None) -> None:
        if not ID.fullmatch(name):
            self.error(pos, f"name {name!r} must match [a-z][a-z0-9_]* (it is used in rules)")

    def timetable(self, raw: list[TimetableSection]) -> dict[int, tuple[Period, ...]]:
        days: dict[int, list[Period]] = {}
        for entry in raw:
            try:
                weekdays = parse_days(entry.days.value)
            except ValueError as exc:
                self.error(entry.days.pos, str(exc))
                continue
            periods = []
            for name, text in entry.periods.items():
                try:
                    start, end = parse_clock_range(text.value)
                except ValueError as exc:
                    self.error(text.pos, str(exc))
                    continue
                periods.append(Period(name, start, end))
            for day in weekdays:
                days.setdefault(day, []).extend(periods)
        return {day: tuple(sorted(ps, key=lambda p: p.start)) for day, ps in sorted(days.items())}
