"""Quantities a claim reads from a figure's runs that are not curves: the planned setups' bounds (C7)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nlbound.analysis.traces import Inputs
from nlbound.evaluation.run_bound import run_bound

__all__ = ["planned_bounds"]


def planned_bounds(inp: Inputs, k: int = 0) -> dict[int, dict[str, Any]]:
    """Per depth, seed k's run of the planner's best setup (figures.fig6b): Theorem 5.2 with the p-bit
    term at the planned (γ, t) with δ/N (N = the plan's grid size: the choice was made over N points,
    evaluation.run_bound.union_delta), its terms and the test risk there; in the form inp.form (claims
    pass the paper's)."""
    params = dict(inp.exp.params)
    plans = {int(L): dict(r) for L, r in params["planned_best"]}
    out: dict[int, dict[str, Any]] = {}
    for r in inp.exp.main_runs():
        run = inp.runs[inp.exp.seed_run(r.label, k).label]
        L = int(run.info["depth"])
        plan = plans[L]
        b = run_bound(run.trace, run.info, kappa=int(plan["kappa"]), gamma=float(plan["gamma"]),
                      delta=float(params["plan_delta"]), p=int(plan["p"]), n_searched=int(plan["n_points"]),
                      form=inp.form)
        j = int(np.argmin(np.abs(run.t - float(plan["t"]))))
        out[L] = {"B": float(b["bound"][j]), "margin_risk": float(b["margin_risk"][j]),
                  "upsilon": float(b["upsilon"][j]), "deviation": float(b["deviation"][j]),
                  "precision": float(b["precision"][j]), "t": float(run.t[j]),
                  "test_risk": float(run.col("test_risk")[j]), "seed": int(run.info["init_seed"])}
    return out
