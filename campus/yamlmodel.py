"""YAML decoded into typed dataclasses, with the file position of every value.

One declarative description (a dataclass per YAML mapping) serves three purposes: decoding with
errors as ``FILE:LINE:COL: message`` (unknown keys get a "did you mean"), the JSON Schema shipped
for editors (`json_schema`), and the documentation of each key (field metadata ``doc``).

Field metadata: ``key`` (the YAML key when it differs from the field name, e.g. ``for``),
``doc`` (one line for the schema and the docs). Supported field types: str, int, float, bool,
`Duration`, Literal[...], `Located[T]`, list[T], dict[str, T], tuple[float, float], T | None,
unions of scalars, and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

import yaml

from campus.problems import Position, Problem

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Located(Generic[T]):
    """A value and where it was written."""

    value: T
    pos: Position


class Duration(float):
    """Seconds, written as ``90``, ``30s``, ``2m``, ``1h30m`` or ``1d``."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float) -> float:
    """``"1h30m"`` -> 5400.0; a bare number is seconds. Raises ValueError saying what is wrong."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like 30s, 2m or 1h30m, got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a duration cannot be negative, got {text}")
        return float(text)
    s = text.strip().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or not s:
        raise ValueError(
            f"bad duration {text!r}: write a number with a unit, like 30s, 2m, 1h30m or 1d"
        )
    return total


_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def _resolve_scalar_tag(node: yaml.ScalarNode) -> str:
    """YAML 1.1 reads ``17:00`` as base-60 and dates as timestamps; we want the text."""
    if node.tag.endswith((":int", ":float")) and _SEXAGESIMAL.match(node.value):
        return "tag:yaml.org,2002:str"
    if node.tag.endswith(":timestamp"):
        return "tag:yaml.org,2002:str"
    return node.tag


_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class _Shape:
    """What decoding a dataclass needs to know of it, worked out once per class."""

    fields: dict[str, dataclasses.Field[Any]]
    """YAML key -> field."""
    hints: dict[str, Any]
    """Field name -> type (`typing.get_type_hints` evaluates every annotation anew)."""
    required: tuple[str, ...]
    """YAML keys without a default."""
    has_pos: bool


@functools.cache
def _shape(cls: type) -> _Shape:
    fields = {yaml_key(f): f for f in dataclasses.fields(cls) if f.init}
    required = tuple(
        key
        for key, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    has_pos = any(f.name == "pos" for f in dataclasses.fields(cls))
    return _Shape(fields, typing.get_type_hints(cls), required, has_pos)


class Decoder:
    """Decodes one file's YAML nodes into typed values, collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()  # a SafeLoader is a ref cycle

    def pos(self, node: yaml.Node) -> Position:
        mark = node.start_mark
        return Position(self.file, mark.line + 1, mark.column + 1)

    def error(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.pos(node), message))

    def scalar(self, node: yaml.Node) -> Any:
        assert isinstance(node, yaml.ScalarNode)
        tag = _resolve_scalar_tag(node)
        if tag == _STR:
            return node.value
        node = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
        return self._constructor.construct_object(node)

    def decode(self, node: yaml.Node, tp: Any, what: str) -> Any:
        """The value of `node` as type `tp`, or `INVALID` after recording a problem."""
        origin = get_origin(tp)
        if tp is Any:
            return self._plain(node)
        if origin is Located:
            (inner,) = get_args(tp)
            value = self.decode(node, inner, what)
            return INVALID if value is INVALID else Located(value, self.pos(node))
        if origin in (typing.Union, types.UnionType):
            return self._union(node, tp, what)
        if origin is Literal:
            return self._literal(node, get_args(tp), what)
        if origin is list:
            return self._list(node, get_args(tp)[0], what)
        if origin is dict:
            return self._dict(node, get_args(tp)[1], what)
        if origin is tuple:
            return self._tuple(node, get_args(tp), what)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self._dataclass(node, tp, what)
        return self._simple(node, tp, what)

    def _plain(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self._plain(item) for item in node.value]
        assert isinstance(node, yaml.MappingNode)
        return {self.scalar(k): self._plain(v) for k, v in node.value}

    def _simple(self, node: yaml.Node, tp: Any, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.error(
                node, f"{what or 'the file'} must be {_type_name(tp)}, not a {_node_kind(node)}"
            )
            return INVALID
        value = self.scalar(node)
        if tp is Duration:
            try:
                return Duration(parse_duration(value))
            except ValueError as exc:
                self.error(node, f"{what}: {exc}")
                return INVALID
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        self.error(node, f"{what or 'the file'} must be {_type_name(tp)}, got {value!r}")
        return INVALID

    def _union(self, node: yaml.Node, tp: Any, what: str) -> Any:
        options = get_args(tp)
        if _is_null(node) and type(None) in options:
            return None
        concrete = [o for o in options if o is not type(None)]
        if len(concrete) == 1:
            return self.decode(node, concrete[0], what)
        if isinstance(node, yaml.ScalarNode):
            value = self.scalar(node)
            for option in concrete:
                if (
                    option is float
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    return float(value)
                if isinstance(option, type) and isinstance(value, option):
                    return value
        names = " or ".join(_type_name(o) for o in concrete)
        self.error(node, f"{what or 'the file'} must be {names}")
        return INVALID

    def _literal(self, node: yaml.Node, choices: tuple[Any, ...], what: str) -> Any:
        value = self.scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if any(value == c and type(value) is type(c) for c in choices):  # 1, not True or "1"
            return value
        words = ", ".join(str(c) for c in choices)
        hint = did_you_mean(str(value), [str(c) for c in choices])
        self.error(node, f"{what or 'the file'} must be one of {words}, got {value!r}{hint}")
        return INVALID

    def _list(self, node: yaml.Node, item_tp: Any, what: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what or 'the file'} must be a list, not a {_node_kind(node)}")
            return INVALID
        items = [self.decode(item, item_tp, f"{what}[{i}]") for i, item in enumerate(node.value)]
        return [item for item in items if item is not INVALID]

    def _tuple(self, node: yaml.Node, item_tps: tuple[Any, ...], what: str) -> Any:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != len(item_tps):
            self.error(node, f"{what or 'the file'} must be a list of {len(item_tps)} values")
            return INVALID
        items = [self.decode(n, t, what) for n, t in zip(node.value, item_tps, strict=True)]
        return INVALID if INVALID in items else tuple(items)

    def _dict(self, node: yaml.Node, value_tp: Any, what: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what or 'the file'} must be a mapping, not a {_node_kind(node)}")
            return INVALID
        result: dict[str, Any] = {}
        for key_node, value_node in self.pairs(node):
            key = str(self.scalar(key_node))
            value = self.decode(value_node, value_tp, _join(what, key))
            if value is not INVALID:
                result[key] = value
        return result

    def pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        self._constructor.flatten_mapping(node)  # YAML merge keys: <<: *template
        seen: dict[Any, yaml.Node] = {}
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, "keys must be plain words")
                continue
            key = self.scalar(key_node)
            if key in seen:
                first = self.pos(seen[key])
                self.error(key_node, f"duplicate key {key!r} (first at line {first.line})")
                continue
            seen[key] = key_node
            pairs.append((key_node, value_node))
        return pairs

    def _dataclass(self, node: yaml.Node, cls: type, what: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what or 'the file'} must be a mapping, not a {_node_kind(node)}")
            return INVALID
        shape = _shape(cls)
        fields = shape.fields
        values: dict[str, Any] = {}
        ok = True
        for key_node, value_node in self.pairs(node):
            key = str(self.scalar(key_node))
            field = fields.get(key)
            if field is None:
                self.error(
                    key_node,
                    f"unknown key {key!r} in {what or 'the file'}{did_you_mean(key, list(fields))}",
                )
                continue
            value = self.decode(value_node, shape.hints[field.name], _join(what, key))
            if value is INVALID:
                ok = False
            else:
                values[field.name] = value
        for key in shape.required:
            if ok and fields[key].name not in values:
                self.error(node, f"{what or 'the file'} needs the key {key!r}")
                ok = False
        if shape.has_pos:
            values["pos"] = self.pos(node)
        return cls(**values) if ok else INVALID


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()
"""What `Decoder.decode` returns for a value it could not use (the problem is recorded)."""


def _join(what: str, key: str) -> str:
    return f"{what}.{key}" if what else key


def yaml_key(field: dataclasses.Field[Any]) -> str:
    key: str = field.metadata.get("key", field.name)
    return key


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean 'co2'?)`` when a choice is close to `word`, else ``""``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_LIBYAML: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's loader on libyaml; PyYAML's own where it was built without it."""


def compose(path: Path) -> tuple[yaml.Node | None, list[Problem]]:
    """The YAML node tree of a file, or the syntax error as a problem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(Position(file, 1, 1), f"cannot read: {exc.strerror}")]
    return compose_text(text, file)


def compose_text(text: str, file: str) -> tuple[yaml.Node | None, list[Problem]]:
    """The YAML node tree of `text`, or the syntax error as a problem.

    libyaml (PyYAML's C parser, when PyYAML has it) parses: PyYAML's own parser, in Python,
    took most of the time of loading a large campus.yaml (bench/README.md, "Scale": "Start-up
    at the size of a district"). libyaml gives the same positions and tags; a plain scalar's
    style is ``""`` where PyYAML's parser gives None. Text libyaml refuses is parsed again by
    PyYAML's parser, whose messages name what it found (``expected ',' or ']', but got
    '<stream end>'``), so the problem reads the same either way.
    """
    try:
        try:
            node = yaml.compose(text, Loader=_LIBYAML)
        except yaml.YAMLError:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax: {exc.problem or exc.context}"
        return None, [Problem(Position(file, line, col), message)]
    except yaml.YAMLError as exc:
        return None, [Problem(Position(file, 1, 1), f"YAML: {exc}")]
    if node is None:
        return None, [Problem(Position(file, 1, 1), "the file is empty")]
    return node, []


def load(path: Path, schema: type[T]) -> tuple[T | None, list[Problem]]:
    """Decode a YAML file into `schema`; on any error the value is None and problems say why."""
    node, problems = compose(path)
    if node is None:
        return None, problems
    decoder = Decoder(str(path))
    value = decoder.decode(node, schema, "")
    if value is INVALID or decoder.problems:
        return None, decoder.problems
    return value, []


SCHEMA_HOOK = "json_schema_of"
"""A type that a custom Decoder reads (rules' expressions, `set:`) describes its own JSON Schema
with a classmethod of this name returning the schema dict; `json_schema` uses it as is."""


def json_schema(tp: Any, definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a type, dataclasses going to ``$defs``."""
    top = definitions is None
    defs: dict[str, Any] = {} if definitions is None else definitions
    schema = _schema_of(tp, defs)
    if top:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        if defs:
            schema["$defs"] = defs
    return schema


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is Any:
        return {}
    hook = getattr(tp, SCHEMA_HOOK, None) if isinstance(tp, type) else None
    if hook is not None:
        described: dict[str, Any] = hook()
        return described
    if origin is Located:
        return _schema_of(get_args(tp)[0], defs)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(o, defs) for o in get_args(tp)]}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin is list:
        return {"type": "array", "items": _schema_of(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(get_args(tp)[1], defs)}
    if origin is tuple:
        items = [_schema_of(t, defs) for t in get_args(tp)]
        return {
            "type": "array",
            "prefixItems": items,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}
            hints = typing.get_type_hints(tp)
            props: dict[str, Any] = {}
            required = []
            for f in dataclasses.fields(tp):
                if not f.init or f.name == "pos":
                    continue
                prop = _schema_of(hints[f.name], defs)
                if "doc" in f.metadata:
                    prop = {**prop, "description": f.metadata["doc"]}
                props[yaml_key(f)] = prop
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    required.append(yaml_key(f))
            body: dict[str, Any] = {"type": "object", "properties": props}
            if required:
                body["required"] = required
            body["additionalProperties"] = False
            if tp.__doc__ and not tp.__doc__.startswith(f"{name}("):
                body["description"] = " ".join(tp.__doc__.split())
            defs[name] = body
        return {"$ref": f"#/$defs/{name}"}
    if tp is Duration:
        return {
            "type": ["string", "number"],
            "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*)+$",
            "description": "seconds, or a duration like 30s, 2m, 1h30m",
        }
    if tp is type(None):
        return {"type": "null"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return {"type": simple[tp]}


def _type_name(tp: Any) -> str:
    if tp is Duration:
        return "a duration (30s, 2m, 1h30m)"
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "single value"
