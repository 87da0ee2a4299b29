"""`?`: every key of every view (read from the views' own bindings), and the connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.screens.base import footer

if TYPE_CHECKING:
    from tui.app import CampusApp


def _keys(title: str, bindings: list[BindingType], out: Text) -> None:
    out.append(f"{title}\n", style="bold")
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        key = binding.key_display or binding.key.split(",")[0]
        out.append(f"  {key:<8}", style="bold cyan")
        out.append(f"{binding.description}\n")


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        from tui.app import CampusApp
        from tui.screens.alarms import AlarmsScreen
        from tui.screens.district import DistrictScreen
        from tui.screens.events import EventsScreen
        from tui.screens.overview import OverviewScreen
        from tui.screens.room import RoomScreen
        from tui.screens.rules import RulesScreen

        app = cast("CampusApp", self.app)
        text = Text()
        _keys("everywhere", CampusApp.BINDINGS, text)
        text.append("  ctrl+p  ", style="bold cyan")
        text.append("command palette\n")
        for title, screen in (
            ("rooms (1)", OverviewScreen),
            ("a room (enter on a room)", RoomScreen),
            ("alarms (2)", AlarmsScreen),
            ("rules (3)", RulesScreen),
            ("events (4)", EventsScreen),
            ("district (0, --district)", DistrictScreen),
        ):
            text.append("\n")
            _keys(title, screen.BINDINGS, text)
        options = app.options
        text.append("\nconnection\n", style="bold")
        text.append(f"  broker {options.broker}, site {app.state.site or '-'}, ")
        text.append(f"requests signed as {options.user!r}\n")
        text.append(f"  {app.connection_text}\n", style="dim")
        text.append(
            "\ncolours: green good · yellow fair · orange poor · red bad (comfort bands); "
            "magenta stale or offline; * an override holds it\n",
            style="dim",
        )
        with VerticalScroll(id="help"):
            yield Label("campusctl: keys", id="dialog-title")
            yield Static(text)
        yield footer()
