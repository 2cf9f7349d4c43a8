"""Cached runner: every run lives under its TrainConfig hash; finished runs are never recomputed.

A run trains into `<cache>/<key>.partial-<pid>` and is renamed to `<cache>/<key>` only once it
finished, so a directory named by the key is always complete: an interrupted sweep resumes with
the runs it had not finished, and runs shared between figures are trained once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from nlbound._io import atomic_write_json

TrainFn = Callable[[Any, Path, "str | None"], None]
RUNNER_FILE = "runner.json"


def dedupe(configs: Iterable[Any]) -> list[Any]:
    """Configs in first-seen order, one per cache key."""
    seen: dict[str, Any] = {}
    for c in configs:
        seen.setdefault(c.key(), c)
    return list(seen.values())


def run_dir(cache_dir: str | os.PathLike, config: Any) -> Path:
    return Path(cache_dir) / config.key()


def is_done(cache_dir: str | os.PathLike, config: Any) -> bool:
    return run_dir(cache_dir, config).is_dir()


def default_train(config: Any, out_dir: Path, data_dir: str | None) -> None:
    """Train one config on its real dataset with nlbound.training, writing trace.csv + run.json."""
    from nlbound.training import RunOptions, train

    dataset = _dataset(config.dataset, int(config.size), data_dir)
    train(config, dataset, RunOptions(out_dir=str(out_dir), progress=False, threads=1, data_dir=data_dir))


_DATASETS: dict[tuple, Any] = {}


def _dataset(name: str, size: int, data_dir: str | None) -> Any:
    from nlbound.data import load_dataset

    key = (name, size, data_dir)
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(name, size=size, data_dir=data_dir)
    return _DATASETS[key]


def _execute(train_fn: TrainFn, config: Any, cache_dir: str, data_dir: str | None) -> float:
    """Train one config into a partial directory and publish it atomically; returns wall seconds."""
    final = run_dir(cache_dir, config)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    start = time.perf_counter()
    try:
        train_fn(config, partial, data_dir)
        wall = time.perf_counter() - start
        atomic_write_json(partial / RUNNER_FILE, {"key": config.key(), "wall_s": wall, "pid": os.getpid()})
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return wall


def _worker_init() -> None:
    import warnings

    # known, once-per-process notices that would break the progress bar; they are in run.json / docs
    warnings.filterwarnings("ignore", message=".*NumPy array is not writable.*")
    warnings.filterwarnings("ignore", message=".*whitening acts on their.*")
    try:
        import torch

        torch.set_num_threads(1)  # two single-thread processes beat one two-thread process
    except ImportError:  # pragma: no cover
        pass


def clean_partials(cache_dir: str | os.PathLike) -> None:
    """Remove what interrupted runs left behind (never a finished run)."""
    cache = Path(cache_dir)
    if cache.is_dir():
        for p in cache.glob("*.partial-*"):
            shutil.rmtree(p, ignore_errors=True)


def run_all(
    configs: Sequence[Any],
    cache_dir: str | os.PathLike,
    *,
    train_fn: TrainFn | None = None,
    processes: int = 2,
    data_dir: str | None = None,
    progress: bool = True,
    cost: Callable[[Any], float] | None = None,
    backend: Any = None,
) -> dict[str, Path]:
    """Make sure every config has a finished run in the cache; return {key: run directory}.

    Runs are deduplicated by key, already finished ones are skipped, the rest are trained
    longest-first (by `cost`, also the unit of the progress bar's ETA) on `processes` processes
    (1: in this process). KeyboardInterrupt stops the sweep; finished runs stay cached.
    backend: an object of nlbound.experiments.backends (LocalBackend, RayBackend) that trains the
    pending runs instead (`processes` is then ignored).
    """
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    clean_partials(cache)
    unique = dedupe(configs)
    cost = cost or (lambda c: 1.0)
    pending = sorted((c for c in unique if not is_done(cache, c)), key=cost, reverse=True)
    train_fn = train_fn or default_train
    bar = _Progress(len(unique), len(unique) - len(pending), [cost(c) for c in pending], progress)
    try:
        if backend is not None:  # nlbound.experiments.backends
            backend.execute(pending, train_fn, str(cache), data_dir, _Report(bar, cost))
        elif processes <= 1 or len(pending) <= 1:
            for c in pending:
                bar.done(cost(c), _execute(train_fn, c, str(cache), data_dir))
        else:
            _run_parallel(pending, train_fn, str(cache), data_dir, processes, cost, bar)
    finally:
        bar.close()
    return {c.key(): run_dir(cache, c) for c in unique}


def _run_parallel(pending, train_fn, cache, data_dir, processes, cost, bar) -> None:
    ctx = get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=ctx, initializer=_worker_init)
    try:
        futures = {pool.submit(_execute, train_fn, c, cache, data_dir): c for c in pending}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for f in finished:
                bar.done(cost(futures[f]), f.result())
    except BaseException:
        procs = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown clears it
        for f in futures:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()  # our own worker processes, by handle
        raise
    pool.shutdown(wait=True)


class _Progress:
    """Overall progress over runs, with an ETA weighted by the estimated cost of each run."""

    def __init__(self, total_runs: int, already: int, costs: list[float], enabled: bool):
        self.enabled = enabled and bool(costs)
        self.total_cost = float(sum(costs)) or 1.0
        self.runs_done = already
        self.total_runs = total_runs
        self.bar = None
        self.walls: list[float] = []
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total_cost, unit="cost", file=sys.stderr, dynamic_ncols=True,
                desc=f"runs {already}/{total_runs}",
                bar_format="{desc} |{bar}| {percentage:3.0f}% [{elapsed}<{remaining}{postfix}]",
            )

    def done(self, cost: float, wall: float) -> None:
        self.runs_done += 1
        self.walls.append(wall)
        if self.bar is not None:
            self.bar.set_description_str(f"runs {self.runs_done}/{self.total_runs}")
            self.bar.update(min(cost, self.bar.total - self.bar.n))  # no overshoot from float sums

    def note(self, text: str) -> None:
        """Shown after the bar (a backend's running runs and their t)."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Report:
    """What a backend reports to the progress bar (nlbound.experiments.backends.Report)."""

    def __init__(self, bar: _Progress, cost: Callable[[Any], float]):
        self.bar, self.cost = bar, cost

    def done(self, config: Any, wall: float) -> None:
        self.bar.done(self.cost(config), wall)

    def running(self, text: str) -> None:
        self.bar.note(text)


def run_walls(dirs: Iterable[Path]) -> dict[str, float]:
    """Wall seconds each cached run took to train (from the runner's own record)."""
    out = {}
    for d in dirs:
        f = Path(d) / RUNNER_FILE
        if f.exists():
            out[Path(d).name] = float(json.loads(f.read_text())["wall_s"])
    return out
