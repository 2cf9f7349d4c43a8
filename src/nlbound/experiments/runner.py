"""Cached runner: every run lives under its TrainConfig hash; finished runs are never recomputed.

A run trains into `<cache>/<key>.partial-<token>` (token: rundir.process_token) and is renamed to
`<cache>/<key>` (the one layout, nlbound.training.rundir.run_dir) only once it finished: an interrupted
sweep resumes with the runs it had not finished, and runs shared between figures are trained once. A
cached directory is used only if it passes nlbound.training.rundir.read_run (status complete, row count
= recorded, finite cells, config = key); a damaged one is reported with its path and the reason, and
retrained; a stray file at a run's path is set aside (`<key>.stray-<token>`) with a warning, never
deleted, never fatal. Two sweeps may share a cache, on one node or several: a run is trained under a
lease (nlbound.experiments.lease), which the other sweep waits on instead of training the run again,
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

from nlbound._io import atomic_write_json
from nlbound.experiments.lease import claim, holder_alive
from nlbound.training.rundir import TOKEN_PATTERN, RunDirError, process_token, read_run, run_dir

TrainFn = Callable[[Any, Path, "str | None"], None]
RUNNER_FILE = "runner.json"


def dedupe(configs: Iterable[Any]) -> list[Any]:
    """Configs in first-seen order, one per cache key."""
    seen: dict[str, Any] = {}
    for c in configs:
        seen.setdefault(c.key(), c)
    return list(seen.values())


def cached_run_problem(cache_dir: str | os.PathLike, config: Any) -> str | None:
    """None if `config` has a usable finished run in the cache; else why not (one line with the path)."""
    path = run_dir(cache_dir, config)
    if not path.exists():
        return f"{path}: not cached"
    try:
        read_run(path, complete=True, config=config)
    except RunDirError as exc:
        return str(exc)
    return None


def is_done(cache_dir: str | os.PathLike, config: Any) -> bool:
    return cached_run_problem(cache_dir, config) is None


def progress_file(out_dir: str | os.PathLike) -> Path:
    """Where the trainer of `out_dir` keeps its current t for the runner's progress bar."""
    return Path(f"{out_dir}.progress")


def default_train(config: Any, out_dir: Path, data_dir: str | None) -> None:
    """Train one config on its dataset (name, size, data_seed, positive) with nlbound.training."""
    from nlbound.training import RunOptions, train

    dataset = _dataset(config, data_dir)
    train(config, dataset, RunOptions(out_dir=str(out_dir), progress=False, threads=1, data_dir=data_dir,
                                      progress_file=progress_file(out_dir)))


_DATASETS: dict[tuple, Any] = {}


def _dataset(config: Any, data_dir: str | None) -> Any:
    from nlbound.data import dataset_for

    key = (config.dataset, int(config.size), int(config.data_seed), tuple(getattr(config, "positive", ())),
           getattr(config, "data_sha256", ""), data_dir)
    if key not in _DATASETS:
        _DATASETS[key] = dataset_for(config, data_dir=data_dir)
    return _DATASETS[key]


def _execute(train_fn: TrainFn, config: Any, cache_dir: str, data_dir: str | None) -> float:
    """Train one config into a partial directory under the run's lease and publish it atomically; returns
    wall seconds (0 for a run another sweep published while this one waited for its lease)."""
    final = run_dir(cache_dir, config)
    lease = claim(cache_dir, config.key(), lambda: cached_run_problem(cache_dir, config) is None)
    if lease is None:
        return 0.0
    partial = final.with_name(f"{final.name}.partial-{process_token()}")
    try:
        shutil.rmtree(partial, ignore_errors=True)  # this process's own token: nobody else's
        partial.mkdir(parents=True)
        lease.beat(partial)
        start = time.perf_counter()
        train_fn(config, partial, data_dir)
        wall = time.perf_counter() - start
        atomic_write_json(partial / RUNNER_FILE, {"key": config.key(), "wall_s": wall, "pid": os.getpid()})
        _publish(partial, final, config, cache_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone unless training or publishing failed
        progress_file(partial).unlink(missing_ok=True)
        lease.release()
    return wall


def _publish(partial: Path, final: Path, config: Any, cache_dir: str) -> None:
    """Rename partial to final; a damaged final is replaced, a valid one (another sweep's) kept.
    The new run must itself pass read_run (a trainer that wrote an unfinished run is an error)."""
    read_run(partial, complete=True, config=config)
    problem = cached_run_problem(cache_dir, config)
    if problem is None:
        return  # another sweep finished the same run first: keep theirs, drop ours
    set_aside_stray(final)
    if final.exists():
        print(f"replacing a damaged cached run: {problem}", file=sys.stderr)
        shutil.rmtree(final)
    os.replace(partial, final)


def set_aside_stray(path: Path) -> None:
    """Something other than a directory at a run's path (a file, a link): renamed to
    `<path>.stray-<token>` with one warning line, so the run can be trained and published there."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        aside = path.with_name(f"{path.name}.stray-{process_token()}")
        os.replace(path, aside)
        print(f"nlbound: warning: {path} is not a run directory: moved to {aside.name}", file=sys.stderr)


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
    from nlbound._blas import blas_threads

    blas_threads(1)  # numpy's BLAS too, for the whole worker (not only train()): never exited


# also ".<key>.partial-<token>....<random>.tmp": an atomic write (nlbound._io) the dead process never renamed
_PARTIAL = re.compile(rf"^\.?([0-9a-f]{{64}})\.partial-({TOKEN_PATTERN})(\..*)?$")


def clean_partials(cache_dir: str | os.PathLike) -> None:
    """Remove what interrupted runs left behind (`<key>.partial-<token>*`, and the hidden temporary file of
    an atomic write it was killed in, `.<key>.partial-<token>*.tmp`) once no live lease of that token
    holds run <key> (nlbound.experiments.lease: renewed within LEASE_S, on any node): never a finished
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
    nlbound.experiments.backends: LocalBackend, RayBackend; default LocalBackend(processes), with
    processes 2 unless given; 1: in this process; giving both is a ValueError). KeyboardInterrupt
    stops the sweep; finished runs stay cached.
    """
    from nlbound.experiments.backends import LocalBackend  # backends import this module

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
            from tqdm import tqdm

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
        from tqdm import tqdm

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
    """What a backend reports to the progress bar (nlbound.experiments.backends.Report)."""

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
