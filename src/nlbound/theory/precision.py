"""The p-bit proxy's term: what rounding the proxy's parameters to p bits costs (docs/PROOFS.md, step P).

Υ_κ (eq. 7) counts proxies g̃_κ whose free parameters are p-bit numbers (Lemma 7.2, eq. 28);
Lemma 7.3 (eqs. 26-27) and eqs. 20-21 bound |f − g_κ| for the *unrounded* proxy g_κ. The chain
therefore needs |g_κ − g̃_κ| as well (PROOFS.md, step P). With h = g₁ − g̃₁ = δv·x + n(x)
(δv = v − ṽ the change of the end-to-end vector, n the rest, |n(x)| ≤ N‖x‖), r = w̃' − w̃ the
rounding of the κ = 2 correction, P = X̃X̃ᵀ/m, and E[x̃x̃ᵀ] ≼ I (the premise of eq. 23):

    κ = 1:  E|g₁ − g̃₁| ≤ ‖δv‖ + N√d,                (1/m)Σ|g₁ − g̃₁| ≤ ‖Pδv‖ + N√d
    κ = 2:  E|g₂ − g̃₂| ≤ ‖(I−P)δv‖ + 2N√d + ‖r‖,    (1/m)Σ|g₂ − g̃₂| ≤ 2N√d + ‖r‖

(PROOFS.md, eqs. P3-P6). The term added to eq. 6 is (test + train)/γ, charged for every p; it is
exactly 0 only where nothing is rounded (p = 64: δv = 0, N = 0, r = 0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["precision_allowance", "precision_term", "deviation_split", "ROUNDING", "rounding_error_bound",
           "correction_bound"]

# (unit roundoff u, half the smallest subnormal η) of p-bit round-to-nearest: |fl(a) − a| ≤ u|a| + η
# for every a of the format's range (no overflow); p = 64 is nlbound's "not rounded" (exact: 0, 0).
ROUNDING = {16: (2.0 ** -11, 2.0 ** -25), 32: (2.0 ** -24, 2.0 ** -150), 64: (0.0, 0.0)}


def _nonneg(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(a >= 0):  # also refuses NaN
        raise ValueError(f"{name} == {x!r}, must be >= 0 (a norm)")
    return a


def precision_allowance(kappa, d, dv, dv_range, dv_perp, n_lip, r_w) -> tuple[np.ndarray, np.ndarray]:
    """(test, train) bounds on E|g_κ − g̃_κ| and (1/m)Σ_k|g_κ − g̃_κ|(x_k), output units (PROOFS.md P5/P6).

    dv = ‖δv‖, dv_range = ‖Pδv‖, dv_perp = ‖(I−P)δv‖ (δv = v − ṽ, end-to-end vectors of the linear
    twins trained from c and from its p-bit rounding c̃), n_lip = N (eq. P2: |n(x)| ≤ N‖x‖ for the
    nonlinear rest of g₁ − g̃₁), r_w = ‖w̃' − w̃‖ (the rounding of the κ = 2 correction, eq. 25),
    d the effective input dimension. Broadcasts over arrays (e.g. trace columns)."""
    k = np.asarray(kappa)
    if not np.all((k == 1) | (k == 2)):
        raise ValueError(f"kappa == {kappa!r}, must be 1 or 2")
    d = _nonneg("d", d)
    dv, dv_range, dv_perp = _nonneg("dv", dv), _nonneg("dv_range", dv_range), _nonneg("dv_perp", dv_perp)
    nsd = _nonneg("n_lip", n_lip) * np.sqrt(d)
    r_w = _nonneg("r_w", r_w)
    with np.errstate(over="ignore"):  # finite parts beyond float64 sum to +inf (no bound there)
        test = np.where(k == 1, dv + nsd, dv_perp + 2.0 * nsd + r_w)  # eqs. P5 (κ = 1), P6 (κ = 2)
        train = np.where(k == 1, dv_range + nsd, 2.0 * nsd + r_w)  # eqs. P5, P6 (training set)
    return test, train


def precision_term(kappa, d, gamma, dv, dv_range, dv_perp, n_lip, r_w) -> np.ndarray:
    """The p-bit term of the bound: (test + train allowance) / γ (PROOFS.md eq. P7), risk units."""
    gamma = np.asarray(gamma, dtype=np.float64)
    if not np.all(gamma > 0):
        raise ValueError(f"gamma == {gamma!r}, must be > 0")
    test, train = precision_allowance(kappa, d, dv, dv_range, dv_perp, n_lip, r_w)
    return (test + train) / gamma  # eq. P7


def deviation_split(d, depth, kappa, rho) -> tuple[np.ndarray, np.ndarray]:
    """Φ_κ (eq. 8) split into its test part (from eq. 20 / eq. 26 with E‖x̃‖ ≤ √d, eq. 23) and its
    training-set part (eq. 21 / eq. 27 with ‖z‖₁ ≤ √m‖z‖): κ = 1: L√d and 1 + (L−1)ρ; κ = 2:
    (L−1)(L+1+(L−1)ρ)√d and 2(L−1)(1+(L−1)ρ). The parts sum to theory.terms' Φ_κ, so Δ ε^κ splits
    in the same proportions (used by the soundness check, link by link)."""
    d, L, k, rho = (np.asarray(a, dtype=np.float64) for a in (d, depth, kappa, rho))
    sd, r1 = np.sqrt(d), (L - 1.0) * rho
    test = np.where(k == 1, L * sd, (L - 1.0) * (L + 1.0 + r1) * sd)  # eq. 20+23 / eq. 26+23
    train = np.where(k == 1, 1.0 + r1, 2.0 * (L - 1.0) * (1.0 + r1))  # eq. 21 / eq. 27
    return test, train


def rounding_error_bound(p: int, norm, n_coords) -> np.ndarray:
    """‖fl_p(a) − a‖ ≤ u‖a‖ + η√n for a vector a of n coordinates rounded to nearest (eq. P8; ROUNDING)."""
    if int(p) not in ROUNDING:
        raise ValueError(f"p == {p!r}, must be one of {', '.join(map(str, ROUNDING))}")
    u, eta = ROUNDING[int(p)]
    return u * _nonneg("norm", norm) + eta * np.sqrt(_nonneg("n_coords", n_coords))  # eq. P8


def correction_bound(eps, depth, rho, u, v, dv_range, n_lip, d) -> np.ndarray:
    """A bound on ‖w̃'‖, the κ = 2 correction before rounding (eq. P9): ‖(f − g̃₁)(X̃)‖/√m ≤
    ε(1 + (L−1)ρ)u^{L−1}v (eq. 21 with Lemma 7.1) + ‖Pδv‖ + N√d (eqs. P3, P4)."""
    L = np.asarray(depth, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lemma = np.asarray(eps) * (1.0 + (L - 1.0) * np.asarray(rho)) * np.asarray(u) ** (L - 1.0) * np.asarray(v)
    with np.errstate(over="ignore"):
        return np.where(np.asarray(eps) == 0, 0.0, lemma) + np.asarray(dv_range) + np.asarray(n_lip) * np.sqrt(d)  # eq. P9
