"""A one-line stderr status for commands made of steps (data, plan, compare): the current step, the
elapsed time and, for a step of counted units, the count and an ETA measured on the units already
done (none before the first: nothing measured yet). Off when stderr is not a terminal or with
--no-progress; never written to stdout."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from tqdm import tqdm


def progress_enabled(no_progress: bool) -> bool:
    """The rule every command follows: a bar only on a terminal, and only without --no-progress."""
    return not no_progress and sys.stderr.isatty()


class Status:
    """`with Status(enabled, "plan") as st: st.step("loading data"); st.step("scoring", total=n); st.advance()`."""

    def __init__(self, enabled: bool, what: str):
        self.what, self.bar, self.stop = what, None, threading.Event()
        self.name, self.done = "", 0
        self.total: int | None = None
        self.t0 = self.t_last = time.perf_counter()
        if enabled:
            self.bar = tqdm(total=None, file=sys.stderr, bar_format="{desc} [{elapsed}]", dynamic_ncols=True)
            self.thread = threading.Thread(target=self._tick, daemon=True)
            self.thread.start()

    def __enter__(self) -> Status:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _tick(self) -> None:
        while not self.stop.wait(0.5):
            self._show()

    def _show(self) -> None:
        if self.bar is None:
            return
        text = f"{self.what}: {self.name}"
        if self.total:
            pace = (self.t_last - self.t0) / max(self.done, 1)  # seconds per unit, of the units done
            left = max(0.0, pace * (self.total - self.done) - (time.perf_counter() - self.t_last))
            eta = "ETA after the first" if self.done == 0 else "ETA " + tqdm.format_interval(left)
            text += f" {self.done}/{self.total} ({eta}, measured on the ones done)"
        self.bar.set_description_str(text, refresh=True)

    def step(self, name: str, total: int | None = None) -> None:
        """Start the step `name` (of `total` comparable units, if counted)."""
        self.name, self.total, self.done = name, total, 0
        self.t0 = self.t_last = time.perf_counter()
        self._show()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.t_last = time.perf_counter()
        self._show()

    def close(self) -> None:
        self.stop.set()
        if self.bar is not None:
            self.thread.join()
            self.bar.close()
            self.bar = None
