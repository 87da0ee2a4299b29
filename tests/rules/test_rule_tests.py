"""`tests:` in rules files: the shipped examples pass, a failing step says expected/got/why."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import Campus
from controller.cli import main
from rules.loader import load_rules
from rules.testing import run_tests
from tests.conftest import EXAMPLES

Write = Callable[[str, str], Path]
RULES = """\
rules:
  - id: ventilate-stuffy-classrooms
    rooms: kind == "classroom"
    when: occupancy and co2 > 1000
    for: 2m
    until: co2 < 800 or not occupancy
    set:
      ventilation: 100
"""


def test_the_example_rules_pass_their_own_tests() -> None:
    campus = load_campus(EXAMPLES / "campus.yaml")
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    assert ruleset.problems == []
    results = run_tests(ruleset, campus)
    assert len(results) >= 8
    assert {Path(r.file).name for r in results} == {
        "air-quality.yaml",
        "lighting.yaml",
        "ventilation.yaml",
    }
    assert [r.report() for r in results if not r.passed] == []


def test_the_spec_example_passes(campus: Campus, write: Write) -> None:
    path = write(
        "r.yaml",
        RULES
        + """
tests:
  - name: stuffy occupied classroom gets air after two minutes
    room: b1.r101
    steps:
      - at: 0s
        readings: {occupancy: true, co2: 1100}
        expect: {ventilation: default}
      - at: 2m
        expect: {ventilation: 100}
      - at: 3m
        readings: {co2: 750}
        expect: {ventilation: default}
""",
    )
    (result,) = run_tests(load_rules([path], campus), campus)
    assert (result.passed, result.lines) == (True, [])


def test_a_failing_step_prints_expected_got_and_why(campus: Campus, write: Write) -> None:
    path = write(
        "r.yaml",
        RULES
        + """
tests:
  - name: too impatient
    steps:
      - at: 0s
        readings: {occupancy: true, co2: 1100}
      - at: 1m
        readings: {co2: 990}
      - at: 2m
        readings: {co2: 1100}
        expect: {ventilation: 100}
""",
    )
    (result,) = run_tests(load_rules([path], campus), campus)
    assert not result.passed
    assert result.report() == [
        f"FAIL {path}: too impatient",
        f"    {path}:19:31: step 3 (at 2m): ventilation: expected 100, got default (20)",
        "    why: relinquish default (slot 17): no rule or override holds b1.r101.ventilation",
        "    rule ventilate-stuffy-classrooms is pending since 2m (b1.r101.co2=1100 ppm)",
        "      `when` is true and must stay true 120s: until 2025-01-06 12:04:00",
        "      the `for: 120s` hold was reset at 2025-01-06 12:01:00: "
        "hold broken by b1.r101.co2=990 ppm",
    ]


def test_bad_names_in_tests_point_at_the_place(campus: Campus, write: Write) -> None:
    path = write(
        "r.yaml",
        RULES
        + """
tests:
  - name: typo in a reading
    steps:
      - at: 0s
        readings: {occupancy: true, co: 1100}
  - name: typo in an expectation
    steps:
      - at: 0s
        expect: {ventilaton: 100}
  - name: unknown rule
    steps:
      - at: 0s
        expect: {active: [ventilate-stuffy-classroom]}
""",
    )
    results = run_tests(load_rules([path], campus), campus)
    assert [r.lines[0] for r in results] == [
        f"{path}:14:41: readings: b1.r101 has no point 'co' (did you mean 'co2'?)",
        f"{path}:18:30: expect: b1.r101 has no actuator 'ventilaton' (did you mean 'ventilation'?)",
        f"{path}:22:26: active: no rule 'ventilate-stuffy-classroom' in this file "
        "(did you mean 'ventilate-stuffy-classrooms'?)",
    ]


def test_tests_run_against_their_own_files_rules_only(campus: Campus, write: Write) -> None:
    other = write(
        "other.yaml", "rules:\n  - id: lights\n    when: occupancy\n    set: {lights: on}\n"
    )
    mine = write(
        "mine.yaml",
        RULES + "tests:\n  - name: lights untouched here\n    steps:\n      - at: 0s\n"
        "        readings: {occupancy: true}\n        expect: {lights: default}\n",
    )
    (result,) = run_tests(load_rules([other, mine], campus), campus)
    assert result.passed, result.lines


def test_a_file_with_a_yaml_error_is_named_in_the_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its tests cannot be read: without the file in the summary, `N passed, 0 failed` and
    exit 1 said nothing of why."""
    config = EXAMPLES / "campus.yaml"
    for example in (EXAMPLES / "rules").glob("*.yaml"):
        shutil.copy(example, tmp_path)
    examples = len(run_tests(load_rules([tmp_path], load_campus(config)), load_campus(config)))
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES + "   bad: [\ntests:\n  - name: never read\n")
    code = main(["rules", "test", str(tmp_path), "--config", str(config)])
    *_, summary = capsys.readouterr().out.splitlines()
    assert code == 1
    assert summary == (
        f"{examples} passed, 0 failed, 1 file with errors ({broken}:9:4: YAML syntax: expected "
        f"<block end>, but found '<block mapping start>'), tests not run: {broken}"
    )


def test_the_summary_names_each_file_with_errors_by_its_first(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write("bad.yaml", "rules:\n  - {id: a, when: nope, set: {lights: on}}\n"
                "  - {id: b, when: nah, set: {lights: on}}\n")  # fmt: skip
    code = main(["rules", "test", str(bad), "--config", str(EXAMPLES / "campus.yaml")])
    *_, summary, hint = capsys.readouterr().out.splitlines()
    assert code == 1
    assert hint == "no tests: add tests: to the rules files (docs/rules.md)"
    assert summary == (
        f"0 passed, 0 failed, 1 file with errors ({bad}:2:19: unknown name 'nope', "
        "and 1 more error)"
    )
