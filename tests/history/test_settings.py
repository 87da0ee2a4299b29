"""Configuration: --influx-* options, campus.yaml's history: section, INFLUX_TOKEN, defaults."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.model import Campus
from campus.problems import CampusError, ConfigError
from controller.cli import build_parser
from controller.history import Historian
from controller.history.settings import HistoryOptions, resolve_settings
from controller.service import build_controller, service_options
from rules.schema import RuleSet
from tests.history.helpers import CAMPUS


def options(*argv: str) -> HistoryOptions:
    args = build_parser().parse_args(["run", *argv])
    return service_options(args).history


def test_without_a_url_history_is_off_and_the_controller_says_so_once(
    make_campus: Callable[..., Campus], caplog: pytest.LogCaptureFixture
) -> None:
    campus = make_campus()
    with caplog.at_level(logging.INFO):
        controller = build_controller(campus, RuleSet(), VirtualClock(0), service_options(
            build_parser().parse_args(["run"])))  # fmt: skip
    assert not [e for e in controller.extensions if isinstance(e, Historian)]
    assert [r.getMessage() for r in caplog.records].count(
        "history off: no InfluxDB configured (--influx-url, or history: in campus.yaml)"
    ) == 1


def test_the_command_line_configures_a_v1_server(
    make_campus: Callable[..., Campus], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("campus:s3cret\n")
    argv = [
        "--influx-url", "http://127.0.0.1:8086/", "--influx-api-version", "1",
        "--influx-bucket", "school/one_year", "--influx-token-file", str(token),
        "--influx-deadband", "co2=10", "--influx-deadband", "temperature=0.2",
        "--influx-heartbeat", "2m", "--influx-spool-max-mb", "64",
        "--state", str(tmp_path / "st/x.db"),
    ]  # fmt: skip
    args = build_parser().parse_args(["run", *argv])
    controller = build_controller(make_campus(), RuleSet(), VirtualClock(0), service_options(args))
    [historian] = [e for e in controller.extensions if isinstance(e, Historian)]
    s = historian.settings
    assert (s.url, s.api_version, s.database, s.retention_policy) == (
        "http://127.0.0.1:8086", 1, "school", "one_year",
    )  # fmt: skip
    assert s.credentials == ("campus", "s3cret")
    assert "s3cret" not in repr(s)
    assert s.deadband == {"co2": 10.0, "temperature": 0.2}
    assert s.heartbeat == 120.0
    assert s.spool_max_bytes == 64 * 2**20
    assert s.spool == tmp_path / "st" / "history-spool-hist.sqlite"


def test_the_campus_file_section_with_paths_beside_it_and_options_on_top(
    make_campus: Callable[..., Campus], tmp_path: Path
) -> None:
    (tmp_path / "influx.token").write_text("from-file")
    campus = make_campus(extra="""\
history:
  url: https://influx.school.example:8086
  org: school
  bucket: campus
  token_file: influx.token
  heartbeat: 10m
  deadband: {co2: 25}
  spool: var/history.sqlite
  verify_tls: false
""")  # fmt: skip
    s = resolve_settings(HistoryOptions(), campus.history, "hist", base=tmp_path, env={})
    assert s is not None
    assert (s.url, s.org, s.bucket, s.api_version) == (
        "https://influx.school.example:8086", "school", "campus", 2,
    )  # fmt: skip
    assert (s.token, s.heartbeat, dict(s.deadband), s.verify_tls) == (
        "from-file",
        600,
        {"co2": 25},
        False,
    )
    assert s.spool == tmp_path / "var" / "history.sqlite"
    over = HistoryOptions(bucket="other", deadband={"co2": 5.0, "humidity": 1.0})
    s = resolve_settings(over, campus.history, "hist", base=tmp_path, env={"INFLUX_TOKEN": "env"})
    assert s is not None
    assert (s.bucket, s.token, dict(s.deadband)) == ("other", "env", {"co2": 5.0, "humidity": 1.0})


def test_the_token_file_option_wins_over_the_environment(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("file-token")
    given = HistoryOptions(url="http://127.0.0.1:8086", token_file=token)
    s = resolve_settings(given, None, "hist", env={"INFLUX_TOKEN": "env-token"})
    assert s is not None
    assert s.token == "file-token"
    s = resolve_settings(HistoryOptions(url="http://h:1"), None, "hist", env={"INFLUX_TOKEN": "e"})
    assert s is not None
    assert s.token == "e"
    assert s.spool == Path("var") / "history-spool-hist.sqlite"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (HistoryOptions(url="influx:8086"), "must look like http://host:8086"),
        (HistoryOptions(url="http://127.0.0.1:99999"), r"has a bad port \(Port out of range"),
        (HistoryOptions(url="http://127.0.0.1:80a6"), "has a bad port .*1 to 65535"),
        (HistoryOptions(url="http://127.0.0.1:0"), r"has a bad port \(port 0\): give a port"),
        (HistoryOptions(url="http://h:1", token_file=Path("/nonexistent/t")), "cannot read the"),
        (HistoryOptions(url="http://h:1", heartbeat=0), "heartbeat must be positive"),
        (HistoryOptions(url="http://h:1", spool_max_mb=0), "spool cap must be positive"),
        (HistoryOptions(url="http://h:1", ca_cert=Path("/nonexistent.pem")), "does not exist"),
        (HistoryOptions(url="http://h:1", api_version=3), "must be 1"),
    ],
)  # fmt: skip
def test_bad_settings_say_what_to_fix(given: HistoryOptions, message: str) -> None:
    with pytest.raises(CampusError, match=message):
        resolve_settings(given, None, "hist", env={})


def test_the_section_is_checked_with_positions(make_campus: Callable[..., Campus]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_campus(extra="history:\n  url: http://h:8086\n  buckett: x\n")
    [problem] = caught.value.problems
    lines = CAMPUS.count("\n")
    assert (problem.pos.line, problem.pos.col) == (lines + 3, 3)
    assert "unknown key 'buckett' in history (did you mean 'bucket'?)" in problem.message


@pytest.mark.parametrize(
    "argv",
    [["--influx-deadband", "co2"], ["--influx-deadband", "co2=-1"], ["--influx-heartbeat", "5x"],
     ["--influx-api-version", "3"]],
)  # fmt: skip
def test_bad_options_are_refused_by_the_parser(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        options(*argv)
