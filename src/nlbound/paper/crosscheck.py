"""Fig. 1's GD cross-check: each main run against its twin trained with the paper's fixed-step GD
(role "crosscheck"), as the largest differences of their curves at the recorded times (claims.json meta)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nlbound.analysis.bounds import bound_curve
from nlbound.analysis.traces import Inputs


def curve_difference(t_a: np.ndarray, y_a: np.ndarray, t_b: np.ndarray, y_b: np.ndarray) -> float:
    """max |y_a - y_b| over the recorded times both runs share (inf-inf = 0; nan if none shared)."""
    common, ia, ib = np.intersect1d(t_a, t_b, return_indices=True)
    if common.size == 0:
        return float("nan")
    a, b = y_a[ia], y_b[ib]
    with np.errstate(invalid="ignore"):  # inf - inf where both exploded: equal, difference 0
        return float(np.max(np.where(a == b, 0.0, np.abs(a - b))))


def crosscheck(figs: dict[str, Inputs]) -> dict[str, Any]:
    """Every main run with a GD twin (role "crosscheck"): the largest difference, at the recorded
    times, between the two runs' test risk, train risk and each Theorem 5.2 bound curve."""
    out: dict[str, Any] = {}
    for inp in figs.values():
        for r in inp.exp.main_runs():
            gd = inp.exp.crosscheck(r.label)
            if gd is None or gd.label not in inp.runs:
                continue
            a, b = inp.runs[r.label], inp.runs[gd.label]
            diff = {c: curve_difference(a.t, a.col(c), b.t, b.col(c)) for c in ("test_risk", "train_risk")}
            diff |= {f"bound {v.label}": curve_difference(a.t, bound_curve(a, v)["bound"], b.t, bound_curve(b, v)["bound"])
                     for v in inp.exp.bounds if v.terms == "full"}
            out[f"{inp.exp.name}: {r.label} vs {gd.label}"] = {
                "max_abs_difference": {k: float(f"{v:.3g}") for k, v in diff.items()},
                "common_times": int(np.intersect1d(a.t, b.t).size)}
    return out
