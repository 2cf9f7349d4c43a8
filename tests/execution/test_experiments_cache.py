"""The run cache under damage: every kind of broken cached run is retrained (saying so), partial
directories of live sweeps are kept, progress follows running runs, claims.json is strict JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlbound.execution import execute, runner
from nlbound.paper.claims import Claim
from nlbound.paper.report import write_report
from nlbound.execution.execute import cached_run_problem
from nlbound.execution.runner import clean_partials, run_all
from nlbound.training import TrainConfig
from nlbound.training.rundir import run_dir

from run_fakes import CountingTrain, write_run

CFG = TrainConfig(beta=2e-3, t_end=5.0, gammas=(1e-2,))


def _edit_info(path: Path, **changes) -> None:
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, **changes}))


def _damage(d: Path, what: str) -> None:
    trace, info = d / "trace.csv", d / "run.json"
    lines = trace.read_text().splitlines()
    if what == "truncated":
        trace.write_text("\n".join(lines[:10]) + "\n")
    elif what == "interrupted":
        _edit_info(info, status="interrupted")
    elif what == "nan":
        trace.write_text("\n".join([lines[0], _nan_row(lines), *lines[2:]]) + "\n")
    elif what == "header-only":
        trace.write_text(lines[0] + "\n")
    elif what == "missing-trace":
        trace.unlink()
    elif what == "empty-info":
        info.write_text("")
    elif what == "garbage-info":
        info.write_text("{not json")
    elif what == "garbage-trace":
        trace.write_bytes(b"\xff\xfe\x00garbage")
    elif what == "other-config":
        _edit_info(info, eps=0.5)


def _nan_row(lines: list[str]) -> str:
    cells = lines[1].split(",")
    cells[1] = "nan"
    return ",".join(cells)


DAMAGE = {
    "truncated": "run.json records 40 rows, trace.csv holds 9",
    "interrupted": "status == 'interrupted', must be 'complete'",
    "nan": "is not finite",
    "header-only": "run.json records 40 rows, trace.csv holds 0",
    "missing-trace": "trace.csv: missing",
    "empty-info": "run.json: empty",
    "garbage-info": "run.json: not valid JSON",
    "garbage-trace": "trace.csv: cannot be read",
    "other-config": "run.json has eps == 0.5, its key needs 0.01",
}


@pytest.mark.parametrize("what", list(DAMAGE))
def test_damaged_cached_run_is_retrained_and_reported(tmp_path, capsys, what):
    d = run_dir(tmp_path, CFG)
    write_run(CFG, d)
    assert cached_run_problem(tmp_path, CFG) is None
    _damage(d, what)
    problem = cached_run_problem(tmp_path, CFG)
    assert problem is not None and DAMAGE[what] in problem and str(d) in problem and "\n" not in problem
    fake = CountingTrain()
    run_all([CFG], tmp_path, train_fn=fake, processes=1, progress=False)
    assert fake.calls == [CFG.key()]
    err = capsys.readouterr().err
    assert f"cached run unusable, retraining it: {d}" in err and DAMAGE[what] in err
    assert cached_run_problem(tmp_path, CFG) is None  # replaced by the new run


def test_trainer_that_leaves_an_unfinished_run_is_an_error(tmp_path):
    def unfinished(config, out_dir, data_dir):
        write_run(config, out_dir, status="interrupted")

    with pytest.raises(ValueError, match="status == 'interrupted', must be 'complete'"):
        run_all([CFG], tmp_path, train_fn=unfinished, processes=1, progress=False)
    assert not run_dir(tmp_path, CFG).exists() and list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clean_partials_keeps_live_sweeps_leftovers(tmp_path):
    from nlbound.execution.lease import Lease, lease_path
    from nlbound.training.rundir import process_token

    key = CFG.key()
    live = tmp_path / f"{key}.partial-{process_token()}"  # under a live lease (this process holds it)
    dead = tmp_path / f"{key}.partial-{_dead_pid()}-0123abcd"
    lease = Lease(lease_path(tmp_path, key))
    assert lease.try_acquire()
    for p in (live, dead):
        p.mkdir()
    dead_lock = Path(f"{dead}.tmp-1.lock")
    dead_lock.write_text("1")
    # a heartbeat killed inside its atomic write leaves nlbound._io's hidden temporary file
    dead_tmp = tmp_path / f".{dead.name}.progress.x1y2z3.tmp"
    live_tmp = tmp_path / f".{live.name}.progress.x1y2z3.tmp"
    for p in (dead_tmp, live_tmp):
        p.write_text("{}")
    finished = tmp_path / key
    write_run(CFG, finished)
    clean_partials(tmp_path)
    assert live.is_dir() and finished.is_dir() and not dead.exists() and not dead_lock.exists()
    assert not dead_tmp.exists() and live_tmp.exists()
    lease.release()
    clean_partials(tmp_path)  # no lease holds it any more: a leftover
    assert not live.exists() and not live_tmp.exists() and finished.is_dir()


def test_default_train_loads_the_config_data_seed(monkeypatch, tmp_path):
    seen = []

    def fake_load(config, data_dir=None, cache_dir=None):  # nlbound.data.dataset_for: a config's dataset
        seen.append((config.dataset, config.size, config.data_seed))
        return object()

    def fake_train(config, dataset, options):
        seen.append(options.progress_file)

    import nlbound.training

    monkeypatch.setattr(execute, "dataset_for", fake_load)
    monkeypatch.setattr(nlbound.training, "train", fake_train)
    monkeypatch.setattr(execute, "_DATASETS", {})
    cfg = TrainConfig(dataset="synthetic", data_seed=3)
    execute.default_train(cfg, tmp_path / "x", None)
    execute.default_train(cfg.replace(data_seed=4), tmp_path / "y", None)
    execute.default_train(cfg, tmp_path / "z", None)  # in memory: not loaded again
    assert seen == [("synthetic", 7, 3), Path(f"{tmp_path / 'x'}.progress"), ("synthetic", 7, 4),
                    Path(f"{tmp_path / 'y'}.progress"), Path(f"{tmp_path / 'z'}.progress")]


def test_progress_counts_running_runs_by_their_t(tmp_path):
    a, b = TrainConfig(beta=1e-3), TrainConfig(beta=2e-3)
    bar = runner._Progress(tmp_path, 3, {a.key(): 2.0, b.key(): 6.0}, enabled=True)
    try:
        Path(f"{tmp_path / a.key()}.partial-1.progress").write_text(json.dumps({"t": 5.0, "t_end": 10.0}))
        Path(f"{tmp_path / b.key()}.partial-2.progress").write_text(json.dumps({"t": 1.5, "t_end": 6.0}))
        assert bar.running_fractions() == {a.key(): 0.5, b.key(): 0.25}
        bar.refresh()
        assert bar.bar.n == pytest.approx(2.0 * 0.5 + 6.0 * 0.25)
        bar.done(a.key())
        assert bar.bar.n == pytest.approx(2.0 + 6.0 * 0.25) and bar.runs_done == 2
    finally:
        bar.close()


def test_train_keeps_its_t_in_the_progress_file(tmp_path):
    from nlbound.training.supervise import Heartbeat

    beat = Heartbeat(tmp_path / "p.progress", 10.0)
    beat(2.5)
    assert json.loads((tmp_path / "p.progress").read_text()) == {"t": 2.5, "t_end": 10.0}
    beat.close()
    assert not (tmp_path / "p.progress").exists()


def test_claims_json_is_strict_json_with_null_for_non_finite(tmp_path):
    claim = Claim("C1", "fig1", "s", "c", measured={"B": float("inf"), "ratio": float("nan"), "ok": 0.25})
    sound = {"theorem": {"sound": 0, "total": 0}, "optimistic": {"sound": 0, "total": 0}, "violations": []}
    write_report(tmp_path, [claim], sound, {"quick": True, "figures": [], "wall_s": None})

    def refuse(name):
        raise AssertionError(f"bare {name} in claims.json")

    payload = json.loads((tmp_path / "claims.json").read_text(), parse_constant=refuse)
    assert payload["claims"][0]["measured"] == {"B": None, "ratio": None, "ok": 0.25}
    assert "not finite" in payload["null_means"]
