"""The trained net of a run at a recorded time t: theta(0), theta(t) re-integrated from the run's TrainConfig.

Run directories store only trace.csv and run.json. Training is deterministic given the config (seeded
initialisation, deterministic integrators), so re-integrating `config` to t with the run's own
recording times up to t reproduces theta(t); `reintegration_error` reports how far the re-integrated
trace row at t is from the stored one (train/test risk, layer norms), so a mismatch is visible."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlbound._validate import ParameterError
from nlbound.data import Dataset, dataset_for
from nlbound.training import RunOptions, TrainConfig, load_run
from nlbound.training.run import train
from nlbound.training.rundir import INFO_FILE, RunDirError

__all__ = ["TrainedNet", "checked_run", "config_of", "recorded_time", "trained_net"]



@dataclass(frozen=True)
class TrainedNet:
    """A run's network at time t: config, dataset, packed weights at 0 and t, the stored trace row."""

    config: TrainConfig
    dataset: Dataset
    t: float
    theta0: np.ndarray
    theta: np.ndarray
    row: dict  # the re-integrated trace row at t (the net whose weights every bound uses)
    info: dict  # the run's run.json
    reintegration_error: float  # max |stored - re-integrated| over the layer norms W{l}_spec, W{l}_fro


def config_of(info: dict) -> TrainConfig:
    """The TrainConfig a run.json was written from (its fields are stored at the top level)."""
    return TrainConfig.from_dict(info)


def checked_run(run_dir):
    """(run, config) of a finished run directory (load_run's checks) whose run.json still describes the
    network that was trained: its config fields must make a TrainConfig hashing to its recorded key
    (an edited eps or width would otherwise be re-integrated as another network). RunDirError otherwise."""
    run = load_run(run_dir)
    path = Path(run_dir) / INFO_FILE
    key = run.info.get("key")
    if not isinstance(key, str):
        raise RunDirError(f"{path}: no config key ('key'): not a run directory of nlbound train")
    try:
        config = config_of(run.info)
    except (ValueError, TypeError) as exc:
        raise RunDirError(f"{path}: its config fields are not a valid TrainConfig ({exc})") from None
    if config.key() != key:
        raise RunDirError(f"{path}: its config fields hash to {config.key()[:16]}..., not to its key "
                          f"{key[:16]}... (edited after training?); train the run again")
    return run, config


def recorded_time(trace_t: np.ndarray, at: float | None) -> float:
    """The recorded time of the trace nearest to `at` (the last one when `at` is None)."""
    if at is None:
        return float(trace_t[-1])
    if not np.isfinite(at) or at < 0 or at > trace_t[-1] * (1 + 1e-9):
        raise ParameterError("at", at, f"in [0, {trace_t[-1]:g}] (a recorded time of the run)")
    return float(trace_t[int(np.argmin(np.abs(trace_t - at)))])


def trained_net(run_dir, at: float | None = None, *, dataset=None, data_dir=None, cache_dir=None,
                threads: int | None = None) -> TrainedNet:
    """Re-integrate the run in `run_dir` to its recorded time nearest `at` and return the net.

    The config is replaced by t_end = t and times = the run's recording times <= t, so the
    integrator visits exactly the same recording times as the original run up to t."""
    run, config = checked_run(run_dir)
    t_all = run.trace["t"]
    t = recorded_time(t_all, at)
    j = int(np.flatnonzero(t_all == t)[0])
    row = {k: float(v[j]) for k, v in run.trace.items()}
    ds = dataset if dataset is not None else dataset_for(config, data_dir=data_dir, cache_dir=cache_dir)
    times = tuple(float(s) for s in t_all[t_all <= t])
    if t == 0.0:
        sub = config.replace(t_end=float(t_all[t_all > 0][0]), times=times + (float(t_all[t_all > 0][0]),))
    else:
        sub = config.replace(t_end=t, times=times)
    with tempfile.TemporaryDirectory(prefix="nlbound-retrain-") as tmp:
        res = train(sub, ds, RunOptions(out_dir=Path(tmp), threads=threads))
    k = int(np.flatnonzero(res.trace["t"] == t)[0])
    theta = res.theta if t == sub.t_end else None
    if theta is None:  # t == 0: the weights at 0 are the initial ones
        theta = res.theta0
    if theta is None or res.theta0 is None:  # train() returns both on a complete run
        raise RuntimeError(f"re-integrating {run_dir} returned no weights")
    # the layer norms are computed from the float64 weights themselves; risks and losses are
    # recorded from outputs in the run's dtype (float32 by default), where a 1e-10 change of the
    # weights can flip a rounding, so they do not measure how well theta(t) was reproduced
    cols = [c for c in run.trace if c.startswith("W")]
    err = max(abs(float(res.trace[c][k]) - row[c]) for c in cols)
    row = {c: float(v[k]) for c, v in res.trace.items()}  # the same net for every bound
    return TrainedNet(config, ds, t, res.theta0, theta, row, run.info, err)
