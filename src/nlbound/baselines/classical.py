"""Classical uniform bounds: p-bit counting (linear predictor, whole network) and the VC bound of BHLM (2019).

All three hold simultaneously for every member of a class fixed before seeing the data (a-priori):

* Counting (Occam / finite class; Hoeffding 1963 + a union bound over |H| members, the argument of
  the paper's Lemma 7.2 / eq. 28): with |H| <= 2^{p N} (N free p-bit numbers), w.p. >= 1 - delta,
  R[h] <= R^[h] + sqrt((p N ln 2 + ln(1/delta)) / (2m)) for every h in H. With N = d this is the
  paper's Upsilon_1 (eq. 7, kappa = 1).
* Uniform convergence through the growth function (Mohri, Rostamizadeh & Talwalkar, "Foundations of
  Machine Learning", 2nd ed. 2018, Corollary 3.9 = Thm 3.5 with Massart's lemma, Cor. 3.8; 1st ed.
  Corollary 3.1): "Let H be a family of functions taking values in {-1, +1}. Then, for any delta > 0,
  with probability at least 1 - delta, for any h in H,
      R(h) <= R^_S(h) + sqrt(2 log Pi_H(m) / m) + sqrt(log(1/delta) / (2m))."
  With Sauer's lemma (their Cor. 3.18: Pi_H(m) <= (e m / D)^D for m >= D = VCdim H) this is their
  Cor. 3.19; for m < D only Pi_H(m) <= 2^m is available. (This is the tightest of the standard
  forms: Bousquet, Boucheron & Lugosi 2004, Thm 3, R <= R^ + 2 sqrt(2 (ln S_H(2m) + ln(2/delta)) / m),
  was used here before and is larger by a factor ~2.8 on our nets.)
* VC dimension of piecewise-linear nets (Bartlett, Harvey, Liaw & Mehrabian, JMLR 20(63), 2019,
  Theorem 7 of the journal version = Theorem 6 of the arXiv version 1703.02930): "Consider a network
  architecture with W parameters and U computation units arranged into L layers. Suppose that all
  non-output units have piecewise-polynomial activation functions with p + 1 pieces and degree no
  more than d, and the output unit has the identity function as its activation function. If d = 0,
  let W_i denote the number of parameters (weights and biases) at the inputs to units in layer i;
  if d > 0, let W_i denote the total number of parameters (weights and biases) at the inputs to
  units in all the layers up to layer i (i.e., in layers 1, 2, ..., i). Define the effective depth
  as Lbar := (1/W) sum_{i=1}^L W_i, and let R := sum_{i=1}^L k_i (1 + (i - 1) d^{i-1})
  <= U + U (L - 1) d^{L-1}. Then [...] VCdim(F) <= L + Lbar W log2(4 e p R log2(2 e p R))."
  Here k_i = units in layer i; leaky ReLU: p + 1 = 2 pieces of degree d = 1, so R = sum_i i k_i and
  W_i are cumulative. The class is sign(f) over all weights and biases of the architecture; the
  bias-free nets of eq. 2 are a subclass, so its VC dimension is no larger. (Quoted from memory of
  the published text, not checked against it; the code is checked against hand-computed cases.)
"""

from __future__ import annotations

import math

import numpy as np

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.theory import upsilon
from nlbound.theory import CONSTRAINTS as THEORY

__all__ = ["counting_gap", "counting_bound", "network_parameter_count", "bhlm_vc_dimension",
           "vc_log_growth", "vc_gap", "vc_bound"]

_CONSTRAINTS = {
    "m": THEORY["m"],
    "n_params": Interval(Integral, 1, None, closed="left"),
    "p": Interval(Integral, 1, None, closed="left"),
    "delta": THEORY["delta"],
    "emp_risk": THEORY["margin_risk"],
    "d": THEORY["d"],
    "width": Interval(Integral, 1, None, closed="left"),
    "depth": THEORY["depth"],
    "vc_dim": Interval(Real, 1, None, closed="left"),
    "pieces": Interval(Integral, 2, None, closed="left"),
}


def counting_gap(n_params: int, p: int, m: int, delta: float) -> float:
    """sqrt((p N ln 2 + ln(1/delta)) / (2m)): Hoeffding + union bound over the 2^{pN} members of a
    class of N p-bit numbers (the paper's Upsilon_kappa of eq. 7 with kappa d = N)."""
    validate_params(_CONSTRAINTS, {"n_params": n_params, "p": p, "m": m, "delta": delta})
    # theory's Υ_κ (eq. 7) sees κ p d only as a product: d = 1, p = p N, so the theorem's m >= d
    # (an assumption of Theorem 5.2, not of this union bound) does not refuse a network's N > m
    return float(upsilon(1, m, 1, p * n_params, delta))


def counting_bound(emp_risk: float, n_params: int, p: int, m: int, delta: float) -> float:
    """R <= R^ + counting_gap (not clipped at 1: a value > 1 shows by how much it is vacuous)."""
    validate_params(_CONSTRAINTS, {"emp_risk": emp_risk})
    return float(emp_risk) + counting_gap(n_params, p, m, delta)


def network_parameter_count(d: int, width: int, depth: int, biases: bool = False) -> int:
    """Weights of the bias-free net of eq. 2: d n + (L-2) n^2 + n (= (d+1) n + (L-2) n^2, Sec. 4);
    with `biases`, plus one per unit ((L-1) n + 1), the count BHLM's theorem is stated for."""
    validate_params(_CONSTRAINTS, {"d": d, "width": width, "depth": depth})
    n = width
    w = d * n + (depth - 2) * n * n + n
    return w + ((depth - 1) * n + 1 if biases else 0)


def bhlm_vc_dimension(d: int, width: int, depth: int, pieces: int = 2) -> float:
    """Upper bound on the VC dimension of sign(f) over fully connected nets with piecewise-linear
    activations of `pieces` pieces (leaky ReLU: 2) and biases, BHLM 2019 Theorem 7 with degree 1:
    L + Lbar W log2(4 e p R log2(2 e p R)), p = pieces - 1, R = sum_i i k_i.

    Biases are counted (the bias-free class of eq. 2 is a subclass, so its VC dimension is no larger)."""
    validate_params(_CONSTRAINTS, {"d": d, "width": width, "depth": depth, "pieces": pieces})
    n, L, p = width, depth, pieces - 1
    fan_in = [d] + [n] * (L - 1)
    units = [n] * (L - 1) + [1]
    per_layer = [k * (f + 1) for k, f in zip(units, fan_in, strict=True)]  # weights + biases into layer i
    W = sum(per_layer)
    cumulative = np.cumsum(per_layer)  # W_i: parameters of layers 1..i (degree d = 1 > 0)
    lbar = float(cumulative.sum()) / W
    R = sum((i + 1) * k for i, k in enumerate(units))  # k_i (1 + (i-1) d^{i-1}) with d = 1
    x = 2 * math.e * p * R
    return L + lbar * W * math.log2(4 * math.e * p * R * math.log2(x))


def vc_log_growth(vc_dim: float, n: int) -> float:
    """ln Pi_H(n) <= min(D ln(e n / D) [n >= D, Sauer's lemma, Mohri et al. Cor. 3.18], n ln 2)."""
    validate_params(_CONSTRAINTS, {"vc_dim": vc_dim, "m": n})
    trivial = n * math.log(2.0)
    return min(vc_dim * math.log(math.e * n / vc_dim), trivial) if n >= vc_dim else trivial


def vc_gap(vc_dim: float, m: int, delta: float) -> float:
    """sqrt(2 ln Pi_H(m) / m) + sqrt(ln(1/delta) / (2m)) (Mohri et al. 2018, Cor. 3.9 / 3.19)."""
    validate_params(_CONSTRAINTS, {"vc_dim": vc_dim, "m": m, "delta": delta})
    return math.sqrt(2.0 * vc_log_growth(vc_dim, m) / m) + math.sqrt(math.log(1.0 / delta) / (2.0 * m))


def vc_bound(emp_risk: float, vc_dim: float, m: int, delta: float) -> float:
    """R <= R^ + vc_gap (not clipped at 1)."""
    validate_params(_CONSTRAINTS, {"emp_risk": emp_risk})
    return float(emp_risk) + vc_gap(vc_dim, m, delta)
