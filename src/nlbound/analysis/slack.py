"""The additive view of the bound: at each run's priced minimum, how much of B each term is."""

from __future__ import annotations

from typing import Any

import numpy as np

from nlbound.analysis.bounds import bound_curve, priced_minimum
from nlbound.analysis.traces import Inputs

__all__ = ["additive_row", "additive_table"]


def additive_row(run, variants) -> dict[str, Any]:
    """B = margin risk + Υ(δ/n) + Δε^κ/γ + p-bit term at the priced minimum over recorded t > 0 and
    `variants` (analysis.bounds.priced_minimum), each term's value and share of B, and what B would
    be with the deviation terms replaced by the measured mean |f − g̃_κ| (test + train)/γ, i.e. with
    all of Δ's and the p-bit term's slack removed (a measurement, not a bound)."""
    best = priced_minimum(run, variants)
    if not np.isfinite(best["B"]):
        return {"B": float("inf"), "at": ""}
    v = next(v for v in variants if v.label == best["label"])
    c = bound_curve(run, v, n_searched=best["n"])
    j = int(np.flatnonzero(c["t"] == best["t"])[0])
    gamma = float(c["gamma"])
    terms = {k: float(c[k][j]) for k in ("margin_risk", "upsilon", "deviation", "precision")}
    measured = float(run.col(f"g{v.kappa}_test_dev")[j] + run.col(f"g{v.kappa}_train_dev")[j]) / gamma
    B = best["B"]
    return {"B": B, "t": best["t"], "at": best["label"], "n_searched": best["n"], **terms,
            **{f"{k}_share": terms[k] / B for k in terms},
            "B_without_deviation_slack": terms["margin_risk"] + terms["upsilon"] + measured}


def additive_table(figs: dict[str, Inputs]) -> dict[str, dict[str, Any]]:
    """additive_row for the main runs of every figure with Theorem 5.2 variants (full terms only)."""
    out: dict[str, dict[str, Any]] = {}
    for name, inp in figs.items():
        full = [v for v in inp.exp.bounds if v.terms == "full"]
        for r in inp.exp.main_runs():
            run = inp.runs[r.label]
            mine = [v for v in full if v.p == int(run.info["p"])]
            if mine:
                out[f"{name}: {r.label}"] = additive_row(run, mine)
    return out
