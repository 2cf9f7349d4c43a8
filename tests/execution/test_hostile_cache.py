"""A shared run cache under concurrency and strays (issue 22 items 6, 8): a run claimed by one sweep is
waited for by another, partials are judged by a heartbeat lease (not a local pid), strays are set aside,
only a process's own temporaries are removed, and output names cannot leave their directory."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from run_fakes import write_run

from nlbound.cli.main import main
from nlbound.execution import lease as L
from nlbound.execution.runner import clean_partials, run_all
from nlbound.training import TrainConfig
from nlbound.training.rundir import RunDirLock, process_token, run_dir, temporary_dir

CFGS = [TrainConfig(beta=2e-3, t_end=5.0, gammas=(1e-2,), eps=e) for e in (0.1, 0.2, 0.3)]


class SlowTrain:
    """Counts calls (thread-safe); each takes `seconds` before writing a valid run."""

    def __init__(self, seconds: float):
        self.seconds, self.calls, self.lock = seconds, [], threading.Lock()

    def __call__(self, config, out_dir, data_dir) -> None:
        with self.lock:
            self.calls.append(config.key())
        time.sleep(self.seconds)
        write_run(config, out_dir)


def test_two_sweeps_on_one_cache_train_each_run_once(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "WAIT_S", 0.05)
    train = SlowTrain(0.5)
    results: list[dict] = []

    def sweep(order):
        results.append(run_all(order, tmp_path, train_fn=train, processes=1, progress=False))

    threads = [threading.Thread(target=sweep, args=(order,)) for order in (CFGS, CFGS[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(train.calls) == sorted(c.key() for c in CFGS)  # each run trained once, the other sweep waited
    assert len(results) == 2 and results[0] == results[1]
    assert not list(tmp_path.glob("*.lease")) and not list(tmp_path.glob("*.partial-*"))


def _lease(tmp_path: Path, key: str, token: str, host: str, pid: int, age: float) -> Path:
    path = L.lease_path(tmp_path, key)
    path.write_text(json.dumps({"token": token, "host": host, "pid": pid}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_partials_of_another_node_are_judged_by_their_heartbeat(tmp_path):
    key, token = CFGS[0].key(), "4242-0badbeef"
    partial = tmp_path / f"{key}.partial-{token}"
    partial.mkdir()
    # another node's live trainer: its pid means nothing here (it may be any process, or none)
    _lease(tmp_path, key, token, "elsewhere/boot", os.getpid() + 10**6, age=1.0)
    clean_partials(tmp_path)
    assert partial.is_dir()
    _lease(tmp_path, key, token, "elsewhere/boot", os.getpid() + 10**6, age=L.LEASE_S + 10)  # stopped beating
    clean_partials(tmp_path)
    assert not partial.exists()


def test_a_stale_lease_is_broken_and_a_fresh_one_waited_for(tmp_path, monkeypatch):
    monkeypatch.setattr(L, "WAIT_S", 0.05)
    train = SlowTrain(0.0)
    key = CFGS[0].key()
    _lease(tmp_path, key, "4242-0badbeef", "elsewhere/boot", 1, age=L.LEASE_S + 10)
    run_all(CFGS[:1], tmp_path, train_fn=train, processes=1, progress=False)
    assert train.calls == [key] and not L.lease_path(tmp_path, key).exists()

    other = CFGS[1]
    fresh = _lease(tmp_path, other.key(), "4242-0badbeef", "elsewhere/boot", 1, age=0.0)

    def the_other_node_finishes() -> None:
        time.sleep(0.5)
        write_run(other, run_dir(tmp_path, other))
        fresh.unlink()

    threading.Thread(target=the_other_node_finishes).start()
    run_all([other], tmp_path, train_fn=train, processes=1, progress=False)
    assert train.calls == [key]  # waited for the other node's run instead of training it


def test_a_stray_file_at_a_run_path_is_set_aside_not_fatal(tmp_path, capsys):
    stray = run_dir(tmp_path, CFGS[0])
    stray.write_text("my notes")
    train = SlowTrain(0.0)
    dirs = run_all(CFGS[:1], tmp_path, train_fn=train, processes=1, progress=False)
    assert dirs[CFGS[0].key()].is_dir() and len(train.calls) == 1
    (aside,) = tmp_path.glob(f"{stray.name}.stray-*")
    assert aside.read_text() == "my notes"
    err = capsys.readouterr().err
    assert f"nlbound: warning: {stray} is not a run directory" in err
    run_all(CFGS[:1], tmp_path, train_fn=train, processes=1, progress=False)  # and later sweeps are fine
    assert len(train.calls) == 1


def test_a_writer_removes_only_temporaries_named_with_a_token(tmp_path):
    out = tmp_path / "X"
    mine = [tmp_path / "X.tmp-mine", tmp_path / ".X.old-backup", tmp_path / "X.tmp-123"]
    leftovers = [tmp_path / "X.tmp-123-0badbeef", tmp_path / ".X.old-77-deadbeef"]
    for p in mine + leftovers:
        p.mkdir()
    with RunDirLock(out):
        tmp = temporary_dir(out)
    assert all(p.is_dir() for p in mine) and not any(p.exists() for p in leftovers)
    assert tmp.name == f"X.tmp-{process_token()}"


@pytest.mark.parametrize("name", ["...toml", "..toml"])
def test_spec_names_that_would_leave_sweeps_are_refused(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweeps").mkdir()
    spec = tmp_path / "sweeps" / name
    spec.write_text('[fixed]\ndataset = "synthetic"\nsize = 7\nwidth = 4\n[sweep]\neps = [0.1]\n'
                    "[horizon]\nt_end = 0.5\n")
    assert main(["sweep", str(spec), "--runs", str(tmp_path / "runs"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give --out" in err
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "sweeps" / "results.csv").exists()
