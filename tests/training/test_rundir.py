"""Run directories under faults: kills during a re-run, two writers, damaged files (training.rundir)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nlbound._validate import ParameterError
from nlbound.training import RunOptions, TrainConfig, load_run, train
from nlbound.training.rundir import RunDirError, RunDirLock, RunDirLockedError, read_run, run_dir
from toy_data import toy_dataset

torch.set_num_threads(1)
DS = toy_dataset(m=400, d=6, m_test=200, seed=0)
QUICK = TrainConfig(dataset="synthetic", width=8, eps=0.1, beta=0.05, t_end=3.0, times=(1.0, 2.0, 3.0))
# ~10^6 GD steps: a run that lasts far longer than the tests wait for it
SLOW = QUICK.replace(integrator="gd", lr=1e-5, t_end=10.0, times=tuple(np.linspace(0, 10, 400)[1:]))
TESTS = Path(__file__).resolve().parents[1]  # tests/: toy_data.py

WRITER = """
import sys, torch
sys.path.insert(0, {tests!r})
torch.set_num_threads(1)
from toy_data import toy_dataset
from nlbound.training import RunOptions, TrainConfig, train
cfg = TrainConfig(**{cfg!r})
train(cfg, toy_dataset(m=400, d=6, m_test=200, seed=0), RunOptions(out_dir={out!r}))
"""


def _start_writer(out: Path, config: TrainConfig) -> subprocess.Popen:
    d = config.as_dict()
    d["times"], d["gammas"] = tuple(d["times"]), tuple(d["gammas"])
    code = WRITER.format(tests=str(TESTS), cfg=d, out=str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(proc: subprocess.Popen, out: Path, rows: int = 3, timeout: float = 120.0) -> None:
    """Until the writer's temporary directory holds a trace with at least `rows` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        for trace in out.parent.glob(f"{out.name}.tmp-{proc.pid}-*/trace.csv"):  # <out>.tmp-<pid>-<hex>
            if len(trace.read_text().splitlines()) > rows:
                return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the writer never recorded")


@pytest.fixture()
def complete_run(tmp_path):
    out = tmp_path / "run"
    first = train(QUICK, DS, RunOptions(out_dir=out))
    return out, first


def test_sigkill_during_rerun_leaves_the_complete_run(complete_run):
    out, first = complete_run
    proc = _start_writer(out, SLOW)
    _wait_for_rows(proc, out)
    proc.kill()
    proc.wait()
    again = load_run(out)  # the old complete run, untouched
    assert again.info["status"] == "complete" and again.info["key"] == QUICK.key()
    np.testing.assert_array_equal(again.trace["train_loss"], first.trace["train_loss"])
    # the next writer takes the dead writer's lock and removes its temporary directory
    train(QUICK, DS, RunOptions(out_dir=out))
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_sigterm_during_rerun_marks_the_run_interrupted(complete_run):
    out, _ = complete_run
    proc = _start_writer(out, SLOW)
    _wait_for_rows(proc, out)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    with pytest.raises(RunDirError, match=rf"{out}: status == 'interrupted', must be 'complete'"):
        load_run(out)
    res = load_run(out, complete=False)
    assert res.info["status"] == "interrupted" and res.info["key"] == SLOW.key()
    assert res.info["recorded"] == len(res.trace["t"]) >= 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]  # no lock, no temporary left


def test_second_writer_gets_a_clear_error(tmp_path):
    out = tmp_path / "run"
    proc = _start_writer(out, SLOW)
    try:
        _wait_for_rows(proc, out, rows=1)
        with pytest.raises(RunDirLockedError, match=rf"being written by another process \(pid {proc.pid}"):
            train(QUICK, DS, RunOptions(out_dir=out))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert load_run(out, complete=False).info["key"] == SLOW.key()  # the first writer's, unmixed


def test_lock_is_exclusive_in_one_process_and_released(tmp_path):
    out = tmp_path / "run"
    with RunDirLock(out):
        assert (tmp_path / "run.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(RunDirLockedError):
            with RunDirLock(out):
                pass
    assert not (tmp_path / "run.lock").exists()
    with RunDirLock(out):
        pass


def test_out_dir_that_is_a_file_is_one_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ParameterError, match=r"out_dir == '.*file', must be a directory \(it is a file\)"):
        train(QUICK, DS, RunOptions(out_dir=f))
    with pytest.raises(ParameterError, match=r"must be a directory \(it lies under the file .*file\)") as err:
        train(QUICK, DS, RunOptions(out_dir=f / "under"))
    assert str(err.value.renamed("--out")).startswith("--out == ")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # (root ignores permissions)
            with pytest.raises(ParameterError, match=r"must be a writable directory \(Permission denied\)"):
                train(QUICK, DS, RunOptions(out_dir=locked / "run"))
    finally:
        locked.chmod(0o700)


def test_dataset_must_match_the_config():
    from nlbound.data import synthetic_dataset

    ds = synthetic_dataset(m=50, m_test=20, size=2)
    with pytest.raises(ValueError, match="dataset == 'synthetic' of size 2, must be the config's 'synthetic' of size 7"):
        train(QUICK, ds)


def test_default_out_dir_is_the_one_layout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = train(QUICK, DS)
    assert res.out_dir == run_dir("runs", QUICK) == Path("runs") / QUICK.key()


# --- damaged directories ------------------------------------------------------------------------

def _damage(out: Path, what: str) -> None:
    trace, info = out / "trace.csv", out / "run.json"
    lines = trace.read_text().splitlines()
    if what == "truncated":
        trace.write_text("\n".join(lines[:-1]) + "\n")
    elif what == "nan":
        head, row = lines[0].split(","), lines[2].split(",")
        row[head.index("train_risk")] = "nan"
        trace.write_text("\n".join([lines[0], lines[1], ",".join(row), *lines[3:]]) + "\n")
    elif what == "header-only":
        trace.write_text(lines[0] + "\n")
    elif what == "garbage-cell":
        trace.write_text(lines[0] + "\n" + lines[1].replace(",", ",x", 1) + "\n")
    elif what in ("empty-trace", "empty-info"):
        (trace if what == "empty-trace" else info).write_text("")
    elif what in ("missing-trace", "missing-info"):
        (trace if what == "missing-trace" else info).unlink()
    elif what == "garbage-info":
        info.write_bytes(b"\x00\x01not json")
    elif what == "interrupted":
        d = json.loads(info.read_text())
        info.write_text(json.dumps({**d, "status": "interrupted"}))


@pytest.mark.parametrize("what,match", [
    ("truncated", r"run.json records 4 rows, trace.csv holds 3"),
    ("nan", r"column 'train_risk' is not finite"),
    ("header-only", r"records 4 rows, trace.csv holds 0"),
    ("garbage-cell", r"trace.csv: line 2: cell == 'x"),
    ("empty-trace", r"trace.csv: empty"), ("empty-info", r"run.json: empty"),
    ("missing-trace", r"trace.csv: missing"), ("missing-info", r"run.json: missing"),
    ("garbage-info", r"run.json: not valid JSON"),
    ("interrupted", r"status == 'interrupted', must be 'complete'"),
])
def test_damaged_run_is_refused_naming_the_file(complete_run, what, match):
    out, _ = complete_run
    _damage(out, what)
    with pytest.raises(RunDirError, match=match) as err:
        load_run(out)
    assert str(out) in str(err.value) and "\n" not in str(err.value)


def test_config_must_match_the_key(complete_run):
    out, _ = complete_run
    assert read_run(out, config=QUICK)[1]["key"] == QUICK.key()
    with pytest.raises(RunDirError, match=r"run.json has eps == 0.1, its key needs 0.2"):
        read_run(out, config=QUICK.replace(eps=0.2))


def test_a_zombie_process_counts_as_dead():
    """clean_partials may remove a dead worker's partial run as soon as it is killed, even before
    its parent reaps it (a zombie never writes again)."""
    import subprocess
    import time

    from nlbound.training.rundir import pid_alive

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert pid_alive(proc.pid)
    proc.kill()
    deadline = time.monotonic() + 10
    while pid_alive(proc.pid) and time.monotonic() < deadline:  # not reaped: a zombie until wait()
        time.sleep(0.01)
    assert not pid_alive(proc.pid)
    proc.wait()
    assert not pid_alive(proc.pid)
