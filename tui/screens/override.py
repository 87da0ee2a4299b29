"""The override dialog: a value for one actuator and how long to hold it: a duration or an end
time typed in any length (tui/hold.py), the common ones one key each. Enter sends; returns the
request to send, or None when cancelled."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from campus.text import value_text
from campus.wire import ActuatorSpec
from tui.hold import PRESETS, Hold, HoldError, end_text, parse_hold
from tui.widgets.choices import Choices

DEFAULT_PRESET = 0


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    actuator: str
    value: float | bool
    hold: Hold

    def body(self) -> dict[str, Any]:
        return {"actuator": self.actuator, "value": self.value, **self.hold.fields}


class OverrideDialog(ModalScreen[OverrideRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "apply", "Override", id="override.apply"),
        Binding("escape", "cancel", "Cancel", id="override.cancel"),
        *(
            Binding(str(n), f"preset({n - 1})", hold, show=False, id=f"override.preset{n}")
            for n, hold in enumerate(PRESETS, start=1)
        ),
    ]

    def __init__(
        self,
        actuator: str,
        spec: ActuatorSpec,
        current: float | bool | None,
        clock: Callable[[], float | None],
        timezone: str,
    ) -> None:
        """`clock`: the controller's clock now (`SiteState.now`), for end times and the
        preview; `timezone`: the site's."""
        super().__init__()
        self.actuator = actuator
        self.spec = spec
        self.current = current
        self.clock = clock
        self.timezone = timezone

    def compose(self) -> ComposeResult:
        spec = self.spec
        with Vertical(id="dialog"):
            yield Label(f"Override {self.actuator}", id="dialog-title")
            yield Label(f"now {value_text(self.current, spec.unit)}", classes="dim")
            if spec.type == "switch":
                yield Choices(["on", "off"], 1 if self.current is True else 0, id="value")
            else:
                yield Input(
                    placeholder=f"{spec.low:g}..{spec.high:g} {spec.unit}".strip(),
                    id="value",
                    type="number",
                )
            yield Label("for how long: a key 1-5, ←/→, or type it", classes="dim")
            yield Choices(list(PRESETS), DEFAULT_PRESET, numbered=True, id="presets")
            yield Input(
                PRESETS[DEFAULT_PRESET],
                placeholder="45m, 3h, until 14:00, until 2026-11-24 08:00, end of day",
                id="hold",
            )
            yield Label("", id="ends", classes="dim")
            yield Label("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Override (enter)", variant="primary", id="apply")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        first = "#presets" if self.spec.type == "switch" else "#value"
        self.query_one(first).focus()
        self._preview()

    # -- the hold: a preset or typed -------------------------------------------------------------

    def action_preset(self, index: int) -> None:
        self.query_one("#presets", Choices).choose(index)

    @on(Choices.Changed, "#presets")
    def _preset_chosen(self, event: Choices.Changed) -> None:
        self.query_one("#hold", Input).value = PRESETS[event.index]

    @on(Input.Changed, "#hold")
    def _hold_typed(self, event: Input.Changed) -> None:
        typed = " ".join(event.value.lower().split())
        self.query_one("#presets", Choices).chosen = (
            PRESETS.index(typed) if typed in PRESETS else None
        )
        self._preview()

    def _preview(self) -> None:
        """When the typed hold would end, or what is wrong with it, while it is typed."""
        try:
            hold, now = self._hold()
        except HoldError as exc:
            self.query_one("#ends", Label).update(Text(str(exc), style="yellow"))
            return
        self.query_one("#ends", Label).update(end_text(hold.end, now, self.timezone))

    def _hold(self) -> tuple[Hold, float]:
        now = self.clock()
        if now is None:
            raise HoldError("waiting for the controller's clock")
        return parse_hold(self.query_one("#hold", Input).value, now, self.timezone), now

    # -- sending ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        value = self._value()
        if value is None:
            return
        try:
            hold, _ = self._hold()
        except HoldError as exc:
            self.query_one("#problem", Label).update(str(exc))
            self.query_one("#hold", Input).focus()
            return
        self.dismiss(OverrideRequest(self.actuator, value, hold))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _value(self) -> float | bool | None:
        widget = self.query_one("#value")
        if isinstance(widget, Choices):
            return widget.chosen == 0
        assert isinstance(widget, Input)
        spec = self.spec
        try:
            number = float(widget.value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and spec.low <= number <= spec.high):
            unit = f" {spec.unit}" if spec.unit else ""
            self.query_one("#problem", Label).update(
                f"give a number from {spec.low:g} to {spec.high:g}{unit}"
            )
            widget.focus()
            return None
        return number
