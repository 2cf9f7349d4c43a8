"""The proof's chain (eqs. 20–21, 46–48, Lemmas 7.1 and 7.4, eq. 7) measured on weights and tangents.

Pure functions over arrays. Conventions as everywhere: x is row-major (m, d), the paper's X̃ = x.T;
weights W_1..W_L as lists of (n_l, n_{l−1}) arrays; tangents ∂W_l^τ/∂τ likewise. Every link is
returned as (measured, bound) and a ratio measured/bound; ≤ 1 is what the paper proves. Ratios are
never clipped: a ratio > 1 is a finding to report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nlbound._validate import Interval, Real, validate_params
from nlbound.theory import CONSTRAINTS as THEORY
from nlbound.theory import one_bar

__all__ = ["ratio", "ChainParams", "data_fro", "layer_norms", "xi_norms", "lemma_links", "deviation_rhs", "measured_deviation",
           "uniform_norms", "slack_budget", "LINKS"]

# link name -> what it compares (measured vs bound), for tables and plots
LINKS = {
    "W_spec": "max_l ‖W_l^τ‖ vs u(t) (Lemma 7.1)",
    "W1X": "‖W_1^τ X̃‖_F/√m vs ρ u(t) (Lemma 7.1)",
    "dW_spec": "max_l ‖∂W_l^τ/∂τ‖ vs v(t) (Lemma 7.1)",
    "dW1X": "‖∂(W_1^τ X̃)/∂τ‖_F/√m vs v(t) (Lemma 7.1)",
    "xi_fro": "‖Ξ^τ‖_F vs (1 + ρβ^L)/√m (Lemma 7.4)",
    "xi_x": "‖Ξ^τ X̃ᵀ‖ vs s + ρβ^L (Lemma 7.4, Assumption 5.1)",
    "dev_train_rhs": "train deviation vs eq. 21 (κ=1) / eq. 48 (κ=2) with measured norms",
    "dev_test_rhs": "test deviation vs eq. 20 (κ=1) / eq. 46 (κ=2) with measured norms, E‖x̃‖ measured",
    "dev_Delta": "(train + test deviation)/ε^κ vs Δ_κ,β(t) (eq. 7)",
}

# the theory's entries (nlbound.theory.CONSTRAINTS), except eps: (0, 1] here, since the chain divides
# the measured deviation by eps^kappa (dev_Delta), which eps = 0 (the linear net: no deviation) leaves undefined
_CONSTRAINTS = {
    **{k: THEORY[k] for k in ("depth", "beta", "rho", "s", "d", "kappa")},
    "eps": Interval(Real, 0, 1, closed="right"),
}


def ratio(measured: float, bound: float) -> float:
    """measured/bound, never clipped; 0/0 (e.g. v(0) = 0 and ∂W/∂τ(0) = 0) is 0, x/0 is +inf."""
    if bound > 0:
        return float(measured) / float(bound)
    return 0.0 if measured == 0 else math.inf


@dataclass(frozen=True)
class ChainParams:
    """What the bound of Theorem 5.2 needs besides t: depth L, ε, β, ρ (≥ 1), s, d (= rank), κ."""

    depth: int
    eps: float
    beta: float
    rho: float
    s: float
    d: int
    kappa: int = 1

    def __post_init__(self) -> None:
        validate_params(_CONSTRAINTS, {k: getattr(self, k) for k in _CONSTRAINTS})


def data_fro(w: np.ndarray, x: np.ndarray | None = None, *, gram: np.ndarray | None = None) -> float:
    """‖W X̃‖_F/√m (Lemma 7.1, eqs. 8–10's ρ-scaled norm) from the inputs x (m, d), or from their
    Gram matrix S = X̃X̃ᵀ/m (d × d) as √tr(W S Wᵀ) (no pass over the data; rounding may make the
    trace a hair negative, hence the max with 0)."""
    if gram is not None:
        return float(math.sqrt(max(np.einsum("ij,jk,ik->", w, gram, w), 0.0)))
    if x is None:
        raise ValueError("x == None and gram == None, must give the inputs x or their Gram matrix")
    return float(np.linalg.norm(x @ w.T) / math.sqrt(x.shape[0]))


def layer_norms(weights: Sequence[np.ndarray], tangents: Sequence[np.ndarray], x: np.ndarray | None = None,
                *, gram: np.ndarray | None = None) -> dict:
    """The norms Lemma 7.1 bounds: W_spec[l] = ‖W_l‖, dW_spec[l] = ‖∂W_l/∂τ‖ (spectral), W1X =
    ‖W_1 X̃‖_F/√m, dW1X = ‖∂W_1/∂τ X̃‖_F/√m (X̃ does not depend on τ); from x or its Gram S (data_fro)."""
    return {
        "W_spec": np.array([np.linalg.norm(w, 2) for w in weights]),
        "dW_spec": np.array([np.linalg.norm(dw, 2) for dw in tangents]),
        "W1X": data_fro(weights[0], x, gram=gram),
        "dW1X": data_fro(tangents[0], x, gram=gram),
    }


def xi_norms(y: np.ndarray, f_tau: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(‖Ξ^τ‖_F, ‖Ξ^τ X̃ᵀ‖) with Ξ^τ = (Y − f^τ_{θ^τ}(X̃))/m (eqs. 30, 50), a 1 × m row, so the
    spectral norm of Ξ X̃ᵀ is its Euclidean norm (App. C.2). f_tau: the net trained and evaluated
    with activation φ^τ on the training inputs."""
    xi = (np.asarray(y) - np.asarray(f_tau)) / x.shape[0]  # eq. 30
    return float(np.linalg.norm(xi)), float(np.linalg.norm(xi @ x))


def lemma_links(norms: dict, xi: tuple[float, float], u: float, v: float, p: ChainParams, m: int) -> dict:
    """(measured, bound) for the links of Lemmas 7.1 and 7.4 at one (τ, t)."""
    bl = p.rho * p.beta ** p.depth
    return {
        "W_spec": (float(norms["W_spec"].max()), u),  # Lemma 7.1: ‖W_l^τ(t)‖ ≤ u(t)
        "W1X": (norms["W1X"], p.rho * u),  # Lemma 7.1: ‖W_1^τ X̃‖_F/√m ≤ ρ u(t)
        "dW_spec": (float(norms["dW_spec"].max()), v),  # Lemma 7.1: ‖∂W_l^τ/∂τ‖ ≤ v(t)
        "dW1X": (norms["dW1X"], v),  # Lemma 7.1: ‖∂(W_1^τ X̃)/∂τ‖_F/√m ≤ v(t)
        "xi_fro": (xi[0], float(one_bar(p.depth, p.beta, p.rho)) / math.sqrt(m)),  # Lemma 7.4 / eq. 51: 1̄/√m
        "xi_x": (xi[1], p.s + bl),  # Lemma 7.4 / eq. 52 (needs Assumption 5.1)
    }


def _products(norms: dict) -> tuple[float, float, float]:
    """(Σ_l ‖∂W_l‖ ∏_{k≠l} ‖W_k‖ (eq. 20), and the two terms of eq. 21: ‖∂W_1X̃‖∏_{k≥2}‖W_k‖ and
    ‖W_1X̃‖ Σ_{l≥2} ‖∂W_l‖ ∏_{k∈[2,L]∖l} ‖W_k‖, with X̃-norms /√m)."""
    W, dW = norms["W_spec"], norms["dW_spec"]
    L = W.size
    all_l = sum(dW[l] * np.prod(np.delete(W, l)) for l in range(L))  # eq. 20 / eq. 44
    first = norms["dW1X"] * np.prod(W[1:])  # eq. 21, first term
    rest = norms["W1X"] * sum(dW[l] * np.prod(np.delete(W[1:], l - 1)) for l in range(1, L))  # eq. 21
    return float(all_l), float(first), float(rest)


def deviation_rhs(norms_by_tau: Sequence[dict], mean_x_norm: float, kappa: int) -> dict:
    """Right-hand sides of the deviation bounds with the measured norms, sup over the sampled τ.

    κ = 1: test: sup_τ Σ_l ‖∂W_l‖∏_{k≠l}‖W_k‖ · E‖x̃‖ (eq. 20, averaged over x); train (mean |·|
    ≤ ‖·‖/√m): sup_τ[first] + sup_τ[rest] of eq. 21 (as in the paper, each term its own sup).
    κ = 2: test: (L−1)(sup[all] + sup[rest] + sup[first]) E‖x̃‖ (eq. 46); train: 2(L−1)(sup[rest] +
    sup[first]) (eq. 48 / √m). Returned per unit ε^κ (the (1/ε^κ)-scaled deviation is compared)."""
    prods = np.array([_products(n) for n in norms_by_tau])  # (n_tau, 3)
    all_l, first, rest = prods.max(axis=0)
    L = norms_by_tau[0]["W_spec"].size
    if kappa == 1:
        return {"test": all_l * mean_x_norm, "train": first + rest}  # eqs. 20, 21
    return {"test": (L - 1) * (all_l + rest + first) * mean_x_norm,  # eq. 46
            "train": 2 * (L - 1) * (rest + first)}  # eq. 48


def measured_deviation(f: np.ndarray, g: np.ndarray, eps: float, kappa: int) -> float:
    """(1/ε^κ) mean_k |f(x_k) − g_κ(x_k)| (the deviation terms of eq. 22, scaled as in eq. 6)."""
    return float(np.mean(np.abs(np.asarray(f) - np.asarray(g))) / eps ** kappa)


def uniform_norms(norms_by_tau: Sequence[dict], rho: float) -> tuple[float, float]:
    """(Û, V̂): the single sup-norms the chain uses in place of u, v: Û = max over τ, l of ‖W_l‖ and
    ‖W_1X̃‖_F/(ρ√m); V̂ = max of ‖∂W_l/∂τ‖ and ‖∂W_1X̃/∂τ‖_F/√m (Lemma 7.1's four statements)."""
    U = max(max(float(n["W_spec"].max()), n["W1X"] / rho) for n in norms_by_tau)
    V = max(max(float(n["dW_spec"].max()), n["dW1X"]) for n in norms_by_tau)
    return U, V


def slack_budget(dev: dict, rhs_meas: dict, rhs_sqrt_d: dict, phi: float, U: float, V: float,
                 u: float, v: float, Delta: float, depth: int, Delta_ode: tuple | None = None) -> dict:
    """log Δ_κ,β(t) − log(measured deviation) split into factors, one per link (their product is
    Δ / deviation exactly). dev: {"train", "test"} measured (1/ε^κ)-deviations; rhs_meas: deviation_rhs
    with the measured E‖x̃‖; rhs_sqrt_d: with √d (eq. 23). Factors:
      triangle   = (rhs_meas train + test) / (dev train + test)      eqs. 20/21 (46/48) themselves
      mean_x     = rhs_sqrt_d / rhs_meas                             E‖x̃‖ ≤ √d (eq. 23)
      uniform    = Φ_κ V̂ Û^{L−1} / rhs_sqrt_d                       one sup-norm for every layer and τ
      lemma_u    = (u/Û)^{L−1},  lemma_v = v/V̂                      Lemma 7.1 (u; v)
      closed_ode = Δ_closed/Δ_ode (pending when Delta_ode is None; then the Lemma 7.1 factors carry it).
    Delta_ode: (u_ode, v_ode, Δ_ode) from bound_terms(..., form="ode") where available; then u, v of the
    Lemma 7.1 factors are the ODE solutions: u = u_ode (the bounding function G) and v = Δ_ode/(Φ
    u_ode^{L−1}), which is v_ode wherever Δ_ode = Φ v_ode u_ode^{L−1} (eq. 7; ode.refine takes the
    elementwise min with the closed form, so the two can differ only where the quadrature fell back),
    and the product of the factors is Δ_closed/deviation exactly."""
    D = dev["train"] + dev["test"]
    T, Td = rhs_meas["train"] + rhs_meas["test"], rhs_sqrt_d["train"] + rhs_sqrt_d["test"]
    M = phi * V * U ** (depth - 1)  # Theorem 5.2's formula with measured sup-norms (diagnostic only)
    uu, vv = (u, v) if Delta_ode is None else (Delta_ode[0], Delta_ode[2] / (phi * Delta_ode[0] ** (depth - 1)))
    out = {"triangle": T / D, "mean_x": Td / T, "uniform": M / Td, "lemma_u": (uu / U) ** (depth - 1),
           "lemma_v": vv / V,
           "closed_ode": None if Delta_ode is None else Delta / Delta_ode[2]}
    out["total"] = Delta / D
    out["measured_chain"] = M
    return out
