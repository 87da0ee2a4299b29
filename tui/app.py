"""The staff TUI's app: the site picture, the broker link, the views and their keys.

Views are Textual modes (rooms, alarms, rules, events), each with its own stack, so drilling
into a room from the alarms view and pressing escape comes back to the alarms. Messages from the
broker update `state` at once; the visible screen is told what changed at most every
`TuiOptions.refresh` seconds, so a flood of room updates is drawn at a calm pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType

from campus.wire import Kind, parse_topic
from tui.link import MqttLink, RequestFailed
from tui.messages import ConnectionChanged, ControlPlaneMessage, OpenRoom, StateChanged
from tui.options import TuiOptions
from tui.screens.alarms import AlarmsScreen
from tui.screens.events import EventsScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.room import RoomScreen
from tui.screens.rules import RulesScreen
from tui.screens.sites import SitePicker
from tui.state import SiteState

SITE_WAIT = 1.0
"""Seconds to listen for controllers before choosing (or asking) when no --site was given."""


class CampusApp(App[None]):
    """`campusctl tui`."""

    TITLE = "campusctl"
    CSS_PATH = Path(__file__).with_name("campusctl.tcss")
    MODES: ClassVar[dict[str, Any]] = {
        "rooms": OverviewScreen,
        "alarms": AlarmsScreen,
        "rules": RulesScreen,
        "events": EventsScreen,
    }
    DEFAULT_MODE = "rooms"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('rooms')", "Rooms", show=False, id="view.rooms"),
        Binding("2", "switch_mode('alarms')", "Alarms", show=False, id="view.alarms"),
        Binding("3", "switch_mode('rules')", "Rules", show=False, id="view.rules"),
        Binding("4", "switch_mode('events')", "Events", show=False, id="view.events"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        options: TuiOptions,
        *,
        link_factory: Callable[[CampusApp], MqttLink] | None = None,
    ) -> None:
        super().__init__()
        self.options = options
        self.state = SiteState(options.site or "")
        self.connected = False
        self.connection_text = f"connecting to {options.broker}"
        self.sites: dict[str, str] = {}
        """Sites seen on the broker: id -> name."""
        self._pending: set[Kind] = set()
        self._choosing = False
        self.link = (link_factory or _mqtt_link)(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.link.start(asyncio.get_running_loop())
        if self.options.site:
            self.link.follow(self.options.site)
        self.set_interval(self.options.refresh, self._notify_screen, name="refresh")

    def on_unmount(self) -> None:
        self.link.stop()

    # -- from the broker -----------------------------------------------------------------------

    def on_control_plane_message(self, message: ControlPlaneMessage) -> None:
        topic = parse_topic(message.topic)
        if topic is None:
            return
        if topic.kind is Kind.CONTROLLER and isinstance(message.payload, dict):
            self._site_seen(topic.site, str(message.payload.get("name", topic.site)))
        kind = self.state.apply(message.topic, message.payload)
        if kind is not None:
            self._pending.add(kind)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.connected = message.connected
        self.connection_text = message.text
        self._pending.add(Kind.STATUS)

    def _site_seen(self, site: str, name: str) -> None:
        new = site not in self.sites
        self.sites[site] = name
        if new and not self.state.site and not self._choosing:
            self._choosing = True
            self.set_timer(SITE_WAIT, self._choose_site)

    def _choose_site(self) -> None:
        if len(self.sites) == 1:
            self.follow(next(iter(self.sites)))
            return
        self.push_screen(SitePicker(dict(self.sites)), self._picked)

    def _picked(self, site: str | None) -> None:
        if site is None:
            self.exit()
            return
        self.follow(site)

    def follow(self, site: str) -> None:
        """Show `site` (from --site, the only controller found, or the picker)."""
        self.state = SiteState(site)
        self.link.follow(site)
        self._pending.update(Kind)

    def _notify_screen(self) -> None:
        if not self._pending:
            return
        try:
            screen = self.screen
        except ScreenStackError:
            return  # a view switch has the stack empty for a moment: the next tick tells it
        kinds = frozenset(self._pending)
        self._pending.clear()
        screen.post_message(StateChanged(kinds))

    # -- actions shared by every view ------------------------------------------------------------

    def on_open_room(self, message: OpenRoom) -> None:
        if message.room in self.state.rooms:
            self.push_screen(RoomScreen(message.room))
        else:
            self.notify(f"no room {message.room!r} on this site", severity="warning")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def request(self, name: str, body: dict[str, Any], *, changes: bool = True) -> Any:
        """Send a request and return its data (a dict for every request there is); an error
        becomes a notice saying what went wrong, and None is returned."""
        try:
            return await self.link.request(name, body, changes=changes)
        except RequestFailed as exc:
            self.notify(str(exc), title=f"{name} failed", severity="error", timeout=8)
            return None


def _mqtt_link(app: CampusApp) -> MqttLink:
    def on_message(topic: str, payload: Any) -> None:
        app.post_message(ControlPlaneMessage(topic, payload))

    def on_connection(up: bool, text: str) -> None:
        app.post_message(ConnectionChanged(up, text))

    return MqttLink(
        app.options.broker,
        user=app.options.user,
        on_message=on_message,
        on_connection=on_connection,
    )
