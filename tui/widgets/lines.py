"""A line of text in a view, written only when what it shows changes (`show_line`): the screen's
tables, status bars and summary lines (bench/README.md, "After the in-place re-sort")."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static


def show_line(static: Static, line: Text) -> None:
    """Have `static` show `line`, unless it shows the same already. The screen is laid out
    again only for a static sized by its content (an `auto` width or height): a layout also
    repaints every table's scrollbar, a frame of its own some 20 ms after the one with the
    line."""
    shown = static.content
    if not (isinstance(shown, Text) and same_text(shown, line)):
        static.update(line, layout=_sized_by_content(static))


def _sized_by_content(widget: Widget) -> bool:
    return any(
        size is not None and size.is_auto for size in (widget.styles.width, widget.styles.height)
    )


def same_text(shown: Text, new: Text) -> bool:
    """Whether two texts draw the same: characters, style, spans (Text's == ignores style)."""
    return shown.plain == new.plain and shown.style == new.style and shown.spans == new.spans
