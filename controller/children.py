"""Child processes the demo starts (the broker, the simulator) never outlive campusctl.

They run in their own session so that Ctrl-C reaches only campusctl, which stops them in order;
if campusctl itself is killed outright, Linux's parent-death signal stops them too.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None
"""Looked up once in the parent: between fork and exec only the call itself runs."""


def die_with_parent() -> None:
    """For `preexec_fn`: ask the kernel to send SIGTERM when the parent process exits."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def stop_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL; returns once it has exited."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
