"""The rules: what each does where, how many rooms it is active in, its last transitions;
enable/disable, reload the files, explain."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from campus.text import clock_text
from campus.wire import Kind, RuleInfo
from tui.screens.alarms import SEVERITY
from tui.screens.base import SiteScreen, footer, selected_key
from tui.screens.confirm import ConfirmDialog
from tui.screens.explain import ExplainScreen
from tui.widgets.columns import Column, cells
from tui.widgets.statusbar import StatusBar

COLUMNS = [
    Column("Rule", 32, grow=1, most=40),
    Column("Level", 8),
    Column("On", 3),
    Column("Rooms", 5),
    Column("Active", 6),
    Column("Does", 24, grow=2, wide=120),
]


def level_text(rule: RuleInfo) -> Text:
    """Its priority level, or ``alarm`` for a rule that only raises an alarm: it holds no
    actuator, so no level applies to it."""
    if rule.alarm is not None and not rule.sets:
        return Text("alarm", style=SEVERITY.get(rule.alarm, ""))
    return Text(rule.level)


def does_text(rule: RuleInfo) -> str:
    """``sets lights``, ``raises a warning alarm``, or both."""
    parts = [f"sets {', '.join(rule.sets)}"] if rule.sets else []
    if rule.alarm is not None:
        parts.append(f"raises a {rule.alarm} alarm")
    return " and ".join(parts) or "nothing"


class RulesScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_rule", "Enable/disable", id="rules.toggle"),
        Binding("R", "reload", "Reload files", key_display="R", id="rules.reload"),
        Binding("w", "explain", "Why?", id="rules.explain"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar("rules")
        yield self.table("rules", COLUMNS)
        yield Static(id="detail")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#rules", DataTable).focus()

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if not kinds & {Kind.RULES, Kind.CONTROLLER}:
            return
        table: DataTable[Text] = self.query_one("#rules", DataTable)
        current = self.selected()
        table.clear()
        for rule in self.state.rules:
            active = rule.states.get("active", 0) + rule.states.get("releasing", 0)
            pending = rule.states.get("pending", 0)
            row = {
                "Rule": Text(rule.id, style="" if rule.enabled else "dim strike"),
                "Level": level_text(rule),
                "On": Text("yes", style="green") if rule.enabled else Text("NO", style="bold red"),
                "Rooms": Text(str(len(rule.rooms))),
                "Active": Text(
                    f"{active}+{pending}" if pending else f"{active}",
                    style="bold" if active else "",
                ),
                "Does": Text(does_text(rule), style="dim"),
            }
            table.add_row(*cells(table, row), key=rule.id)
        if current is not None and current.id in table.rows:
            table.move_cursor(row=table.get_row_index(current.id), animate=False)
        self._detail()

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        rule = self.selected()
        out = Text()
        if rule is not None:
            info = self.state.controller
            tz = info.timezone if info is not None else "UTC"
            out.append(f"{rule.id}", style="bold")
            out.append(f"  {rule.file}\n", style="dim")
            if rule.description:
                out.append(f"{rule.description}\n")
            out.append(f"{does_text(rule)}; {len(rule.rooms)} rooms, {len(rule.skipped)} skipped\n")
            for t in rule.transitions[-3:]:
                out.append(
                    f"  {clock_text(t.ts, tz)} {t.room}: {t.old_state} → {t.new_state} "
                    f"({t.cause})\n",
                    style="dim",
                )
        for problem in self.state.rule_problems[:3]:
            out.append(f"{problem}\n", style="red")
        self.query_one("#detail", Static).update(out)

    def selected(self) -> RuleInfo | None:
        key = selected_key(self.query_one("#rules", DataTable))
        return next((r for r in self.state.rules if r.id == key), None)

    def action_toggle_rule(self) -> None:
        rule = self.selected()
        if rule is None:
            return
        if not rule.enabled:
            self.send("enable_rule", rule.id)
            return

        def answer(yes: bool | None) -> None:
            if yes and rule is not None:
                self.send("disable_rule", rule.id)

        self.app.push_screen(
            ConfirmDialog(f"Disable {rule.id} in all {len(rule.rooms)} rooms?"), answer
        )

    def action_reload(self) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.reload()

        self.app.push_screen(ConfirmDialog("Reload the rule files now?"), answer)

    def action_explain(self) -> None:
        rule = self.selected()
        if rule is not None:
            self.app.push_screen(ExplainScreen(rule.id))

    @work(group="requests")
    async def send(self, name: str, rule: str) -> None:
        if await self.campus_app.request(name, {"rule": rule}) is not None:
            self.notify(f"{rule} {'enabled' if name == 'enable_rule' else 'disabled'}")

    @work(group="requests")
    async def reload(self) -> None:
        data = await self.campus_app.request("reload", {})
        if not isinstance(data, dict):
            return
        lines = [*(data.get("diff") or ["no change"]), *(data.get("problems") or [])]
        text = "\n".join(str(x) for x in lines)
        if data.get("ok"):
            self.notify(text, title="rules reloaded")
        else:
            self.notify(text, title="rules reloaded with errors", severity="error", timeout=15)
