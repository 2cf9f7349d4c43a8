"""Training time t*_α(β) of the linear network (eq. 15 for L = 2, eq. 97 for L ≥ 3)."""

from __future__ import annotations

import numpy as np
from scipy import special

from nlbound._validate import _fmt
from nlbound.theory._checks import validate


def _t_star(alpha, beta, s, depth):
    """Unvalidated t*_α(β); assumes β^L/s < α < 1."""
    alpha, beta, s, L = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (alpha, beta, s, depth)))
    with np.errstate(all="ignore"):
        bL = beta**L
        # eq. 15: (1/2s) ln(α(s − β²)/((1 − α)β²)) = (1/2s) log1p((αs − β²)/((1 − α)β²))
        t2 = np.log1p((alpha * s - bL) / ((1.0 - alpha) * bL)) / (2.0 * s)
        # eq. 97: [β^{2−L} F(β^L/s) − (αs)^{2/L−1} F(α)] / (s(L−2)), F(z) = ₂F₁(1, 2/L−1; 2/L; z)
        b = 2.0 / L - 1.0
        Lg = np.where(L == 2, 3.0, L)
        bg = 2.0 / Lg - 1.0
        t3 = (beta ** (2.0 - Lg) * special.hyp2f1(1.0, bg, bg + 1.0, bL / s)
              - (alpha * s) ** bg * special.hyp2f1(1.0, bg, bg + 1.0, alpha)) / (s * (Lg - 2.0))
        del b
    return np.where(L == 2, t2, t3)


def t_star(alpha, beta, s, depth):
    """Time for the aligned linear network to learn a fraction α of the top mode (ū^L = αs).

    eq. 15 (L = 2) and eq. 97 (L ≥ 3, with scipy.special.hyp2f1). Broadcasts over all arguments.
    Domain: α ∈ (β^L/s, 1); outside it t*_α is negative or undefined and ValueError is raised
    ("alpha == ..., must be in (beta^L/s, 1) == (..., 1)"); also validates α ∈ (0,1), β > 0, s ∈ (0,1],
    depth integer ≥ 2.
    """
    P = validate(alpha=alpha, beta=beta, s=s, depth=depth)
    a, b, s_, L = np.broadcast_arrays(P["alpha"], P["beta"], P["s"], P["depth"])
    lo = b**L / s_
    bad = a <= lo
    if bad.any():
        i = np.argmax(bad.reshape(-1))
        raise ValueError(f"alpha == {_fmt(a.reshape(-1)[i])}, must be in (beta^L/s, 1) == "
                         f"({_fmt(lo.reshape(-1)[i])}, 1)")
    return _t_star(a, b, s_, L)
