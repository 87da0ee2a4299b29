"""What every benchmark shares: the machine it ran on, a progress bar, the JSON it writes."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
CACHE = REPO / ".cache" / "bench"


def machine() -> dict[str, Any]:
    """Cores, CPU model and Python: the context every figure needs."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_1min": os.getloadavg()[0],
    }


def write_json(path: str | Path | None, figures: dict[str, Any]) -> None:
    if path is None:
        return
    data = {**figures, "machine": machine(), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


class Progress:
    """A one-line progress bar on stderr, redrawn in place on a terminal; elsewhere (a log, CI)
    a plain line every tenth of the way."""

    def __init__(self, total: float, label: str = "", stream: TextIO | None = None) -> None:
        self.total = max(total, 1e-9)
        self.label = label
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._shown = ""
        self._tenth = -1
        self._began = time.monotonic()

    def update(self, done: float, note: str = "") -> None:
        fraction = min(1.0, max(0.0, done / self.total))
        width = 30
        filled = round(width * fraction)
        elapsed = time.monotonic() - self._began
        bar = f"[{'#' * filled}{'.' * (width - filled)}]"
        text = f"{self.label} {bar} {fraction * 100:3.0f}% {elapsed:5.0f} s {note}"
        if self.live:
            if text != self._shown:
                self._shown = text
                self.stream.write("\r" + text.ljust(100)[:140])
                self.stream.flush()
        elif int(fraction * 10) > self._tenth:
            self._tenth = int(fraction * 10)
            self.stream.write(text.rstrip() + "\n")
            self.stream.flush()

    def done(self) -> None:
        self.update(self.total)
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
