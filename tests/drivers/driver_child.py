"""A controller process stand-in for the last-will test: connect, say so, run until killed.

python -m tests.drivers.driver_child URL STATUS_TOPIC
"""

from __future__ import annotations

import asyncio
import sys

from campus.clock import WallClock
from drivers.mqtt import MqttDriver, MqttSettings
from tests.drivers.sample_campus import make_campus


async def main(url: str, status_topic: str) -> None:
    settings = MqttSettings(url=url, status_topic=status_topic)
    async with MqttDriver(make_campus("child"), settings, WallClock()) as driver:
        await driver.wait_connected()
        print("connected", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
