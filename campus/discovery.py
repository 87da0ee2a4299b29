"""Finding campusctl controllers and MQTT brokers without configuration: mDNS / DNS-SD (zeroconf).

A controller advertises ``_campusctl._tcp.local.`` with TXT records naming its site, its broker
URL and its control-plane topic prefix; tools (`campusctl discover`, `campusctl tui`) browse for
those and for ``_mqtt._tcp.local.`` brokers. This module is the shared vocabulary for both sides
(the controller advertises with it, the TUI browses with it), so it imports only zeroconf.

Interfaces are always explicit: zeroconf's own default is every interface, which on a
development machine or in tests would send mDNS onto the real network. `LOOPBACK` is the
default here; an operator names an interface (``eth0``), an address, or ``all`` on purpose.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from campus import wire
from campus.brokerurl import parse_broker_url
from campus.problems import CampusError

CONTROLLER_TYPE = "_campusctl._tcp.local."
MQTT_TYPE = "_mqtt._tcp.local."
LOOPBACK: tuple[str, ...] = ("127.0.0.1",)
"""The default interfaces: this machine only."""
TXT_VERSION = "1"

Interfaces = list[str] | InterfaceChoice


@dataclass(frozen=True, slots=True)
class ControllerService:
    """A campusctl controller as its advertisement describes it."""

    name: str
    site: str
    broker: str
    """The broker URL the controller uses (no credentials)."""
    prefix: str
    """Its control-plane topic prefix, ``campusctl/<site>/``."""
    addresses: tuple[str, ...]
    host: str


@dataclass(frozen=True, slots=True)
class BrokerService:
    """An MQTT broker that advertises itself (``_mqtt._tcp``)."""

    name: str
    addresses: tuple[str, ...]
    port: int
    host: str

    @property
    def url(self) -> str:
        host = self.addresses[0] if self.addresses else self.host.rstrip(".")
        return f"mqtt://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Found:
    controllers: list[ControllerService]
    brokers: list[BrokerService]


def resolve_interfaces(names: Sequence[str]) -> Interfaces:
    """Interface names (``eth0``), IPv4 addresses or ``all`` -> what zeroconf takes.

    Nothing given means `LOOPBACK`. Raises CampusError naming the interfaces that exist.
    """
    if not names:
        return list(LOOPBACK)
    if "all" in names:
        return InterfaceChoice.All
    adapters = {a.nice_name: a for a in ifaddr.get_adapters()}
    addresses: list[str] = []
    for name in names:
        try:
            addresses.append(str(ipaddress.IPv4Address(name)))
            continue
        except ValueError:
            pass
        adapter = adapters.get(name)
        ipv4 = [str(ip.ip) for ip in adapter.ips if ip.is_IPv4] if adapter else []
        if not ipv4:
            known = ", ".join(sorted(adapters)) or "none"
            raise CampusError(
                f"discovery interface {name!r} has no IPv4 address or does not exist "
                f"(interfaces here: {known}); give an interface name, an IPv4 address or 'all'"
            )
        addresses.extend(ipv4)
    return addresses


def controller_service(
    site: str, broker_url: str, interfaces: Interfaces, hostname: str | None = None
) -> ServiceInfo:
    """The advertisement of the controller of `site` that uses the broker at `broker_url`.

    The SRV port is the broker's (campusctl itself listens on no port); the TXT ``broker`` is
    what clients should use: its scheme, host and port only (never credentials or key files),
    with a loopback host replaced by the advertised address when advertising beyond this
    machine.
    """
    host = _host_label(hostname or socket.gethostname())
    addresses = _advertised_addresses(interfaces)
    broker = parse_broker_url(broker_url)
    broker_host = broker.host
    if _is_local(broker_host) and addresses and not ipaddress.ip_address(addresses[0]).is_loopback:
        broker_host = addresses[0]
    properties = {
        "txtvers": TXT_VERSION,
        "site": site,
        "broker": str(dataclasses.replace(broker, host=broker_host)),
        "prefix": f"{wire.Topics(site).base}/",
    }
    instance = f"campusctl {site} on {host}"[:63]
    return ServiceInfo(
        CONTROLLER_TYPE,
        f"{instance}.{CONTROLLER_TYPE}",
        port=broker.port,
        properties=properties,
        server=f"{host}.local.",
        addresses=[socket.inet_aton(a) for a in addresses],
    )


def broker_service(name: str, port: int, interfaces: Interfaces) -> ServiceInfo:
    """An ``_mqtt._tcp`` advertisement, as Avahi would publish for a broker on this host."""
    host = _host_label(socket.gethostname())
    return ServiceInfo(
        MQTT_TYPE,
        f"{name[:63]}.{MQTT_TYPE}",
        port=port,
        server=f"{host}.local.",
        addresses=[socket.inet_aton(a) for a in _advertised_addresses(interfaces)],
    )


def open_zeroconf(interfaces: Interfaces) -> AsyncZeroconf:
    """An AsyncZeroconf on exactly `interfaces` (IPv4). Raises OSError if mDNS cannot bind."""
    return AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)


class Advertiser:
    """Advertises services while inside ``async with``; leaving sends goodbyes and closes."""

    def __init__(self, interfaces: Interfaces | None = None) -> None:
        self.interfaces = list(LOOPBACK) if interfaces is None else interfaces
        self._zc: AsyncZeroconf | None = None

    async def __aenter__(self) -> Advertiser:
        self._zc = open_zeroconf(self.interfaces)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        zc, self._zc = self._zc, None
        if zc is not None:
            await zc.async_close()

    async def register(self, info: ServiceInfo) -> None:
        """Announce `info` (probing for a name clash first takes ~1.7 s; a clash renames it)."""
        if self._zc is None:
            raise CampusError("Advertiser.register needs `async with Advertiser(...)` first")
        await (await self._zc.async_register_service(info, allow_name_change=True))


class Browser:
    """Keeps `controllers` and `brokers` up to date while inside ``async with``.

    `changed` is set whenever either changes (clear it after reading): a TUI can wait on it.
    """

    def __init__(self, interfaces: Interfaces | None = None, resolve_timeout: float = 3.0):
        self.interfaces = list(LOOPBACK) if interfaces is None else interfaces
        self.resolve_timeout = resolve_timeout
        self.controllers: dict[str, ControllerService] = {}
        self.brokers: dict[str, BrokerService] = {}
        self.changed = asyncio.Event()
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Browser:
        self._zc = open_zeroconf(self.interfaces)
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, [CONTROLLER_TYPE, MQTT_TYPE], handlers=[self._on_change]
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
        self._browser = self._zc = None

    def found(self) -> Found:
        return Found(
            sorted(self.controllers.values(), key=lambda c: c.name),
            sorted(self.brokers.values(), key=lambda b: b.name),
        )

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            if self.controllers.pop(name, None) or self.brokers.pop(name, None):
                self.changed.set()
            return
        task = asyncio.get_running_loop().create_task(self._resolve(zeroconf, service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, self.resolve_timeout * 1000):
            return
        addresses = tuple(info.parsed_addresses(IPVersion.V4Only))
        instance = name.removesuffix(f".{service_type}")
        host = info.server or ""
        if service_type == CONTROLLER_TYPE:
            txt = {
                key.decode(errors="replace"): (value or b"").decode(errors="replace")
                for key, value in info.properties.items()
            }
            site = txt.get("site", "")
            self.controllers[name] = ControllerService(
                instance,
                site,
                txt.get("broker", ""),
                txt.get("prefix", f"{wire.Topics(site).base}/"),
                addresses,
                host,
            )
        else:
            self.brokers[name] = BrokerService(instance, addresses, info.port or 1883, host)
        self.changed.set()


async def browse(seconds: float = 3.0, interfaces: Interfaces | None = None) -> Found:
    """Everything advertised within `seconds` (wall clock: mDNS answers take real time)."""
    async with Browser(interfaces) as browser:
        await asyncio.sleep(seconds)
        return browser.found()


def _advertised_addresses(interfaces: Interfaces) -> list[str]:
    if isinstance(interfaces, list):
        return interfaces
    return [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not ipaddress.IPv4Address(ip.ip).is_loopback
    ]


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _host_label(hostname: str) -> str:
    """A DNS label for the ``.local.`` host name: ``Lab PC.campus`` -> ``Lab-PC``."""
    label = re.sub(r"[^A-Za-z0-9-]", "-", hostname.split(".", maxsplit=1)[0]).strip("-")
    return label[:63] or "campusctl"
