"""Pure metric functions of Sec. 4-5 and App. B: risks, margin risks, losses, proxies, optimistic bound.

Conventions: y (m,) in {-1, +1}; outputs yhat (m,); inputs x (m, d) row-major whitened, so the
paper's X~ is x.T, X~ X~^T = x.T @ x = m P and X~^+ = X~^T / m on the range of X~ (P = I when
X~ has full rank d)."""

from __future__ import annotations

import numpy as np

from nlbound.data.dataset import misclassification_risk

__all__ = [
    "risk",
    "margin_risk",
    "continuous_margin_risk",
    "margin_summary",
    "loss",
    "loss_x",
    "assumption_5_1_quantity",
    "linear_correction",
    "g2_outputs",
    "mean_abs_deviation",
    "optimistic_bound",
    "round_to_precision",
    "round_in_basis",
]


def risk(y: np.ndarray, yhat: np.ndarray) -> float:
    """Empirical misclassification risk: mean of r(y, yhat) = [y*yhat < 0] (Sec. 4); the one
    formula lives in the data layer (it also scores the optimal linear model there)."""
    return misclassification_risk(y, yhat)


def margin_risk(y: np.ndarray, yhat: np.ndarray, gamma: float) -> float:
    """Empirical margin risk: mean of r_gamma(y, yhat) = [y*yhat < gamma] (Sec. 4)."""
    return float(np.mean(y * yhat < gamma))


def continuous_margin_risk(y: np.ndarray, yhat: np.ndarray, gamma: float) -> float:
    """Empirical continuous margin risk: mean of r^C_gamma = [y yhat < 0] + (1 - y yhat/gamma)[y yhat in [0, gamma]]
    (Sec. 4), i.e. clip(1 - y*yhat/gamma, 0, 1)."""
    return float(np.mean(np.clip(1.0 - (y * yhat) / gamma, 0.0, 1.0)))


FEW_GAMMAS = 4  # up to this many gammas, a few vectorised passes per gamma beat one searchsorted (measured)


def margin_summary(y: np.ndarray, yhat: np.ndarray, gammas) -> tuple[float, np.ndarray, np.ndarray]:
    """(risk, margin risks r_gamma, continuous margin risks r^C_gamma) for every gamma at once (Sec. 4).

    With the margins z = y*yhat, n_j = #{z < gamma_j} and s_j = sum of max(z, 0) over {z < gamma_j}:
    r_gamma_j = n_j / m and, r^C_gamma(z) being 1 for z < 0 and 1 - z/gamma on [0, gamma),
    r^C_gamma_j = (n_j - s_j / gamma_j) / m. For more than FEW_GAMMAS gammas, n and s come from one
    searchsorted of z among the sorted gammas and two bincounts (O(m log #gammas)); for fewer, from
    one mask per gamma. Equal to risk / margin_risk exactly and to continuous_margin_risk up to
    float64 rounding."""
    z = np.multiply(y, yhat)
    m = z.shape[0]
    gammas = np.asarray(gammas, dtype=np.float64)
    zpos = np.maximum(z, 0.0)
    if gammas.size <= FEW_GAMMAS:
        masks = [z < g for g in gammas]
        n = np.array([np.count_nonzero(b) for b in masks], dtype=np.float64)
        s = np.array([np.add.reduce(zpos, where=b) for b in masks])
    else:
        order = np.argsort(gammas, kind="stable")
        idx = np.searchsorted(gammas[order], z, side="right")  # z counts towards sorted gamma_j iff idx <= j
        n, s = np.empty(gammas.size), np.empty(gammas.size)
        n[order] = np.cumsum(np.bincount(idx, minlength=gammas.size + 1))[: gammas.size]
        s[order] = np.cumsum(np.bincount(idx, weights=zpos, minlength=gammas.size + 1))[: gammas.size]
    return int(np.count_nonzero(z < 0)) / m, n / m, (n - s / gammas) / m


def loss(y: np.ndarray, yhat: np.ndarray) -> float:
    """L = ||Y - f(X~)||^2 / 2m, the objective of eq. 4."""
    r = y - yhat
    return float(r @ r / (2 * y.shape[0]))


def assumption_5_1_quantity(y: np.ndarray, yhat: np.ndarray, x: np.ndarray) -> float:
    """||(Y - f(X~)) X~^T||_F^2 of Assumption 5.1 (must not exceed its value at t = 0)."""
    v = (y - yhat) @ x
    return float(v @ v)


def loss_x(y: np.ndarray, yhat: np.ndarray, x: np.ndarray) -> float:
    """L_X = ||(Y - f(X~)) X~^T||_F^2 / 2m, the "projected" loss of Fig. 7 (taken literally)."""
    return assumption_5_1_quantity(y, yhat, x) / (2 * y.shape[0])


def linear_correction(f_train: np.ndarray, g1_train: np.ndarray, x_train: np.ndarray) -> np.ndarray:
    """The d-vector w = (f(X~) - g1(X~)) X~^+ of eq. 25, with X~^+ = X~^T/m on the range of X~
    (exact for whitened data: the rows of x lie in the range, so P w = w)."""
    return (f_train - g1_train) @ x_train / x_train.shape[0]


def g2_outputs(g1: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """g2(x) = g1(x) + w . x (eq. 25) given g1's outputs on x and the correction w."""
    return g1 + x @ w


def mean_abs_deviation(f: np.ndarray, g: np.ndarray) -> float:
    """(1/m) sum_k |f(x_k) - g(x_k)|, the deviation terms of eq. 1 / eq. 41."""
    return float(np.mean(np.abs(f - g)))


def optimistic_bound(
    train_margin_risk_f: float | np.ndarray, test_cmr_g: float | np.ndarray, train_cmr_g: float | np.ndarray,
    test_dev: float | np.ndarray, train_dev: float | np.ndarray, gamma: float,
):
    """Right-hand side of eq. 41 with the expectations estimated on the test set:
    R^_gamma[f] + (R^C_gamma[g] - R^^C_gamma[g]) + (E|f - g| + (1/m) sum |f - g|) / gamma.
    Broadcasts over numpy arrays (e.g. trace columns)."""
    return train_margin_risk_f + (test_cmr_g - train_cmr_g) + (test_dev + train_dev) / gamma


def round_to_precision(v: np.ndarray, p: int) -> np.ndarray:
    """Round to a p-bit float (p = 16: IEEE half, 32: single, 64: unchanged), returned as float64.
    This is how the proxies' free parameters become the p-bit numbers Lemma 7.2 counts."""
    dtypes = {16: np.float16, 32: np.float32, 64: np.float64}
    if p not in dtypes:
        raise ValueError(f"p == {p}, must be one of 16, 32, 64")
    return np.asarray(v, dtype=np.float64).astype(dtypes[p]).astype(np.float64)


def round_in_basis(v: np.ndarray, p: int, basis: np.ndarray | None) -> np.ndarray:
    """v's coordinates in the orthonormal `basis` (d, r) of the data's range rounded to p bits and
    mapped back (basis None: v's own d coordinates). So a vector of the range is fixed by r p-bit
    numbers, the count Lemma 7.2 makes with d = the effective dimension r (docs/PROOFS.md, step C)."""
    if basis is None:
        return round_to_precision(v, p)
    return basis @ round_to_precision(basis.T @ np.asarray(v, dtype=np.float64), p)


def range_basis(S: np.ndarray) -> np.ndarray | None:
    """An orthonormal basis (d, r) of the range of S = X~ X~^T / m (= P, the projector on the range of
    whitened data: eigenvalues 1 and 0), or None when S has full rank (the coordinates themselves)."""
    lam, vec = np.linalg.eigh(np.asarray(S, dtype=np.float64))
    keep = lam > 0.5
    return None if keep.all() else vec[:, keep]
