"""Synthetic runs in the trace.csv / run.json format and fake train functions (helpers; no tests here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nlbound._io import atomic_write_columns, atomic_write_json
from nlbound.analysis.spec import Experiment
from nlbound.analysis.traces import Inputs, load_run_dir
from nlbound.paper.figures import Context

S = 0.6
RANK = {7: 49, 14: 188, 28: 712}
BASE = {"lin_train_loss": 0.2, "lin_train_risk": 0.12, "lin_test_risk": 0.12, "zero_loss": 0.5}


def ctx(quick: bool = True) -> Context:
    return Context(quick=quick, s_of=lambda dataset, size: S)


def synthetic_trace(config, n: int = 40) -> dict[str, np.ndarray]:
    """A plausible trace: risks fall from 0.5 to ~0.12 around t_end/3; losses fall; proxies deviate ~eps."""
    t = np.concatenate([[0.0], np.geomspace(1e-2, config.t_end, n - 1)])
    x = 1.0 / (1.0 + np.exp(-(np.log(t + 1e-12) - np.log(config.t_end / 8)) * 4))
    train_risk = 0.5 - 0.4 * x
    late = (t / config.t_end) ** 8  # phase 3: the loss drops below the linear optimum (0.2) late
    cols = {"t": t, "train_risk": train_risk, "test_risk": train_risk + 0.005,
            "train_loss": 0.5 - 0.3 * x - 0.1 * late, "test_loss": 0.5 - 0.29 * x, "train_loss_X": 0.25 - 0.2 * x}
    for g in config.gammas:
        k = f"{g:.6g}"
        cols[f"train_margin_risk@{k}"] = np.minimum(1.0, train_risk + 0.01 + g)
        cols[f"test_margin_risk@{k}"] = np.minimum(1.0, train_risk + 0.02 + g)
        cols[f"train_cmr@{k}"] = cols[f"train_margin_risk@{k}"] - 0.005
        cols[f"test_cmr@{k}"] = cols[f"test_margin_risk@{k}"] - 0.005
        for proxy, shift in (("g1", 0.002), ("g2", 0.001), ("glin", 0.003)):
            cols[f"{proxy}_train_cmr@{k}"] = train_risk + shift
            cols[f"{proxy}_test_cmr@{k}"] = train_risk + 2 * shift
    unit = 0.0 if config.p == 64 else 2.0 ** -(11 if config.p == 16 else 24)  # the p-bit term's inputs
    cols.update(prox_dv=0.5 * unit * x, prox_dv_range=0.5 * unit * x, prox_dv_perp=0.0 * x,
                prox_nlip=config.eps * unit * x, prox_r=config.eps * unit * x)
    for proxy, scale in (("g1", 1.0), ("g2", 1e-4), ("glin", 2e-2)):
        cols[f"{proxy}_train_dev"] = scale * config.eps * x
        cols[f"{proxy}_test_dev"] = 1.1 * scale * config.eps * x
    return cols


def write_run(config, out_dir: Path, trace: dict | None = None, **info) -> None:
    out_dir = Path(out_dir)
    trace = trace or synthetic_trace(config)
    atomic_write_columns(out_dir / "trace.csv", {k: [float(x) for x in v] for k, v in trace.items()})
    payload = {**config.as_dict(), "key": config.key(), "rho": 1.0 if config.rank_one else 5.0, "s": S,
               "rank": RANK[config.size], "d": config.size ** 2, "m": 60000, "m_test": 10000, "status": "complete",
               "recorded": len(trace["t"]), **info}
    atomic_write_json(out_dir / "run.json", payload)


def fake_train(config, out_dir, data_dir) -> None:
    write_run(config, out_dir)


class CountingTrain:
    """Counts calls; raises KeyboardInterrupt on call number `interrupt_at` (1-based)."""

    def __init__(self, interrupt_at: int | None = None):
        self.calls: list[str] = []
        self.interrupt_at = interrupt_at

    def __call__(self, config, out_dir, data_dir) -> None:
        self.calls.append(config.key())
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            (Path(out_dir) / "trace.csv").write_text("t\n0\n")  # half-written run
            raise KeyboardInterrupt
        write_run(config, out_dir)


def fake_baselines(dataset, size, data_dir) -> dict:
    return dict(BASE)


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def interrupting_train(config, out_dir, data_dir) -> None:
    """Picklable trainer for process pools: raises KeyboardInterrupt for eps == 0.5, else writes."""
    if config.eps == 0.5:
        raise KeyboardInterrupt
    write_run(config, out_dir)


def inputs_of(exp: Experiment, tmp_path: Path) -> Inputs:
    """The figure inputs of `exp` with every run written as a synthetic run under tmp_path."""
    runs = {}
    for r in exp.runs:
        d = tmp_path / r.config.key()
        write_run(r.config, d)
        runs[r.label] = load_run_dir(d)
    return Inputs(exp, runs, {("mnist", 14): dict(BASE)})
