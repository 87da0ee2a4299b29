"""`campusctl override | release | ack`: what staff do in the TUI, from a shell or a script.

Each is one control-plane request (controller/controlclient.py finds the controller) carrying
the user's name; the controller checks it as it checks the TUI's and its refusal is printed as
it said it (exit 2). Durations and times go to the controller as typed: it alone parses them,
on its own clock and in the site's time zone, so ``--until 14:00`` means 14:00 there even when
the controller's clock runs ahead (the demo's does).
"""

from __future__ import annotations

import argparse
from typing import Any

from campus.text import clock_text, value_text
from controller.controlclient import add_client_arguments, controller_session
from controller.statuscmd import DAY, add_status_command


def add_staff_commands(commands: Any) -> None:
    """`override`, `release`, `ack` and `status`, on the top-level subparsers."""
    override = commands.add_parser(
        "override",
        help="hold an actuator at a value for a while (a staff override)",
        description="Hold ACTUATOR at VALUE in the override slot (8) of its priority array "
        "until the time runs out or it is released; only a safety rule outranks it. The "
        "controller checks the actuator, the value and the time, and records who asked and "
        "why in its audit.",
    )
    override.add_argument("actuator", help="an actuator id like main.r101.lights")
    override.add_argument("value", help="on, off or a number within the actuator's range")
    until = override.add_mutually_exclusive_group(required=True)
    until.add_argument(
        "--for", dest="duration", metavar="DURATION", help="for how long: 30m, 2h, 1h30m, 1d"
    )
    until.add_argument(
        "--until",
        metavar="TIME",
        help="until a time on the controller's clock: 14:00 (the next 14:00), "
        "'2026-11-23 16:00' or end-of-day (midnight)",
    )
    override.add_argument("--reason", default=None, help="why, in a few words, for the audit")
    add_client_arguments(override, changes=True)
    override.set_defaults(func=cmd_override)

    release = commands.add_parser(
        "release",
        help="end an actuator's override: its rules and default decide again",
        description="Release the staff override of ACTUATOR (exit 2 if it has none).",
    )
    release.add_argument("actuator", help="an actuator id like main.r101.lights")
    add_client_arguments(release, changes=True)
    release.set_defaults(func=cmd_release)

    ack = commands.add_parser(
        "ack",
        aliases=["acknowledge"],
        help="acknowledge an alarm (rule@room)",
        description="Acknowledge ALARM: it stays listed while active, marked with your name; a "
        "cleared alarm leaves the list once acknowledged.",
    )
    ack.add_argument("alarm", help="an alarm id, rule@room, as `campusctl status` lists them")
    add_client_arguments(ack, changes=True)
    ack.set_defaults(func=cmd_ack)

    add_status_command(commands)


def request_value(text: str) -> bool | float | str:
    """``on``/``off``/``true``/``false`` and numbers as the request takes them; anything else
    goes as typed, for the controller to refuse in its words."""
    word = text.strip().lower()
    if word in ("on", "true"):
        return True
    if word in ("off", "false"):
        return False
    try:
        return float(word)
    except ValueError:
        return text


def cmd_override(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"actuator": args.actuator, "value": request_value(args.value)}
    if args.duration is not None:
        body["duration"] = args.duration
    else:
        body["until"] = args.until
    if args.reason:
        body["reason"] = args.reason
    with controller_session(args) as session:
        data = session.ask("override", {**body, "user": session.user})
    until = data.get("until") if isinstance(data, dict) else None
    tz = session.site.timezone
    shown = clock_text(until, tz, f"{DAY} %Z") if isinstance(until, int | float) else "?"
    value = body["value"]
    held = value_text(value) if isinstance(value, bool | float) else str(value)
    print(f"{args.actuator} held at {held} until {shown} by {session.user}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    with controller_session(args) as session:
        session.ask("release", {"actuator": args.actuator, "user": session.user})
    print(f"{args.actuator} released by {session.user}: its rules and default decide again")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    with controller_session(args) as session:
        session.ask("acknowledge", {"alarm": args.alarm, "user": session.user})
    print(f"{args.alarm} acknowledged by {session.user}")
    return 0
