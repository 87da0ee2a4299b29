"""The device end of a pseudo-terminal: a serial line a driver opens like a USB adapter.

``os.openpty`` gives a master and a slave; the slave is set raw (no echo, no line editing) and
its path (``/dev/pts/N``) is what the driver opens; the device reads and writes the master. The
simulator keeps its own slave descriptor open so the pty lives while no driver has it open.

`unplug` closes both ends, as pulling the cable does: the driver's reads and writes fail and the
path disappears. `plug` makes a new pty; its ``/dev/pts`` number may differ, so a port that must
survive replugging is given a `link`: a symlink re-pointed at each plug (like a udev name in
/dev/serial/by-id/), removed while unplugged.
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, link: Path | None = None) -> None:
        self.link = link
        self.path = ""
        """The slave's /dev/pts path while plugged."""
        self._master = -1
        self._slave = -1

    @property
    def plugged(self) -> bool:
        return self._master >= 0

    @property
    def fd(self) -> int:
        """The master descriptor (to watch for readability)."""
        return self._master

    @property
    def device(self) -> str:
        """What a driver opens: the link if there is one, else the pts path."""
        return str(self.link) if self.link is not None else self.path

    def plug(self) -> None:
        if self.plugged:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self.link is not None:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            fresh = self.link.with_name(f".{self.link.name}.{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                fresh.unlink()
            fresh.symlink_to(self.path)
            fresh.replace(self.link)

    def unplug(self) -> None:
        if not self.plugged:
            return
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        self.path = ""

    def read(self) -> bytes:
        """What the host sent (b"" if nothing is there)."""
        if not self.plugged:
            return b""
        try:
            return os.read(self._master, 4096)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        """Send to the host; what does not fit in the line's buffer is lost, as on a real line
        nobody reads."""
        if self.plugged and data:
            with contextlib.suppress(OSError):
                os.write(self._master, data)
