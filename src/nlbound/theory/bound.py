"""Theorem 5.2 (eqs. 6-11) as exact, vectorised float64 functions: Upsilon, Phi, s-bars, u, w, v, Delta."""

from __future__ import annotations

import numpy as np
from scipy import special

from nlbound.theory._checks import validate

# ---------------------------------------------------------------------------------------------
# Conventions. Every function broadcasts over every argument and returns float64 arrays.
# `depth` is L >= 2 (may vary elementwise). Term functions do NOT validate (use bound_terms).
# ---------------------------------------------------------------------------------------------

_EULER_GAMMA = 0.57721566490153286061


def _f(x):
    return np.asarray(x, dtype=np.float64)


def upsilon(d, m, kappa, p, delta):
    """Υ_κ = sqrt((κ p d ln 2 + ln(1/δ)) / (2m))  (eq. 7)."""
    d, m, kappa, p, delta = map(_f, (d, m, kappa, p, delta))
    return np.sqrt((kappa * p * d * np.log(2.0) - np.log(delta)) / (2.0 * m))  # eq. 7


def phi(d, depth, kappa, rho):
    """Φ_κ (eq. 8): L√d + 1 + (L−1)ρ for κ = 1; (L−1)[(L+1+(L−1)ρ)√d + 2(1+(L−1)ρ)] for κ = 2."""
    d, L, kappa, rho = map(_f, (d, depth, kappa, rho))
    sd = np.sqrt(d)
    phi1 = L * sd + 1.0 + (L - 1.0) * rho  # eq. 8, κ = 1
    phi2 = (L - 1.0) * ((L + 1.0 + (L - 1.0) * rho) * sd + 2.0 * (1.0 + (L - 1.0) * rho))  # eq. 8, κ = 2
    return np.where(kappa == 1, phi1, phi2)


def one_bar(depth, beta, rho):
    """1̄ = 1 + ρβ^L (definition under eq. 8; Lemma 7.4).

    Paper inconsistency: the theorem, Lemma 7.4 and eq. 62 use 1 + ρβ^L; eq. 88 (and s̄_ρ in eqs.
    73/77) use 1 + β^L. Decision: 1 + ρβ^L everywhere, because Lemma 7.4's proof bounds
    m‖Ξ(0)‖_F ≤ ‖Y‖_F + ‖W₁(0)X̃‖_F ∏‖W_l(0)‖ ≤ √m (1 + ρβ^L); for ρ ≥ 1 this is the larger,
    i.e. the conservative, value, so the bound stays a bound.
    """
    L, beta, rho = map(_f, (depth, beta, rho))
    return 1.0 + rho * beta**L  # definition under eq. 8


def s_bar_r(r, depth, eps, beta, rho, s):
    """s̄_r = (1−ε)(s + ρβ^L) + ε r (L−1)(1 + ρβ^L) (definition under eq. 8, read as in eqs. 73/77).

    Paper inconsistency: Theorem 5.2 prints ε·√r·(L−1)(1+ρβ^L), while eqs. 73, 77, 82-83 use r
    linearly. Decision: r linearly, because g₁(0) in eq. 73 bounds
    (1−τ)‖ΞX̃ᵀ‖‖W₁(0)‖ + τ(L−1)‖Ξ‖ ‖W₁(0)X̃‖_F with ‖W₁(0)X̃‖_F/√m = ‖W₁(0)‖_F = ρ‖W₁(0)‖ ≤ ρβ;
    √ρ ≤ ρ for ρ ≥ 1, so the printed version is too small (not a bound) for ρ > 1; both agree at ρ = 1.
    The τ of the proof is replaced by its worst case ε: s̄_r is non-decreasing in τ because
    s + ρβ^L ≤ 1 + ρβ^L ≤ r(L−1)(1 + ρβ^L) for s ≤ 1, r ≥ 1, L ≥ 2 (tested).
    """
    r, L, eps, beta, rho, s = map(_f, (r, depth, eps, beta, rho, s))
    bL = rho * beta**L
    return (1.0 - eps) * (s + bL) + eps * r * (L - 1.0) * (1.0 + bL)  # def. under eq. 8 / eq. 73


def s_bar(depth, eps, beta, rho, s):
    """s̄ = s̄₁ (definition under eq. 8)."""
    return s_bar_r(1.0, depth, eps, beta, rho, s)


def s_hat(depth, eps, beta, rho, s):
    """ŝ = L s̄ / (1 + (L−1)ρ) (definition under eq. 8)."""
    L, rho = _f(depth), _f(rho)
    return L * s_bar(depth, eps, beta, rho, s) / (1.0 + (L - 1.0) * rho)  # def. under eq. 8


def _log_beta_bar_ratio(depth, eps, beta, rho, s):
    """log(β̄/β) = log(s̄_ρ/s̄₁) = log1p((s̄_ρ − s̄₁)/s̄₁), with s̄_ρ − s̄₁ = ε(ρ−1)(L−1)(1+ρβ^L) exactly."""
    L, eps, beta, rho = map(_f, (depth, eps, beta, rho))
    sb = s_bar(depth, eps, beta, rho, s)
    diff = eps * (rho - 1.0) * (L - 1.0) * (1.0 + rho * beta**L)
    return np.log1p(diff / sb)


def beta_bar(depth, eps, beta, rho, s):
    """β̄ = β s̄_ρ / s̄₁ (definition under eq. 8)."""
    return _f(beta) * np.exp(_log_beta_bar_ratio(depth, eps, beta, rho, s))


def t_blow(depth, eps, beta, rho, s):
    """Blow-up time of u for L ≥ 3: β̄^{2−L} / ((L−2) s̄) (Sec. 5.3, below eq. 78); +inf for L = 2."""
    L = _f(depth)
    with np.errstate(divide="ignore", over="ignore"):
        tb = beta_bar(depth, eps, beta, rho, s) ** (2.0 - L) / ((L - 2.0) * s_bar(depth, eps, beta, rho, s))
    return np.where(L == 2, np.inf, tb)


def _log_u_over(t, depth, eps, beta, rho, s, lower_is_beta_bar=False):
    """log(u_β(t)/β) (or log(u/β̄)) computed without cancellation; +inf at and after blow-up.

    eq. 9: L = 2: u = β̄ e^{s̄t}; L ≥ 3: u = (β̄^{2−L} − (L−2)s̄t)^{1/(2−L)} = β̄ (1 − z)^{−1/(L−2)},
    z = (L−2) s̄ t β̄^{L−2} = t / t_blow.
    """
    t, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (t, depth, eps, beta, rho, s)))
    sb = s_bar(L, eps, beta, rho, s)
    lbb = _log_beta_bar_ratio(L, eps, beta, rho, s)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_bbar = np.log(beta) + lbb
        z = (L - 2.0) * sb * t * np.exp((L - 2.0) * log_bbar)
        deep = -np.log1p(-np.minimum(z, 1.0)) / np.where(L == 2, 1.0, L - 2.0)  # eq. 9, L ≥ 3
        grow = np.where(L == 2, sb * t, np.where(z >= 1.0, np.inf, deep))  # eq. 9
    return grow if lower_is_beta_bar else grow + lbb


def u_beta(t, depth, eps, beta, rho, s):
    """u_β(t) (eq. 9). For L ≥ 3, u blows up at t_blow = β̄^{2−L}/((L−2)s̄): returns +inf for t ≥ t_blow."""
    lu = _log_u_over(t, depth, eps, beta, rho, s)
    with np.errstate(over="ignore"):
        return _f(beta) * np.exp(lu)  # eq. 9


def gamma_upper(a, x):
    """Upper incomplete gamma Γ(a, x) = ∫_x^∞ y^{a−1} e^{−y} dy for a > −1, x > 0 (footnote 1).

    a > 0: Γ(a) Q(a, x); a = 0: E₁(x); −1 < a < 0: recurrence Γ(a,x) = (x^a e^{−x} − Γ(a+1,x))/(−a)
    (scipy's gammaincc needs a > 0).
    """
    a, x = np.broadcast_arrays(_f(a), _f(x))
    with np.errstate(all="ignore"):
        ap = np.where(a > 0, a, a + 1.0)
        g_pos = special.gamma(ap) * special.gammaincc(ap, x)
        g_neg = (x**a * np.exp(-x) - g_pos) / (-np.where(a < 0, a, -1.0))
        return np.where(a > 0, g_pos, np.where(a == 0, special.exp1(x), g_neg))


def w(u, depth, eps, beta, rho, s):
    """w(u) = −(1̄/s̄) Γ((2−L)/L, u^L/ŝ) − ρ(ŝ/s̄) Γ(2/L, u^L/ŝ)  (eq. 11 = eq. 94).

    Plain evaluation of the formula; v_β never forms w(u) − w(β) from it (cancellation).
    """
    u, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (u, depth, eps, beta, rho, s)))
    sb, sh, ob = s_bar(L, eps, beta, rho, s), s_hat(L, eps, beta, rho, s), one_bar(L, beta, rho)
    x = u**L / sh
    return -(ob / sb) * gamma_upper((2.0 - L) / L, x) - rho * (sh / sb) * gamma_upper(2.0 / L, x)  # eq. 11


# ----------------------------------------------------------------------------------------------
# log D_c = log ∫_{xb}^{xu} x^{c−1} e^{−x} dx with xu = xb e^Y, for c ∈ (−1, 1], computed with
# relative accuracy whatever the length of the interval (no Γ(c,xu) − Γ(c,xb) cancellation).
# ----------------------------------------------------------------------------------------------


def _log_gamma_interval(c, log_xb, Y):
    c, log_xb, Y = np.broadcast_arrays(_f(c), _f(log_xb), _f(Y))
    out = np.full(c.shape, -np.inf)
    with np.errstate(all="ignore"):
        xb = np.exp(log_xb)
        xu = np.exp(log_xb + Y)
    pos = Y > 0
    ser = pos & (xu <= 2.0)
    gam = pos & ~ser
    if ser.any():
        out[ser] = _log_interval_series(c[ser], xb[ser], log_xb[ser], Y[ser])
    if gam.any():
        out[gam] = _log_interval_gamma(c[gam], xb[gam], xu[gam], log_xb[gam], Y[gam])
    return out


def _log_interval_series(c, xb, log_xb, Y):
    """xu ≤ 2: power series of e^{−x}, each power difference kept relative-accurate with expm1.

    c ≤ 0: ∫ x^{c−1}e^{−x} = xb^c [expm1(cY)/c + Σ_{k≥1} (−1)^k G_k/(k!(c+k))], G_k = xb^k expm1((c+k)Y),
           G_{k+1} = xu G_k + xb^k (xu − xb)  (expm1(cY)/c := Y at c = 0);
    c > 0: ∫ x^{c−1}e^{−x} = xu^c Σ_{k≥0} (−xu)^k/k! · F_k/(c+k), F_k = −expm1(−(c+k)Y),
           F_{k+1} = F_k e^{−Y} − expm1(−Y).
    Every intermediate is bounded (no overflow for tiny xb / long intervals); the alternating sum
    loses at most a factor e^{xb+xu} ≤ e³.
    """
    out = np.empty_like(c)
    with np.errstate(all="ignore"):
        xu = np.exp(log_xb + Y)
        n = c <= 0
        if n.any():
            cn, xbn, xun, Yn, lxn = c[n], xb[n], xu[n], Y[n], log_xb[n]
            acc = np.where(cn == 0, Yn, np.expm1(cn * Yn) / np.where(cn == 0, 1.0, cn))
            g = np.where(Yn < 1.0, xbn * np.expm1((cn + 1.0) * Yn), np.exp(lxn + (cn + 1.0) * Yn) - xbn)
            xbk = xbn.copy()
            gap = xbn * np.expm1(Yn)  # xu − xb without cancellation
            sign_fact = np.full_like(xbn, -1.0)
            idx = np.arange(cn.size)  # still-unconverged elements (compacted as they converge)
            cc, xuc = cn, xun
            for k in range(1, 60):
                term = sign_fact * g / (cc + k)
                acc[idx] += term
                keep = np.abs(term) > 1e-17 * np.abs(acc[idx])
                if not keep.any():
                    break
                idx, g, xbk, gap, sign_fact, cc, xuc, xbc = (
                    idx[keep], g[keep], xbk[keep], gap[keep], sign_fact[keep], cc[keep], xuc[keep],
                    (xbn if k == 1 else xbc)[keep])
                g = xuc * g + xbk * gap
                xbk = xbk * xbc
                sign_fact = -sign_fact / (k + 1)
            out[n] = cn * lxn + np.log(acc)
        p = ~n
        if p.any():
            cp, xup, Yp = c[p], xu[p], Y[p]
            f = -np.expm1(-cp * Yp)
            acc = f / cp
            e_Y, em1 = np.exp(-Yp), -np.expm1(-Yp)
            coef = np.ones_like(cp)
            idx = np.arange(cp.size)
            cc, xuc = cp, xup
            for k in range(1, 60):
                f = f * e_Y + em1
                coef = coef * (-xuc) / k
                term = coef * f / (cc + k)
                acc[idx] += term
                keep = np.abs(term) > 1e-17 * np.abs(acc[idx])
                if not keep.any():
                    break
                idx, f, e_Y, em1, coef, cc, xuc = (idx[keep], f[keep], e_Y[keep], em1[keep], coef[keep],
                                                   cc[keep], xuc[keep])
            out[p] = cp * (log_xb[p] + Yp) + np.log(acc)
    return out


def _log_interval_gamma(c, xb, xu, log_xb, Y):
    """xu > 2 (so the interval is long, xu ≥ 2xb since xb ≤ 1 for the bound): Γ(c,xb) − Γ(c,xu).

    c < 0 uses Γ(c,x) = (x^c e^{−x} − Γ(c+1,x))/(−c), factored by xb^c so that nothing overflows;
    c = 0 uses E₁ (E₁(x) = −γ_E − ln x + x for x < 1e−10, from log x: no underflow).
    """
    out = np.empty_like(c)
    with np.errstate(all="ignore"):
        p = c > 0
        if p.any():
            cp = c[p]
            out[p] = np.log(special.gamma(cp) * (special.gammaincc(cp, xb[p]) - special.gammaincc(cp, xu[p])))
        z = c == 0
        if z.any():
            lx = log_xb[z]
            e1b = np.where(xb[z] < 1e-10, -_EULER_GAMMA - lx + xb[z], special.exp1(xb[z]))
            out[z] = np.log(e1b - special.exp1(xu[z]))
        n = c < 0
        if n.any():
            cn, xbn, xun, lxn, Yn = c[n], xb[n], xu[n], log_xb[n], Y[n]
            c1 = cn + 1.0
            g1 = special.gamma(c1) * (special.gammaincc(c1, xbn) - special.gammaincc(c1, xun))
            bracket = (np.exp(-xbn) - np.exp(cn * Yn - xun) - g1 * np.exp(-cn * lxn)) / (-cn)
            out[n] = cn * lxn + np.log(bracket)
    return out


def _log_v(t, depth, eps, beta, rho, s, lower="beta"):
    """log v_β(t) (eq. 10 = eq. 93), combined in log space:

    v = (L−1)/L ŝ^{(2−L)/L} u^{L−1} [w(u) − w(β)] e^{u^L/ŝ}, and with x = y^L/ŝ
    w(u) − w(β) = (1̄/s̄) ∫_{xb}^{xu} x^{a−1}e^{−x}dx + ρ(ŝ/s̄) ∫_{xb}^{xu} x^{a}e^{−x}dx, a = (2−L)/L,
    xb = β^L/ŝ, xu = u^L/ŝ (eq. 92). Returns (log v, log u).

    Paper inconsistency: the ODE for u starts at β̄ (eqs. 38/77) and eq. 65 integrates from β̄, but
    eqs. 10, 66, 92 use w(β). Decision: keep w(β) (lower="beta"), because w is increasing and
    β ≤ β̄, so v with w(β) ≥ the ODE solution (eq. 88 from v(0)=0): conservative; equal when ρ = 1
    or ε = 0. lower="beta_bar" gives the exact ODE solution (used by the tests).
    """
    t, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (t, depth, eps, beta, rho, s)))
    sb, sh, ob = s_bar(L, eps, beta, rho, s), s_hat(L, eps, beta, rho, s), one_bar(L, beta, rho)
    a = (2.0 - L) / L
    log_u = np.log(beta) + _log_u_over(t, L, eps, beta, rho, s)
    if lower == "beta":
        log_low = np.log(beta)
        Y = L * _log_u_over(t, L, eps, beta, rho, s)
    elif lower == "beta_bar":
        log_low = np.log(beta) + _log_beta_bar_ratio(L, eps, beta, rho, s)
        Y = L * _log_u_over(t, L, eps, beta, rho, s, lower_is_beta_bar=True)
    else:
        raise ValueError(f"lower == {lower!r}, must be one of beta, beta_bar")
    log_sh = np.log(sh)
    log_xb = L * log_low - log_sh
    with np.errstate(all="ignore"):
        log_dw = np.logaddexp(
            np.log(ob / sb) + _log_gamma_interval(a, log_xb, Y),  # Γ((2−L)/L, ·) part of eq. 11
            np.log(rho * sh / sb) + _log_gamma_interval(a + 1.0, log_xb, Y),  # Γ(2/L, ·) part of eq. 11
        )
        xu = np.exp(L * log_u - log_sh)
        log_v = np.log((L - 1.0) / L) + a * log_sh + (L - 1.0) * log_u + log_dw + xu  # eq. 10
        log_v = np.where(np.isinf(log_u) & (log_u > 0), np.inf, log_v)
    return log_v, log_u


def v_beta(t, depth, eps, beta, rho, s, lower="beta"):
    """v_β(t) (eq. 10); +inf when not representable or (L ≥ 3) for t ≥ t_blow. See _log_v."""
    log_v, _ = _log_v(t, depth, eps, beta, rho, s, lower)
    with np.errstate(over="ignore"):
        return np.exp(log_v)


def delta_term(t, d, depth, kappa, eps, beta, rho, s):
    """Δ_κ,β(t) = Φ_κ v_β(t) u_β^{L−1}(t) (eq. 7), combined in log space; +inf beyond float64."""
    L = _f(depth)
    log_v, log_u = _log_v(t, depth, eps, beta, rho, s)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(np.log(phi(d, depth, kappa, rho)) + log_v + (L - 1.0) * log_u)  # eq. 7


def _deviation_from_log_delta(log_delta, kappa, eps, gamma):
    """Δ ε^κ / γ (last term of eq. 6). For ε = 0 it is exactly 0 (the network is linear and equals
    its proxy), even where Δ = +inf."""
    with np.errstate(all="ignore"):
        val = np.exp(log_delta + kappa * np.log(eps) - np.log(gamma))  # eq. 6
    return np.where(eps == 0, 0.0, val)


def bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t) -> dict:
    """Every term of Theorem 5.2 (eqs. 6-11) at the broadcast parameters; validates its input.

    Returns a dict of broadcast float64 arrays: upsilon (eq. 7), phi (eq. 8), s_bar, s_hat, beta_bar,
    one_bar (defs under eq. 8), u (eq. 9), v (eq. 10), Delta (eq. 7), deviation = Δ ε^κ/γ,
    a_priori = upsilon + deviation. Values beyond float64, and u, v, Δ for L ≥ 3 at t ≥ t_blow, are
    +inf (deviation is 0 whenever ε = 0). Raises ValueError like "eps == 1.5, must be in [0, 1]".
    """
    P = validate(d=d, m=m, depth=depth, kappa=kappa, p=p, delta=delta, eps=eps, beta=beta,
                 gamma=gamma, rho=rho, s=s, t=t)
    names = ["d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t"]
    d, m, L, kappa, p, delta, eps, beta, gamma, rho, s, t = np.broadcast_arrays(*(P[k] for k in names))
    log_v, log_u = _log_v(t, L, eps, beta, rho, s)
    ph = phi(d, L, kappa, rho)
    with np.errstate(over="ignore", invalid="ignore"):
        log_delta = np.log(ph) + log_v + (L - 1.0) * log_u  # eq. 7
        up = upsilon(d, m, kappa, p, delta)
        dev = _deviation_from_log_delta(log_delta, kappa, eps, gamma)
        out = {
            "upsilon": up,
            "phi": ph,
            "s_bar": s_bar(L, eps, beta, rho, s),
            "s_hat": s_hat(L, eps, beta, rho, s),
            "beta_bar": beta_bar(L, eps, beta, rho, s),
            "one_bar": one_bar(L, beta, rho),
            "u": np.exp(log_u),  # eq. 9
            "v": np.exp(log_v),
            "Delta": np.exp(log_delta),
            "deviation": dev,
            "a_priori": up + dev,
        }
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def full_bound(margin_risk, d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t):
    """Right-hand side of eq. 6: R̂^ε_γ(t) + Υ_κ + Δ_κ,β(t) ε^κ / γ, given the empirical margin risk."""
    mr = validate(margin_risk=margin_risk)["margin_risk"]
    return mr + bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t)["a_priori"]  # eq. 6
