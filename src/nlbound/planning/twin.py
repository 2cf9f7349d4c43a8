"""Predicted margin risk: the linear twin (eps = 0) trained from Y X~^T alone, its margins on the training set."""

from __future__ import annotations

from functools import partial

import numpy as np

from nlbound.evaluation.metrics import range_basis, round_in_basis
from nlbound.evaluation.rounding import rounding_constants
from nlbound.evaluation.run_bound import clamp_rho
from nlbound.networks import frobenius_spectral_ratio, init_weights, pack, unpack
from nlbound.training.flows import TWIN_RTOL, LinearTwinFlow, end_to_end
from nlbound.training.integrators import integrate_adaptive

__all__ = ["TWIN_RTOL", "init_rho", "twin_weights", "twin_margins", "margin_risk_table", "rounding_table"]


def init_rho(n_in: int, width: int, depth: int, init: str, seed: int) -> float:
    """rho = ||W1(0)||_F / ||W1(0)|| of the run's initial W1 (independent of beta: each layer is
    rescaled to spectral norm beta), clamped to >= 1 as the theory requires; 1 for a rank-one W1."""
    if init == "rank_one":
        return 1.0
    w1 = init_weights(n_in, width, depth, 1.0, rank_one=False, seed=seed)[0]
    return clamp_rho(frobenius_spectral_ratio(w1))


def twin_weights(x: np.ndarray, y: np.ndarray, depth: int, width: int, beta: float, init: str, seed: int,
                 times: np.ndarray) -> np.ndarray:
    """End-to-end vectors v(t) (len(times), n_in) of the linear twin f^0_theta0(t)(x) = x . v(t).

    Same initialisation rule as nlbound.training.train for that seed (init_weights), gradient flow
    of eq. 4 at eps = 0 from the statistics c = Y X~^T / m and S = X~ X~^T / m only
    (LinearTwinFlow; c is used exactly: the twin predicts the trained net, not the p-bit proxy).
    times: sorted, > 0."""
    x = np.asarray(x, dtype=np.float64)
    m = x.shape[0]
    c = x.T @ np.asarray(y, dtype=np.float64) / m  # Y X~^T / m
    S = x.T @ x / m
    ws0 = init_weights(x.shape[1], width, depth, beta, rank_one=(init == "rank_one"), seed=seed)
    flow = LinearTwinFlow(c, S, width, depth)
    out: list[np.ndarray] = []

    def record(t: float, theta: np.ndarray) -> None:
        if t > 0:
            out.append(end_to_end(unpack(theta, flow.shapes)).reshape(-1))

    integrate_adaptive(flow, pack(ws0), np.concatenate([[0.0], times]), record,
                       rtol=TWIN_RTOL, atol=1e-16, h_min=0.0, method="dopri5")
    return np.stack(out)


def twin_margins(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Margins y_k f(x_k) (len(v), m) of the linear models x -> x . v_i on the training set."""
    z = np.asarray(v, dtype=np.float64) @ np.asarray(x, dtype=np.float64).T  # (n, m), C-contiguous
    z *= np.asarray(y, dtype=np.float64)
    return z


def margin_risk_table(margins: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """Empirical margin risks mean_k [z_k < gamma_j] (Sec. 4) for every row of margins (n, m) and
    every gamma at once: (n, len(gammas)).

    Each row is sorted once; the count of margins strictly below gamma_j is then the left insertion
    point of gamma_j (searchsorted), for all gammas together: O(m log m + k log m) per row, whatever k."""
    z = np.sort(np.asarray(margins, dtype=np.float64), axis=1)
    g = np.asarray(gammas, dtype=np.float64).reshape(-1)
    counts = np.stack([np.searchsorted(row, g, side="left") for row in z])  # #{z < gamma}
    return counts.reshape(z.shape[0], g.size) / z.shape[1]


def _keep_positive(out: list, t: float, theta: np.ndarray) -> None:
    if t > 0:
        out.append(theta.copy())


def rounding_table(x: np.ndarray, y: np.ndarray, depth: int, width: int, beta: float, init: str, seed: int,
                   times: np.ndarray, p: int) -> dict[str, np.ndarray]:
    """The p-bit term's twin inputs (evaluation.rounding, docs/PROOFS.md eqs. P2-P4) at `times` (> 0),
    as training records them: the twin from c = Y X~^T/m against the twin from c rounded to p bits
    (on the data's range), same init. Returns dv, dv_range, dv_perp and n1 = N/ε (N is linear in ε:
    the twins are linear nets), each of length len(times); zeros for p = 64 (nothing rounded)."""
    x = np.asarray(x, dtype=np.float64)
    m = x.shape[0]
    c = x.T @ np.asarray(y, dtype=np.float64) / m
    S = x.T @ x / m
    keys = ("dv", "dv_range", "dv_perp", "n1")
    if p == 64:
        return {k: np.zeros(len(times)) for k in keys}
    ws0 = pack(init_weights(x.shape[1], width, depth, beta, rank_one=(init == "rank_one"), seed=seed))
    states: list[list[np.ndarray]] = []
    for cc in (c, round_in_basis(c, p, range_basis(S))):
        flow = LinearTwinFlow(cc, S, width, depth)
        states.append([])
        integrate_adaptive(flow, ws0, np.concatenate([[0.0], times]), partial(_keep_positive, states[-1]),
                           rtol=TWIN_RTOL, atol=1e-16, h_min=0.0, method="dopri5")
    rows = [rounding_constants(unpack(a, flow.shapes), unpack(b, flow.shapes), 1.0, S)
            for a, b in zip(*states, strict=True)]
    return {k: np.array([r["n_lip" if k == "n1" else k] for r in rows]) for k in keys}
