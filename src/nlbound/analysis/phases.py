"""App. B's phases on a finished run (t1, t2 from nlbound.training.stopping) and its phase-2 window."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nlbound.analysis.traces import RunData
from nlbound.training.stopping import PHASE_TOL, Phases, detect_phases

__all__ = ["PHASE_TOL", "Phases", "run_phases", "window", "phase_report", "cut_time"]


def run_phases(run: RunData, base: dict[str, float], tol: float = PHASE_TOL) -> Phases:
    """t1, t2 of App. B.1 on `run` against the optimal linear model's train risk / MSE in `base`."""
    return detect_phases(run.t, run.col("train_risk"), run.col("train_loss"),
                         base["lin_train_risk"], base["lin_train_loss"], tol)


def window(t: np.ndarray, ph: Phases) -> np.ndarray:
    """The recorded times of phases 1's end and 2: t1 <= t < t2 (t2 = inf: up to the last one)."""
    return (t >= ph.t1) & (t < ph.t2)


def cut_time(run: RunData, ph: Phases, margin: float) -> float:
    """Where a figure ends: margin * t2 if phase 3 was observed, else the last recorded t (the cap)."""
    return min(margin * ph.t2, float(run.t[-1])) if ph.phase3_reached else float(run.t[-1])


def phase_report(t: np.ndarray, bound: np.ndarray, ph: Phases, threshold: float = 0.5) -> dict[str, Any]:
    """C9/C10's numbers: t1, t2 (or "not reached by T"), the recorded points of [t1, t2), the
    fraction of them where `bound` < threshold, the worst (largest) bound there."""
    w = window(t, ph)
    vals = bound[w]
    return {
        "t1": float(ph.t1) if math.isfinite(ph.t1) else "not reached by T",
        "t2": float(ph.t2) if ph.phase3_reached else f"not reached by T = {float(t[-1]):.4g}",
        "T": float(t[-1]),
        "points": int(w.sum()),
        "fraction_below": float(np.mean(vals < threshold)) if vals.size else float("nan"),
        "worst": float(np.max(vals)) if vals.size else float("nan"),
    }
