"""The planner's best L = 3 setup, trained: priced bounds and the run-time variant's soundness counts.

Usage: python scripts/l3_setup_table.py CACHE_DIR P   (P = 16: the planner's choice; 32: the same at p = 32)

The setup is the L = 3 top row of `nlbound plan --eps-max 0.1 --depth 2,3` (β = 0.003, rank-one W₁(0),
ε = 0.001), trained to t = 200. Prints the minimum over every recorded (t, γ) and κ ∈ {1, 2} at δ/N
(as runtime_table.py --priced) and, at every recorded t, the measured mean |f − g₂| against the
run-time allowance (counts raw and beyond the float32 rounding of the measured columns).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from nlbound.data import load_dataset
from nlbound.analysis.bounds import run_params
from nlbound.paper.figures import gammas_for
from nlbound.execution.runner import run_all
from nlbound.analysis.traces import load_run_dir
from nlbound.theory.runtime import runtime_terms
from nlbound.training import TrainConfig


def _runtime_table():
    """scripts/runtime_table.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("runtime_table", Path(__file__).with_name("runtime_table.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _soundness(run, cfg) -> None:
    p, L = run_params(run), cfg.depth
    ds = load_dataset(cfg.dataset, size=cfg.size)
    stack = lambda fmt: np.stack([run.col(fmt.format(l)) for l in range(1, L + 1)], axis=-1)  # noqa: E731
    r = runtime_terms(p["d"], p["m"], L, 2, cfg.p, 0.05, p["eps"], 1.0, np.zeros_like(run.t), stack("gap_W{}_spec"),
                      stack("W{}_spec"), stack("twin_W{}_spec"), run.col("gap_W1X_fro_over_sqrt_m"),
                      run.col("W1X_fro_over_sqrt_m"), run.col("twin_W1X_fro_over_sqrt_m"))  # γ = 1: γ·D
    fmax = np.prod([run.col(f"W{l}_spec") for l in range(1, L + 1)], axis=0)
    allow = {"test": r["dev_test"] / np.sqrt(p["d"]) * float(np.mean(np.linalg.norm(ds.x_test, axis=1))),
             "train": r["dev_train"]}
    for k, x in (("test", ds.x_test), ("train", ds.x_train)):
        tol = 16 * 2.0**-24 * fmax * float(np.max(np.linalg.norm(x, axis=1)))
        meas = run.col(f"g2_{k}_dev")
        print(f"soundness {k}: {int(np.sum(meas > allow[k]))} raw, {int(np.sum(meas > allow[k] + tol))} beyond "
              f"rounding, of {run.t.size} recorded t")


def main() -> int:
    cache, p = sys.argv[1], int(sys.argv[2])
    cfg = TrainConfig(dataset="mnist", size=7, depth=3, width=64, eps=0.001, beta=0.003, rank_one=True, p=p,
                      t_end=200.0, gammas=tuple(sorted(set(gammas_for(0.003)) | {2.7e-10})))
    run_all([cfg], cache, processes=1, progress=False)
    run = load_run_dir(f"{cache}/{cfg.key()}", cfg)
    out, n = _runtime_table()._priced(run, SimpleNamespace(config=cfg))
    risk = dict(zip(run.t.tolist(), run.col("test_risk").tolist(), strict=True))
    print(f"N = {n} (every point at 0.05/N)")
    for f, v in out.items():
        print(f"{f}: {v[0]:.4f} (t={v[1]:.3g}, γ={v[2]:.3g}, κ={v[3]}; test risk {risk[v[1]]:.4f})")
    _soundness(run, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
