"""Claims on the runs of a shared cache: one trainer per run across sweeps and nodes, judged by a heartbeat.

Before training run <key>, a worker creates `<cache>/<key>.lease` (O_CREAT | O_EXCL: one winner),
holding its token, host and pid, and renews it (mtime) every HEARTBEAT_S while it trains, along with
its partial directory. Another sweep that needs the same run finds the lease and waits for the run to
be published instead of training it again. A lease is stale, and may be broken, when it has not been
renewed for LEASE_S (its holder died, on any node: judged by the filesystem's clock, as NFS sets
mtimes, so clocks need agree only to well within LEASE_S), or at once when its holder ran on this very
host and boot and its pid is dead. Partial directories are removed by the same rule (never by a pid
alone, which means nothing on another node).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nlbound.training.rundir import pid_alive, process_token

__all__ = ["HEARTBEAT_S", "LEASE_S", "Lease", "claim", "holder_alive", "host_id", "lease_path"]

HEARTBEAT_S = 5.0  # how often a holder renews its lease and partial directory
LEASE_S = 120.0  # unrenewed this long: stale (>> HEARTBEAT_S, and >> clock skew between nodes)
WAIT_S = 2.0  # how often a waiting sweep looks again


def host_id() -> str:
    """This host and boot: a pid can be checked only where this matches (/proc's boot id on Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "?"
    return f"{socket.gethostname()}/{boot}"


def lease_path(cache: str | os.PathLike, key: str) -> Path:
    return Path(cache) / f"{key}.lease"


def _read(path: Path) -> tuple[dict, float] | None:
    """(holder, age in seconds) of a lease file, or None if there is none; a damaged file is a holder {}."""
    try:
        st = path.stat()
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return {}, 0.0
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        holder = {}  # being written right now, or damaged: judged by its age alone
    return (holder if isinstance(holder, dict) else {}), time.time() - st.st_mtime


def _stale(holder: dict, age: float) -> bool:
    if age > LEASE_S:
        return True
    pid = holder.get("pid")
    return holder.get("host") == host_id() and isinstance(pid, int) and not pid_alive(pid)


def holder_alive(cache: str | os.PathLike, key: str, token: str) -> bool:
    """Whether the lease of run `key` is held, not stale, by the process of `token`."""
    found = _read(lease_path(cache, key))
    return found is not None and found[0].get("token") == token and not _stale(*found)


class Lease:
    """A held lease on one run; `beat(partial)` renews it (and the partial directory) in a thread."""

    def __init__(self, path: Path):
        self.path, self.token = path, process_token()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump({"token": self.token, "host": host_id(), "pid": os.getpid()}, fh)
        return True

    def beat(self, *also: Path) -> None:
        def renew() -> None:
            while not self._stop.wait(HEARTBEAT_S):
                for p in (self.path, *also):
                    try:
                        os.utime(p)
                    except OSError:
                        pass

        self._thread = threading.Thread(target=renew, daemon=True, name="nlbound-lease")
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        found = _read(self.path)
        if found is not None and found[0].get("token") == self.token:
            self.path.unlink(missing_ok=True)


def _break(path: Path, seen: dict) -> None:
    """Remove a stale lease: renamed aside first (one breaker wins), then removed; a lease renewed or
    replaced in between (another holder's) is put back."""
    aside = path.with_name(f"{path.name}.stale-{process_token()}")
    try:
        os.rename(path, aside)
    except OSError:
        return
    found = _read(aside)
    if found is not None and (found[0] != seen or not _stale(*found)):
        try:
            os.link(aside, path)  # not the stale lease we judged: give it back (unless one exists again)
        except OSError:
            pass
    aside.unlink(missing_ok=True)


def claim(cache: str | os.PathLike, key: str, done: Callable[[], bool]) -> Lease | None:
    """The lease on run `key`, once this process holds it and the run is still not `done()`; None as soon
    as the run is done (published by another sweep, waited for here: never trained twice)."""
    path, told = lease_path(cache, key), False
    while True:
        if done():
            return None
        lease = Lease(path)
        if lease.try_acquire():
            if done():  # published between our look and our claim
                lease.release()
                return None
            return lease
        found = _read(path)
        if found is not None and _stale(*found):
            _break(path, found[0])
            continue
        if not told and found is not None:
            holder = found[0]
            print(f"nlbound: run {key[:12]} is being trained by another sweep (host {holder.get('host', '?')}, "
                  f"pid {holder.get('pid', '?')}): waiting for it", file=sys.stderr, flush=True)
            told = True
        time.sleep(WAIT_S)
