"""docs/rules.schema.json is generated from the loader's dataclasses and shipped as is."""

from __future__ import annotations

import json

from controller.rulescmd import rules_schema
from tests.conftest import ROOT


def test_shipped_schema_equals_the_generated_one() -> None:
    shipped = json.loads((ROOT / "docs" / "rules.schema.json").read_text(encoding="utf-8"))
    assert shipped == rules_schema(), (
        "regenerate: .venv/bin/campusctl rules schema > docs/rules.schema.json"
    )


def test_schema_describes_the_custom_types() -> None:
    defs = rules_schema()["$defs"]
    assert isinstance(defs, dict)
    rule = defs["RuleSection"]["properties"]
    assert rule["when"]["type"] == ["string", "boolean", "number"]
    assert rule["set"]["additionalProperties"] == {"type": ["string", "boolean", "number"]}
    assert "for" in rule
    assert "hold" not in rule
    step = defs["StepSection"]["properties"]
    assert step["expect"]["anyOf"][0]["properties"]["active"]["type"] == "array"
