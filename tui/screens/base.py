"""What every view shares: the status bar, the footer, and redrawing when the picture changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen
from textual.widgets import Footer

from campus.wire import Kind
from tui.messages import StateChanged
from tui.state import SiteState
from tui.widgets.statusbar import StatusBar

if TYPE_CHECKING:
    from tui.app import CampusApp

ALL = frozenset(Kind)


class SiteScreen(Screen[None]):
    """A view of the site. Subclasses draw in `redraw(kinds)`; they are told what changed."""

    @property
    def campus_app(self) -> CampusApp:
        return cast("CampusApp", self.app)

    @property
    def state(self) -> SiteState:
        return self.campus_app.state

    def on_screen_resume(self) -> None:
        self._redraw(ALL)

    def on_state_changed(self, message: StateChanged) -> None:
        self._redraw(message.kinds)

    def _redraw(self, kinds: frozenset[Kind]) -> None:
        if not self.is_mounted:
            return
        for bar in self.query(StatusBar):
            bar.update_status()
        self.redraw(kinds)

    def redraw(self, kinds: frozenset[Kind]) -> None:
        """Bring the view up to date with `self.state` (only `kinds` changed)."""


def footer() -> Footer:
    """The keys that work here; compact so a view's keys fit in 80 columns."""
    return Footer(compact=True, show_command_palette=False)
