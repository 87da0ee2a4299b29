"""A row of options with one chosen: the override dialog's on/off and its common holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

GAP = 1


class Choices(Widget, can_focus=True):
    """Like a horizontal RadioSet, but ←/→ choose (a RadioSet's only highlight, waiting for
    enter), so enter is free to mean "send" to the dialog around it. `numbered`: each option
    shows the digit the dialog binds to it. None is chosen while the dialog's text field says
    something else."""

    DEFAULT_CSS = """
    Choices {
        height: 1;
        width: 1fr;
    }
    Choices:focus {
        background: $boost;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
    ]

    chosen: reactive[int | None] = reactive[int | None](None)

    @dataclass
    class Changed(Message):
        """The user chose option `index`."""

        choices: Choices
        index: int

        @property
        def control(self) -> Choices:
            return self.choices

    def __init__(
        self,
        labels: list[str],
        chosen: int | None = 0,
        *,
        numbered: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.labels = labels
        self.numbered = numbered
        self.set_reactive(Choices.chosen, chosen)

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        for index, label in enumerate(self.labels):
            if self.numbered:
                out.append(f"{index + 1} ", style="bold cyan")
            out.append(f" {label} ", style="reverse bold" if index == self.chosen else "")
            out.append(" " * GAP)
        return out

    def choose(self, index: int) -> None:
        """Choose option `index` as the user would (the dialog hears `Changed`)."""
        self.chosen = index
        self.post_message(self.Changed(self, index))

    def action_move(self, step: int) -> None:
        start = self.chosen if self.chosen is not None else -step if step > 0 else 0
        self.choose((start + step) % len(self.labels))

    def on_click(self, event: events.Click) -> None:
        x = 0
        for index, label in enumerate(self.labels):
            x += len(label) + 2 + (2 if self.numbered else 0) + GAP
            if event.x < x:
                self.choose(index)
                return
