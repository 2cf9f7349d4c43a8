"""Run-time (a-posteriori) variant of Theorem 5.2: deviation terms from the measured weights of the net and its linear twin.

Not an a-priori bound: it needs the trained weights θ^ε(t) and the linear twin's θ⁰(t) at the same t
(trace columns W{l}_spec, twin_W{l}_spec, gap_W{l}_spec, W1X_fro_over_sqrt_m, twin_W1X_fro_over_sqrt_m,
gap_W1X_fro_over_sqrt_m written by nlbound.training.recording). Proof: docs/PROOFS.md, "Run-time
(a-posteriori) variant". With ΔW_l = W_l^ε(t) − W_l⁰(t), M_l = max(‖W_l^ε‖, ‖W_l⁰‖) and
M_X = max(‖W₁^εX̃‖_F, ‖W₁⁰X̃‖_F)/√m:

  a = Σ_l ‖ΔW_l‖ ∏_{k≠l} M_k,
  b = (‖ΔW₁X̃‖_F/√m) ∏_{k≥2} M_k + Σ_{l≥2} ‖ΔW_l‖ M_X ∏_{k∈[2,L]∖{l}} M_k,
  κ = 1: D_test = √d a/γ,           D_train = b/γ;
  κ = 2: D_test = ε(L−1)√d (a + b)/γ, D_train = ε(L−1) b/γ,

and, with the p-bit term A = (A_test, A_train) (docs/PROOFS.md, "Run-time variant with the p-bit proxy":
θ⁰ is the p-bit twin, so only the κ = 2 correction's rounding remains), R ≤ R̂_γ + Υ_κ + D_test +
D_train + (A_test + A_train)/γ (Hoeffding, eq. 24) or kl⁻¹(min(1, R̂_γ + D_train + A_train/γ), 2Υ_κ²)
+ D_test + A_test/γ (kl form). The measured norms are multiplied by 1 + NORM_MARGIN before use.
"""

from __future__ import annotations

import numpy as np

from nlbound._validate import Interval, Options, Real, validate_params
from nlbound.theory import terms as T
from nlbound.theory._checks import validate

__all__ = ["runtime_terms"]

NORM_MARGIN = 1e-9  # float64 SVD / Gram-trace norms are backward stable: relative error ~1e-15 << this
_NORM = Interval(Real, 0, None, closed="left")
_CONSTRAINTS = {"gap_spec": _NORM, "w_spec": _NORM, "twin_spec": _NORM, "gap_w1x": _NORM, "w1x": _NORM,
                "twin_w1x": _NORM, "counting": Options("hoeffding", "kl")}


def _a_b(gap, mx, gap1x, mx1x):
    """(a, b) of the module docstring; gap, mx: arrays (..., L); gap1x, mx1x: arrays (...)."""
    L = gap.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        a = sum(gap[..., l] * np.prod(np.delete(mx, l, axis=-1), axis=-1) for l in range(L))
        upper = np.prod(mx[..., 1:], axis=-1)  # ∏_{k≥2} M_k
        b = gap1x * upper + sum(gap[..., l] * mx1x * np.prod(np.delete(mx[..., 1:], l - 1, axis=-1), axis=-1)
                                for l in range(1, L))
    return a, b


def _deviations(kappa, eps, gamma, d, L, a, b):
    """(D_test, D_train): κ = 1 from the segment θ⁰ → θ^ε (S3 of docs/PROOFS.md), κ = 2 with the
    linear parts cancelled through X̃X̃⁺x = x (S4)."""
    with np.errstate(over="ignore", invalid="ignore"):
        k2 = eps * (L - 1.0)
        test = np.where(kappa == 1, np.sqrt(d) * a, k2 * np.sqrt(d) * (a + b)) / gamma
        train = np.where(kappa == 1, b, k2 * b) / gamma
    return test, train


def runtime_terms(d, m, depth, kappa, p, delta, eps, gamma, margin_risk, gap_spec, w_spec, twin_spec,
                  gap_w1x, w1x, twin_w1x, *, counting="hoeffding", precision=None) -> dict:
    """The run-time variant of Theorem 5.2 at measured norms (module docstring; docs/PROOFS.md).

    gap_spec, w_spec, twin_spec: arrays (..., L) of ‖W_l − W_l⁰‖, ‖W_l‖, ‖W_l⁰‖ (spectral); gap_w1x,
    w1x, twin_w1x: arrays (...) of the same for W₁X̃ in Frobenius norm over √m. The scalar parameters
    broadcast with (...). counting: "hoeffding" (eq. 24) or "kl" (docs/PROOFS.md, "Counting step in
    kl form"). precision: (A_test, A_train), the p-bit allowances in output units (broadcast with
    (...)); None charges +inf (no bound), as bound_terms does. Returns dev_test, dev_train,
    deviation (their sum), precision ((A_test + A_train)/γ), upsilon (the counting term charged),
    a_posteriori = upsilon + deviation + precision and bound = margin_risk + a_posteriori.
    """
    P = validate(d=d, m=m, depth=depth, kappa=kappa, p=p, delta=delta, eps=eps, gamma=gamma,
                 margin_risk=margin_risk)
    N = validate_params(_CONSTRAINTS, dict(gap_spec=gap_spec, w_spec=w_spec, twin_spec=twin_spec, gap_w1x=gap_w1x,
                                           w1x=w1x, twin_w1x=twin_w1x, counting=counting))
    L = int(np.asarray(depth).reshape(-1)[0])
    if np.any(P["depth"] != L) or N["gap_spec"].shape[-1:] != (L,):
        raise ValueError(f"gap_spec has {N['gap_spec'].shape[-1:]} layers on its last axis, must have depth == {L} "
                         "(one depth per call)")
    s = 1.0 + NORM_MARGIN
    mx = np.maximum(N["w_spec"], N["twin_spec"]) * s
    a, b = _a_b(N["gap_spec"] * s, mx, N["gap_w1x"] * s, np.maximum(N["w1x"], N["twin_w1x"]) * s)
    test, train = _deviations(P["kappa"], P["eps"], P["gamma"], P["d"], float(L), a, b)
    a_test, a_train = _precision(precision, P["gamma"])
    up = T._upsilon(P["d"], P["m"], P["kappa"], P["p"], P["delta"])  # eq. 7
    if counting == "kl":  # the training parts inside kl⁻¹ (share 1), the distribution parts outside
        with np.errstate(invalid="ignore"):
            up = T._upsilon_kl(P["margin_risk"], train + a_train, 1.0, up)
    dev, prec = test + train, a_test + a_train
    with np.errstate(invalid="ignore"):
        post = up + dev + prec
    return {"dev_test": test, "dev_train": train, "deviation": dev, "precision": prec, "upsilon": up,
            "a_posteriori": post, "bound": P["margin_risk"] + post}


def _precision(precision, gamma) -> tuple[np.ndarray, np.ndarray]:
    """(A_test/γ, A_train/γ) of the p-bit term (+inf each where precision is None; 0 where A = 0)."""
    if precision is None:
        return np.asarray(np.inf), np.asarray(np.inf)
    if len(precision) != 2 or not all(np.all(np.asarray(x, dtype=np.float64) >= 0) for x in precision):
        raise ValueError(f"precision == {precision!r}, must be a pair (A_test, A_train) of allowances >= 0")
    test, train = (np.asarray(x, dtype=np.float64) for x in precision)  # refused NaN above
    with np.errstate(over="ignore"):
        return np.where(test == 0, 0.0, test / gamma), np.where(train == 0, 0.0, train / gamma)
