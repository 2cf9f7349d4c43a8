"""A sweep's local workers die with their driver (issue 22 item 2): SIGKILL or SIGTERM to the driver alone
leaves no worker training or idle, and no run is published after the driver is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from toy_data import TINY_SWEEP_FIXED

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the process tree")

# runs that last minutes (rtol 1e-9, long horizon): the driver is killed while both workers train
SPEC = TINY_SWEEP_FIXED + """rtol = 1e-9
[sweep]
eps = [0.1, 0.2, 0.3]
[horizon]
t_end = 3000.0
"""


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (from /proc/*/stat)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_driver(tmp_path, sig):
    spec = tmp_path / "long.toml"
    spec.write_text(textwrap.dedent(SPEC))
    cache = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from nlbound.cli.main import main; sys.exit(main(sys.argv[1:]))"
    driver = subprocess.Popen([sys.executable, "-c", code, "sweep", str(spec), "--processes", "2", "--no-progress",
                               "--runs", str(cache), "--out", str(tmp_path / "out")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        # both workers have started a run (their partial directories exist)
        assert wait_until(lambda: len(list(cache.glob("*.partial-*[0-9a-f]"))) >= 2 or driver.poll() is not None,
                          timeout=180), "the workers never started"
        assert driver.poll() is None, driver.stderr.read()
        workers = children(driver.pid)
        assert len(workers) >= 2
        driver.send_signal(sig)  # the driver alone: the workers get no signal from this test
        driver.wait(timeout=30)
        assert wait_until(lambda: not any(alive(w) for w in workers), timeout=30), \
            f"workers {[w for w in workers if alive(w)]} outlived their driver"
        published = [p for p in cache.iterdir() if p.is_dir() and len(p.name) == 64]
        assert published == []  # nothing trained on and published after the driver was gone
    finally:
        if driver.poll() is None:
            driver.kill()
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
