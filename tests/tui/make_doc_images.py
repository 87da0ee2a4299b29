"""Regenerate the screenshots in docs/images/ (docs/tui.md) with `App.save_screenshot`:

    .venv/bin/python -m tests.tui.make_doc_images

The TUI is drawn at 100x30 from the fixed site of tests/tui/fixed_site.py (which answers the
last hour and the recent events too) on a Mosquitto of its own, so the pictures change only
when the screens do.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from campus.brokerurl import parse_broker_url
from tests.support.mosquitto import running_mosquitto
from tests.tui.fixed_site import EVENTS, SITE, answering, publish_events, publish_site
from tui.app import CampusApp
from tui.options import TuiOptions

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SHOTS: list[tuple[str, tuple[str, ...]]] = [
    ("tui-overview.svg", ()),
    ("tui-room.svg", ("slash", *"r102", "enter", "enter")),
    ("tui-override.svg", ("o",)),
    ("tui-alarms.svg", ("escape", "escape", "2")),
    ("tui-rules.svg", ("3",)),
    ("tui-events.svg", ("4",)),
    ("tui-help.svg", ("question_mark",)),
]


async def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_mosquitto(Path(tmp)) as broker,
        answering(broker),
    ):
        publish_site(broker)
        options = TuiOptions(parse_broker_url(broker.url), site=SITE, user="alice")
        app = CampusApp(options)
        async with app.run_test(size=(100, 30)) as pilot:
            while len(app.state.room_states) < 10 or not app.state.rules:
                await pilot.pause(0.05)
            await asyncio.to_thread(publish_events, broker)
            while len(app.state.events) < len(EVENTS):
                await pilot.pause(0.05)
            for name, keys in SHOTS:
                await pilot.press(*keys)
                await pilot.pause(0.5)
                app.save_screenshot(name, str(IMAGES))
                print(IMAGES / name)


if __name__ == "__main__":
    asyncio.run(main())
