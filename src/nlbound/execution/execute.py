"""One run's execution, shared by every backend: train into a partial directory under the run's lease,
publish it atomically as `<cache>/<key>`; the cache's validity test and the worker's set-up.

The runner (`runner.run_all`) and the backends (`backends.py`) both import this module and not each
other's internals, so the execution layer has no import circle.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from nlbound._blas import blas_threads
from nlbound._io import atomic_write_json
from nlbound.data import dataset_for
from nlbound.execution.lease import claim
from nlbound.training import RunOptions
from nlbound.training.rundir import RunDirError, process_token, read_run, run_dir

__all__ = ["RUNNER_FILE", "TrainFn", "cached_run_problem", "default_train", "execute_run", "progress_file",
           "set_aside_stray", "worker_init"]

TrainFn = Callable[[Any, Path, "str | None"], None]
RUNNER_FILE = "runner.json"


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


def progress_file(out_dir: str | os.PathLike) -> Path:
    """Where the trainer of `out_dir` keeps its current t for the runner's progress bar."""
    return Path(f"{out_dir}.progress")


def default_train(config: Any, out_dir: Path, data_dir: str | None) -> None:
    """Train one config on its dataset (name, size, data_seed, positive) with nlbound.training."""
    from nlbound.training import train  # deferred: torch (~3 s to import) only where a run trains

    dataset = _dataset(config, data_dir)
    train(config, dataset, RunOptions(out_dir=str(out_dir), progress=False, threads=1, data_dir=data_dir,
                                      progress_file=progress_file(out_dir)))


_DATASETS: dict[tuple, Any] = {}


def _dataset(config: Any, data_dir: str | None) -> Any:
    """The config's dataset (nlbound.data.dataset_for), loaded once per worker process."""
    key = (config.dataset, int(config.size), int(config.data_seed), tuple(getattr(config, "positive", ())),
           getattr(config, "data_sha256", ""), data_dir)
    if key not in _DATASETS:
        _DATASETS[key] = dataset_for(config, data_dir=data_dir)
    return _DATASETS[key]


def execute_run(train_fn: TrainFn, config: Any, cache_dir: str, data_dir: str | None) -> float:
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


def worker_init() -> None:
    """A training worker's set-up: one thread for torch and numpy's BLAS, known notices silenced."""
    # known, once-per-process notices that would break the progress bar; they are in run.json / docs
    warnings.filterwarnings("ignore", message=".*NumPy array is not writable.*")
    warnings.filterwarnings("ignore", message=".*whitening acts on their.*")
    try:
        import torch  # deferred: ~3 s to import, paid only by a process that trains

        torch.set_num_threads(1)  # two single-thread processes beat one two-thread process
    except ImportError:  # pragma: no cover
        pass
    blas_threads(1)  # numpy's BLAS too, for the whole worker (not only train()): never exited
