"""The β → 0 limit of the last term of the bound at t = t*_α, α = (r/s)β^L, γ = α/q (eq. 19, eq. 103)."""

from __future__ import annotations

import numpy as np

from nlbound.theory._checks import validate
from nlbound.theory.terms import _deviation, _log_delta, _log_v_and_log_u, _phi_kappa
from nlbound.theory.training_time import _t_star


def deviation_limit(d, depth, kappa, eps, rho, s, r, q):
    """lim_{β→0} Δ_κ,β(t*_α) ε^κ / γ with α = (r/s)β^L (λ = L) and γ = α/q (ν = 1).

    L = 2, eq. 19 with Λ_κ read as Φ_κ (ERRATA 7; r^{s̄/s̄} read as r^{s̄/s}):
        (1̄ s s̄_ρ² / (2 s̄₁³)) q r^{s̄/s − 1} Φ_κ ln((s̄_ρ²/s̄₁²) r^{s̄/s}) ε^κ.
    L ≥ 3, (Φ_κ/L) · eq. 103 · ε^κ (eq. 103 is L u^{L−1} v / γ), with ν = 1:
        (Φ_κ/L) q (s/r) (1̄/s̄) L(L−1)/(2−L) A^{(2L−2)/(2−L)} (A − 1) ε^κ,
        A = (s̄_ρ/s̄₁)^{2−L} − (s̄/s)(1 − r^{2/L−1}); finite only when A > 0 (else +inf: u has blown
        up before t*_α). All s̄'s and 1̄ taken at β = 0 (1̄ = 1, s̄_r = (1−ε)s + εr(L−1)).
    The finite-β value approaches this as 1 + O(β²) (tested).
    """
    P = validate(d=d, depth=depth, kappa=kappa, eps=eps, rho=rho, s=s, r=r, q=q)
    d, L, kappa, eps, rho, s, r, q = np.broadcast_arrays(
        *(P[k] for k in ("d", "depth", "kappa", "eps", "rho", "s", "r", "q")))
    sb1 = (1.0 - eps) * s + eps * (L - 1.0)  # s̄₁ at β = 0 (def. under eq. 8, r linear)
    sbr = (1.0 - eps) * s + eps * rho * (L - 1.0)  # s̄_ρ at β = 0
    ph = _phi_kappa(d, L, kappa, rho)  # eq. 8
    with np.errstate(all="ignore"):
        lim2 = (s * sbr**2 / (2.0 * sb1**3)) * q * r ** (sb1 / s - 1.0) * ph \
            * (2.0 * np.log(sbr / sb1) + (sb1 / s) * np.log(r))  # eq. 19
        A = (sbr / sb1) ** (2.0 - L) - (sb1 / s) * (1.0 - r ** (2.0 / L - 1.0))
        eq103 = q * (s / r) / sb1 * L * (L - 1.0) / (2.0 - L) * A ** ((2.0 * L - 2.0) / (2.0 - L)) * (A - 1.0)  # eq. 103
        lim3 = np.where(A > 0, ph / L * eq103, np.inf)
        out = np.where(L == 2, lim2, lim3) * eps**kappa
    return out


def deviation_at_t_star(d, depth, kappa, eps, beta, rho, s, r, q):
    """Finite-β counterpart of deviation_limit: Δ_κ,β(t*_α) ε^κ/γ at α = (r/s)β^L, γ = α/q."""
    P = validate(d=d, depth=depth, kappa=kappa, eps=eps, beta=beta, rho=rho, s=s, r=r, q=q)
    d, L, kappa, eps, beta, rho, s, r, q = np.broadcast_arrays(
        *(P[k] for k in ("d", "depth", "kappa", "eps", "beta", "rho", "s", "r", "q")))
    alpha = r * beta**L / s
    gamma = alpha / q
    t = _t_star(alpha, beta, s, L)  # eq. 15 / eq. 97
    log_v, log_u = _log_v_and_log_u(t, L, eps, beta, rho, s)  # eqs. 9, 10
    log_delta = _log_delta(_phi_kappa(d, L, kappa, rho), log_v, L, log_u)  # eq. 7
    return _deviation(log_delta, kappa, eps, gamma)  # eq. 6
