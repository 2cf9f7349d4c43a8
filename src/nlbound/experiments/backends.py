"""Execution backends of the cached runner: local processes, or one Ray task per run on a Ray cluster.

A backend trains the pending configs that `runner.run_all` hands it (run_all deduplicates, skips
finished runs and owns the progress bar). Every backend runs `runner._execute`, so there is one
cache layout: a run trains into `<cache>/<key>.partial-<pid>` and is renamed to `<cache>/<key>`
only when it has finished. A run killed mid-way (worker or node lost, Ctrl-C) leaves only a
partial directory, which the next `run_all` removes before it retrains that run: a half-written
run is never used. On Ray the cache directory must be one path on a filesystem shared by the
driver and every worker node; workers write their runs into it themselves.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.experiments.runner import _execute, _worker_init

__all__ = ["LocalBackend", "RayBackend", "Report", "make_backend", "running_times", "ray_available"]

TrainFn = Callable[[Any, Path, "str | None"], None]
BACKENDS = ("local", "ray")


class Report(Protocol):
    """What a backend tells the driver: a run finished (with its wall seconds); runs in progress."""

    def done(self, config: Any, wall: float) -> None: ...

    def running(self, text: str) -> None: ...


def running_times(cache_dir: str | Path) -> dict[str, float]:
    """The latest recorded t of every run in progress in the cache, read from its partial trace.csv
    (train() rewrites it atomically every few seconds), so any backend's workers can be watched."""
    out: dict[str, float] = {}
    for partial in Path(cache_dir).glob("*.partial-*"):
        t = _last_t(partial / "trace.csv")
        if t is not None:
            key = partial.name.split(".partial-")[0]
            out[key] = max(t, out.get(key, t))
    return out


def _last_t(path: Path) -> float | None:
    try:
        lines = path.read_text().splitlines()[1:]
        return max(float(line.split(",", 1)[0]) for line in lines if line) if lines else None
    except (OSError, ValueError):  # vanished (renamed when finished) or not written yet
        return None


@contextmanager
def _watching(cache_dir: str, pending: Sequence[Any], report: Report, poll_s: float) -> Iterator[None]:
    """While the block runs, show the running runs' t / t_end on the progress bar every poll_s."""
    t_end = {c.key(): float(c.t_end) for c in pending}
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(poll_s):
            times = running_times(cache_dir)
            report.running(" ".join(f"t={t:.3g}/{t_end[k]:.3g}" for k, t in sorted(times.items()) if k in t_end))

    thread = threading.Thread(target=loop, name="nlbound-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        report.running("")  # nothing is running any more


_LOCAL = {"processes": Interval(Integral, 1, None, closed="left"),
          "poll_s": Interval(Real, 0, None, closed="neither")}


@dataclass(frozen=True)
class LocalBackend:
    """This machine: `processes` spawned worker processes, one run each at a time (1: this process)."""

    processes: int = 2
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        validate_params(_LOCAL, {"processes": self.processes, "poll_s": self.poll_s})

    def execute(self, pending: Sequence[Any], train_fn: TrainFn, cache_dir: str, data_dir: str | None,
                report: Report) -> None:
        with _watching(cache_dir, pending, report, self.poll_s):
            if self.processes <= 1 or len(pending) <= 1:
                for c in pending:
                    report.done(c, _execute(train_fn, c, cache_dir, data_dir))
            else:
                self._pool(pending, train_fn, cache_dir, data_dir, report)

    def _pool(self, pending, train_fn, cache_dir, data_dir, report) -> None:
        pool = ProcessPoolExecutor(max_workers=min(self.processes, len(pending)), mp_context=get_context("spawn"),
                                   initializer=_worker_init)
        futures = {pool.submit(_execute, train_fn, c, cache_dir, data_dir): c for c in pending}
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
                proc.terminate()  # our own worker processes, by handle
            raise
        pool.shutdown(wait=True)


_RAY = {"num_cpus": Interval(Real, 0, None, closed="neither"),
        "max_retries": Interval(Integral, 0, None, closed="left"),
        "local_cpus": Interval(Integral, 1, None, closed="left"),
        "poll_s": Interval(Real, 0, None, closed="neither")}


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _ray_run(train_fn: TrainFn, config: Any, cache_dir: str, data_dir: str | None) -> float:
    """One Ray task: train one run into the shared cache exactly as the local backend does."""
    _worker_init()
    return _execute(train_fn, config, cache_dir, data_dir)


@dataclass(frozen=True)
class RayBackend:
    """Each run a Ray task asking `num_cpus`; a task whose worker died is re-run up to `max_retries`
    times (its partial directory is left behind and never published). address None: start a local
    Ray runtime with `local_cpus` CPUs (unless Ray is already initialised in this process, which is
    then used and left running); "auto" or "ray://host:10001" joins an existing cluster."""

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
        import ray

        cache_dir = str(Path(cache_dir).resolve())  # workers may run elsewhere: no relative paths
        data_dir = None if data_dir is None else str(Path(data_dir).resolve())
        started = self._connect(ray)
        try:
            cpus = float(ray.cluster_resources().get("CPU", 0))
            if cpus < self.num_cpus:
                raise ValueError(f"num_cpus == {self.num_cpus:g}, must be at most the cluster's {cpus:g} CPUs")
            task = ray.remote(num_cpus=self.num_cpus, max_retries=self.max_retries)(_ray_run)
            refs = {task.remote(train_fn, c, cache_dir, data_dir): c for c in pending}
            with _watching(cache_dir, pending, report, self.poll_s):
                self._drain(ray, refs, report)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        if ray.is_initialized():
            return False
        ray.init(address=self.address, num_cpus=self.local_cpus if self.address is None else None,
                 include_dashboard=False, log_to_driver=False)
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
