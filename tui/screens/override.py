"""The override dialog: a value for one actuator and how long to hold it (15 min, 1 hour, or
until the end of the day). Returns the request to send, or None when cancelled."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from campus.text import value_text
from campus.wire import ActuatorSpec

DURATIONS = (("15 min", "15m"), ("1 hour", "1h"), ("until end of day", "end-of-day"))


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    actuator: str
    value: float | bool
    hold: str
    """``15m``, ``1h`` or ``end-of-day``."""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"actuator": self.actuator, "value": self.value}
        if self.hold == "end-of-day":
            body["until"] = "end-of-day"
        else:
            body["duration"] = self.hold
        return body


class OverrideDialog(ModalScreen[OverrideRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="override.cancel"),
    ]

    def __init__(self, actuator: str, spec: ActuatorSpec, current: float | bool | None) -> None:
        super().__init__()
        self.actuator = actuator
        self.spec = spec
        self.current = current

    def compose(self) -> ComposeResult:
        spec = self.spec
        with Vertical(id="dialog"):
            yield Label(f"Override {self.actuator}", id="dialog-title")
            yield Label(f"now {value_text(self.current, spec.unit)}", classes="dim")
            if spec.type == "switch":
                with RadioSet(id="value"):
                    yield RadioButton("on", value=self.current is not True)
                    yield RadioButton("off", value=self.current is True)
            else:
                yield Input(
                    placeholder=f"{spec.low:g}..{spec.high:g} {spec.unit}".strip(),
                    id="value",
                    type="number",
                )
            yield Label("hold for", classes="dim")
            with RadioSet(id="hold"):
                for index, (label, _) in enumerate(DURATIONS):
                    yield RadioButton(label, value=index == 0)
            yield Label("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Override", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#value").focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted, "#value")
    def _apply(self) -> None:
        value = self._value()
        if value is None:
            return
        hold = DURATIONS[max(0, self.query_one("#hold", RadioSet).pressed_index)][1]
        self.dismiss(OverrideRequest(self.actuator, value, hold))

    def _value(self) -> float | bool | None:
        widget = self.query_one("#value")
        if isinstance(widget, RadioSet):
            return widget.pressed_index == 0
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
            return None
        return number
