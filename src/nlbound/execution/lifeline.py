"""Worker processes that die with their driver: no training goes on, and no idle worker stays, once it is gone.

A local worker (LocalBackend's spawned processes) calls `die_with_parent()` in its initialiser:
- Linux: prctl(PR_SET_PDEATHSIG, SIGTERM), so the kernel sends SIGTERM the moment the driver dies
  (SIGKILL included); train() turns SIGTERM into an interrupted run, the runner drops the partial.
- Everywhere: a watchdog thread that notices the parent pid change (the driver died; also the race of a
  driver dying before prctl), sends the same SIGTERM, and ends the process GRACE_S later if it is still
  there (a worker that finished its run and would idle on a queue nobody writes to).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

__all__ = ["GRACE_S", "POLL_S", "die_with_parent"]

POLL_S = 0.5  # how often the watchdog looks at the parent pid
GRACE_S = 10.0  # from SIGTERM to os._exit: time for train() to write its run as interrupted
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _pdeathsig(sig: int) -> bool:
    """Ask the kernel to send `sig` when the parent dies (Linux only); True if it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this process end when its parent, the driver of pid `parent` (os.getpid() there, passed
    down), does (module docstring). Call once, in the child."""
    _pdeathsig(signal.SIGTERM)
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="nlbound-lifeline").start()
