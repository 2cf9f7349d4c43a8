"""Execution backends of the cached runner: local processes, or one Ray task per run on a Ray cluster.

A backend trains the pending configs that `runner.run_all` hands it (run_all deduplicates, skips
finished runs and owns the progress bar). Every backend runs `execute.execute_run`, so there is one
cache layout: a run trains into `<cache>/<key>.partial-<token>` and is renamed to `<cache>/<key>`
only when it has finished. A run killed mid-way (worker or node lost, Ctrl-C) leaves only a
partial directory, which the next `run_all` removes before it retrains that run: a half-written
run is never used. On Ray the cache directory must be one path on a filesystem shared by the
driver and every worker node; workers write their runs into it themselves.
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol, Sequence

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.execution.execute import TrainFn, execute_run, worker_init
from nlbound.execution.lifeline import die_with_parent
from nlbound.execution.ray_connect import connect, quiet_ray

__all__ = ["LocalBackend", "RayBackend", "Report", "make_backend", "ray_available"]

BACKENDS = ("local", "ray")


class Report(Protocol):
    """What a backend tells the driver: a run finished (with its wall seconds). Runs in progress
    are shown by the runner's progress bar from the trainers' progress files in the cache."""

    def done(self, config: Any, wall: float) -> None: ...


_LOCAL = {"processes": Interval(Integral, 1, None, closed="left")}


@dataclass(frozen=True)
class LocalBackend:
    """This machine: `processes` spawned worker processes, one run each at a time (1: this process)."""

    processes: int = 2

    def __post_init__(self) -> None:
        validate_params(_LOCAL, {"processes": self.processes})

    def execute(self, pending: Sequence[Any], train_fn: TrainFn, cache_dir: str, data_dir: str | None,
                report: Report) -> None:
        if self.processes <= 1 or len(pending) <= 1:
            for c in pending:
                report.done(c, execute_run(train_fn, c, cache_dir, data_dir))
        else:
            self._pool(pending, train_fn, cache_dir, data_dir, report)

    def _pool(self, pending, train_fn, cache_dir, data_dir, report) -> None:
        pool = ProcessPoolExecutor(max_workers=min(self.processes, len(pending)), mp_context=get_context("spawn"),
                                   initializer=_local_worker_init, initargs=(os.getpid(),))
        futures = {pool.submit(execute_run, train_fn, c, cache_dir, data_dir): c for c in pending}
        try:
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for f in finished:
                    report.done(futures[f], f.result())
        except BaseException:
            procs = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown clears it
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()  # our own worker processes, by handle: train() marks its run interrupted
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
            raise
        pool.shutdown(wait=True)


def _local_worker_init(driver: int) -> None:
    """A local worker: the runner's set-up, and it ends with its driver (SIGKILL or SIGTERM to it)."""
    worker_init()
    die_with_parent(driver)


_RAY = {"num_cpus": Interval(Real, 0, None, closed="neither"),
        "max_retries": Interval(Integral, 0, None, closed="left"),
        "local_cpus": Interval(Integral, 1, None, closed="left"),
        "poll_s": Interval(Real, 0, None, closed="neither")}


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def _ray_run(train_fn: TrainFn, config: Any, cache_dir: str, data_dir: str | None) -> float:
    """One Ray task: train one run into the shared cache exactly as the local backend does."""
    worker_init()
    return execute_run(train_fn, config, cache_dir, data_dir)


@dataclass(frozen=True)
class RayBackend:
    """Each run a Ray task asking `num_cpus`; a task whose worker died is re-run up to `max_retries`
    times (its partial directory is left behind and never published). address None: start a local
    Ray runtime with `local_cpus` CPUs (unless Ray is already initialised in this process, which is
    then used and left running); "auto" or "HOST:6379" joins an existing cluster from one of its nodes
    (not the Ray Client form "ray://...": the [ray] extra does not install ray[client], and a client
    driver loses the whole sweep when its connection drops)."""

    address: str | None = None
    num_cpus: float = 1.0
    max_retries: int = 2
    local_cpus: int | None = None
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        validate_params(_RAY, {"num_cpus": self.num_cpus, "max_retries": self.max_retries,
                               "local_cpus": self.local_cpus, "poll_s": self.poll_s})

    def execute(self, pending: Sequence[Any], train_fn: TrainFn, cache_dir: str, data_dir: str | None,
                report: Report) -> None:
        if not pending:
            return  # every run is cached: no Ray runtime is started or joined
        quiet_ray(self.address)  # before the import: Ray's C++ logging reads it then
        import ray  # optional dependency (nlbound[ray]), imported after quiet_ray

        cache_dir = str(Path(cache_dir).resolve())  # workers may run elsewhere: no relative paths
        data_dir = None if data_dir is None else str(Path(data_dir).resolve())
        started = self._connect(ray)
        try:
            cpus = float(ray.cluster_resources().get("CPU", 0))
            if cpus < self.num_cpus:
                raise ValueError(f"num_cpus == {self.num_cpus:g}, must be at most the cluster's {cpus:g} CPUs")
            task = ray.remote(num_cpus=self.num_cpus, max_retries=self.max_retries)(_ray_run)
            refs = {task.remote(train_fn, c, cache_dir, data_dir): c for c in pending}
            self._drain(ray, refs, report)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        if ray.is_initialized():
            return False
        connect(ray, self.address, self.local_cpus)  # one-line ValueError on failure, Ray's logs kept quiet
        return True

    def _drain(self, ray: Any, refs: dict, report: Report) -> None:
        remaining = list(refs)
        try:
            while remaining:
                ready, remaining = ray.wait(remaining, num_returns=1, timeout=self.poll_s)
                for r in ready:
                    report.done(refs[r], ray.get(r))
        except BaseException:
            for r in remaining:
                ray.cancel(r, force=True)  # kills the workers of these runs: their partials are not used
            raise


def make_backend(name: str, *, processes: int = 2, address: str | None = None, num_cpus: float = 1.0,
                 max_retries: int = 2) -> LocalBackend | RayBackend:
    """The backend named on the command line ("local" or "ray"); processes: local processes, or the
    CPUs of the local Ray runtime started when no address is given."""
    if name == "local":
        if address is not None:
            raise ValueError(f"address == {address!r}, needs backend 'ray'")
        return LocalBackend(processes=processes)
    if name == "ray":
        if not ray_available():
            raise ValueError("backend == 'ray', needs Ray: pip install 'nlbound[ray]'")
        return RayBackend(address=address, num_cpus=num_cpus, max_retries=max_retries,
                          local_cpus=processes if address is None else None)
    raise ValueError(f"backend == {name!r}, must be one of {', '.join(BACKENDS)}")
