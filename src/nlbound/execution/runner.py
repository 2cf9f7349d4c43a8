"""Cached runner: every run lives under its TrainConfig hash; finished runs are never recomputed.

A run trains into `<cache>/<key>.partial-<token>` (token: rundir.process_token) and is renamed to
`<cache>/<key>` (the one layout, nlbound.training.rundir.run_dir) only once it finished: an interrupted
sweep resumes with the runs it had not finished, and runs shared between figures are trained once. A
cached directory is used only if it passes nlbound.training.rundir.read_run (status complete, row count
= recorded, finite cells, config = key); a damaged one is reported with its path and the reason, and
retrained; a stray file at a run's path is set aside (`<key>.stray-<token>`) with a warning, never
deleted, never fatal. Two sweeps may share a cache, on one node or several: a run is trained under a
lease (nlbound.execution.lease), which the other sweep waits on instead of training the run again,
and a leftover partial directory is removed only once no live lease of its token holds it (a
heartbeat, not a pid). While runs train, the progress bar follows each one's t (progress files
`<key>.partial-<token>.progress` written by train()).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from nlbound.execution.backends import LocalBackend
from nlbound.execution.execute import (
    RUNNER_FILE,
    TrainFn,
    cached_run_problem,
    default_train,
    set_aside_stray,
)
from nlbound.execution.lease import holder_alive
from nlbound.training.rundir import TOKEN_PATTERN, run_dir


def dedupe(configs: Iterable[Any]) -> list[Any]:
    """Configs in first-seen order, one per cache key."""
    seen: dict[str, Any] = {}
    for c in configs:
        seen.setdefault(c.key(), c)
    return list(seen.values())


def is_done(cache_dir: str | os.PathLike, config: Any) -> bool:
    return cached_run_problem(cache_dir, config) is None


# also ".<key>.partial-<token>....<random>.tmp": an atomic write (nlbound._io) the dead process never renamed
_PARTIAL = re.compile(rf"^\.?([0-9a-f]{{64}})\.partial-({TOKEN_PATTERN})(\..*)?$")


def clean_partials(cache_dir: str | os.PathLike) -> None:
    """Remove what interrupted runs left behind (`<key>.partial-<token>*`, and the hidden temporary file of
    an atomic write it was killed in, `.<key>.partial-<token>*.tmp`) once no live lease of that token
    holds run <key> (nlbound.execution.lease: renewed within LEASE_S, on any node): never a finished
    run, never the partial run of a live sweep sharing the cache, never a name without a token."""
    cache = Path(cache_dir)
    if not cache.is_dir():
        return
    for p in cache.iterdir():
        match = _PARTIAL.match(p.name)
        if match and not holder_alive(cache, match.group(1), match.group(2)):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def run_all(
    configs: Sequence[Any],
    cache_dir: str | os.PathLike,
    *,
    train_fn: TrainFn | None = None,
    processes: int | None = None,
    data_dir: str | None = None,
    progress: bool = True,
    cost: Callable[[Any], float] | None = None,
    backend: Any = None,
) -> dict[str, Path]:
    """Make sure every config has a finished run in the cache; return {key: run directory}.

    Runs are deduplicated by key, already finished ones are skipped, the rest are trained
    longest-first (by `cost`, also the unit of the progress bar's ETA) by `backend` (an object of
    nlbound.execution.backends: LocalBackend, RayBackend; default LocalBackend(processes), with
    processes 2 unless given; 1: in this process; giving both is a ValueError). KeyboardInterrupt
    stops the sweep; finished runs stay cached.
    """
    if backend is not None and processes is not None:
        raise ValueError("run_all: give processes or backend, not both")
    backend = backend or LocalBackend(2 if processes is None else processes)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    clean_partials(cache)
    unique = dedupe(configs)
    cost = cost or (lambda c: 1.0)
    for c in unique:
        set_aside_stray(run_dir(cache, c))
    pending = sorted((c for c in unique if _needs_training(cache, c)), key=cost, reverse=True)
    train_fn = train_fn or default_train
    bar = _Progress(cache, len(unique), {c.key(): cost(c) for c in pending},
                    progress and sys.stderr.isatty())  # a bar only on a terminal
    try:
        backend.execute(pending, train_fn, str(cache), data_dir, _Report(bar))
    finally:
        bar.close()
    return {c.key(): run_dir(cache, c) for c in unique}


def _needs_training(cache: Path, config: Any) -> bool:
    """True unless the cache holds a usable run; a damaged one is reported (path and reason)."""
    problem = cached_run_problem(cache, config)
    if problem is not None and run_dir(cache, config).exists():
        print(f"nlbound: cached run unusable, retraining it: {problem}", file=sys.stderr)
    return problem is not None


class _Progress:
    """Overall progress in units of estimated cost: finished runs count fully, running ones by the
    fraction t / t_end they reached (read from their progress files once a second, in a thread).
    ETA: none until a first run has finished (nothing measured yet), then the wall time so far times
    the estimated cost left over the estimated cost of the finished runs (the measured pace, with
    the cost model only weighing runs against each other)."""

    def __init__(self, cache: Path, total_runs: int, costs: dict[str, float], enabled: bool):
        self.cache, self.costs, self.total_runs = cache, dict(costs), total_runs
        self.runs_done = total_runs - len(costs)
        self.done_cost = 0.0
        self.finished = 0  # runs finished by this invocation (the ETA's measurements)
        self.start = time.perf_counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.bar = None
        if enabled and costs:
            self.bar = tqdm(total=float(sum(costs.values())) or 1.0, unit="cost", file=sys.stderr,
                            dynamic_ncols=True, smoothing=0, desc=f"runs {self.runs_done}/{total_runs}",
                            bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}] {postfix}")
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()

    def eta(self) -> str:
        """The ETA text (see the class doc)."""
        if self.finished == 0 or self.done_cost <= 0:
            return "ETA after the first run finishes"
        left = sum(self.costs.values())
        secs = (time.perf_counter() - self.start) * left / self.done_cost

        return f"ETA {tqdm.format_interval(secs)} (pace of the {self.finished} run{'s' * (self.finished > 1)} finished)"

    def running_fractions(self) -> dict[str, float]:
        """{key: t / t_end} of the pending runs whose trainer reports progress."""
        out = {}
        for f in self.cache.glob("*.partial-*.progress"):
            key = f.name.split(".", 1)[0]
            if key in self.costs:
                try:
                    p = json.loads(f.read_text())
                    out[key] = min(1.0, max(0.0, float(p["t"]) / float(p["t_end"])))
                except (OSError, ValueError, KeyError, ZeroDivisionError):
                    continue  # written or removed just now: next poll
        return out

    def _poll(self) -> None:
        while not self.stop.wait(1.0):
            self.refresh()

    def refresh(self) -> None:
        if self.bar is None:
            return
        fractions = self.running_fractions()
        with self.lock:
            value = self.done_cost + sum(self.costs[k] * f for k, f in fractions.items())
            value = min(value, self.bar.total)
            self.bar.set_description_str(f"runs {self.runs_done}/{self.total_runs}, running {len(fractions)}",
                                         refresh=False)
            self.bar.set_postfix_str(self.eta(), refresh=False)
            self.bar.update(max(0.0, value - self.bar.n))  # never backwards, never past the total

    def done(self, key: str) -> None:
        with self.lock:
            self.runs_done += 1
            self.finished += 1
            self.done_cost += self.costs.pop(key)
        self.refresh()

    def close(self) -> None:
        self.stop.set()
        if self.bar is not None:
            self.thread.join()
            self.bar.close()


class _Report:
    """What a backend reports to the progress bar (nlbound.execution.backends.Report)."""

    def __init__(self, bar: _Progress):
        self.bar = bar

    def done(self, config: Any, wall: float) -> None:
        self.bar.done(config.key())


def run_walls(dirs: Iterable[Path]) -> dict[str, float]:
    """Wall seconds each cached run took to train (from the runner's own record)."""
    out = {}
    for d in dirs:
        f = Path(d) / RUNNER_FILE
        if f.exists():
            out[Path(d).name] = float(json.loads(f.read_text())["wall_s"])
    return out
