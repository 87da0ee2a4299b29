"""The examples in docs/rules.md load against the demo campus, and the full one passes its test."""

from __future__ import annotations

import re
from pathlib import Path

from campus.config import load_campus
from rules.loader import load_rules
from rules.testing import run_tests
from tests.conftest import EXAMPLES, ROOT

BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def test_every_rules_example_in_the_reference_loads(tmp_path: Path) -> None:
    campus = load_campus(EXAMPLES / "campus.yaml")
    blocks = BLOCK.findall((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    checked = 0
    for index, block in enumerate(blocks):
        if "id:" not in block:
            continue
        text = block if block.startswith("rules:") else "rules:\n" + block
        path = tmp_path / f"example{index}.yaml"
        path.write_text(text, encoding="utf-8")
        ruleset = load_rules([path], campus)
        assert ruleset.errors == [], f"block {index}:\n{block}"
        assert ruleset.rules, f"block {index} loads no rule"
        for result in run_tests(ruleset, campus):
            assert result.passed, result.report()
        checked += 1
    assert checked >= 3
