"""What a running train() tells and takes from outside: SIGTERM as KeyboardInterrupt, signals held
while a run directory is published, the heartbeat file a runner reads, the progress bar."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from nlbound._io import atomic_write_json

__all__ = ["Heartbeat", "progress_bar", "signals_blocked", "sigterm_as_interrupt"]


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt while a run is written (main thread only; restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_blocked():
    """SIGINT and SIGTERM held back (delivered on exit) while the run directory is published."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Heartbeat:
    """Writes the current t to options.progress_file (atomically, at most every 0.5 s), so a
    supervising process (execution.runner) can show the progress of running runs."""

    def __init__(self, path, t_end: float):
        self.path, self.t_end, self.last = (Path(path) if path is not None else None), t_end, -math.inf

    def __call__(self, t: float) -> None:
        now = time.perf_counter()
        if self.path is not None and now - self.last >= 0.5:
            self.last = now
            atomic_write_json(self.path, {"t": float(t), "t_end": self.t_end})

    def close(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def progress_bar(enabled: bool, total: float):
    """train()'s progress bar on stderr (in units of t), or None when disabled."""
    if not enabled:
        return None

    return tqdm(total=total, unit="t", file=sys.stderr, mininterval=0.5,
                bar_format="{l_bar}{bar}| t={n:.3g}/{total:.3g} [{elapsed}<{remaining}]")
