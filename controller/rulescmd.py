"""`campusctl rules check | test | explain | replay`.

`check`, `test` and `replay` work on files alone, offline. `explain` asks a running controller
through the control plane (a request on ``campusctl/<site>/request/explain``, the answer on
``.../response/explain``; found as controller/controlclient.py finds it), or, with
``--state FILE``, answers offline from a state file: the saved rule states, holds and
overrides, without live sensor values.
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campus.config import load_campus
from campus.explain_text import explain_text
from campus.model import ActuatorType, Campus
from campus.problems import CampusError, Problem
from campus.text import counted, times_text
from campus.yamlmodel import json_schema
from controller.controlclient import add_client_arguments, controller_session
from rules.engine import Engine
from rules.explain import explain
from rules.loader import load_rules
from rules.replay import read_trace, replay
from rules.schema import RuleSet, RulesFile
from rules.testing import run_tests
from rules.values import format_value

MAX_LISTED = 10
"""Rooms listed per rule by `check` before "and N more"."""


def add_rules_commands(commands: Any, examples: Path) -> None:
    """The `rules` command and its actions, on the top-level subparsers."""
    rules = commands.add_parser("rules", help="check, test, explain and replay rules")
    actions = rules.add_subparsers(required=True, metavar="ACTION")
    config = examples / "campus.yaml"

    check = actions.add_parser("check", help="load rules: errors, warnings, rooms covered")
    _rules_and_campus(check, config)
    check.set_defaults(func=cmd_check)

    test = actions.add_parser("test", help="run the files' tests: on the virtual clock")
    _rules_and_campus(test, config)
    test.set_defaults(func=cmd_test)

    why = actions.add_parser("explain", help="why an actuator has its value, why a rule is off")
    why.add_argument("target", help="b1.r101.lights, a room id, a rule id, or rule-id@b1.r101")
    why.add_argument("--config", type=Path, default=config, help="the campus (with --state)")
    add_client_arguments(why, changes=False)
    why.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="FILE",
        help="answer offline from this state file (with --rules) instead of asking the controller",
    )
    why.add_argument("--rules", type=Path, nargs="+", default=[examples / "rules"])
    why.add_argument("--json", action="store_true", help="print the answer as JSON")
    why.set_defaults(func=cmd_explain)

    schema = actions.add_parser("schema", help="print the JSON Schema of rules files")
    schema.set_defaults(func=cmd_schema)

    play = actions.add_parser("replay", help="feed a CSV trace through the rules")
    _rules_and_campus(play, config)
    play.add_argument("--trace", type=Path, required=True, help="CSV: see docs/rules.md")
    play.add_argument(
        "--room", default=None, help="the room bare column names feed (default: the first covered)"
    )
    play.add_argument("--quiet", action="store_true", help="totals only, no command list")
    play.set_defaults(func=cmd_replay)


def _rules_and_campus(parser: argparse.ArgumentParser, config: Path) -> None:
    """The arguments `check`, `test` and `replay` share: which rules, against which campus."""
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a rules file, or a folder of them (its *.yaml and *.yml files, in name order)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=config,
        metavar="CAMPUS_YAML",
        help="the campus whose rooms, points and actuators the rules must name "
        "(default: the demo campus, %(default)s)",
    )


def _load(paths: list[Path], config: Path) -> tuple[Any, RuleSet]:
    campus = load_campus(config)
    ruleset = load_rules(paths, campus)
    for problem in ruleset.problems:
        print(problem)
    return campus, ruleset


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(rules_schema(), indent=2, ensure_ascii=False))
    return 0


def rules_schema() -> dict[str, object]:
    """The JSON Schema of a rules file (docs/rules.schema.json), from the loader's dataclasses."""
    schema = json_schema(RulesFile)
    schema["title"] = "campusctl rules file"
    return schema


def cmd_check(args: argparse.Namespace) -> int:
    _, ruleset = _load(args.paths, args.config)
    for rule in ruleset.rules:
        print(f"{rule.id} ({rule.pos}, {rule.level}): covers {_rooms(list(rule.rooms))}")
        if rule.skipped:
            skipped = [f"{s.room} ({s.reason})" for s in rule.skipped]
            print(f"    skips {_rooms(skipped)}")
    errors, warnings = len(ruleset.errors), len(ruleset.warnings)
    print(
        f"{counted(len(ruleset.rules), 'rule')} loaded, {counted(errors, 'error')}, "
        f"{counted(warnings, 'warning')}"
    )
    return 1 if errors else 0


def _rooms(names: list[str]) -> str:
    count = counted(len(names), "room")
    shown = ", ".join(names[:MAX_LISTED])
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return f"{count}: {shown}{more}" if names else count


def cmd_test(args: argparse.Namespace) -> int:
    campus, ruleset = _load(args.paths, args.config)
    results = run_tests(ruleset, campus)
    for result in results:
        print("\n".join(result.report()))
    failed = sum(1 for r in results if not r.passed)
    summary = f"{len(results) - failed} passed, {failed} failed"
    broken = _first_errors(ruleset)
    if broken:
        summary += f", {counted(len(broken), 'file')} with errors ({'; '.join(broken)})"
    unread = [str(f) for f in ruleset.files if str(f) not in ruleset.tests]
    if unread:
        summary += f", tests not run: {', '.join(unread)}"
    print(summary)
    if not results and not unread:
        print("no tests: add tests: to the rules files (docs/rules.md)")
    return 1 if failed or ruleset.errors else 0


def _first_errors(ruleset: RuleSet) -> list[str]:
    """The first error of each file with errors (and how many more): a file that cannot be read
    (a YAML error) has no tests to count, so the summary line must name it."""
    first: dict[str, Problem] = {}
    more: dict[str, int] = {}
    for problem in ruleset.errors:
        file = problem.pos.file
        if file in first:
            more[file] = more.get(file, 0) + 1
        else:
            first[file] = problem
    return [
        f"{problem}" + (f", and {counted(more[file], 'more error')}" if file in more else "")
        for file, problem in first.items()
    ]


def cmd_explain(args: argparse.Namespace) -> int:
    if args.state is not None:
        data = explain_offline(args.state, args.rules, args.config, args.target)
        timezone = load_campus(args.config).site.timezone
    else:
        with controller_session(args) as session:
            data = session.ask("explain", {"target": args.target})
        timezone = session.site.timezone
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(explain_text(data, timezone).plain, end="")
    return 0


def explain_offline(state: Path, paths: list[Path], config: Path, target: str) -> dict[str, object]:
    """Explain from a state file: what a controller would take up if it started now."""
    from controller.state import StateStore

    if not state.is_file():
        raise CampusError(f"{state}: no such state file (the controller's --state)")
    campus = load_campus(config)
    ruleset = load_rules(paths, campus)
    store = StateStore(state, campus.site.id)
    try:
        saved = store.load()
    finally:
        store.close()
    # a controller on a scaled clock may have saved times ahead of the wall clock
    now = max([time.time(), *(i.since for i in saved.instances)])
    engine = Engine(campus, ruleset, now, settle=0.0, saved=saved)
    return explain(engine, target)


def cmd_replay(args: argparse.Namespace) -> int:
    campus, ruleset = _load(args.paths, args.config)
    if ruleset.errors:
        return 1
    covered = [r.id for r in campus.rooms if any(r.id in rule.rooms for rule in ruleset.rules)]
    if args.room is not None and args.room not in {r.id for r in campus.rooms}:
        raise CampusError(_unknown_room(args.room, campus, covered, args.config))
    room = args.room or next(iter(covered), None)
    if room is None:
        raise CampusError("the rules cover no room: give --room")
    trace = read_trace(args.trace, campus, room)
    result = replay(ruleset.rules, campus, trace)
    tz = ZoneInfo(campus.site.timezone)
    columns = ", ".join(f"{c} -> {p}" for c, p in trace.columns.items())
    print(f"trace {args.trace}: {counted(len(trace.readings), 'reading')} ({columns})")
    if trace.ignored:
        print(f"ignored columns: {', '.join(trace.ignored)}")
    if not args.quiet:
        for command in result.commands:
            shown = format_value(command.value)
            print(f"{_at(command.ts, tz)}  {command.actuator} -> {shown}  ({command.reason})")
    hours = (result.end - result.start) / 3600
    print(f"totals over {hours:.1f} h ({_at(result.start, tz)} .. {_at(result.end, tz)}):")
    span = max(1.0, result.end - result.start)
    actuators = campus.actuators()
    for total in result.totals.values():
        line = (
            f"  {total.actuator}: {counted(total.commands, 'command')}, "
            f"on {total.on_seconds / 3600:.1f} h "
            f"({total.on_seconds / span:.0%})"
        )
        if actuators[total.actuator].type is ActuatorType.LEVEL:
            line += f", mean {total.integral / span:.1f} {actuators[total.actuator].unit}"
        print(line.rstrip())
    for rule, count in sorted(result.transitions.items()):
        print(f"  rule {rule}: activated {times_text(count)}")
    if result.alarms:
        print(f"  alarms raised: {result.alarms}")
    if result.occupied_seconds is not None:
        print(f"  occupied per the trace: {result.occupied_seconds / 3600:.1f} h")
    return 0


def _unknown_room(room: str, campus: Campus, covered: list[str], config: Path) -> str:
    """--room names no room: the closest id, and the rooms the rules cover (else the campus's)."""
    ids = [r.id for r in campus.rooms]
    close = difflib.get_close_matches(room, ids, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = f"the rules cover {_rooms(covered)}" if covered else f"{config} has {_rooms(ids)}"
    return f"--room {room!r}: no such room in {config}{hint}; {known}"


def _at(t: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")
