"""Another process that advertises on loopback until its stdin closes.

python -m tests.discovery.advertiser_child controller SITE BROKER_URL
python -m tests.discovery.advertiser_child broker NAME PORT
"""

from __future__ import annotations

import asyncio
import sys

from campus.discovery import LOOPBACK, Advertiser, broker_service, controller_service


async def main(kind: str, name: str, where: str) -> None:
    interfaces = list(LOOPBACK)
    if kind == "controller":
        info = controller_service(name, where, interfaces)
    else:
        info = broker_service(name, int(where), interfaces)
    async with Advertiser(interfaces) as advertiser:
        await advertiser.register(info)
        print("advertised", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
