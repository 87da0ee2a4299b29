"""Several controllers on one broker: pick the site to watch."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class SitePicker(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Quit", id="sites.quit"),
    ]

    def __init__(self, sites: dict[str, str]) -> None:
        super().__init__()
        self.sites = sites

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Several controllers on this broker: which site?", id="dialog-title")
            yield OptionList(
                *(Option(f"{name} ({site})", id=site) for site, name in sorted(self.sites.items())),
                id="sites",
            )

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
