"""Why is it like this? The controller's explain for an actuator, a rule or a rule in a room."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from campus.explain_text import explain_text
from tui.screens.base import footer


class ExplainScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,w", "dismiss", "Close", id="explain.close"),
    ]

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="explain"):
            yield Label(f"why: {self.target}", id="dialog-title")
            yield Static(Text("asking the controller...", style="dim"), id="answer")
        yield footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        from tui.app import CampusApp

        app = self.app
        assert isinstance(app, CampusApp)
        data = await app.request("explain", {"target": self.target}, changes=False)
        answer = self.query_one("#answer", Static)
        if not isinstance(data, dict):
            answer.update(Text("no answer (see the notice)", style="red"))
            return
        info = app.state.controller
        answer.update(explain_text(data, info.timezone if info is not None else "UTC"))
