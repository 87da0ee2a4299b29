"""Fixtures shared by the whole suite: real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.mqtt.settings import FAST_PATH_ENV, fast_path_default
from tests.support.mosquitto import Broker, running_mosquitto

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fast_path: sets the MQTT fast path itself, so a run with "
        f"{FAST_PATH_ENV}=0 (paho's public API by default) has nothing new to try (.ci/run)",
    )


def pytest_report_header() -> str:
    default = "on" if fast_path_default() else f"off ({FAST_PATH_ENV}=0)"
    return f"MQTT fast path by default: {default}"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Mosquitto for the whole session (tests use their own topic prefixes)."""
    with running_mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto of the test's own, for tests that stop or restart it."""
    with running_mosquitto(tmp_path / "mosquitto") as b:
        yield b
