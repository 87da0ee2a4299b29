"""Control-plane requests: decode, validate, call the controller, answer.

The Zigbee2MQTT bridge pattern: a request on ``campusctl/<site>/request/<name>`` carries a JSON
object, optionally with a ``transaction``; the answer on ``campusctl/<site>/response/<name>`` is
``{"status": "ok"|"error", "data": ..., "error": "...", "transaction": ...}`` with the same
transaction. Anything wrong with a request (not JSON, an unknown name or field, a bad value, a
refusal by the controller) becomes an error answer in words; nothing a client sends can stop
the controller.

Who asked travels in the request's ``"user"`` field (see docs/mqtt.md for why not the MQTT
username): the controller checks it against the role the user holds in this site (a request type
names the least role it needs, controller.roles) and records it in its audit events, the event
stream and the history.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from campus import wire
from campus.problems import CampusError
from campus.types import Value
from campus.yamlmodel import parse_duration
from controller.controlplane_recent import MINUTE
from controller.roles import Role

if TYPE_CHECKING:
    from controller.controlplane import ControlPlane

log = logging.getLogger("campusctl.controlplane")

MAX_PAYLOAD = 64 * 1024
"""Requests are small; a bigger payload is refused before it is parsed."""
MAX_EVENTS = 500
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")
"""``until`` as a time of day (``14:00``, ``9:30``): the next such time."""


class RequestError(CampusError):
    """A request that cannot be carried out; the message goes back to the client verbatim."""


Handler = Callable[["ControlPlane", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class RequestType:
    handler: Handler
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    role: Role = Role.AUTHOR
    """The least role that may send it (controller.roles)."""
    action: str = ""
    """What it does, as a refusal words it: "alice ... may not <action>"."""

    @property
    def changes(self) -> bool:
        """Above a viewer's: it needs a ``user``, whose role is checked, and it is audited."""
        return self.role > Role.VIEWER

    @property
    def fields(self) -> tuple[str, ...]:
        extra = ("user",) if self.changes else ()
        return (*self.required, *self.optional, *extra, "transaction")


def answer(plane: ControlPlane, name: str, payload: bytes) -> wire.Response:
    """The response to one request; never raises."""
    transaction: str | int | None = None
    try:
        body, transaction = envelope(payload)
        kind = REQUESTS[check(name, body)]
        if kind.changes:
            plane.authorise(body["user"], kind.action or name, kind.role)
        data = kind.handler(plane, body)
    except (CampusError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        log.info("control-plane request %s refused: %s", name, message)
        return _response("error", None, str(message), transaction)
    except Exception as exc:
        log.exception("control-plane request %s failed", name)
        text = f"internal error in {name}: {type(exc).__name__}: {exc}; see the controller log"
        return _response("error", None, text, transaction)
    return _response("ok", data, None, transaction)


def _response(
    status: Literal["ok", "error"], data: Any, error: str | None, transaction: str | int | None
) -> wire.Response:
    return wire.Response(status=status, data=data, error=error, transaction=transaction)


def envelope(payload: bytes) -> tuple[dict[str, Any], str | int | None]:
    """The request's JSON object without its transaction, and the transaction (None: none).

    Raises RequestError for a payload that is not a JSON object; a bad transaction is reported
    after the transaction is known not to be usable, so the answer carries none.
    """
    if len(payload) > MAX_PAYLOAD:
        raise RequestError(f"request of {len(payload)} bytes is too big (at most {MAX_PAYLOAD})")
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        body = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise RequestError(f"payload is not JSON ({exc}): send an object like {{...}}") from exc
    if not isinstance(body, dict):
        raise RequestError(f"payload must be a JSON object, got {type(body).__name__}")
    transaction = body.pop("transaction", None)
    if transaction is not None and (
        isinstance(transaction, bool) or not isinstance(transaction, str | int)
    ):
        raise RequestError(f"transaction must be a string or an integer, got {transaction!r}")
    return body, transaction


def check(name: str, body: dict[str, Any]) -> str:
    """`name` if it is a request type and `body` has its fields (and a user where needed)."""
    kind = REQUESTS.get(name)
    if kind is None:
        raise RequestError(f"unknown request {name!r}: use one of {', '.join(sorted(REQUESTS))}")
    unknown = sorted(set(body) - set(kind.fields))
    if unknown:
        raise RequestError(
            f"unknown field {unknown[0]!r} in {name}: it takes {', '.join(kind.fields)}"
        )
    missing = [f for f in kind.required if f not in body]
    if missing:
        raise RequestError(f"{name} needs {', '.join(repr(m) for m in missing)}")
    if kind.changes:
        user = body.get("user")
        if not isinstance(user, str) or not user.strip():
            raise RequestError(
                f'{name} changes the campus: say who asks with "user": "<name>" in the request'
            )
    return name


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise RequestError(f"{key} must be a non-empty string, got {value!r}")
    return value


def override_value(value: object) -> Value:
    """true/false, "on"/"off" or a number (the controller checks it against the actuator)."""
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise RequestError(f'value must be true/false, "on"/"off" or a number, got {value!r}')


def override_until(body: dict[str, Any], now: float, timezone: str) -> float:
    """The end of an override: ``duration`` (seconds or ``15m``/``1h``) from now, or ``until``
    (POSIX seconds, local time ``2026-11-23 16:00``, a time of day ``14:00``: the next one on
    the controller's clock, or ``end-of-day``)."""
    if ("duration" in body) == ("until" in body):
        raise RequestError("override needs exactly one of 'duration' (like 15m) or 'until'")
    if "duration" in body:
        raw = body["duration"]
        try:
            seconds = parse_duration(raw)
        except (ValueError, TypeError) as exc:
            raise RequestError(f"duration: {exc}") from exc
        if seconds <= 0:
            raise RequestError(f"duration must be more than 0 s, got {raw!r}")
        return now + seconds
    until = body["until"]
    if isinstance(until, bool):
        raise RequestError(f"until must be a time, got {until!r}")
    if isinstance(until, int | float):
        return float(until)
    if not isinstance(until, str):
        raise RequestError(f"until must be a time, got {until!r}")
    tz = ZoneInfo(timezone)
    if until == "end-of-day":
        today = datetime.fromtimestamp(now, tz).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=tz) + timedelta(days=1)
        return midnight.timestamp()
    if TIME_OF_DAY.fullmatch(until.strip()):
        return next_time_of_day(until.strip(), now, tz)
    try:
        moment = datetime.fromisoformat(until)
    except ValueError as exc:
        raise RequestError(
            f"until {until!r} is not a time: give POSIX seconds, local time like "
            "'2026-11-23 16:00' or '14:00', or 'end-of-day'"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def next_time_of_day(text: str, now: float, tz: ZoneInfo) -> float:
    """``14:00``: today at that local time if it is still ahead of `now`, else tomorrow."""
    try:
        clock = time.fromisoformat(text.zfill(5))
    except ValueError as exc:
        raise RequestError(f"until {text!r} is not a time of day: give HH:MM, like 14:00") from exc
    day = datetime.fromtimestamp(now, tz).date()
    moment = datetime.combine(day, clock, tzinfo=tz)
    if moment.timestamp() <= now:
        moment = datetime.combine(day + timedelta(days=1), clock, tzinfo=tz)
    return moment.timestamp()


def _override(plane: ControlPlane, body: dict[str, Any]) -> Any:
    controller = plane.controller
    actuator = _string(body, "actuator")
    now = controller.clock.now()
    until = override_until(body, now, controller.campus.site.timezone)
    value = override_value(body["value"])
    controller.override(actuator, value, until, body["user"], body.get("reason", ""))
    return {"actuator": actuator, "until": until}


def _release(plane: ControlPlane, body: dict[str, Any]) -> Any:
    actuator = _string(body, "actuator")
    plane.controller.release_override(actuator, body["user"])
    return {"actuator": actuator}


def _acknowledge(plane: ControlPlane, body: dict[str, Any]) -> Any:
    alarm = _string(body, "alarm")
    plane.controller.acknowledge_alarm(alarm, body["user"])
    return {"alarm": alarm}


def _rule_enabled(enabled: bool) -> Handler:
    def handle(plane: ControlPlane, body: dict[str, Any]) -> Any:
        rule = _string(body, "rule")
        plane.controller.set_rule_enabled(rule, enabled, body["user"])
        return {"rule": rule, "enabled": enabled}

    return handle


def _reload(plane: ControlPlane, body: dict[str, Any]) -> Any:
    report = plane.controller.reload_rules(body["user"])
    return {"ok": report.ok, "diff": report.diff, "problems": report.problems}


def _explain(plane: ControlPlane, body: dict[str, Any]) -> Any:
    return plane.controller.explain(_string(body, "target"))


def _trends(plane: ControlPlane, body: dict[str, Any]) -> Any:
    room_id = _string(body, "room")
    try:
        room = plane.controller.campus.room(room_id)
    except KeyError:
        raise RequestError(f"no room {room_id!r} in the campus") from None
    now = plane.controller.clock.now()
    return wire.TrendsAnswer(
        room=room.id,
        end=now,
        step=MINUTE,
        points={name: plane.series(spec.id, now) for name, spec in room.points.items()},
    )


def _events(plane: ControlPlane, body: dict[str, Any]) -> Any:
    limit = body.get("limit", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_EVENTS:
        raise RequestError(f"limit must be an integer 0..{MAX_EVENTS}, got {limit!r}")
    return wire.EventsAnswer(events=plane.recent.events(limit))


REQUESTS: dict[str, RequestType] = {
    "override": RequestType(
        _override,
        ("actuator", "value"),
        ("duration", "until", "reason"),
        role=Role.OPERATOR,
        action="override",
    ),
    "release": RequestType(
        _release, ("actuator",), role=Role.OPERATOR, action="release an override"
    ),
    "acknowledge": RequestType(
        _acknowledge, ("alarm",), role=Role.OPERATOR, action="acknowledge alarms"
    ),
    "enable_rule": RequestType(_rule_enabled(True), ("rule",), action="enable rules"),
    "disable_rule": RequestType(_rule_enabled(False), ("rule",), action="disable rules"),
    "reload": RequestType(_reload, (), action="reload the rules"),
    "explain": RequestType(_explain, ("target",), role=Role.VIEWER),
    "trends": RequestType(_trends, ("room",), role=Role.VIEWER),
    "events": RequestType(_events, (), ("limit",), role=Role.VIEWER),
}
"""Every request, with the least role it needs: reading takes a viewer, overrides and
acknowledgements an operator, rules an author (the default: a new request is refused to all
but authors until it says otherwise)."""
