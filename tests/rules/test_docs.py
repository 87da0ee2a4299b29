"""The examples in docs/rules.md load against the demo campus, and the full one passes its test;
the rules commands' help says what their arguments are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campus.config import load_campus
from controller.cli import main
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


@pytest.mark.parametrize("action", ["check", "test", "replay"])
def test_the_help_says_what_the_paths_and_config_are(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["rules", action, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "PATH a rules file, or a folder of them (its *.yaml and *.yml files" in text
    assert "--config CAMPUS_YAML the campus whose rooms, points and actuators the rules" in text
    assert f"(default: the demo campus, {EXAMPLES / 'campus.yaml'})" in text
