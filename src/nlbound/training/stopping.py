"""App. B's training phases (t1, t2) on a trace, and train()'s declared stop rule "phase 3 + margin".

App. B.1 ("Training phases"): in phase 1 the train risk falls to the optimal linear model's while
the loss stays at the zero model's; in phase 2 risk and loss sit at the optimal linear model's; in
phase 3 "both the risk and the loss drop below the optimal linear model level". Hence

    t1 = first recorded t with  train risk <= R_lin + tol,
    t2 = first recorded t >= t1 with  train risk < R_lin - tol  AND  train MSE < L_lin - tol,

R_lin, L_lin the optimal linear model's train risk and train MSE (data.dataset_statistics). The
tolerance `PHASE_TOL` is absolute, in units of risk and of MSE (both live in [0, 1]).
Pure functions over arrays; the training layer owns it because train() stops on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PHASE_TOL = 0.005  # absolute, risk and MSE: 0.5 % of the data, 2 % of L_lin ~ 0.25 on MNIST


@dataclass(frozen=True)
class Phases:
    """t1, t2 of App. B (inf: not observed among the recorded times)."""

    t1: float
    t2: float

    @property
    def phase3_reached(self) -> bool:
        return math.isfinite(self.t2)


def first_time(t: np.ndarray, ok: np.ndarray) -> float:
    """The first t[i] with ok[i] (t sorted), or inf."""
    idx = np.flatnonzero(ok)
    return float(t[idx[0]]) if idx.size else math.inf


def detect_phases(t, risk, loss, lin_risk: float, lin_loss: float, tol: float = PHASE_TOL) -> Phases:
    """t1 and t2 of App. B.1 (see the module doc) from the recorded train risk and train MSE."""
    t, risk, loss = (np.asarray(a, dtype=float) for a in (t, risk, loss))
    if not tol >= 0:
        raise ValueError(f"tol == {tol!r}, must be >= 0")
    t1 = first_time(t, risk <= lin_risk + tol)
    both = (risk < lin_risk - tol) & (loss < lin_loss - tol) & (t >= t1)
    return Phases(t1, first_time(t, both))


def should_stop(t, risk, loss, lin_risk: float, lin_loss: float, margin: float,
                tol: float = PHASE_TOL) -> bool:
    """train()'s stop rule: phase 3 observed (t2 finite) and the last recorded t >= margin * t2."""
    t = np.asarray(t, dtype=float)
    if margin <= 0 or t.size == 0:
        return False
    ph = detect_phases(t, risk, loss, lin_risk, lin_loss, tol)
    return ph.phase3_reached and float(t[-1]) >= margin * ph.t2
