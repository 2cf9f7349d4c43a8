"""Norm-based baseline: the PAC-Bayes spectral margin bound of Neyshabur, Bhojanapalli & Srebro (ICLR 2018),
with every constant of its proof written out.

Source: B. Neyshabur, S. Bhojanapalli, N. Srebro, "A PAC-Bayesian Approach to Spectrally-Normalized
Margin Bounds for Neural Networks", ICLR 2018: Lemma 1 (PAC-Bayes margin lemma), Lemma 2
(perturbation bound) and the proof of Theorem 1. For an L-layer net with a 1-Lipschitz positively
homogeneous activation (leaky ReLU qualifies), inputs ||x|| <= B, widths <= h:

Published statements (quoted from memory of the ICLR 2018 text, not checked against it). Theorem 1: "For any B, d, h > 0, let f_w : X_{B,n} -> R^k be a d-layer feedforward
network with ReLU activations. Then, for any delta, gamma > 0, with probability >= 1 - delta over a
training set of size m, for any w, we have: L_0(f_w) <= L^_gamma(f_w) + O(sqrt((B^2 d^2 h ln(dh)
prod_i ||W_i||_2^2 sum_i ||W_i||_F^2 / ||W_i||_2^2 + ln(dm/delta)) / (gamma^2 m)))". The theorem
has only O(.): the explicit constants used here are those of its proof, which rests on Lemma 1:
"Let f_w : X -> R^k be any predictor (not necessarily a neural network) with parameters w, and P be
any distribution on the parameters that is independent of the training data. Then, for any
gamma, delta > 0, with probability >= 1 - delta over the training set of size m, for any w, and any
random perturbation u s.t. P_u[max_x |f_{w+u}(x) - f_w(x)|_inf < gamma/4] >= 1/2, we have:
L_0(f_w) <= L^_gamma(f_w) + 4 sqrt((KL(w + u || P) + ln(6m/delta)) / (m - 1))", and Lemma 2:
"|f_{w+u}(x) - f_w(x)|_2 <= e B (prod_i ||W_i||_2) sum_i ||U_i||_2 / ||W_i||_2 whenever
||U_i||_2 <= ||W_i||_2 / d". The proof takes sigma = gamma / (42 d B beta~^{d-1} sqrt(h ln(4hd))) and
union-bounds over a data-independent grid of beta~ with |beta - beta~| <= beta / d on
(gamma/2B)^{1/d} <= beta <= (gamma sqrt(m)/2B)^{1/d} (the source of ln(dm/delta)); it is written
out below with an explicit (multiplicative) grid and an explicit count of union-bound events.
Scalar output: our nets output one number and the margin is y f(x); a perturbation with
|f_{w+u} - f_w| < gamma/4 moves y f by < gamma/4 (the multiclass margin by < gamma/2), so Lemma 1's
proof applies unchanged with L^_gamma = mean(y f(x) <= gamma).

1. Rescale the layers to equal spectral norm beta = (prod_i ||W_i||)^{1/L} (same function).
2. Prior = posterior shape N(., sigma^2 I); prior mean 0, posterior mean the rescaled weights, with
   sigma = gamma / (42 L B beta~^{L-1} sqrt(h ln(4 L h))) for a grid value beta~ <= beta <= beta~(1+1/L)
   (42 >= 4 sqrt 2 e^2: e from Lemma 2, e from beta^{L-1} <= e beta~^{L-1}, sqrt(2 h ln(4Lh)) from
   the Gaussian matrix tail P(||U|| > t) <= 2h exp(-t^2 / (2 h sigma^2)) over L layers, 4 from
   requiring max_x |f_{w+u}(x) - f_w(x)| < gamma/4 with probability >= 1/2).
3. KL = ||w||^2 / (2 sigma^2) = beta^2 sum_i ||W_i||_F^2 / ||W_i||^2 / (2 sigma^2).
4. Lemma 1: R[f] <= R^_gamma[f] + 4 sqrt((KL + ln(6 m / delta')) / (m - 1)).
5. Union bound over the beta~ grid (beta~_j = beta_lo (1 + 1/L)^j covering [beta_lo, beta_hi],
   beta_lo = (gamma / (2B))^{1/L}, beta_hi = (gamma sqrt(m) / (2B))^{1/L}, as in the proof) and over
   a fixed grid of margins gamma: delta' = delta / (|grid beta~| |grid gamma|). Below beta_lo every
   |f| < gamma/2, so R^_gamma = 1; above beta_hi the bound exceeds 1 (proof of Thm 1): there the
   bound is reported as 1.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.theory import CONSTRAINTS as THEORY

__all__ = ["DEFAULT_GAMMAS", "nbs_sigma", "nbs_kl", "nbs_beta_grid", "nbs_bound_at", "nbs_bound"]

DEFAULT_GAMMAS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # fixed before seeing data (union bound)

_CONSTRAINTS = {
    "gamma": THEORY["gamma"],
    "m": Interval(Integral, 2, None, closed="left"),
    "delta": THEORY["delta"],
    "B": Interval(Real, 0, None, closed="neither"),
    "depth": Interval(Integral, 1, None, closed="left"),
    "h": Interval(Integral, 1, None, closed="left"),
}


def nbs_sigma(gamma: float, beta_tilde: float, depth: int, B: float, h: int) -> float:
    """sigma = gamma / (42 L B beta~^{L-1} sqrt(h ln(4 L h))) (NBS 2018, proof of Thm 1)."""
    validate_params(_CONSTRAINTS, {"gamma": gamma, "depth": depth, "B": B, "h": h})
    return gamma / (42.0 * depth * B * beta_tilde ** (depth - 1) * math.sqrt(h * math.log(4.0 * depth * h)))


def nbs_kl(weights: Sequence[np.ndarray], sigma: float) -> float:
    """KL(N(w~, s^2 I) || N(0, s^2 I)) = ||w~||^2 / (2 s^2) for the weights rescaled to equal spectral
    norm beta: ||w~||^2 = beta^2 sum_i ||W_i||_F^2 / ||W_i||^2."""
    spec = np.array([np.linalg.norm(w, 2) for w in weights])
    fro = np.array([np.linalg.norm(w) for w in weights])
    beta = float(np.exp(np.mean(np.log(spec))))
    return float(beta**2 * np.sum(fro**2 / spec**2) / (2.0 * sigma**2))


def nbs_beta_grid(gamma: float, depth: int, B: float, m: int) -> np.ndarray:
    """beta~_j = beta_lo (1 + 1/L)^j, j = 0.., up to the first value >= beta_hi."""
    validate_params(_CONSTRAINTS, {"gamma": gamma, "depth": depth, "B": B, "m": m})
    lo = (gamma / (2.0 * B)) ** (1.0 / depth)
    hi = (gamma * math.sqrt(m) / (2.0 * B)) ** (1.0 / depth)
    n = int(math.ceil(math.log(hi / lo) / math.log1p(1.0 / depth))) + 1
    return lo * (1.0 + 1.0 / depth) ** np.arange(n)


def nbs_bound_at(weights: Sequence[np.ndarray], margin_risk: float, gamma: float, m: int,
                 delta_prime: float, B: float, grid: np.ndarray) -> dict:
    """Lemma 1 at one gamma with delta' already split; beta~ = the largest grid value <= beta."""
    spec = [float(np.linalg.norm(w, 2)) for w in weights]
    depth = len(weights)
    beta = float(np.exp(np.mean(np.log(spec))))
    h = max(max(w.shape) for w in weights)
    out = {"gamma": gamma, "margin_risk": margin_risk, "beta": beta, "h": h, "spectral_norms": spec,
           "frobenius_norms": [float(np.linalg.norm(w)) for w in weights]}
    if beta < grid[0]:  # |f(x)| <= B beta^L < gamma/2: every margin is below gamma
        return {**out, "bound": 1.0, "kl": None, "sigma": None, "note": "beta below grid"}  # margin risk 1
    if beta > grid[-1]:
        return {**out, "bound": 1.0, "kl": None, "sigma": None, "note": "beta above grid: bound > 1"}
    bt = float(grid[np.searchsorted(grid, beta, side="right") - 1])
    sigma = nbs_sigma(gamma, bt, depth, B, h)
    kl = nbs_kl(weights, sigma)
    gap = 4.0 * math.sqrt((kl + math.log(6.0 * m / delta_prime)) / (m - 1))
    return {**out, "beta_tilde": bt, "sigma": sigma, "kl": kl, "gap": gap, "bound": margin_risk + gap,
            "note": ""}


def nbs_bound(weights: Sequence[np.ndarray], margins: np.ndarray, delta: float, B: float = 1.0,
              gammas: Sequence[float] = DEFAULT_GAMMAS) -> dict:
    """The NBS 2018 bound minimised over the fixed margin grid `gammas` (union bound included).

    weights: W_1..W_L acting on inputs of norm <= B; margins: y_k f(x_k) on the m training points.
    Returns the best gamma's record (the smallest bound computed by Lemma 1, else 1) plus the union
    bound's delta' and every gamma's bound."""
    margins = np.asarray(margins, dtype=np.float64)
    m = margins.size
    validate_params(_CONSTRAINTS, {"m": m, "delta": delta, "B": B})
    grids = {g: nbs_beta_grid(g, len(weights), B, m) for g in gammas}
    n_events = sum(len(v) for v in grids.values())  # one event per (gamma, beta~) pair
    delta_prime = delta / n_events
    results = [nbs_bound_at(weights, float(np.mean(margins <= g)), g, m, delta_prime, B, grids[g])
               for g in gammas]
    # gammas whose beta falls outside their grid give the trivial value 1; report the smallest
    # computed bound when there is one (a valid bound too, and it shows by how much it is vacuous)
    computed = [r for r in results if r["kl"] is not None]
    best = min(computed or results, key=lambda r: r["bound"])
    return {**best, "delta": delta, "delta_prime": delta_prime, "union_events": n_events, "B": B,
            "all_gammas": {f"{r['gamma']:g}": r["bound"] for r in results}}
