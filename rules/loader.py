"""Rules files -> a RuleSet: every rule that loads, and every problem with FILE:LINE:COL.

Decoding goes through campus.yamlmodel (unknown keys with "did you mean", durations, duplicate
keys), extended with two node types of our own: expressions keep their raw text and column, and
`set:` keeps each key's position. A rule with a problem is left out and the others still load;
all files are read in one run so an author sees every mistake at once.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from campus.model import Campus
from campus.problems import Position, Problem, Severity
from campus.yamlmodel import INVALID, Decoder, Located, compose_text, yaml_key
from rules import conflicts
from rules.build import CampusContext, build_rule
from rules.schema import (
    RULE_ID,
    ExpectSection,
    ExprText,
    RuleSection,
    RuleSet,
    RulesFile,
    SetEntry,
    SetSection,
)

SUFFIXES = (".yaml", ".yml")


def load_rules(
    paths: list[Path], campus: Campus, texts: Mapping[str, str] | None = None
) -> RuleSet:
    """Load rules files and folders (every *.yaml/*.yml in a folder, sorted) against `campus`.

    `texts` replaces the content of some files (by path as listed): a reload uses it to put
    back the last good version of a file that now fails.
    """
    result = RuleSet(sources=list(paths))
    context = CampusContext.of(campus)
    first_seen: dict[str, Position] = {}
    for file in _rule_files(paths, result.problems):
        result.files.append(file)
        text = texts.get(str(file)) if texts is not None else None
        decoded = _decode(file, result.problems, text)
        if decoded is None:
            continue
        raw, salvaged, result.texts[str(file)] = decoded
        result.tests[str(file)] = raw.tests
        for section in raw.rules:
            rule_id = section.id
            errors = len(result.problems)
            if not RULE_ID.fullmatch(rule_id.value):
                result.problems.append(
                    Problem(
                        rule_id.pos,
                        f"rule id {rule_id.value!r} may use only a-z, 0-9 and '-' "
                        "(like ventilate-stuffy-classrooms)",
                    )
                )
            elif rule_id.value in first_seen:
                first = first_seen[rule_id.value]
                message = f"duplicate rule id {rule_id.value!r} (first at {first})"
                result.problems.append(Problem(rule_id.pos, message))
            else:
                first_seen[rule_id.value] = rule_id.pos
            rule = build_rule(section, context, result.problems)
            if id(section) in salvaged:
                # what a broken rule lacks (its bad keys) would only cause misleading warnings
                fresh = result.problems[errors:]
                del result.problems[errors:]
                result.problems.extend(p for p in fresh if p.severity is Severity.ERROR)
                continue
            failed = any(p.severity is Severity.ERROR for p in result.problems[errors:])
            if rule is not None and not failed:
                result.rules.append(rule)
    result.problems.extend(conflicts.check(result.rules, campus))
    order = {str(file): i for i, file in enumerate(result.files)}
    result.problems.sort(key=lambda p: (order.get(p.pos.file, -1), p.pos.line, p.pos.col))
    return result


def _rule_files(paths: list[Path], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                problems.append(
                    Problem(
                        Position(str(path), 1, 1), "no *.yaml rules files here", Severity.WARNING
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(Position(str(path), 1, 1), "no such file or folder"))
    return files


def _decode(
    file: Path, problems: list[Problem], text: str | None = None
) -> tuple[RulesFile, set[int], str] | None:
    """The decoded file, the ids of its broken-but-salvaged rules, and the text it was read
    from."""
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(Position(str(file), 1, 1), f"cannot read: {exc}"))
            return None
    node, syntax = compose_text(text, str(file))
    problems.extend(syntax)
    if node is None:
        return None
    decoder = _RulesDecoder(str(file), text)
    raw = decoder.decode(node, RulesFile, "")
    problems.extend(decoder.problems)
    if not isinstance(raw, RulesFile):
        return None
    return raw, decoder.salvaged, text


class _RulesDecoder(Decoder):
    """campus.yamlmodel's decoder, plus expressions with columns and `set:` with key positions."""

    def __init__(self, file: str, text: str) -> None:
        super().__init__(file)
        self.text = text
        self.salvaged: set[int] = set()
        """ids of RuleSections rebuilt from a rule with problems: checked, but never run."""

    def decode(self, node: yaml.Node, tp: Any, what: str) -> Any:
        if tp is ExprText:
            return self._expression(node, what)
        if tp is SetSection:
            return self._set(node, what)
        if tp is ExpectSection:
            return self._expect(node, what)
        value = super().decode(node, tp, what)
        if tp is RuleSection and value is INVALID:
            return self._salvage(node, what)
        return value

    def _salvage(self, node: yaml.Node, what: str) -> Any:
        """The keys of a broken rule that did decode, so its expressions get checked too and
        the author sees every mistake in one run. Its problems are already recorded."""
        if not isinstance(node, yaml.MappingNode):
            return INVALID
        scratch = _RulesDecoder(self.file, self.text)
        fields = {yaml_key(f): f for f in dataclasses.fields(RuleSection) if f.init}
        hints = typing.get_type_hints(RuleSection)
        values: dict[str, Any] = {}
        for key_node, value_node in scratch.pairs(node):
            field = fields.get(str(key_node.value))
            if field is not None and field.name != "pos":
                value = scratch.decode(value_node, hints[field.name], what)
                if value is not INVALID:
                    values[field.name] = value
        if "id" not in values or "when" not in values:
            return INVALID
        section = RuleSection(**values, pos=self.pos(node))
        self.salvaged.add(id(section))
        return section

    def _expression(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            kind = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
            self.error(node, f"{what} must be an expression, not a {kind}")
            return INVALID
        start, end = node.start_mark, node.end_mark
        raw = self.text[start.index : end.index]
        pos = self.pos(node)
        if start.line == end.line and not node.style and raw == node.value:  # plain: None or ""
            return ExprText(node.value, pos, inline=True)
        quote = node.style or ""
        if start.line == end.line and quote in ("'", '"') and raw == quote + node.value + quote:
            shifted = Position(pos.file, pos.line, pos.col + 1)
            return ExprText(node.value, shifted, inline=True)
        return ExprText(node.value, pos, inline=False)

    def _set(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must map actuator names to values, like lights: on")
            return INVALID
        entries: list[SetEntry] = []
        if node.flow_style and any(
            isinstance(v, yaml.ScalarNode) and v.value.count("(") != v.value.count(")")
            for _, v in node.value
        ):
            self.error(
                node,
                f"{what}: inside {{ }} a comma ends a value, which splits clamp(x, low, high); "
                "write set: as an indented block, one actuator per line",
            )
            return INVALID
        for key_node, value_node in self.pairs(node):
            key = str(key_node.value)
            value = self._expression(value_node, f"{what}.{key}")
            if value is INVALID:
                return INVALID
            entries.append(SetEntry(Located(key, self.pos(key_node)), value))
        return SetSection(entries)

    def _expect(self, node: yaml.Node, what: str) -> Any:
        """A test step's `expect:`: actuator values, plus `alarms:`/`active:` rule id lists."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must map actuator names to values, like lights: on")
            return INVALID
        values: dict[str, Located[float | bool | str]] = {}
        lists: dict[str, Located[list[str]]] = {}
        for key_node, value_node in self.pairs(node):
            key = str(self.scalar(key_node))
            if key in ("alarms", "active"):
                names = self.decode(value_node, list[str], f"{what}.{key}")
                if names is INVALID:
                    return INVALID
                lists[key] = Located(names, self.pos(value_node))
                continue
            value = self.decode(value_node, float | bool | str, f"{what}.{key}")
            if value is INVALID:
                return INVALID
            values[key] = Located(value, self.pos(value_node))
        return ExpectSection(values, lists.get("alarms"), lists.get("active"), self.pos(node))
