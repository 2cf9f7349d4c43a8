"""Theorem 5.2's formulas (eqs. 6-11, 92-93), each written once, as small functions over float64 arrays.

Two kinds of function live here:

- private formulas (`_s_bar_r`, `_log_u_growth`, `_log_v_from`, ...) over arrays that are already
  float64 and valid. They are the only place each formula is written; the vectorised driver
  (`nlbound.theory.bound.bound_terms`) calls them on block slices, and the public functions below
  compose them.
- public term functions (`upsilon`, `phi_kappa`, `s_bar`, `u_beta`, `v_beta`, ...), which validate
  their arguments (`nlbound.theory._checks`) and broadcast over all of them.

Overflow: a value beyond float64 is +inf, never NaN. When ρβ^L (hence s̄) is beyond float64, the
ratios 1̄/s̄ and ρŝ/s̄ are taken at their limits (exact to ~1/(ρβ^L) relative), u = +inf for every
t > 0 (exact when s̄t > 710, i.e. t > 4e−306) and v = +inf where ŝ is beyond float64 (u, v, Δ are
upper bounds, so +inf there is conservative). docs/ERRATA.md lists the decisions on the paper's
inconsistencies that these formulas take.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from nlbound.theory._checks import validate
from nlbound.theory._incgamma import log_w_integrals
from nlbound.theory.kl import _kl_inverse_upper

_LN2 = float(np.log(2.0))


def _patch(x, bad, alt, *args):
    """x with the elements where `bad` holds replaced by alt(*args) evaluated at those elements only.

    The args are 0-d or shaped like x; the result at an element never depends on the other elements."""
    if not bad.any():  # (the method: np.any's Python wrapper costs more than small blocks)
        return x
    if np.ndim(x) == 0:
        return np.asarray(alt(*args), dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    bad = np.broadcast_to(bad, x.shape)
    x[bad] = alt(*(a if np.ndim(a) == 0 else np.broadcast_to(a, x.shape)[bad] for a in args))
    return x


# ------------------------------------------------------------------------------------ private formulas


def _upsilon(d, m, kappa, p, delta):
    """Υ_κ = sqrt((κ p d ln 2 + ln(1/δ)) / (2m)) (eq. 7); d/m first where the product overflows."""
    with np.errstate(all="ignore"):
        val = np.sqrt((kappa * p * d * _LN2 - np.log(delta)) / (2.0 * m))  # eq. 7
    return _patch(val, ~np.isfinite(val), lambda d, m, k, p, dl: np.sqrt(
        0.5 * k * p * _LN2 * (d / m) - 0.5 * np.log(dl) / m), d, m, kappa, p, delta)  # eq. 7, rearranged


def _phi_kappa_train(L, kappa, rho):
    """The training-set part of Φ_κ: 1 + (L−1)ρ for κ = 1 (eq. 21 with Lemma 7.1), 2(L−1)(1+(L−1)ρ)
    for κ = 2 (eq. 27); the rest of Φ_κ is the distribution part, L√d (eq. 20) / (L−1)(L+1+(L−1)ρ)√d
    (eq. 26)."""
    with np.errstate(over="ignore"):
        r1 = (L - 1.0) * rho
        return np.where(kappa == 1, 1.0 + r1, 2.0 * (L - 1.0) * (1.0 + r1))  # eqs. 21, 27


def _phi_kappa(d, L, kappa, rho):
    """Φ_κ (eq. 8): L√d + 1 + (L−1)ρ for κ = 1; (L−1)[(L+1+(L−1)ρ)√d + 2(1+(L−1)ρ)] for κ = 2."""
    with np.errstate(over="ignore"):
        sd = np.sqrt(d)
        r1 = (L - 1.0) * rho
        train = _phi_kappa_train(L, kappa, rho)
        phi1 = L * sd + train  # eq. 8, κ = 1
        phi2 = (L - 1.0) * (L + 1.0 + r1) * sd + train  # eq. 8, κ = 2
    return np.where(kappa == 1, phi1, phi2)


def _centred(L, kappa):
    """Where the centred second-order step applies (docs/PROOFS.md, "Second-order step centred by
    eq. 25's identity"): L = 2 and κ = 2."""
    return (L == 2) & (kappa == 2)


def _phi_kappa_so(d, L, kappa, rho):
    """Φ_κ with the centred second-order step: (1 + ρ)(√d + 1) for L = 2, κ = 2 (distribution part
    (1 + ρ)√d, training-set part 1 + ρ, against eq. 8's (3 + ρ)√d + 2(1 + ρ)); eq. 8 elsewhere."""
    with np.errstate(over="ignore"):
        centred = (1.0 + rho) * (np.sqrt(d) + 1.0)  # docs/PROOFS.md, (S2)
    return np.where(_centred(L, kappa), centred, _phi_kappa(d, L, kappa, rho))


def _train_share(d, L, kappa, rho, so=False):
    """Φ_train/Φ_κ ∈ (0, 1): the share of the deviation term Δε^κ/γ that bounds the training-set
    deviation (eqs. 21/27 over eq. 8; with so, 1/(√d + 1) where the centred step applies); its limit
    as ρ → ∞ where the parts overflow."""
    with np.errstate(all="ignore"):
        share = _phi_kappa_train(L, kappa, rho) / _phi_kappa(d, L, kappa, rho)
    share = _patch(share, ~np.isfinite(share), lambda d, k: np.where(k == 1, 1.0, 2.0 / (np.sqrt(d) + 2.0)),
                   d, kappa)
    return np.where(so & _centred(L, kappa), 1.0 / (np.sqrt(d) + 1.0), share)  # docs/PROOFS.md, (S2)


def _kl_argument(margin_risk, deviation, share):
    """q = min(1, R̂_γ + share·deviation): the proxy's empirical ramp risk bounded by the net's margin
    risk plus the training-set deviation (eq. 22; share > 0 finite, deviation = +inf gives q = 1)."""
    return np.minimum(1.0, margin_risk + share * deviation)


def _upsilon_kl(margin_risk, deviation, share, upsilon):
    """The counting term in kl form (eq. 24 with the Chernoff/kl tail; docs/PROOFS.md, "Counting step
    in kl form"): kl⁻¹(q, 2Υ_κ²) − q with q = min(1, R̂_γ + share·deviation), the proxy's empirical
    ramp risk bounded by the net's margin risk plus the training-set deviation. 2Υ_κ² =
    (κpd ln 2 + ln(1/δ))/m (eq. 7). At most Υ_κ (Pinsker; the min guards the last float)."""
    q = _kl_argument(margin_risk, deviation, share)
    with np.errstate(over="ignore"):
        c = 2.0 * upsilon * upsilon  # eq. 24: (ln|F| + ln(1/δ))/m
    return np.minimum(upsilon, _kl_inverse_upper(q, c) - q)


def _rho_beta_L(L, beta, rho):
    """ρβ^L, the common part of 1̄ and s̄_r (definitions under eq. 8)."""
    with np.errstate(over="ignore"):
        return rho * beta**L


def _one_bar(rbL):
    """1̄ = 1 + ρβ^L (definition under eq. 8; Lemma 7.4; ERRATA 2 in docs/ERRATA.md)."""
    return 1.0 + rbL


def _s_bar_r(r, L, eps, s, rbL):
    """s̄_r = (1−ε)(s + ρβ^L) + ε r (L−1)(1 + ρβ^L) (def. under eq. 8 read as eqs. 73/77: ERRATA 1).

    s̄_r ≥ ρβ^L, so it is +inf when ρβ^L is (the product (1−ε)·inf would be NaN at ε = 1)."""
    with np.errstate(all="ignore"):
        val = (1.0 - eps) * (s + rbL) + eps * r * (L - 1.0) * (1.0 + rbL)  # def. under eq. 8 / eq. 73
    return _patch(val, np.isnan(val), lambda: np.inf)


def _s_hat(L, eps, beta, rho, s, sb):
    """ŝ = L s̄ / (1 + (L−1)ρ) (def. under eq. 8); where that overflows, the same formula with the
    division done first: L[((1−ε)s + ε(L−1))/ρ' + β^L ((1−ε) + ε(L−1)) ρ/ρ'], ρ' = 1 + (L−1)ρ."""
    with np.errstate(all="ignore"):
        val = L * sb / (1.0 + (L - 1.0) * rho)  # def. under eq. 8

    def alt(L, eps, beta, rho, s):
        with np.errstate(all="ignore"):
            den = (L - 1.0) + 1.0 / rho  # ρ'/ρ
            return L * (((1.0 - eps) * s + eps * (L - 1.0)) / rho / den
                        + beta**L * ((1.0 - eps) + eps * (L - 1.0)) / den)  # def. under eq. 8, rearranged

    return _patch(val, ~np.isfinite(val), alt, L, eps, beta, rho, s)


def _one_bar_over_s_bar(L, eps, ob, sb):
    """1̄/s̄; when s̄ = +inf (ρβ^L beyond float64) its limit 1/((1−ε) + ε(L−1))."""
    with np.errstate(all="ignore"):
        q = ob / sb
    return _patch(q, sb == np.inf, lambda L, eps: 1.0 / ((1.0 - eps) + eps * (L - 1.0)), L, eps)


def _rho_s_hat_over_s_bar(L, rho, sh, sb):
    """ρŝ/s̄ (= ρL/(1 + (L−1)ρ) by the definition of ŝ, used where ρŝ or s̄ is beyond float64)."""
    with np.errstate(all="ignore"):
        x = rho * sh / sb
    return _patch(x, ~np.isfinite(x) | (sb == np.inf), lambda L, rho: rho * L / (1.0 + (L - 1.0) * rho), L, rho)


def _log_beta_bar_ratio(L, eps, rho, ob, sb, q):
    """log(β̄/β) = log(s̄_ρ/s̄₁) = log1p(ε(ρ−1)(L−1)1̄/s̄₁) (def. of β̄ under eq. 8): s̄_ρ − s̄₁ is exactly
    ε(ρ−1)(L−1)(1+ρβ^L), so no cancellation; q = 1̄/s̄ where the direct quotient is not finite."""
    with np.errstate(all="ignore"):
        x = eps * (rho - 1.0) * (L - 1.0) * ob / sb
    x = _patch(x, ~np.isfinite(x), lambda eps, rho, L, q: eps * (rho - 1.0) * (L - 1.0) * q, eps, rho, L, q)
    return np.log1p(x)


def _log_u_growth(t, L, sb, log_bbar):
    """log(u_β(t)/β̄) (eq. 9): s̄t for L = 2; for L ≥ 3, u = (β̄^{2−L} − (L−2)s̄t)^{1/(2−L)}
    = β̄ (1 − z)^{−1/(L−2)} with z = (L−2) s̄ t β̄^{L−2} = t/t_blow: −log1p(−z)/(L−2), +inf for z ≥ 1
    (u has blown up). Exactly 0 at t = 0."""
    with np.errstate(all="ignore"):
        Lm2 = L - 2.0
        z = Lm2 * sb * t * np.exp(Lm2 * log_bbar)
        z = _patch(z, np.isnan(z), lambda Lm2, sb, t, lbb: np.exp(np.log(Lm2) + np.log(sb) + np.log(t) + Lm2 * lbb),
                   Lm2, sb, t, log_bbar)  # inf·0 in the product: the same in log space
        two = L == 2
        deep = -np.log1p(-np.minimum(z, 1.0)) / np.where(two, 1.0, Lm2)  # eq. 9, L ≥ 3
        grow = np.where(two, sb * t, deep)  # eq. 9
    return np.where(t == 0, 0.0, grow)


def _w_limits(L, log_low, log_u_over_low, log_sh):
    """Integration limits of eq. 92 after x = y^L/ŝ: (log x_b, Y = log(x_u/x_b)), x_b = low^L/ŝ."""
    return L * log_low - log_sh, L * log_u_over_low


def _logaddexp(a, b):
    """np.logaddexp(a, b) = max + log1p(exp(−|a − b|)) (same formula; numpy's ufunc is ~50 ns/element).
    Both −inf (or both +inf) give the max."""
    mx = np.maximum(a, b)
    d = np.subtract(a, b)
    np.abs(d, out=d)
    np.negative(d, out=d)
    np.fmax(d, -np.inf, out=d)  # NaN (inf − inf) -> −inf -> adds log1p(0) = 0
    np.exp(d, out=d)
    np.log1p(d, out=d)
    return np.add(mx, d, out=d)


def _log_v_from(L, q, rsr, log_sh, log_u, l1, l2):
    """log v_β(t) (eq. 10 = eq. 93) in log space:

    v = (L−1)/L ŝ^{(2−L)/L} u^{L−1} [w(u) − w(β)] e^{u^L/ŝ}, and with x = y^L/ŝ (eq. 92)
    w(u) − w(β) = (1̄/s̄) ∫_{x_b}^{x_u} x^{a−1}e^{−x}dx + ρ(ŝ/s̄) ∫_{x_b}^{x_u} x^{a}e^{−x}dx, a = (2−L)/L;
    l1, l2 are the logs of the two integrals (nlbound.theory._incgamma), q = 1̄/s̄, rsr = ρŝ/s̄.
    An empty interval gives v = 0; u = +inf, or ŝ beyond float64, gives v = +inf.
    """
    with np.errstate(all="ignore"):
        Lm1 = L - 1.0
        log_dw = _logaddexp(np.log(q) + l1, np.log(rsr) + l2)  # eq. 92
        log_v = np.log(Lm1 / L) + (2.0 - L) / L * log_sh + Lm1 * log_u + log_dw + np.exp(L * log_u - log_sh)  # eq. 10
    log_v = _patch(log_v, (log_u == np.inf) | ~np.isfinite(log_sh), lambda: np.inf)
    return _patch(log_v, log_dw == -np.inf, lambda: -np.inf)


def _log_delta(ph, log_v, L, log_u):
    """log Δ_κ,β(t) = log(Φ_κ v_β(t) u_β^{L−1}(t)) (eq. 7); −inf (Δ = 0) wherever v = 0."""
    with np.errstate(all="ignore"):
        ld = np.log(ph) + log_v + (L - 1.0) * log_u  # eq. 7
    return _patch(ld, log_v == -np.inf, lambda: -np.inf)


def _deviation(log_delta, kappa, eps, gamma):
    """Δ ε^κ / γ (last term of eq. 6). For ε = 0 it is exactly 0 (the network is linear and equals
    its proxy), even where Δ = +inf."""
    with np.errstate(all="ignore"):
        val = np.exp(log_delta + kappa * np.log(eps) - np.log(gamma))  # eq. 6
    return np.where(eps == 0, 0.0, val)


def _u_parts(t, L, eps, beta, rho, s) -> dict:
    """The terms up to u (defs. under eq. 8, eq. 9), shared subexpressions once; all float64, valid."""
    rbL = _rho_beta_L(L, beta, rho)
    ob = _one_bar(rbL)
    sb = _s_bar_r(1.0, L, eps, s, rbL)
    q = _one_bar_over_s_bar(L, eps, ob, sb)
    lbb = _log_beta_bar_ratio(L, eps, rho, ob, sb, q)
    lb = np.log(beta)
    grow = _log_u_growth(t, L, sb, lb + lbb)  # log(u/β̄)
    lu_over = grow + lbb  # log(u/β)
    return dict(one_bar=ob, s_bar=sb, s_hat=_s_hat(L, eps, beta, rho, s, sb), q=q, log_bbar_ratio=lbb,
                log_beta=lb, log_grow=grow, log_u_over_beta=lu_over, log_u=lb + lu_over)


def _log_v_and_log_u(t, L, eps, beta, rho, s, lower="beta", workers=1):
    """(log v_β(t), log u_β(t)) over broadcast float64 arrays (unvalidated); see v_beta for `lower`."""
    t, L, eps, beta, rho, s = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (t, L, eps, beta, rho, s)))
    shape = t.shape
    t, L, eps, beta, rho, s = (x.reshape(-1) for x in (t, L, eps, beta, rho, s))
    P = _u_parts(t, L, eps, beta, rho, s)
    log_sh = np.log(P["s_hat"])
    if lower == "beta":
        log_xb, Y = _w_limits(L, P["log_beta"], P["log_u_over_beta"], log_sh)
    else:  # "beta_bar": the exact solution of the ODE from v(0) = 0 (ERRATA 4)
        log_xb, Y = _w_limits(L, P["log_beta"] + P["log_bbar_ratio"], P["log_grow"], log_sh)
    l1, l2 = log_w_integrals(L, log_xb, Y, workers)
    rsr = _rho_s_hat_over_s_bar(L, rho, P["s_hat"], P["s_bar"])
    log_v = _log_v_from(L, P["q"], rsr, log_sh, P["log_u"], l1, l2)
    return log_v.reshape(shape), P["log_u"].reshape(shape)


# ------------------------------------------------------------------------ public term functions


def upsilon(d, m, kappa, p, delta):
    """Υ_κ = sqrt((κ p d ln 2 + ln(1/δ)) / (2m)) (eq. 7)."""
    P = validate(d=d, m=m, kappa=kappa, p=p, delta=delta)
    return _upsilon(P["d"], P["m"], P["kappa"], P["p"], P["delta"])


def train_share(d, depth, kappa, rho, so=False):
    """Φ_train/Φ_κ: the share of the deviation term Δε^κ/γ that bounds the training-set deviation
    (eqs. 21/27 over eq. 8; so: the centred second-order step's 1/(√d + 1) for L = 2, κ = 2); the
    rest bounds the distribution part (eqs. 20/26 with eq. 23). docs/PROOFS.md, "Split of the
    deviation term"."""
    P = validate(d=d, depth=depth, kappa=kappa, rho=rho)
    return _train_share(P["d"], P["depth"], P["kappa"], P["rho"], bool(so))


def phi_kappa(d, depth, kappa, rho):
    """Φ_κ (eq. 8): L√d + 1 + (L−1)ρ for κ = 1; (L−1)[(L+1+(L−1)ρ)√d + 2(1+(L−1)ρ)] for κ = 2."""
    P = validate(d=d, depth=depth, kappa=kappa, rho=rho)
    return _phi_kappa(P["d"], P["depth"], P["kappa"], P["rho"])


def one_bar(depth, beta, rho):
    """1̄ = 1 + ρβ^L (definition under eq. 8; Lemma 7.4).

    Paper inconsistency (ERRATA 2): the theorem, Lemma 7.4 and eq. 62 use 1 + ρβ^L; eq. 88 (and s̄_ρ
    in eqs. 73/77) use 1 + β^L. Decision: 1 + ρβ^L everywhere, because Lemma 7.4's proof bounds
    m‖Ξ(0)‖_F ≤ ‖Y‖_F + ‖W₁(0)X̃‖_F ∏‖W_l(0)‖ ≤ √m (1 + ρβ^L); for ρ ≥ 1 this is the larger,
    i.e. the conservative, value, so the bound stays a bound.
    """
    P = validate(depth=depth, beta=beta, rho=rho)
    return _one_bar(_rho_beta_L(P["depth"], P["beta"], P["rho"]))


def s_bar_r(r, depth, eps, beta, rho, s):
    """s̄_r = (1−ε)(s + ρβ^L) + ε r (L−1)(1 + ρβ^L) (definition under eq. 8, read as in eqs. 73/77).

    Paper inconsistency (ERRATA 1): Theorem 5.2 prints ε·√r·(L−1)(1+ρβ^L), while eqs. 73, 77, 82-83
    use r linearly. Decision: r linearly, because g₁(0) in eq. 73 bounds
    (1−τ)‖ΞX̃ᵀ‖‖W₁(0)‖ + τ(L−1)‖Ξ‖ ‖W₁(0)X̃‖_F with ‖W₁(0)X̃‖_F/√m = ‖W₁(0)‖_F = ρ‖W₁(0)‖ ≤ ρβ;
    √ρ ≤ ρ for ρ ≥ 1, so the printed version is too small (not a bound) for ρ > 1; both agree at ρ = 1.
    The τ of the proof is replaced by its worst case ε: s̄_r is non-decreasing in τ because
    s + ρβ^L ≤ 1 + ρβ^L ≤ r(L−1)(1 + ρβ^L) for s ≤ 1, r ≥ 1, L ≥ 2 (tested).
    """
    P = validate(r=r, depth=depth, eps=eps, beta=beta, rho=rho, s=s)
    L = P["depth"]
    return _s_bar_r(P["r"], L, P["eps"], P["s"], _rho_beta_L(L, P["beta"], P["rho"]))


def s_bar(depth, eps, beta, rho, s):
    """s̄ = s̄₁ (definition under eq. 8)."""
    return s_bar_r(1.0, depth, eps, beta, rho, s)


def s_hat(depth, eps, beta, rho, s):
    """ŝ = L s̄ / (1 + (L−1)ρ) (definition under eq. 8)."""
    P = validate(depth=depth, eps=eps, beta=beta, rho=rho, s=s)
    L, eps, beta, rho, s = (P[k] for k in ("depth", "eps", "beta", "rho", "s"))
    return _s_hat(L, eps, beta, rho, s, _s_bar_r(1.0, L, eps, s, _rho_beta_L(L, beta, rho)))


def beta_bar(depth, eps, beta, rho, s):
    """β̄ = β s̄_ρ / s̄₁ (definition under eq. 8)."""
    P = validate(depth=depth, eps=eps, beta=beta, rho=rho, s=s)
    U = _u_parts(0.0, P["depth"], P["eps"], P["beta"], P["rho"], P["s"])
    with np.errstate(over="ignore"):
        return P["beta"] * np.exp(U["log_bbar_ratio"])


def t_blow(depth, eps, beta, rho, s):
    """Blow-up time of u for L ≥ 3: β̄^{2−L} / ((L−2) s̄) (Sec. 5.3, below eq. 78); +inf for L = 2."""
    L = validate(depth=depth)["depth"]
    with np.errstate(divide="ignore", over="ignore"):
        tb = beta_bar(depth, eps, beta, rho, s) ** (2.0 - L) / ((L - 2.0) * s_bar(depth, eps, beta, rho, s))
    return np.where(L == 2, np.inf, tb)


def u_beta(t, depth, eps, beta, rho, s):
    """u_β(t) (eq. 9). For L ≥ 3, u blows up at t_blow = β̄^{2−L}/((L−2)s̄): returns +inf for t ≥ t_blow."""
    P = validate(t=t, depth=depth, eps=eps, beta=beta, rho=rho, s=s)
    U = _u_parts(P["t"], P["depth"], P["eps"], P["beta"], P["rho"], P["s"])
    with np.errstate(over="ignore"):
        return np.exp(U["log_u"])  # eq. 9


def gamma_upper(a, x):
    """Upper incomplete gamma Γ(a, x) = ∫_x^∞ y^{a−1} e^{−y} dy for a > −1, x > 0 (footnote 1).

    a > 0: Γ(a) Q(a, x); a = 0: E₁(x); −1 < a < 0: recurrence Γ(a,x) = (x^a e^{−x} − Γ(a+1,x))/(−a)
    (scipy's gammaincc needs a > 0).
    """
    P = validate(a=a, x=x)
    a, x = np.broadcast_arrays(P["a"], P["x"])
    with np.errstate(all="ignore"):
        ap = np.where(a > 0, a, a + 1.0)
        g_pos = special.gamma(ap) * special.gammaincc(ap, x)
        g_neg = (x**a * np.exp(-x) - g_pos) / (-np.where(a < 0, a, -1.0))
        return np.where(a > 0, g_pos, np.where(a == 0, special.exp1(x), g_neg))


def w(u, depth, eps, beta, rho, s):
    """w(u) = −(1̄/s̄) Γ((2−L)/L, u^L/ŝ) − ρ(ŝ/s̄) Γ(2/L, u^L/ŝ)  (eq. 11 = eq. 94; ERRATA 3).

    Plain evaluation of the formula; v_β never forms w(u) − w(β) from it (cancellation).
    """
    P = validate(u=u, depth=depth, eps=eps, beta=beta, rho=rho, s=s)
    u, L, eps, beta, rho, s = np.broadcast_arrays(*(P[k] for k in ("u", "depth", "eps", "beta", "rho", "s")))
    U = _u_parts(0.0, L, eps, beta, rho, s)
    x = u**L / U["s_hat"]
    rsr = _rho_s_hat_over_s_bar(L, rho, U["s_hat"], U["s_bar"])
    return -U["q"] * gamma_upper((2.0 - L) / L, x) - rsr * gamma_upper(2.0 / L, x)  # eq. 11


def v_beta(t, depth, eps, beta, rho, s, lower="beta"):
    """v_β(t) (eq. 10); +inf when not representable or (L ≥ 3) for t ≥ t_blow.

    Paper inconsistency (ERRATA 4): the ODE for u starts at β̄ (eqs. 38/77) and eq. 65 integrates
    from β̄, but eqs. 10, 66, 92 use w(β). Decision: keep w(β) (lower="beta"), because w is
    increasing and β ≤ β̄, so v with w(β) ≥ the ODE solution (eq. 88 from v(0) = 0): conservative;
    equal when ρ = 1 or ε = 0. lower="beta_bar" gives the exact ODE solution (used by the tests).
    """
    P = validate(t=t, depth=depth, eps=eps, beta=beta, rho=rho, s=s, lower=lower)
    log_v, _ = _log_v_and_log_u(P["t"], P["depth"], P["eps"], P["beta"], P["rho"], P["s"], lower=lower)
    with np.errstate(over="ignore"):
        return np.exp(log_v)
