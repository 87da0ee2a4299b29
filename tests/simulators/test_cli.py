"""`campusctl simulate` arguments and broker URLs (the broker run is in test_mqtt.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from campus.brokerurl import BrokerAddress, parse_broker_url
from simulators import cli
from simulators.world import World
from tests.simulators.factory import make_campus
from tests.support.campus_yaml import one_lesson_campus


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="campusctl simulate")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults() -> None:
    args = parse("--config", "campus.yaml")
    assert args.broker == "mqtt://127.0.0.1:1883"
    assert args.speed == 1.0
    assert args.start is None
    assert args.clock_anchor is None
    assert args.seed is None  # the scenario's seed, or 0 with --config
    assert args.duration is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
        ("mqtt://127.0.0.1", BrokerAddress("127.0.0.1", 1883)),
        ("127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884)),
        ("mqtt://sim:secret@127.0.0.1:2000", BrokerAddress("127.0.0.1", 2000, "sim", "secret")),
    ],
)
def test_broker_urls(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize("url", ["ws://127.0.0.1", "mqtt://:1883", "mqtt://h?ca=/ca.pem"])
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        parse_broker_url(url)


def test_bad_input_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "campus.yaml"
    rooms = "buildings: [{id: b1, rooms: [{id: r1, kind: classroom, capacity: 28, area: 60}]}]"
    config.write_text(one_lesson_campus("t", "T", rooms))
    assert cli.run(parse("--config", str(config), "--broker", "ws://127.0.0.1")) == 1
    assert cli.run(parse("--config", str(config), "--start", "next tuesday")) == 1
    assert cli.run(parse("--config", str(config), "--speed", "0")) == 1
    err = capsys.readouterr().err
    assert "ws://" in err
    assert "next tuesday" in err
    assert "speed" in err


def test_config_errors_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "campus.yaml"
    config.write_text(
        "site: {id: t, name: T, timezone: Europe/Oslo}\nbuildings:\n  - id: b1\n    romos: []\n"
    )
    assert cli.run(parse("--config", str(config))) == 1
    assert f"{config}:4:5: unknown key 'romos'" in capsys.readouterr().err


def test_summary_names_the_time_and_the_energy() -> None:
    world = World(make_campus(), seed=1, start=0.0)
    world.step(3600.0)
    text = cli.summary(world)
    assert text.startswith("1 room, simulated up to 1970-01-01 02:00; lighting 0.00 kWh")
    assert "heating" in text
