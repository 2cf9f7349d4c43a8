"""Theorem 5.2 terms against a 50-digit mpmath evaluation of the paper's formulas (eqs. 7-11, 15, 97)."""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest

from nlbound.theory import bound_terms, t_blow, t_star

mp.mp.dps = 50
FMAX = mp.mpf(np.finfo(float).max)


def ref_terms(d, m, L, kappa, p, delta, eps, beta, gamma, rho, s, t):
    """The formulas of Theorem 5.2, verbatim, at 50 digits (with the decisions of nlbound.theory)."""
    d, m, p, delta, eps, beta, gamma, rho, s, t = (mp.mpf(float(x)) for x in (d, m, p, delta, eps, beta, gamma, rho, s, t))
    L = int(L)
    ups = mp.sqrt((kappa * p * d * mp.log(2) + mp.log(1 / delta)) / (2 * m))
    if kappa == 1:
        ph = L * mp.sqrt(d) + 1 + (L - 1) * rho
    else:
        ph = (L - 1) * ((L + 1 + (L - 1) * rho) * mp.sqrt(d) + 2 * (1 + (L - 1) * rho))
    bL = rho * beta**L
    ob = 1 + bL
    sbar = lambda r: (1 - eps) * (s + bL) + eps * r * (L - 1) * (1 + bL)  # noqa: E731
    sb1, sbr = sbar(1), sbar(rho)
    sh = L * sb1 / (1 + (L - 1) * rho)
    bb = beta * (sbr / sb1)
    if t == 0:
        u = bb
    elif L == 2:
        u = bb * mp.exp(sb1 * t)
    else:
        base = bb ** (2 - L) - (L - 2) * sb1 * t
        u = mp.inf if base <= 0 else base ** (mp.mpf(1) / (2 - L))
    out = dict(upsilon=ups, phi=ph, s_bar=sb1, s_hat=sh, beta_bar=bb, one_bar=ob, u=u)
    if u == mp.inf:
        out.update(v=mp.inf, Delta=mp.inf, deviation=mp.inf if eps > 0 else mp.mpf(0))
    else:
        a = mp.mpf(2 - L) / L

        def w(x):
            y = x**L / sh
            return -(ob / sb1) * mp.gammainc(a, y) - rho * (sh / sb1) * mp.gammainc(mp.mpf(2) / L, y)

        dw = 0 if u == beta else w(u) - w(beta)
        v = mp.mpf(L - 1) / L * sh**a * u ** (L - 1) * dw * mp.exp(u**L / sh)
        D = ph * v * u ** (L - 1)
        out.update(v=v, Delta=D, deviation=D * eps**kappa / gamma)
    out["a_priori_as_printed"] = out["upsilon"] + out["deviation"]
    return out


def _check(got: dict, ref: dict, tol: float, where: str):
    for k, r in ref.items():
        g = float(got[k])
        assert not np.isnan(g), (k, where)
        if r > FMAX:
            assert g == np.inf, (k, where, g)
        elif r == 0:
            assert g == 0, (k, where, g)
        elif abs(r) < mp.mpf("1e-300"):
            continue  # denormal territory
        else:
            err = abs((mp.mpf(g) - r) / r)
            assert err <= tol, f"{k}: rel err {float(err):.3g} > {tol:g} at {where}: got {g!r}, ref {mp.nstr(r, 17)}"


def _times(L, beta, eps, rho, s):
    ts = [0.0, 1e-12, 1e-6, 0.3, 3.0]
    if beta ** L / s < 0.5:
        ts.append(float(t_star(0.5, beta, s, L)))
    if L == 2:
        ts += [40.0, 2000.0]  # e^{u²/ŝ} large but finite; then beyond float64
    else:
        tb = float(t_blow(L, eps, beta, rho, s))
        ts = [x for x in ts if x < tb] + [tb * (1 - 1e-3), tb * (1 - 1e-6), tb * (1 + 1e-9), tb * 2]
    return ts


GRID = list(itertools.product([2, 3, 4, 6], [1e-6, 1e-3, 0.1, 1.0], [0.0, 1e-3, 0.3, 1.0], [1.0, 1.5, 5.0]))


@pytest.mark.parametrize("L", [2, 3, 4, 6])
def test_against_mpmath(L):
    s, d, m, p, delta, gamma = 0.4, 49, 60000, 32, 0.05, 1e-6
    n = 0
    for L_, beta, eps, rho in GRID:
        if L_ != L:
            continue
        tb = float(t_blow(L, eps, beta, rho, s))
        for t in _times(L, beta, eps, rho, s):
            for kappa in (1, 2):
                got = bound_terms(d, m, L, kappa, p, delta, eps, beta, gamma, rho, s, t)
                ref = ref_terms(d, m, L, kappa, p, delta, eps, beta, gamma, rho, s, t)
                # u is ill-conditioned near blow-up (condition number 1/((L−2)(1 − t/t_blow))): an
                # ulp in t or β already moves it by that much, so scale the tolerance there.
                cond = 1.0 if L == 2 or t >= tb else 1.0 / max(1.0 - t / tb, 1e-300)
                xu = float(ref["u"] ** L / ref["s_hat"]) if ref["u"] < mp.inf else 0.0
                tol = 1e-10 * cond * max(1.0, xu / 50)
                _check(got, ref, tol, f"L={L} beta={beta} eps={eps} rho={rho} t={t!r} kappa={kappa}")
                n += 1
    assert n > 100


# the grid of t*-points inside the domain alpha > beta^L/s (the outside is tested separately)
T_STAR_GRID = [
    (L, beta, alpha, s)
    for L in (2, 3, 4, 6)
    for beta in (1e-6, 1e-3, 0.3)
    for alpha in (1e-3, 0.1, 0.5, 0.9, 0.999999)
    for s in (0.05, 0.4, 1.0)
    if alpha > beta**L / s * 1.01
]


@pytest.mark.parametrize("L, beta, alpha, s", T_STAR_GRID)
def test_t_star_against_mpmath(L, beta, alpha, s):
    got = float(t_star(alpha, beta, s, L))
    a, b, s_ = mp.mpf(alpha), mp.mpf(beta), mp.mpf(s)
    if L == 2:
        ref = mp.log(a * (s_ - b**2) / ((1 - a) * b**2)) / (2 * s_)  # eq. 15
    else:
        c = mp.mpf(2) / L - 1
        ref = (b ** (2 - L) * mp.hyp2f1(1, c, c + 1, b**L / s_) - (a * s_) ** c * mp.hyp2f1(1, c, c + 1, a)) / (s_ * (L - 2))  # eq. 97
    assert abs((got - ref) / ref) < 1e-10


def test_t_star_is_the_integral():
    """t*_α(β) = ∫_β^{(αs)^{1/L}} du / (u^{L−1}(s − u^L)) (eqs. 13, 96)."""
    for L in (2, 3, 5):
        beta, alpha, s = 0.2, 0.4, 0.7
        ref = mp.quad(lambda u, L=L, s=s: 1 / (u ** (L - 1) * (s - u**L)), [beta, (alpha * s) ** (1.0 / L)])
        assert abs(float(t_star(alpha, beta, s, L)) / ref - 1) < 1e-12
