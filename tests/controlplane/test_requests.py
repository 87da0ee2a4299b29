"""Every control-plane request on a real broker, against a running controller and simulated
rooms: the answer, the effect (on the simulated devices too), the audit; and every way a
request can be wrong, answered in words while the controller keeps running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.controlplane.harness import PlaneClient, RunningCampus, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

LIGHT = "main.r101.lights"


async def started(campus: RunningCampus) -> None:
    """Wait for the end of the controller's settle, when it sends every actuator once."""
    await wait_for(lambda: campus.controller.engine.started, "the end of the settle")


@run_async
async def test_override_turns_the_simulated_light_on_and_release_turns_it_off(
    broker: Broker, tmp_path: Path
) -> None:
    site = unique_site()
    client = PlaneClient(broker, site)
    try:
        async with running_campus(broker, tmp_path, site=site) as campus:
            await started(campus)
            assert campus.world.truth("main.r101").lights == 0.0
            answer = await client.request(
                "override", {"actuator": LIGHT, "value": "on", "duration": "15m", "user": "alice"}
            )
            assert answer["status"] == "ok", answer
            now = campus.clock.now()
            assert now + 14 * 60 < answer["data"]["until"] <= now + 15 * 60
            await wait_for(lambda: campus.world.truth("main.r101").lights == 1.0, "light on")

            def held_by_alice() -> bool:
                lights = (client.latest("room/main/r101") or {})["actuators"]["lights"]
                return bool(lights["source"] == "override:alice" and lights["value"] is True)

            await wait_for(held_by_alice, "the override in r101's retained state")
            lights = client.latest("room/main/r101")["actuators"]["lights"]
            assert lights["level"] == "override"
            assert lights["until"] == answer["data"]["until"]
            assert "alice" in lights["reason"]

            def commands() -> list[dict[str, object]]:
                return [
                    e
                    for e in client.on("events")
                    if e["type"] == "command" and e["source"] == "override:alice"
                ]

            await wait_for(commands, "the override's command on the event stream")
            audit = next(e for e in client.on("events") if e["type"] == "audit")
            assert audit["who"] == "alice"
            assert audit["action"] == "override"
            assert LIGHT in audit["detail"]
            command = commands()[0]
            assert command["actuator"] == LIGHT
            assert command["value"] is True

            answer = await client.request("release", {"actuator": LIGHT, "user": "alice"})
            assert answer["status"] == "ok", answer
            await wait_for(lambda: campus.world.truth("main.r101").lights == 0.0, "light off")
            answer = await client.request("release", {"actuator": LIGHT, "user": "alice"})
            assert answer["status"] == "error"
            assert "no override" in answer["error"]
    finally:
        client.close()


@run_async
async def test_override_until_a_local_time_and_until_the_end_of_the_day(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path, alarms=False) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            await started(campus)
            fan = "main.r102.ventilation"
            answer = await client.request(
                "override", {"actuator": fan, "value": 40, "until": "end-of-day", "user": "bob"}
            )
            assert answer["status"] == "ok", answer
            midnight = 1795474800.0  # 2026-11-24 00:00 in Oslo
            assert answer["data"]["until"] == midnight
            answer = await client.request(
                "override",
                {"actuator": fan, "value": 60, "until": "2026-11-23 16:00", "user": "bob"},
            )
            assert answer["status"] == "ok", answer
            assert answer["data"]["until"] == midnight - 8 * 3600
            assert campus.controller.engine.actuator_value(fan) == 60.0
            await wait_for(lambda: campus.world.truth("main.r102").ventilation == 0.6, "60 %")
        finally:
            client.close()


@run_async
async def test_acknowledging_an_alarm_records_who_and_is_published(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            await wait_for(lambda: (client.latest("alarms") or {}).get("alarms"), "an alarm")
            alarm = client.latest("alarms")["alarms"][0]
            assert alarm["acknowledged_by"] is None
            answer = await client.request("acknowledge", {"alarm": alarm["id"], "user": "carol"})
            assert answer["status"] == "ok", answer

            def acknowledged() -> bool:
                alarms = {a["id"]: a for a in client.latest("alarms")["alarms"]}
                return alarms[alarm["id"]]["acknowledged_by"] == "carol"

            await wait_for(acknowledged, "the acknowledgement in the retained alarm list")
            await wait_for(
                lambda: any(
                    e["type"] == "alarm" and e["acknowledged_by"] == "carol"
                    for e in client.on("events")
                ),
                "the acknowledgement on the event stream",
            )
            await wait_for(lambda: "audit" in client.event_qos, "the acknowledgement's audit")
            # alarms and audits at QoS 1: a district's bridge keeps them while its link is down
            assert client.event_qos["alarm"] == {1}
            assert client.event_qos["audit"] == {1}
            answer = await client.request("acknowledge", {"alarm": "nope@x.y", "user": "carol"})
            assert answer["status"] == "error"
            assert "no alarm 'nope@x.y'" in answer["error"]
        finally:
            client.close()


@run_async
async def test_disable_and_enable_a_rule(broker: Broker, tmp_path: Path) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            answer = await client.request("disable_rule", {"rule": "co2-watch", "user": "dan"})
            assert answer["status"] == "ok", answer
            assert answer["data"] == {"rule": "co2-watch", "enabled": False}

            def enabled() -> bool | None:
                rules = {r["id"]: r for r in (client.latest("rules") or {}).get("rules", [])}
                return rules.get("co2-watch", {}).get("enabled")

            await wait_for(lambda: enabled() is False, "co2-watch disabled in the rules topic")
            answer = await client.request("enable_rule", {"rule": "co2-watch", "user": "dan"})
            assert answer["status"] == "ok", answer
            await wait_for(lambda: enabled() is True, "co2-watch enabled again")
            answer = await client.request("disable_rule", {"rule": "co2-wach", "user": "dan"})
            assert answer["status"] == "error"
            assert "did you mean 'co2-watch'" in answer["error"]
        finally:
            client.close()


@run_async
async def test_reload_explain_history_and_recent_events(broker: Broker, tmp_path: Path) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            await started(campus)
            answer = await client.request("reload", {"user": "erin"})
            assert answer["status"] == "ok", answer
            assert answer["data"]["ok"] is True
            assert answer["data"]["diff"] == []

            answer = await client.request("explain", {"target": LIGHT})
            assert answer["status"] == "ok", answer
            assert LIGHT in json.dumps(answer["data"])
            answer = await client.request("explain", {"target": "co2-watch@main.r101"})
            assert answer["status"] == "ok", answer
            answer = await client.request("explain", {"target": "no-such-thing"})
            assert answer["status"] == "error"

            answer = await client.request("trends", {"room": "main.r101"})
            assert answer["status"] == "ok", answer
            co2 = answer["data"]["points"]["co2"]
            assert len(co2) == 60
            known = [v for v in co2 if v is not None]
            assert known, co2
            assert all(300 < v < 2000 for v in known)
            answer = await client.request("events", {"limit": 5})
            assert answer["status"] == "ok", answer
            events = answer["data"]["events"]
            assert 0 < len(events) <= 5
            assert events[-1]["type"] in ("command", "transition", "alarm", "audit")
        finally:
            client.close()


@run_async
async def test_bad_requests_are_answered_with_errors_and_the_controller_keeps_running(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path, alarms=False) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            await started(campus)

            async def error_for(name: str, body: dict[str, object]) -> str:
                answer = await client.request(name, body)
                assert answer["status"] == "error", answer
                assert answer["data"] is None
                return str(answer["error"])

            ok = {"actuator": LIGHT, "value": True, "duration": 60, "user": "x"}
            assert "unknown request 'frobnicate'" in await error_for("frobnicate", {})
            assert "override needs 'value'" in await error_for(
                "override", {"actuator": LIGHT, "user": "x", "duration": 60}
            )
            assert "unknown field 'duraton'" in await error_for("override", {**ok, "duraton": 60})
            assert '"user"' in await error_for("override", {**ok, "user": ""})
            assert "switch" in await error_for("override", {**ok, "value": 50})
            assert "outside its range" in await error_for(
                "override", {**ok, "actuator": "main.r101.ventilation", "value": 150}
            )
            assert "bad duration" in await error_for("override", {**ok, "duration": "soon"})
            assert "exactly one of" in await error_for("override", {**ok, "until": "end-of-day"})
            past = {k: v for k, v in ok.items() if k != "duration"}
            assert "in the past" in await error_for("override", {**past, "until": 1000})
            assert "did you mean 'main.r101.lights'" in await error_for(
                "override", {**ok, "actuator": "main.r101.light"}
            )
            assert "no room" in await error_for("trends", {"room": "main.r999"})
            assert "limit" in await error_for("events", {"limit": 10**6})

            client.send("override", b"{not json")
            client.send("override", b"[1, 2]")
            client.send("release", json.dumps({"actuator": LIGHT, "user": "x", "transaction": []}))
            await wait_for(lambda: len(client.on("response/release")) >= 1, "bad transaction")
            await wait_for(
                lambda: (
                    len([r for r in client.on("response/override") if r["transaction"] is None])
                    >= 2
                ),
                "answers to payloads without a transaction",
            )
            untraced = [r for r in client.on("response/override") if r["transaction"] is None]
            assert "not JSON" in untraced[0]["error"]
            assert "JSON object" in untraced[1]["error"]
            assert "transaction must be" in client.on("response/release")[0]["error"]

            # No transaction is not an error (as in Zigbee2MQTT): it is carried out, and the
            # answer's is null.
            client.send("override", json.dumps(ok))
            await wait_for(
                lambda: campus.controller.engine.actuator_value(LIGHT) is True,
                "the override without a transaction carried out",
            )

            def carried_out() -> list[dict[str, object]]:
                return [r for r in client.on("response/override") if r["status"] == "ok"]

            await wait_for(carried_out, "the answer to the override without a transaction")
            assert carried_out()[0]["transaction"] is None
            assert campus.controller.ready.is_set()
            answer = await client.request("release", {"actuator": LIGHT, "user": "x"})
            assert answer["status"] == "ok"
        finally:
            client.close()
