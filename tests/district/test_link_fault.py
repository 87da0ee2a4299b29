"""The link between a school and the district cut (a TCP proxy between the school's bridge and
the district broker, closed and reopened) while the school goes on: the district sees the link
down within 15 s, and after recovery every alarm and audit event of the cut arrives exactly
once and the KPIs catch up. Real brokers, the school's controller and simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from campus.brokerurl import BrokerAddress
from controller.district import bridge_config
from tests.controlplane.harness import PlaneClient, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.district, pytest.mark.faults]

CUT = 10.0
"""Wall seconds the link stays cut (the school's clock runs 30 times faster: 5 minutes)."""


class Link:
    """A TCP proxy on loopback from `port` to `target`: `cut` closes it (every connection and
    the listener), `restore` opens it again on the same port."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()
        self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self.writers.discard(writer)


def bridge_state(client: PlaneClient) -> bytes | None:
    with client._lock:
        return client.retained.get(f"{client.base}/bridge")


def kept_events(client: PlaneClient) -> list[dict[str, object]]:
    return [e for e in client.on("events") if e["type"] in ("alarm", "audit")]


@run_async
async def test_a_cut_link_is_seen_and_every_alarm_and_audit_arrives_once_after_it(
    tmp_path: Path,
) -> None:
    site = unique_site("cut")
    proxy_port = free_port()
    with running_mosquitto(tmp_path / "district") as district:
        link = Link(proxy_port, district.port)
        await link.restore()
        bridge = bridge_config(site, BrokerAddress("127.0.0.1", proxy_port))
        with running_mosquitto(tmp_path / "school", extra=bridge) as school:
            async with running_campus(school, tmp_path, site=site) as campus:
                seen = PlaneClient(district, site)
                local = PlaneClient(school, site)
                try:
                    await wait_for(lambda: bridge_state(seen) == b"1", "the link up")
                    await wait_for(lambda: seen.latest("kpi"), "the school's KPIs", 20)
                    await wait_for(lambda: seen.latest("alarms"), "the school's alarms")

                    await link.cut()
                    cut_at = time.monotonic()
                    await wait_for(lambda: bridge_state(seen) == b"0", "the link down", 15)
                    down_after = time.monotonic() - cut_at
                    before = {e["event_id"] for e in kept_events(local)}
                    for room in ("main.r101", "main.r102"):
                        body = {"actuator": f"{room}.lights", "value": "on",
                                "duration": "1h", "user": "sam"}  # fmt: skip
                        assert (await local.request("override", body))["status"] == "ok"
                    alarm = next(a for a in local.latest("alarms")["alarms"] if a["active"])
                    body = {"alarm": alarm["id"], "user": "sam"}
                    assert (await local.request("acknowledge", body))["status"] == "ok"
                    await asyncio.sleep(CUT - (time.monotonic() - cut_at))  # the cut lasts
                    during = [e for e in kept_events(local) if e["event_id"] not in before]
                    assert {e["type"] for e in during} == {"alarm", "audit"}, during
                    kpi_at_restore = local.latest("kpi")["ts"]

                    await link.restore()
                    await wait_for(lambda: bridge_state(seen) == b"1", "the link back", 30)
                    wanted = {e["event_id"] for e in during}
                    await wait_for(
                        lambda: wanted <= {e["event_id"] for e in kept_events(seen)},
                        "every alarm and audit event of the cut on the district",
                    )
                    await wait_for(
                        lambda: seen.latest("kpi")["ts"] >= kpi_at_restore, "the KPIs caught up"
                    )
                    arrived = [e["event_id"] for e in kept_events(seen) if e["event_id"] in wanted]
                    assert sorted(arrived) == sorted(wanted), "an event arrived twice"
                    assert campus.controller.engine.has_override("main.r102.lights")
                finally:
                    seen.close()
                    local.close()
                    with contextlib.suppress(AssertionError):
                        await link.cut()
    print(f"link seen down {down_after:.1f} s after the cut; {len(wanted)} events kept")
