"""A real Home Assistant core for the tests: installed once into a cached venv, started headless on
127.0.0.1 with template entities for one room, and given a token through its onboarding API.

Home Assistant needs Python >= 3.13 (the project runs on 3.11), so it lives in a venv of its own
under ``${CAMPUSCTL_CACHE:-~/.cache/campusctl}/homeassistant-venv``, built with ``uv`` when the
project venv has it (~30 s cold) or pip (~155 s), constrained by HA's own
package_constraints.txt, and reused while its stamp matches `REQUIREMENTS`. Without a Python
>= 3.13 the tests are skipped with `Unavailable`'s message.

Facts this follows (measured when it was written): on Python 3.13.0 the newest installable
release is homeassistant 2025.4.4 (later ones need >= 3.13.2), installed with its frontend
package, which it always loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hass_client import HomeAssistantClient

from tests.support.mosquitto import free_port

HA_VERSION = "2025.4.4"
"""The newest release that installs on Python 3.13.0 (later ones need 3.13.2)."""
REQUIREMENTS = (
    f"homeassistant=={HA_VERSION}",
    "home-assistant-frontend==20250411.0",
    "colorlog",
)
"""HA loads the frontend always: without it (and with --skip-pip) it boots in recovery mode."""
STAMP = "campusctl-requirements.txt"
STAMP_FORMAT = "# compiled: HA imports in ~1 s instead of ~5 s without .pyc files\n"
PASSWORD = "campusctl-tests-only"


class Unavailable(Exception):
    """Home Assistant cannot run on this machine; the message says why and what to do."""


def cache_root() -> Path:
    return Path(os.environ.get("CAMPUSCTL_CACHE") or Path.home() / ".cache" / "campusctl")


def find_python() -> Path | None:
    """A Python >= 3.13 (3.13 preferred: HA 2025.4 is not built for newer ones)."""
    candidates = [os.environ.get("CAMPUSCTL_HA_PYTHON", ""), "python3.13"]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    candidates += ["/usr/local/bin/python3.13", "/usr/bin/python3.13", "python3.14", "python3"]
    for candidate in filter(None, candidates):
        path = shutil.which(candidate)
        if path is None:
            continue
        check = subprocess.run(
            [path, "-c", "import sys; sys.exit(sys.version_info < (3, 13))"],
            capture_output=True,
            check=False,
        )
        if check.returncode == 0:
            return Path(path)
    return None


def ensure_installed() -> Path:
    """The Python of the cached Home Assistant venv, installing it first if needed."""
    venv = cache_root() / "homeassistant-venv"
    wanted = STAMP_FORMAT + "\n".join(REQUIREMENTS) + "\n"
    python = venv / "bin" / "python"
    if _stamp(venv) == wanted and python.exists():
        return python
    base = find_python()
    if base is None:
        raise Unavailable(
            "Home Assistant tests skipped: Home Assistant needs Python >= 3.13 and none was found "
            "(looked for $CAMPUSCTL_HA_PYTHON, python3.13 on PATH, ~/.pyenv/versions/3.13*). "
            "Install one (pyenv install 3.13 or apt install python3.13) or point "
            "CAMPUSCTL_HA_PYTHON at it."
        )
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / "homeassistant-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp(venv) == wanted and python.exists():
            return python
        started = time.monotonic()
        partial = venv.with_name(f"homeassistant-venv.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        _install(base, partial)
        (partial / STAMP).write_text(wanted)
        shutil.rmtree(venv, ignore_errors=True)
        partial.rename(venv)
        print(
            f"installed Home Assistant {HA_VERSION} into {venv} in "
            f"{time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )
    return python


def _stamp(venv: Path) -> str | None:
    try:
        return (venv / STAMP).read_text()
    except OSError:
        return None


def _install(base: Path, venv: Path) -> None:
    """HA first without its dependencies (to get its constraints file), then everything."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    python = venv / "bin" / "python"
    if uv is not None:
        _run([uv, "venv", "--quiet", "--python", str(base), str(venv)])
        pip = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
    else:
        _run([str(base), "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--no-deps", REQUIREMENTS[0]])
    site = next((venv / "lib").glob("python3.*/site-packages"))
    constraints = site / "homeassistant" / "package_constraints.txt"
    _run([*pip, "-c", str(constraints), *REQUIREMENTS])


def _run(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=False, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"installing Home Assistant failed: {' '.join(command)} exited with "
            f"{result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


CONFIGURATION = """\
homeassistant:
  name: campusctl tests
  latitude: 59.91
  longitude: 10.75
  elevation: 0
  unit_system: metric
  time_zone: Europe/Oslo
  currency: EUR
  country: "NO"
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
input_boolean:
  r101_online: {{name: R101 sensors online, initial: true}}
  r101_occupied: {{name: R101 occupied}}
  r101_light_on: {{name: R101 light on}}
  r101_fan_on: {{name: R101 fan on}}
  r101_heater_on: {{name: R101 heater on}}
  r101_plug_on: {{name: R101 plug on}}
input_number:
  r101_co2: {{name: R101 CO2, min: 0, max: 5000, step: 1}}
  r101_temperature: {{name: R101 temperature, min: -30, max: 60, step: 0.1}}
  r101_temperature_f: {{name: R101 temperature in F, min: -30, max: 140, step: 0.1}}
  r101_light_level: {{name: R101 light level, min: 0, max: 255, step: 1}}
  r101_fan_percentage: {{name: R101 fan, min: 0, max: 100, step: 1}}
  r101_blinds_position: {{name: R101 blinds, min: 0, max: 100, step: 1}}
template:
  - sensor:
      - name: r101_co2
        unique_id: r101_co2
        unit_of_measurement: ppm
        device_class: carbon_dioxide
        state: "{{{{ states('input_number.r101_co2') }}}}"
        availability: "{{{{ is_state('input_boolean.r101_online', 'on') }}}}"
      - name: r101_temperature
        unique_id: r101_temperature
        unit_of_measurement: "°C"
        device_class: temperature
        state: "{{{{ states('input_number.r101_temperature') }}}}"
      - name: r101_temperature_f
        unique_id: r101_temperature_f
        unit_of_measurement: "°F"
        state: "{{{{ states('input_number.r101_temperature_f') }}}}"
      - name: r101_noise
        unique_id: r101_noise
        unit_of_measurement: dB
        state: "41"
    binary_sensor:
      - name: r101_occupancy
        unique_id: r101_occupancy
        device_class: occupancy
        state: "{{{{ is_state('input_boolean.r101_occupied', 'on') }}}}"
    light:
      - name: r101_lights
        unique_id: r101_lights
        state: "{{{{ is_state('input_boolean.r101_light_on', 'on') }}}}"
        level: "{{{{ states('input_number.r101_light_level') | int }}}}"
        turn_on:
          - action: input_boolean.turn_on
            target: {{entity_id: input_boolean.r101_light_on}}
        turn_off:
          - action: input_boolean.turn_off
            target: {{entity_id: input_boolean.r101_light_on}}
        set_level:
          - action: input_number.set_value
            target: {{entity_id: input_number.r101_light_level}}
            data: {{value: "{{{{ brightness }}}}"}}
          - action: input_boolean.turn_on
            target: {{entity_id: input_boolean.r101_light_on}}
    switch:
      - name: r101_plug
        unique_id: r101_plug
        state: "{{{{ is_state('input_boolean.r101_plug_on', 'on') }}}}"
        turn_on:
          - action: input_boolean.turn_on
            target: {{entity_id: input_boolean.r101_plug_on}}
        turn_off:
          - action: input_boolean.turn_off
            target: {{entity_id: input_boolean.r101_plug_on}}
      - name: r101_heater
        unique_id: r101_heater
        state: "{{{{ is_state('input_boolean.r101_heater_on', 'on') }}}}"
        turn_on:
          - action: input_boolean.turn_on
            target: {{entity_id: input_boolean.r101_heater_on}}
        turn_off:
          - action: input_boolean.turn_off
            target: {{entity_id: input_boolean.r101_heater_on}}
fan:
  - platform: template
    fans:
      r101_ventilation:
        friendly_name: R101 ventilation
        value_template: "{{{{ states('input_boolean.r101_fan_on') }}}}"
        percentage_template: "{{{{ states('input_number.r101_fan_percentage') | int }}}}"
        turn_on:
          - action: input_boolean.turn_on
            target: {{entity_id: input_boolean.r101_fan_on}}
        turn_off:
          - action: input_boolean.turn_off
            target: {{entity_id: input_boolean.r101_fan_on}}
        set_percentage:
          - action: input_number.set_value
            target: {{entity_id: input_number.r101_fan_percentage}}
            data: {{value: "{{{{ percentage }}}}"}}
          - action: "input_boolean.turn_{{{{ 'on' if percentage > 0 else 'off' }}}}"
            target: {{entity_id: input_boolean.r101_fan_on}}
cover:
  - platform: template
    covers:
      r101_blinds:
        friendly_name: R101 blinds
        position_template: "{{{{ states('input_number.r101_blinds_position') | int }}}}"
        open_cover:
          - action: input_number.set_value
            target: {{entity_id: input_number.r101_blinds_position}}
            data: {{value: 100}}
        close_cover:
          - action: input_number.set_value
            target: {{entity_id: input_number.r101_blinds_position}}
            data: {{value: 0}}
        set_cover_position:
          - action: input_number.set_value
            target: {{entity_id: input_number.r101_blinds_position}}
            data: {{value: "{{{{ position }}}}"}}
climate:
  - platform: generic_thermostat
    name: r101_heating
    unique_id: r101_heating
    heater: switch.r101_heater
    target_sensor: sensor.r101_temperature
    min_temp: 7
    max_temp: 35
    target_temp: 20
    initial_hvac_mode: heat
"""
"""Room r101: sensors fed by input helpers the tests set, and devices that store their state in
helpers (so a restart restores it). A Home Assistant without ``default_config``, which would
load integrations that reach the internet."""

ENTITIES = (
    "sensor.r101_co2",
    "sensor.r101_temperature",
    "binary_sensor.r101_occupancy",
    "light.r101_lights",
    "fan.r101_ventilation",
    "cover.r101_blinds",
    "climate.r101_heating",
    "switch.r101_heater",
    "switch.r101_plug",
)
"""Entities the tests wait for before they start."""

CORE_NETWORK = {
    "version": 1,
    "minor_version": 1,
    "key": "core.network",
    "data": {"configured_adapters": ["lo"]},
}
"""Written before the first start, or HA's network helpers would use every interface."""


class HomeAssistant:
    """One Home Assistant process on 127.0.0.1 with the r101 configuration."""

    def __init__(self, python: Path, workdir: Path) -> None:
        self.python = python
        self.config = workdir / "config"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        storage = self.config / ".storage"
        storage.mkdir(parents=True, exist_ok=True)
        (storage / "core.network").write_text(json.dumps(CORE_NETWORK))
        (self.config / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))

    @property
    def log(self) -> Path:
        return self.config / "home-assistant.log"

    def start(self, within: float = 90.0) -> None:
        """Start HA and return once it runs with every entity of `ENTITIES` (onboard first)."""
        with open(self.config / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                [str(self.python), "-m", "homeassistant", "-c", str(self.config), "--skip-pip"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + within
        self._wait(deadline, "answers HTTP", lambda: self._get("/api/onboarding") is not None)
        if not self.token:
            self.token = self._onboard()
        self._wait(deadline, "is running", self._running)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait(self, deadline: float, what: str, ready: Any) -> None:
        while not ready():
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"Home Assistant exited ({self.process.returncode}): {self.tail()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"Home Assistant never {what}: {self.tail()}")
            time.sleep(0.1)

    def _running(self) -> bool:
        config = self._get("/api/config")
        if not isinstance(config, dict) or config.get("state") != "RUNNING":
            return False
        states = self._get("/api/states")
        present = {s["entity_id"] for s in states} if isinstance(states, list) else set()
        return present.issuperset(ENTITIES)

    def tail(self, lines: int = 30) -> str:
        """The end of HA's log, for failure messages."""
        try:
            return "\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {self.log})"

    # -- the onboarding API: a user, an access token, then a long-lived token ---------------

    def _onboard(self) -> str:
        client_id = f"{self.url}/"
        user = self._post(
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "campusctl",
                "username": "campusctl",
                "password": PASSWORD,
                "language": "en",
            },
        )
        form = {
            "grant_type": "authorization_code",
            "code": user["auth_code"],
            "client_id": client_id,
        }
        tokens = self._post("/auth/token", form, as_form=True)
        return asyncio.run(self._long_lived(tokens["access_token"]))

    async def _long_lived(self, access_token: str) -> str:
        """hass-client's own get_long_lived_token sends client_icon null, which HA 2025.4
        rejects; the same command with an icon works."""
        ws_url = f"ws://127.0.0.1:{self.port}/api/websocket"
        async with HomeAssistantClient(ws_url, access_token) as client:
            token = await client.send_command(
                "auth/long_lived_access_token",
                client_name=f"campusctl-tests-{time.time_ns()}",
                client_icon="mdi:school",
                lifespan=30,
            )
        assert isinstance(token, str)
        return token

    # -- REST helpers for the tests (the driver uses the websocket API) ---------------------

    def call(self, domain: str, service: str, **data: Any) -> None:
        """Call a service and wait for HA to have carried it out."""
        self._post(f"/api/services/{domain}/{service}", data)

    def state(self, entity: str) -> dict[str, Any]:
        state = self._get(f"/api/states/{entity}")
        if not isinstance(state, dict):
            raise AssertionError(f"Home Assistant has no entity {entity}")
        return state

    def set_number(self, entity: str, value: float) -> None:
        self.call("input_number", "set_value", entity_id=entity, value=value)

    def set_boolean(self, entity: str, on: bool) -> None:
        self.call("input_boolean", "turn_on" if on else "turn_off", entity_id=entity)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def _post(self, path: str, body: dict[str, Any], *, as_form: bool = False) -> Any:
        data = urllib.parse.urlencode(body).encode() if as_form else json.dumps(body).encode()
        kind = "application/x-www-form-urlencoded" if as_form else "application/json"
        request = urllib.request.Request(
            self.url + path, data, {**self._headers(), "Content-Type": kind}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"POST {path} -> {exc.code}: {exc.read().decode(errors='replace')}"
            ) from exc


@contextlib.contextmanager
def running_homeassistant(workdir: Path) -> Iterator[HomeAssistant]:
    """Install (once) and start Home Assistant; stop it on exit. Raises Unavailable."""
    ha = HomeAssistant(ensure_installed(), workdir)
    try:
        ha.start()
        yield ha
    finally:
        ha.stop()
