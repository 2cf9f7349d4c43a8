"""A finished sweep's tables: results.csv (every run × recorded t × bound variant) and summary.csv (per
run: the least full bound over the grid of recorded times × variants, priced by a union bound)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nlbound.analysis.bounds import bound_curve
from nlbound.analysis.spec import BoundVariant
from nlbound.analysis.traces import load_run_dir
from nlbound.sweep.expand import SweepRun
from nlbound.sweep.spec import SweepSpec

RESULT_COLUMNS = ("t", "t_over_t_star", "train_risk", "test_risk", "variant", "kappa", "bound_p",
                  "gamma_rule", "q", "terms", "gamma", "margin_risk", "upsilon", "deviation", "precision", "bound")


def applicable(variants: Iterable[BoundVariant], data: Any) -> list[BoundVariant]:
    """The variants with the run's p (evaluation.run_bound refuses another); ValueError if none."""
    p = int(data.info["p"])
    out = [v for v in variants if v.p == p]
    if not out:
        raise ValueError(f"bounds.p == {sorted({v.p for v in variants})}, must include the p == {p} the run "
                         "was trained with (Υ counts the proxies it rounded to p bits)")
    return out
SUMMARY_COLUMNS = ("t_star", "t_end", "grid_size", "delta", "min_bound", "union_price", "variant_at_min",
                   "gamma_at_min", "t_at_min", "train_risk_at_min", "test_risk_at_min", "final_test_risk")


def run_results(run: SweepRun, data: Any, variants: Iterable[BoundVariant]) -> dict[str, list]:
    """Rows of results.csv for one run: every recorded t × every bound variant (eq. 6 terms)."""
    cols: dict[str, list] = {k: [] for k in ("key", *dict(run.point), *RESULT_COLUMNS)}
    t = data.t
    ratio = t / run.t_star if run.t_star else np.full_like(t, np.nan)
    for v in applicable(variants, data):
        c = bound_curve(data, v)
        fixed = {"key": run.config.key(), **dict(run.point), "variant": v.label, "kappa": v.kappa, "bound_p": v.p,
                 "gamma_rule": v.gamma_rule, "q": v.q, "terms": v.terms, "gamma": float(c["gamma"])}
        arrays = {"t": t, "t_over_t_star": ratio, "train_risk": data.col("train_risk"),
                  "test_risk": data.col("test_risk"), "margin_risk": c["margin_risk"],
                  "upsilon": c["upsilon"], "deviation": c["deviation"], "precision": c["precision"],
                  "bound": c["bound"]}
        for k in cols:
            cols[k].extend(arrays[k].tolist() if k in arrays else [fixed[k]] * len(t))
    return cols


def run_summary(run: SweepRun, data: Any, variants: Iterable[BoundVariant]) -> dict[str, Any]:
    """The least bound over the fixed grid G = {recorded t} × {full variants}, valid w.p. ≥ 1 − δ
    simultaneously for all of G by the union bound: each point is evaluated with δ/|G| (eq. 7's
    ln(1/δ) grows by ln|G|); union_price is what that adds to Υ_κ at the minimiser."""
    full = [v for v in applicable(variants, data) if v.terms == "full"]
    t, n = data.t, len(data.t) * len(full)
    row = {"key": run.config.key(), **dict(run.point), "t_star": run.t_star, "t_end": run.config.t_end,
           "grid_size": n, "delta": full[0].delta if full else math.nan}
    if not full:
        return {**row, **{k: math.nan for k in SUMMARY_COLUMNS if k not in row}, "variant_at_min": ""}
    union = [bound_curve(data, v, n_searched=n) for v in full]  # each point at delta/n (union_delta)
    grid = np.stack([np.where(np.isnan(u["bound"]), np.inf, u["bound"]) for u in union])
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    plain = bound_curve(data, full[i])
    return {**row, "min_bound": float(grid[i, j]),
            "union_price": float(union[i]["upsilon"][j] - plain["upsilon"][j]),
            "variant_at_min": full[i].label, "gamma_at_min": float(union[i]["gamma"]), "t_at_min": float(t[j]),
            "train_risk_at_min": float(data.col("train_risk")[j]),
            "test_risk_at_min": float(data.col("test_risk")[j]),
            "final_test_risk": float(data.col("test_risk")[-1])}


def tables(runs: list[SweepRun], dirs: dict[str, Path], spec: SweepSpec) -> tuple[dict, dict]:
    """(results, summary) as column dicts, in run order, read from the finished run directories."""
    variants = spec.bounds.variants()
    results: dict[str, list] = {}
    summary: dict[str, list] = {}
    for run in runs:
        data = load_run_dir(dirs[run.config.key()])
        for target, cols in ((results, run_results(run, data, variants)),
                             (summary, {k: [v] for k, v in run_summary(run, data, variants).items()})):
            for k, v in cols.items():
                target.setdefault(k, []).extend(v)
    return results, summary
