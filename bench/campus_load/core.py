"""campusctl's hot path alone, for the benchmark's breakdown: the same MQTT driver, runtime,
engine and arbiter as ``campusctl run``, without the extensions (control plane, persistence,
discovery, rule watcher). Run as ``python core.py PORT CAMPUS RULES``; the difference to the
full ``campusctl`` figures is what the extensions cost."""

import asyncio
import sys
from pathlib import Path

from campus.clock import WallClock
from campus.config import load_campus
from controller.runtime import Controller
from drivers.mqtt import MqttDriver, MqttSettings
from rules.loader import load_rules


async def main(port: int, config: Path, rules: Path) -> None:
    campus = load_campus(config)
    ruleset = load_rules([rules], campus)
    clock = WallClock()
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{port}", client_id="bench-core")
    driver = MqttDriver(campus, settings, clock)
    await Controller(campus, ruleset, [driver], clock, settle=1.0).run()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
