"""`campusctl tui`: parse the options, find the broker, run the app."""

from __future__ import annotations

import argparse
import sys

from campus.problems import CampusError
from tui.app import CampusApp
from tui.discover import discover
from tui.options import TuiOptions, add_arguments, options_from

__all__ = ["add_arguments", "run", "run_app", "run_app_async"]


def run(args: argparse.Namespace) -> int:
    """Run the TUI until the user quits; 2 for options that cannot be used."""
    discovered = None
    if args.broker is None and not args.no_discovery:
        try:
            discovered = discover(args.site, args.discovery_interface)
        except CampusError as exc:
            print(f"campusctl tui: {exc}", file=sys.stderr)
            return 2
        print(f"campusctl tui: {discovered.said}", file=sys.stderr)
    try:
        if discovered is not None:
            options = options_from(args, discovered.broker, discovered.site)
        else:
            options = options_from(args)
    except ValueError as exc:
        print(f"campusctl tui: {exc}", file=sys.stderr)
        return 2
    run_app(options)
    return 0


def run_app(options: TuiOptions) -> None:
    CampusApp(options, own_process=True).run()


async def run_app_async(options: TuiOptions) -> None:
    """The TUI on a running event loop (the demo runs it beside the controller)."""
    await CampusApp(options).run_async()
