"""The controller as a service: its options, and the drivers and extensions built from them.

`campusctl run` and `campusctl demo` take the same service options and build the controller
the same way; a feature that adds a driver or an extension adds its options and its line here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from campus.clock import Clock
from campus.model import Campus
from controller.extension import Extension
from controller.runtime import Controller
from drivers.base import Driver
from drivers.mqtt import MqttDriver, MqttSettings
from rules.schema import RuleSet


@dataclass(frozen=True)
class ServiceOptions:
    broker_url: str = "mqtt://127.0.0.1:1883"
    client_id: str | None = None
    settle: float = 5.0


def add_service_arguments(parser: argparse.ArgumentParser, broker_help: str) -> None:
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


def service_options(args: argparse.Namespace) -> ServiceOptions:
    return ServiceOptions(
        broker_url=args.broker or ServiceOptions.broker_url,
        client_id=args.client_id,
        settle=args.settle,
    )


def build_controller(
    campus: Campus, ruleset: RuleSet, clock: Clock, options: ServiceOptions
) -> Controller:
    site = campus.site.id
    mqtt = MqttSettings(
        url=options.broker_url,
        client_id=options.client_id or f"campusctl-{site}",
        status_topic=f"campusctl/{site}/status",
    )
    drivers: list[Driver] = [MqttDriver(campus, mqtt, clock)]
    extensions: list[Extension] = []
    return Controller(campus, ruleset, drivers, clock, settle=options.settle, extensions=extensions)
