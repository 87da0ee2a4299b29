"""The line at the top of every view: the views (the current one lit), the site, whether the
controller is there (its MQTT last will), and the controller's clock and speed (k9s-style
context; the clock is the controller's, which runs faster than real time in the demo). With the
district view open, `0 district` comes first; on it, the name is the district's count of
schools."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from campus.text import clock_text
from tui.widgets.lines import show_line

if TYPE_CHECKING:
    from tui.app import CampusApp

VIEWS = (("1", "rooms"), ("2", "alarms"), ("3", "rules"), ("4", "events"))


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, view: str) -> None:
        super().__init__()
        self.view = view

    def on_mount(self) -> None:
        self.update_status()

    def on_resize(self) -> None:
        self.update_status()

    def update_status(self) -> None:
        """Redraw from the app's state; the site name gives way when the line is too short."""
        app = cast("CampusApp", self.app)
        state = app.state
        line = Text()
        views = (("0", "district"), *VIEWS) if app.district_view else VIEWS
        for key, view in views:
            style = "bold reverse" if view == self.view else "dim"
            line.append(f" {key} {view} ", style=style)
        right = Text()
        district = self.view == "district"
        if not app.connected:
            right.append("broker unreachable", style="bold red")
        elif district:
            right.append("connected", style="green")
        elif state.online is False:
            down = state.offline_shards
            what = f"shard {', '.join(down)} OFFLINE" if down else "controller OFFLINE"
            right.append(what, style="bold red")
        elif state.online:
            right.append("online", style="green")
        else:
            right.append("waiting", style="yellow")
        info = None if district else state.controller
        now = state.now()
        if info is not None and now is not None:
            right.append(" │ ")
            right.append(clock_text(now, info.timezone, "%a %H:%M"))
            if info.speed != 1:
                right.append(f" ×{info.speed:g}", style="dim")
        if district:
            name = f"{len(app.district.schools)} schools"
        else:
            name = info.name if info is not None else state.site or "no site yet"
        room = max(0, self.size.width - len(line) - len(right) - 7)
        if len(name) > room:
            name = name[: max(0, room - 1)] + "…" if room > 1 else ""
        line.append(" │ ")
        line.append(name, style="bold")
        line.append(" │ ")
        line.append_text(right)
        show_line(self, line)
