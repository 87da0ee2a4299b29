"""campus/yamlmodel.py: YAML parsed by libyaml, read as PyYAML's own parser reads it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from campus.yamlmodel import compose_text

ROOT = Path(__file__).resolve().parents[2]

TRICKY = """\
# comment: æøå
site: {id: "skole-1", name: 'Bøler skole', timezone: Europe/Oslo}
base: &base {unit: °C, range: [-30, 60], stale_after: 10m}
points:
  temperature: {<<: *base, mqtt: {topic: "zigbee2mqtt/{building}-{room}"}}
  note: |
    two lines,
    ø at the end
  when: occupancy and co2 > 1000   # a plain scalar ends before the comment
  folded: >-
    a b
  times: [08:15-09:00, 17:00, 2026-12-07, 1_000, 0x1f, .inf, ~, yes, "on"]
"""


def nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    yield node
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from nodes(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from nodes(key)
            yield from nodes(value)


def described(node: yaml.Node) -> list[tuple[object, ...]]:
    """What the decoders read of each node: a plain scalar's style is None or ""."""
    return [
        (
            type(n).__name__,
            n.tag,
            n.value if isinstance(n, yaml.ScalarNode) else None,
            n.start_mark.line,
            n.start_mark.column,
            n.start_mark.index,
            n.end_mark.index,
            (n.style or None) if isinstance(n, yaml.ScalarNode) else n.flow_style,
        )
        for n in nodes(node)
    ]


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")
@pytest.mark.parametrize(
    "source",
    [
        pytest.param(TRICKY, id="tricky"),
        pytest.param((ROOT / "examples" / "campus.yaml").read_text(), id="campus.yaml"),
        *(
            pytest.param(path.read_text(), id=path.name)
            for path in sorted((ROOT / "examples" / "rules").glob("*.yaml"))
        ),
    ],
)
def test_libyaml_gives_the_tree_pyyamls_parser_gives(source: str) -> None:
    node, problems = compose_text(source, "f.yaml")
    assert not problems
    assert node is not None
    assert described(node) == described(yaml.compose(source, Loader=yaml.SafeLoader))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "a: [1,\n",
            "f.yaml:2:1: YAML syntax: expected the node content, but found '<stream end>'",
        ),
        ("a: b: c\n", "f.yaml:1:5: YAML syntax: mapping values are not allowed here"),
        (
            "a:\n  - x\n b: 2\n",
            "f.yaml:3:2: YAML syntax: expected <block end>, but found '<block mapping start>'",
        ),
        ("", "f.yaml:1:1: the file is empty"),
    ],
)
def test_syntax_errors_read_as_pyyamls_parser_words_them(text: str, problem: str) -> None:
    """libyaml says "did not find expected node content": the file is parsed again to say
    what was found."""
    node, problems = compose_text(text, "f.yaml")
    assert node is None
    assert [str(p) for p in problems] == [problem]
