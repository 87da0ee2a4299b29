"""A school that publishes what cannot be read (not JSON, the wrong shape, 10 MB, naming
another site) is counted on its own row of the district's table; the other schools' rows are
unaffected. Real Mosquitto; the district's watcher as the district demo runs it."""

from __future__ import annotations

import json

import pytest
from paho.mqtt import publish
from rich.console import Console

from controller.district_demo import watch
from tests.district.test_demo import kpi
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for_blocking
from tui.district import DistrictState, portfolio_table

pytestmark = [pytest.mark.mqtt, pytest.mark.district]


def test_unreadable_messages_are_counted_on_their_schools_row(fresh_broker: Broker) -> None:
    state = DistrictState()
    watcher = watch(fresh_broker.url, state)
    try:
        good = kpi("west", "", 50, 60)
        bad = [
            ("campusctl/rogue/kpi", b"not json"),
            ("campusctl/rogue/kpi", b"[1, 2, 3]"),
            ("campusctl/rogue/controller", json.dumps({"site": "west"}).encode()),
            ("campusctl/rogue/kpi", b"{" + b" " * (10 * 1024 * 1024) + b"}"),
        ]
        # the good school first, retained: once its KPIs are in, the watcher is subscribed (it
        # subscribes on connect, in its own thread) and nothing published after is missed
        publish.single("campusctl/west/kpi", json.dumps(good), qos=1, retain=True,
                       hostname=fresh_broker.host, port=fresh_broker.port)  # fmt: skip
        wait_for_blocking(
            lambda: "west" in state.schools and state.schools["west"].kpi is not None,
            "the good school's KPIs",
        )
        for topic, payload in bad:
            publish.single(topic, payload, qos=1, hostname=fresh_broker.host,
                           port=fresh_broker.port)  # fmt: skip
        wait_for_blocking(
            lambda: "rogue" in state.schools and state.schools["rogue"].malformed == len(bad),
            "every unreadable message counted",
        )
    finally:
        watcher.disconnect()
        watcher.loop_stop()
    assert state.schools["west"].malformed == 0
    assert state.schools["rogue"].kpi is None
    console = Console(width=220, record=True)
    console.print(portfolio_table(state))
    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines()
            if line.startswith("│")}  # fmt: skip
    assert "4 unreadable" in rows["rogue"]
    assert "unreadable" not in rows["west"]
    assert "83%" in rows["west"]
