"""Training time t*_α(β) of the linear network (eq. 15 for L = 2, eq. 97 for L ≥ 3)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nlbound.theory._checks import check_alpha_above, validate

_NEAR_ONE = 0.99  # above it, F(z) of eq. 97 comes from its expansion about z = 1 (scipy: inf near 1)
_TINY = 1e-280  # below it, β^L (and (1 − α)β^L) may be subnormal or 0: eq. 15 in plain logs


def _hyp_near_one(b, z, terms=20):
    """₂F₁(1, b; b+1; z) for z ∈ (0.99, 1) (DLMF 15.8.10, the case c = a + b):
    b Σ_k (b)_k/k! [ψ(k+1) − ψ(b+k) − ln(1−z)] (1−z)^k; 20 terms leave < 0.01^20 relative."""
    w, lw = 1.0 - z, np.log1p(-z)
    total, coef, wk = np.zeros_like(z), np.ones_like(b), np.ones_like(z)
    for k in range(terms):
        total += coef * (float(special.digamma(k + 1.0)) - special.digamma(b + k) - lw) * wk
        coef = coef * (b + k) / (k + 1.0)
        wk = wk * w
    return b * total


def _hyp(b, z):
    """F(z) = ₂F₁(1, b; b+1; z) of eq. 97 (b = 2/L − 1 ∈ (−1, 0), 0 ≤ z < 1)."""
    b, z = np.broadcast_arrays(b, z)
    out = np.array(special.hyp2f1(1.0, b, b + 1.0, z), dtype=np.float64)
    near = z > _NEAR_ONE
    if near.any():
        out[near] = _hyp_near_one(b[near], z[near])
    return out


def _t_star(alpha, beta, s, depth):
    """Unvalidated t*_α(β); assumes β^L/s < α < 1. +inf where t*_α is beyond float64."""
    alpha, beta, s, L = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (alpha, beta, s, depth)))
    with np.errstate(all="ignore"):
        bL = beta**L
        # eq. 15: (1/2s) ln(α(s − β²)/((1 − α)β²)) = (1/2s) log1p((αs − β²)/((1 − α)β²))
        t2 = np.log1p((alpha * s - bL) / ((1.0 - alpha) * bL)) / (2.0 * s)
        t2_logs = (np.log(alpha) + np.log(s - bL) - np.log1p(-alpha) - L * np.log(beta)) / (2.0 * s)  # eq. 15
        t2 = np.where((bL < _TINY) | ~np.isfinite(t2), t2_logs, t2)
        # eq. 97: [β^{2−L} F(β^L/s) − (αs)^{2/L−1} F(α)] / (s(L−2)), F(z) = ₂F₁(1, 2/L−1; 2/L; z)
        Lg = np.where(L == 2, 3.0, L)
        bg = 2.0 / Lg - 1.0
        t3 = (beta ** (2.0 - Lg) * _hyp(bg, bL / s) - (alpha * s) ** bg * _hyp(bg, alpha)) / (s * (Lg - 2.0))
    return np.where(L == 2, t2, t3)


def t_star(alpha, beta, s, depth):
    """Time for the aligned linear network to learn a fraction α of the top mode (ū^L = αs).

    eq. 15 (L = 2) and eq. 97 (L ≥ 3, ₂F₁ from scipy.special.hyp2f1, and from its expansion about 1
    for arguments above 0.99). Broadcasts over all arguments; +inf where t*_α is beyond float64
    (L ≥ 3 with β^{2−L} beyond float64). Domain: α ∈ (β^L/s, 1); outside it t*_α is negative or
    undefined and ParameterError is raised ("alpha == ..., must be in (beta^L/s, 1) == (..., 1)");
    also validates α ∈ (0,1), β > 0, s ∈ (0,1], depth integer ≥ 2.
    """
    P = validate(alpha=alpha, beta=beta, s=s, depth=depth)
    a, b, s_, L = np.broadcast_arrays(P["alpha"], P["beta"], P["s"], P["depth"])
    with np.errstate(under="ignore", over="ignore"):
        check_alpha_above(a, b**L / s_)
    return _t_star(a, b, s_, L)


def t_star_time(alpha: float, beta: float, s: float, depth: int) -> float:
    """t*_α(β) (eq. 15 / eq. 97) of one point as a time: `t_star`'s value and its ValueError where
    it is undefined, and a ValueError where it is not a positive finite float64."""
    value = float(t_star(alpha, beta, s, depth))
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"t*_{alpha:g} == {value:g} is not a positive finite time")
    return value


def t_star_or_none(alpha: float, beta: float, s: float, depth: int) -> float | None:
    """`t_star_time`, or None where it raises ValueError (α outside (β^L/s, 1), invalid arguments, or
    not a positive finite time): for callers that record or mark t* only where it exists."""
    try:
        return t_star_time(alpha, beta, s, depth)
    except ValueError:
        return None
