"""The inputs of the p-bit term (theory.precision) from two linear twins' weights: docs/PROOFS.md step P."""

from __future__ import annotations

from functools import reduce

import numpy as np

__all__ = ["rounding_constants", "residual_lipschitz"]


def _spec(a: np.ndarray) -> float:
    return float(np.linalg.norm(a, 2))


def _prefix_lipschitz(ws, wt, j: int) -> float:
    """D_j (eq. P1): sup_x ‖z_j(θ, x) − z_j(θ̃, x)‖ / ‖x‖ for the pre-activations z_j = W_j φ(…φ(W_1 x)),
    by the hybrid telescope (layers < l from θ̃, > l from θ; φ^ε 1-Lipschitz with φ(0) = 0)."""
    total = 0.0
    for l in range(j):
        below = float(np.prod([_spec(wt[k]) for k in range(l)]))
        above = float(np.prod([_spec(ws[k]) for k in range(l + 1, j)]))
        total += _spec(ws[l] - wt[l]) * below * above
    return total


def residual_lipschitz(ws, wt, eps: float) -> float:
    """N of eq. P2: |n(x)| ≤ N‖x‖ for n = (f^ε_θ − f^0_θ) − (f^ε_θ̃ − f^0_θ̃), the nonlinear rest of
    g₁ − g̃₁. With φ^ε(z) = z − ε min(0, z) (eq. 3), f^ε − f^0 = −ε Σ_{j<L} A_j ψ(z_j), A_j = W_L⋯W_{j+1},
    ψ = min(0, ·); so N = ε Σ_{j=1}^{L−1} (‖A_j − Ã_j‖ Π_{k≤j}‖W̃_k‖ + ‖A_j‖ D_j)."""
    L = len(ws)
    n = 0.0
    for j in range(1, L):  # hidden layers 1..L-1 (1-based): activation after W_j
        a = reduce(np.matmul, ws[L - 1:j - 1:-1])
        at = reduce(np.matmul, wt[L - 1:j - 1:-1])
        zt = float(np.prod([_spec(wt[k]) for k in range(j)]))
        n += _spec(a - at) * zt + _spec(a) * _prefix_lipschitz(ws, wt, j)  # eq. P2
    return float(eps) * n


def rounding_constants(ws, wt, eps: float, proj: np.ndarray) -> dict[str, float]:
    """‖δv‖, ‖Pδv‖, ‖(I−P)δv‖ and N (eqs. P2-P4) for the exact twin ws and the p-bit one wt
    (weight lists W_1..W_L, float64); proj = X̃X̃ᵀ/m (the projector P on the data's range)."""
    dv = (reduce(np.matmul, ws[::-1]) - reduce(np.matmul, wt[::-1])).reshape(-1)  # v − ṽ
    pdv = proj @ dv
    return {"dv": float(np.linalg.norm(dv)), "dv_range": float(np.linalg.norm(pdv)),
            "dv_perp": float(np.linalg.norm(dv - pdv)), "n_lip": residual_lipschitz(ws, wt, eps)}
