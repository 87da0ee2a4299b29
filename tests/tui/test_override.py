"""The override dialog alone, driven by Textual's pilot: the common holds one key away, any other
typed, enter sends from anywhere, and what it sends."""

from __future__ import annotations

import pytest
from textual.app import App

from campus.wire import ActuatorSpec
from tests.support.aio import run_async
from tests.tui.fixed_site import NOW
from tui.screens.override import OverrideDialog, OverrideRequest

pytestmark = pytest.mark.tui

LIGHTS = ActuatorSpec(name="lights", type="switch", unit="", range=(0.0, 1.0), default=False)
FAN = ActuatorSpec(name="ventilation", type="level", unit="%", range=(0.0, 100.0), default=0.0)


class DialogApp(App[None]):
    """Nothing but the dialog, on the fixed site's clock (Monday 10:30 in Oslo)."""

    def __init__(self, spec: ActuatorSpec, current: float | bool | None) -> None:
        super().__init__()
        self.dialog = OverrideDialog(f"main.r103.{spec.name}", spec, current, lambda: NOW,
                                     "Europe/Oslo")  # fmt: skip
        self.answers: list[OverrideRequest | None] = []
        self.lines: dict[str, str] = {}
        """The dialog's preview and problem lines after the keys, if it is still open."""

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.answers.append)


async def answer(spec: ActuatorSpec, current: float | bool | None, *keys: str) -> DialogApp:
    app = DialogApp(spec, current)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        if app.screen is app.dialog:
            app.lines = {
                n: str(app.dialog.query_one(f"#{n}").render()) for n in ("ends", "problem")
            }
    return app


def body(app: DialogApp) -> dict[str, object] | None:
    assert len(app.answers) <= 1
    found = app.answers[0] if app.answers else None
    return found.body() if found is not None else None


@run_async
async def test_a_common_hold_is_one_key_and_enter_sends() -> None:
    app = await answer(LIGHTS, False, "4", "enter")
    assert body(app) == {"actuator": "main.r103.lights", "value": True, "duration": 7200.0}
    app = await answer(LIGHTS, True, "5", "enter")
    assert body(app) == {"actuator": "main.r103.lights", "value": False, "until": "end-of-day"}
    app = await answer(LIGHTS, False, "right", "enter")  # ←/→ in the row of holds
    assert body(app) == {"actuator": "main.r103.lights", "value": True, "duration": 1800.0}
    app = await answer(LIGHTS, False, "shift+tab", "right", "enter")  # on/off: ←/→ too
    assert body(app) == {"actuator": "main.r103.lights", "value": False, "duration": 900.0}


@run_async
async def test_any_hold_can_be_typed_and_an_end_time_is_the_next_one_on_the_site_clock() -> None:
    app = await answer(LIGHTS, False, "tab", *"until 14:00", "enter")
    assert body(app) == {"actuator": "main.r103.lights", "value": True,
                         "until": "2026-11-23 14:00"}  # fmt: skip
    app = await answer(LIGHTS, False, "tab", *"9:15", "enter")  # 10:30 now: tomorrow's
    assert body(app) == {"actuator": "main.r103.lights", "value": True,
                         "until": "2026-11-24 09:15"}  # fmt: skip
    app = await answer(FAN, 40.0, *"55", "tab", "tab", *"3h", "enter")
    assert body(app) == {"actuator": "main.r103.ventilation", "value": 55.0, "duration": 10800.0}
    app = await answer(FAN, 40.0, "tab", "tab", *"1h15m")
    assert app.lines["ends"] == "ends 11:45 today (in 1h15m)", "shown while typing"


@run_async
async def test_a_hold_that_is_none_is_refused_in_words_and_escape_cancels() -> None:
    app = await answer(FAN, 40.0, *"55", "tab", "tab", *"30", "enter")
    assert app.answers == []
    assert app.lines["problem"] == "30 what? write 30m or 30h"
    app = await answer(FAN, 40.0, *"555", "enter")
    assert app.answers == []
    assert app.lines["problem"] == "give a number from 0 to 100 %"
    app = await answer(LIGHTS, False, "escape")
    assert app.answers == [None]
