"""The staff file is read again on each reload: SIGHUP's handler, the reload request and the file
watch. New roles apply to the next request; a file with errors keeps the old roles, says where
the errors are in the log, and the controller goes on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from controller.cli import reload_on_hangup
from controller.reload import StaffReload
from controller.roles import Role, load_staff_file
from controller.runtime import Controller
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import START, demo_campus
from tests.controlplane.harness import PlaneClient, running_campus
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

LIGHT = "main.r101.lights"
OVERRIDE = {"actuator": LIGHT, "value": "on", "duration": "15m"}
DAVE = "dave: {role: author, sites: [south]}\n"


def test_a_reload_takes_the_new_roles_and_keeps_them_when_the_file_breaks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In process: the reload (as SIGHUP calls it) reads the file again, reports what changed,
    and a file with errors changes nothing."""
    path = tmp_path / "staff.yaml"
    path.write_text("alice: {role: viewer, sites: [demo]}\n" + DAVE)
    staff = load_staff_file(path)
    campus = demo_campus()
    controller = Controller(
        campus,
        load_rules([EXAMPLES / "rules"], campus),
        [],
        VirtualClock(START),
        settle=0.0,
        extensions=[StaffReload(staff)],
    )
    path.write_text(
        "alice:\n  - {role: author, sites: [demo]}\n  - {role: viewer, sites: all}\n"
        "erin: {role: operator, sites: [demo]}\n"
    )
    report = controller.reload_rules("SIGHUP")
    assert (report.ok, report.diff, report.problems) == (
        True,
        [
            "~ staff alice: an author of demo and a viewer of every site (was a viewer of demo)",
            "+ staff erin: an operator of demo",
            "- staff dave",
        ],
        [],
    )
    assert staff.role("alice", "demo") is Role.AUTHOR
    assert staff.refusal("dave", "demo", "override", Role.OPERATOR) == (
        "dave has no role in this controller's staff file and may not override"
    )

    caplog.set_level(logging.INFO, logger="campusctl.reload")
    path.write_text("alice: {role: operater, sites: [demo]}\nbob: {role: viewer}\n")
    report = controller.reload_rules("SIGHUP")
    errors = [
        r.getMessage().removeprefix("reload: ")
        for r in caplog.records
        if r.levelno == logging.ERROR
    ]
    assert (
        errors
        == report.problems
        == [
            f"{path}:1:15: alice.role must be one of viewer, operator, author, got 'operater' "
            "(did you mean 'operator'?)",
            f"{path}:2:6: bob needs the key 'sites'",
            f"{path}: has errors; the roles read before stay in force",
        ]
    )
    assert (report.ok, report.diff) == (False, [])
    assert staff.role("alice", "demo") is Role.AUTHOR

    path.write_text("carol: {role: viewer, sites: [demo]}\n")
    report = controller.reload_rules("SIGHUP")
    assert report.ok
    assert report.problems == [
        f"{path}: warning: names no operator or author for site demo: every request that "
        "changes something will be refused"
    ]
    assert staff.role("alice", "demo") is None


@pytest.mark.mqtt
@run_async
async def test_a_running_controller_applies_the_staff_file_again_on_reload(
    fresh_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """South's controller on a real broker: alice, a viewer, is refused an override; made an
    operator and reloaded by SIGHUP's handler, her override is done; a broken file keeps her
    an operator while the controller runs on; the file watch alone then makes her a viewer
    again."""
    caplog.set_level(logging.INFO, logger="campusctl.reload")
    path = tmp_path / "staff.yaml"
    path.write_text("alice: {role: viewer, sites: [south]}\n" + DAVE)
    staff = load_staff_file(path)
    client = PlaneClient(fresh_broker, "south")
    try:
        async with running_campus(fresh_broker, tmp_path, site="south", staff=staff) as campus:
            controller = campus.controller
            await wait_for(lambda: controller.engine.started, "the end of the settle")

            async def override(user: str) -> dict[str, object]:
                answer: dict[str, object] = await client.request(
                    "override", {**OVERRIDE, "user": user}
                )
                return answer

            refused = "alice is a viewer of south and may not override: that takes an operator"
            answer = await override("alice")
            assert str(answer["error"]).startswith(refused), answer

            path.write_text(
                "alice:\n  - {role: operator, sites: [south]}\n  - {role: viewer, sites: all}\n"
                + DAVE
            )
            reload_on_hangup(controller)
            answer = await override("alice")
            assert answer["status"] == "ok", answer
            assert (
                "reload: ~ staff alice: an operator of south and a viewer of every site "
                "(was a viewer of south)"
            ) in caplog.messages

            path.write_text("alice: {role: operator, sites: [south]\n")
            reload_on_hangup(controller)
            problem = f"reload: {path}:2:1: YAML syntax: "
            assert any(
                r.levelno == logging.ERROR and r.getMessage().startswith(problem)
                for r in caplog.records
            ), caplog.messages
            answer = await client.request("release", {"actuator": LIGHT, "user": "alice"})
            assert answer["status"] == "ok", answer

            path.write_text("alice: {role: viewer, sites: [south]}\n" + DAVE)
            await wait_for(lambda: staff.role("alice", "south") is Role.VIEWER, "the watch", 15)
            answer = await override("alice")
            assert str(answer["error"]).startswith(refused), answer
            assert not controller.engine.has_override(LIGHT)
    finally:
        client.close()
