"""The staff TUI's app: the site picture, the broker link, the views and their keys.

Views are Textual modes (rooms, alarms, rules, events), each with its own stack, so drilling
into a room from the alarms view and pressing escape comes back to the alarms. Messages from the
broker update `state` at once; the visible screen is told what changed at most every
`TuiOptions.refresh` seconds, so a flood of room updates is drawn at a calm pace.

On a district broker (--district, or several sites seen) the district view (mode "district")
comes first: `district` is every school's row and alarms (tui/district.py), from the same link;
opening a school follows it like --site would, with fresh site views.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType

from campus.wire import Kind, parse_topic
from tui.district import ALARMS_FILTER, DistrictState, filters
from tui.link import MqttLink, RequestFailed
from tui.messages import (
    ConnectionChanged,
    ControlPlaneMessage,
    DistrictMessage,
    OpenRoom,
    StateChanged,
)
from tui.options import TuiOptions
from tui.screens.alarms import AlarmsScreen
from tui.screens.district import DistrictScreen
from tui.screens.events import EventsScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.room import RoomScreen
from tui.screens.rules import RulesScreen
from tui.state import SiteState

SITE_WAIT = 1.0
"""Seconds to listen for controllers before choosing (or asking) when no --site was given."""
FULL_COLLECTION_EVERY = 100
"""Collections of the middle generation between two full ones, in a process of the app's own
(Python's default: 10)."""


class CampusApp(App[None]):
    """`campusctl tui`."""

    TITLE = "campusctl"
    CSS_PATH = Path(__file__).with_name("campusctl.tcss")
    MODES: ClassVar[dict[str, Any]] = {
        "rooms": OverviewScreen,
        "alarms": AlarmsScreen,
        "rules": RulesScreen,
        "events": EventsScreen,
        "district": DistrictScreen,
    }
    SITE_MODES = ("rooms", "alarms", "rules", "events")
    DEFAULT_MODE = "rooms"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("0", "district", "District", show=False, id="view.district"),
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
        own_process: bool = False,
    ) -> None:
        super().__init__()
        self.options = options
        self.own_process = own_process
        """Whether the process is the app's alone (`campusctl tui`), so it may tune the
        garbage collector (`calm_collections`)."""
        self.state = SiteState(options.site or "")
        self.connected = False
        self.connection_text = f"connecting to {options.broker}"
        self.sites: dict[str, str] = {}
        """Sites seen on the broker: id -> name."""
        self.district = DistrictState()
        self.district_view = False
        """Whether the district view is open (--district, or several sites seen)."""
        self._pending: set[Kind] = set()
        self._choosing = False
        self.link = (link_factory or _mqtt_link)(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.link.start(asyncio.get_running_loop())
        if self.options.district:
            self.open_district()
        elif self.options.site:
            self.link.follow(self.options.site)
        self.set_interval(self.options.refresh, self._notify_screen, name="refresh")

    def on_ready(self) -> None:
        if self.own_process:
            calm_collections()

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

    def on_district_message(self, message: DistrictMessage) -> None:
        if self.district.apply_raw(message.topic, message.raw) is not None:
            topic = parse_topic(message.topic)
            if topic is not None:
                self._pending.add(topic.kind)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.connected = message.connected
        self.connection_text = message.text
        self._pending.add(Kind.STATUS)

    def _site_seen(self, site: str, name: str) -> None:
        new = site not in self.sites
        self.sites[site] = name
        if new and not self.state.site and not self.district_view and not self._choosing:
            self._choosing = True
            self.set_timer(SITE_WAIT, self._choose_site)

    def _choose_site(self) -> None:
        if len(self.sites) == 1:
            self.follow(next(iter(self.sites)))
        else:
            self.open_district()

    def open_district(self) -> None:
        """Show the district view, watching every school's portfolio topics and alarms."""
        if not self.district_view:
            self.district_view = True
            self.link.watch([*filters(), ALARMS_FILTER], self._district_message)
        self.switch_mode("district")

    def _district_message(self, topic: str, raw: bytes) -> None:
        self.post_message(DistrictMessage(topic, raw))

    def follow(self, site: str) -> None:
        """Show `site` (from --site, the only controller found, or the district view)."""
        self.state = SiteState(site)
        self.link.follow(site)
        self._pending.update(Kind)

    def open_site(self, site: str, mode: str = "rooms") -> None:
        """From the district view: follow `site` and show its `mode`; another school than the
        last one gets fresh views (no room, search or event log of the last)."""
        if site != self.state.site:
            for name in self.SITE_MODES:
                if name != self.current_mode:
                    self.remove_mode(name)
                    self.add_mode(name, self.MODES[name])
            self.follow(site)
        self.switch_mode(mode)

    def action_district(self) -> None:
        if self.district_view:
            self.switch_mode("district")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "district":
            return self.district_view
        return True

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

    async def request(
        self, name: str, body: dict[str, Any], *, changes: bool = True, site: str | None = None
    ) -> Any:
        """Send a request (to `site`, default the followed one) and return its data (a dict
        for every request there is); an error becomes a notice saying what went wrong, and
        None is returned."""
        try:
            return await self.link.request(name, body, changes=changes, site=site)
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


def calm_collections() -> None:
    """Leave what lives from start-up on (Textual, Rich, the stylesheet, the views: some
    120,000 objects) out of garbage collections, and make a full collection 10 times rarer.
    The tables' render caches keep filling the oldest generation: a full collection came every
    few seconds and held the view 60-140 ms, a key waiting behind it (bench/README.md, "After
    the in-place re-sort")."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
