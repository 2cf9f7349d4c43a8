"""The Ray backend on a real local Ray runtime (no mocks): same bytes as the local backend; a worker
killed mid-run leaves nothing half-used and the sweep finishes correctly on resume."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from nlbound.execution.backends import LocalBackend, RayBackend
from nlbound.sweep import load_spec, run_sweep

from toy_data import TINY_SWEEP_FIXED

# CI installs the extra (`pip install -e '.[test,ray]'`): there a missing Ray fails loudly below.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
                                reason="Ray not installed (pip install 'nlbound[ray]')")

SPEC = TINY_SWEEP_FIXED + """[sweep]
eps = [0.0, 0.1]
init_seed = [0, 1]
[horizon]
t_star_multiple = 1.0
"""

# one run long enough to be killed mid-way (eps = 0.1 is the costlier flow; 6 t* of training)
LONG_SPEC = """
[fixed]
dataset = "synthetic"
size = 7
depth = 2
width = 16
beta = 0.01
eps = 0.1
[sweep]
init_seed = [3]
[horizon]
t_star_multiple = 6.0
"""


@pytest.fixture(scope="module")
def ray_runtime():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def spec_file(tmp_path: Path, text: str, name: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return load_spec(path)


def quiet(line: str) -> None:
    pass


def test_ray_matches_local_byte_for_byte(ray_runtime, tmp_path):
    spec = spec_file(tmp_path, SPEC, "small")
    local = run_sweep(spec, tmp_path / "out-local", tmp_path / "runs-local", backend=LocalBackend(processes=1),
                      progress=False, log=quiet)
    on_ray = run_sweep(spec, tmp_path / "out-ray", tmp_path / "runs-ray", backend=RayBackend(), progress=False,
                       log=quiet)
    assert set(on_ray.dirs) == set(local.dirs) and len(local.dirs) == 4
    for key, d in local.dirs.items():
        assert (on_ray.dirs[key] / "trace.csv").read_bytes() == (d / "trace.csv").read_bytes()
        pid = json.loads((on_ray.dirs[key] / "runner.json").read_text())["pid"]
        assert pid != os.getpid()  # written by a Ray worker into the cache, not by the driver
    for name in ("summary", "results"):
        assert on_ray.paths[name].read_bytes() == local.paths[name].read_bytes()
    assert not list((tmp_path / "runs-ray").glob("*.partial-*"))


def _partial_with_trace(cache: Path, timeout: float) -> Path:
    """The partial run directory `<key>.partial-<pid>` of the first run whose trainer has written a
    trace (train() writes into its own temporary sibling `<partial>.tmp-<pid>` until it finishes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for trace in cache.glob("*.partial-*.tmp-*/trace.csv"):
            return trace.parent.with_name(trace.parent.name.split(".tmp-")[0])
        time.sleep(0.02)
    raise AssertionError("no run started within the timeout")


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    """The long run trained by the local backend, undisturbed."""
    root = tmp_path_factory.mktemp("reference")
    spec = spec_file(root, LONG_SPEC, "long")
    return run_sweep(spec, root / "out", root / "runs", backend=LocalBackend(processes=1), progress=False, log=quiet)


def _kill_mid_run(spec, cache: Path, out: Path, max_retries: int) -> tuple[Path, int, dict]:
    """Start the sweep on Ray in a driver thread, SIGKILL the worker of the run once it has recorded
    its first time, and return (the dead worker's partial directory, its pid, the driver's outcome)."""
    outcome: dict = {}

    def drive() -> None:
        try:
            outcome["result"] = run_sweep(spec, out, cache, backend=RayBackend(max_retries=max_retries),
                                          progress=False, log=quiet)
        except BaseException as exc:  # the driver learns that the worker died
            outcome["error"] = exc

    driver = threading.Thread(target=drive)
    driver.start()
    partial = _partial_with_trace(cache, timeout=120)
    pid = int(partial.name.split(".partial-")[1].split("-")[0])  # <key>.partial-<pid>-<hex>
    os.kill(pid, signal.SIGKILL)  # the Ray worker that this test's runtime started for the run
    from nlbound.training.rundir import pid_alive

    deadline = time.monotonic() + 60  # a loaded kernel may take a moment to end it
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid), f"worker {pid} still alive 60 s after SIGKILL"
    driver.join(timeout=300)
    assert not driver.is_alive()
    return partial, pid, outcome


def test_killed_worker_is_retrained_on_resume(ray_runtime, long_reference, tmp_path):
    spec = spec_file(tmp_path, LONG_SPEC, "long")
    cache = tmp_path / "runs"
    partial, pid, outcome = _kill_mid_run(spec, cache, tmp_path / "out", max_retries=0)
    assert isinstance(outcome.get("error"), ray_runtime.exceptions.RayError), outcome
    key = partial.name.split(".partial-")[0]
    assert not (cache / key).exists()  # the half-trained run was never published
    assert partial.is_dir() and list(cache.glob(f"{partial.name}.tmp-*/trace.csv"))  # what the dead worker left

    lines: list[str] = []
    resumed = run_sweep(spec, tmp_path / "out", cache, backend=RayBackend(max_retries=0), progress=False,
                        log=lines.append)
    assert lines == ["1 runs, 1 distinct: 0 cached, 1 to train"]
    assert not partial.exists() and not list(cache.glob("*.partial-*"))
    done = resumed.dirs[key]
    assert json.loads((done / "runner.json").read_text())["pid"] != pid
    assert (done / "trace.csv").read_bytes() == (long_reference.dirs[key] / "trace.csv").read_bytes()
    assert resumed.paths["summary"].read_bytes() == long_reference.paths["summary"].read_bytes()


def test_killed_worker_is_retried_by_ray(ray_runtime, long_reference, tmp_path):
    spec = spec_file(tmp_path, LONG_SPEC, "long")
    cache = tmp_path / "runs"
    partial, pid, outcome = _kill_mid_run(spec, cache, tmp_path / "out", max_retries=1)
    assert "error" not in outcome, outcome  # Ray re-ran the task on a fresh worker
    key = partial.name.split(".partial-")[0]
    done = outcome["result"].dirs[key]
    assert json.loads((done / "runner.json").read_text())["pid"] != pid
    assert (done / "trace.csv").read_bytes() == (long_reference.dirs[key] / "trace.csv").read_bytes()
    assert outcome["result"].paths["summary"].read_bytes() == long_reference.paths["summary"].read_bytes()
    assert partial.is_dir()  # the dead attempt's directory is left aside, never used ...
    run_sweep(spec, tmp_path / "out", cache, backend=RayBackend(), progress=False, log=quiet)
    assert not partial.exists()  # ... and removed by the next sweep over this cache


def test_run_count_is_checked_against_the_cluster(ray_runtime, tmp_path):
    spec = spec_file(tmp_path, SPEC, "small")
    with pytest.raises(ValueError, match="num_cpus == 4, must be at most the cluster's 2 CPUs"):
        run_sweep(spec, tmp_path / "out", tmp_path / "runs", backend=RayBackend(num_cpus=4), progress=False,
                  log=quiet)
