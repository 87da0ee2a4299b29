"""The controller as a service: its options, and the drivers and extensions built from them.

`campusctl run` and `campusctl demo` take the same service options and build the controller
the same way; a feature that adds a driver or an extension adds its options and its line here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from campus import wire
from campus.clock import Clock
from campus.model import Campus
from campus.problems import CampusError
from campus.secrets import secret_files, warn_exposed
from controller.controlplane import ControlPlane, ControlPlaneSettings
from controller.extension import Extension
from controller.heartbeat import Heartbeat, HeartbeatSettings
from controller.history import (
    HistoryOptions,
    add_history_arguments,
    history_extension,
    history_options,
)
from controller.kpi import DAYS_KEPT, Day, Kpi
from controller.reload import RuleWatcher, StaffReload
from controller.resync import Resync
from controller.roles import Staff, load_staff_file
from controller.runtime import Controller
from controller.shard import Shard
from controller.state import StateKeeper, StateStore, default_path, log_restored
from drivers.base import Driver
from drivers.mqtt import MqttDriver, MqttSettings
from rules.schema import RuleSet


@dataclass(frozen=True)
class ServiceOptions:
    broker_url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    settle: float = 5.0
    state: Path | Literal["auto"] | None = None
    """The SQLite state file; ``auto``: var/campusctl-SITE.sqlite under the working folder
    (the command line's default); None: nothing persists (tests, tools)."""
    watch_rules: float = 1.0
    """Seconds between two looks at the rule files and the staff file for changes (0: no file
    watch)."""
    history: HistoryOptions = field(default_factory=HistoryOptions)
    """The ``--influx-*`` options (InfluxDB history; off unless a URL is configured)."""
    discovery: bool = False
    """Advertise the controller over mDNS (the command line's default is on; tools: off)."""
    discovery_interfaces: tuple[str, ...] = ()
    """Where to advertise: interface names, IPv4 addresses or ``all``; empty: loopback only."""
    staff: Staff | None = None
    """Who may change what through control-plane requests, by role and site (``--staff-file``,
    controller.roles; a staff file is read again on each reload, controller.reload); None:
    anyone the broker's ACL lets send requests (docs/security.md)."""
    heartbeat: float = 60.0
    """Clock seconds between two heartbeats on campusctl/<site>/heartbeat (0: none)."""
    shard: Shard | None = None
    """The buildings this process owns when the campus is split (controller.shard)."""


STATE_DEFAULT = "var/campusctl-SITE.sqlite"


def add_service_arguments(
    parser: argparse.ArgumentParser, broker_help: str, state_default: str = STATE_DEFAULT
) -> None:
    """`state_default`: what ``--state`` defaults to, for its help (the demo's is a new file
    per demo; ServiceOptions.state stays ``auto`` and the demo decides)."""
    parser.add_argument("--broker", default=None, help=broker_help)
    parser.add_argument(
        "--client-id", default=None, help="MQTT client id (default: campusctl-SITE)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds of readings before the first commands (default 5)",
    )
    parser.add_argument(
        "--state",
        default="auto",
        metavar="FILE",
        help="SQLite file for hold timers, rule states, overrides, alarms and disabled rules "
        f"across restarts (default: {state_default})",
    )
    parser.add_argument(
        "--watch-rules",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="reload the rules (and the staff file) when their files change, looking this "
        "often (0: never; SIGHUP and the reload request always work)",
    )
    add_history_arguments(parser)
    parser.add_argument(
        "--no-discovery",
        dest="discovery",
        action="store_false",
        help="do not advertise the controller over mDNS (zeroconf)",
    )
    parser.add_argument(
        "--discovery-interface",
        action="append",
        default=[],
        metavar="IFACE",
        help="advertise on this interface name, IPv4 address or 'all' (repeatable; "
        "default: loopback only, see docs/discovery.md)",
    )
    parser.add_argument(
        "--staff-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the staff's roles (YAML: user -> viewer, operator or author of some sites or "
        "all, or a list of such for different roles in different sites): requests are refused "
        "to users whose role in this site does not allow them; read again on each reload "
        "(default: anyone the broker's ACL allows; see docs/security.md)",
    )
    parser.add_argument(
        "--staff",
        action="append",
        default=[],
        metavar="USER[,USER...]",
        help="short for a staff file in which these users are authors of this site and nobody "
        "else has a role (repeatable)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="publish campusctl/SITE/heartbeat this often, in clock seconds, for the devices' "
        "fallback (default 60; 0: never; see docs/operations.md)",
    )


def service_options(args: argparse.Namespace) -> ServiceOptions:
    return ServiceOptions(
        broker_url=args.broker or ServiceOptions.broker_url,
        client_id=args.client_id,
        settle=args.settle,
        state=args.state if args.state == "auto" else Path(args.state),
        watch_rules=args.watch_rules,
        history=history_options(args),
        discovery=args.discovery,
        discovery_interfaces=tuple(args.discovery_interface),
        staff=staff_option(args.staff_file, args.staff),
        heartbeat=args.heartbeat,
    )


def staff_option(staff_file: Path | None, staff: list[str]) -> Staff | None:
    """``--staff-file`` read and checked, or ``--staff``'s users as authors; not both."""
    users = [user.strip() for arg in staff for user in arg.split(",") if user.strip()]
    if staff_file is not None and users:
        raise CampusError(
            "--staff and --staff-file: give one (in the staff file, --staff's users are "
            "'role: author' of this site)"
        )
    if staff_file is not None:
        return load_staff_file(staff_file)
    return Staff.authors(users) if users else None


def build_controller(
    campus: Campus, ruleset: RuleSet, clock: Clock, options: ServiceOptions
) -> Controller:
    site = campus.site.id
    shard = "" if options.shard is None else options.shard.name
    mqtt = MqttSettings(
        url=options.broker_url,
        client_id=options.client_id or f"campusctl-{site}",
        status_topic=wire.Topics(site, shard).status,
    )
    drivers: list[Driver] = [MqttDriver(campus, mqtt, clock)]
    if campus.serial_ports:
        from drivers.serial.driver import SerialDriver

        drivers.append(SerialDriver(campus, clock))
    if campus.homeassistant is not None:
        from drivers.homeassistant import HaSettings, HomeAssistantDriver

        drivers.append(
            HomeAssistantDriver(campus, HaSettings.from_site(campus.homeassistant), clock)
        )
    extensions: list[Extension] = []
    historian = history_extension(campus, options.history, options.state)
    if historian is not None:
        extensions.append(historian)
    extensions.append(ControlPlane(ControlPlaneSettings(staff=options.staff, shard=options.shard)))
    if options.staff is not None and options.staff.path is not None:
        extensions.append(StaffReload(options.staff))
    if options.heartbeat > 0:
        extensions.append(Heartbeat(HeartbeatSettings(interval=options.heartbeat, shard=shard)))
    extensions.append(Resync())
    warn_exposed(secret_files(campus, mqtt.endpoint(), options.history.token_file))
    saved = None
    restored_from = None
    if options.state is not None:
        owner = site if options.shard is None else f"{site}-{options.shard.name}"
        path = default_path(owner) if options.state == "auto" else options.state
        store = StateStore(path, site)
        saved = store.load()
        keeper = StateKeeper(store)
        extensions.append(keeper)
        restored_from = path
        days = {day: Day.from_json(counts) for day, counts in store.load_days().items()}
        extensions.append(
            Kpi(options.shard, days, lambda d: keeper.keep_day(d.day, d.to_json(), DAYS_KEPT))
        )
    else:
        extensions.append(Kpi(options.shard))
    if options.discovery:
        from controller.discovery import DiscoveryExtension

        extensions.append(DiscoveryExtension(options.broker_url, options.discovery_interfaces))
    if options.watch_rules > 0:
        extensions.append(RuleWatcher(options.watch_rules))
    controller = Controller(
        campus,
        ruleset,
        drivers,
        clock,
        settle=options.settle,
        extensions=extensions,
        saved=saved,
    )
    if restored_from is not None:
        log_restored(restored_from, controller.engine.taken_up, campus.site.timezone)
    return controller
