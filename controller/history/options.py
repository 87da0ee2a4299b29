"""The ``--influx-*`` options `campusctl run` and `campusctl demo` share."""

from __future__ import annotations

import argparse
from pathlib import Path

from campus.yamlmodel import parse_duration
from controller.history.settings import HistoryOptions


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "InfluxDB history",
        "record readings, commands, rule transitions and alarms (docs/influxdb.md); "
        "also settable in campus.yaml's history: section",
    )
    group.add_argument(
        "--influx-url", help="InfluxDB URL, e.g. http://127.0.0.1:8086 (off if unset)"
    )
    group.add_argument("--influx-org", help="organisation (InfluxDB 2.x)")
    group.add_argument(
        "--influx-bucket", help="bucket (default campus); API v1: database[/retention-policy]"
    )
    group.add_argument(
        "--influx-api-version",
        type=int,
        choices=[1, 2],
        help="2: /api/v2/write (InfluxDB 2.x/3.x, default); 1: /write (InfluxDB 1.x)",
    )
    group.add_argument(
        "--influx-token-file",
        type=Path,
        help="file with the token (API v1: user:password); default: env INFLUX_TOKEN",
    )
    group.add_argument("--influx-ca-cert", type=Path, help="PEM CA file for an https URL")
    group.add_argument(
        "--influx-insecure", action="store_true", help="do not verify the server's certificate"
    )
    group.add_argument(
        "--influx-heartbeat",
        type=_duration,
        help="rewrite unchanged values this often (default 5m)",
    )
    group.add_argument(
        "--influx-deadband",
        type=_deadband,
        action="append",
        default=[],
        metavar="NAME=DELTA",
        help="do not write changes of NAME smaller than DELTA (repeatable: co2=10)",
    )
    group.add_argument(
        "--influx-spool", type=Path, help="SQLite spool file for outages (default: state dir)"
    )
    group.add_argument("--influx-spool-max-mb", type=float, help="spool cap in MB (default 1024)")


def history_options(args: argparse.Namespace) -> HistoryOptions:
    return HistoryOptions(
        url=args.influx_url,
        org=args.influx_org,
        bucket=args.influx_bucket,
        api_version=args.influx_api_version,
        token_file=args.influx_token_file,
        ca_cert=args.influx_ca_cert,
        insecure=args.influx_insecure,
        heartbeat=args.influx_heartbeat,
        deadband=dict(args.influx_deadband),
        spool=args.influx_spool,
        spool_max_mb=args.influx_spool_max_mb,
    )


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _deadband(text: str) -> tuple[str, float]:
    name, sep, delta = text.partition("=")
    try:
        value = float(delta)
    except ValueError:
        value = -1.0
    if not sep or not name or value < 0:
        raise argparse.ArgumentTypeError(
            f"bad deadband {text!r}: write NAME=DELTA with DELTA >= 0, like co2=10"
        )
    return name.strip(), value
