"""The campus.yaml examples of docs/serial.md and docs/campus-yaml.md load as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import SerialProtocol

DOCS = Path(__file__).resolve().parents[2] / "docs"
SITE = "site: {id: docs, name: Docs, timezone: Europe/Oslo}\n"


def yaml_blocks(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "serial" in b]


@pytest.mark.parametrize("name", ["serial.md", "campus-yaml.md"])
def test_serial_examples_load(name: str, tmp_path: Path) -> None:
    blocks = yaml_blocks(name)
    assert blocks
    for block in blocks:
        path = tmp_path / "campus.yaml"
        path.write_text(SITE + block)
        campus = load_campus(path)
        assert campus.serial_ports
        for port in campus.serial_ports.values():
            assert isinstance(port.protocol, SerialProtocol)
        bound = [p for p in campus.points().values() if p.serial is not None]
        assert bound, "the example binds points"
