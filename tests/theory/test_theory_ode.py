"""bound_terms(form="ode"): never above the closed form, the exact solution of the comparison ODEs
(mpmath Taylor series to 1e-8), above a tight solve_ivp solution, and the inequalities its proof uses."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from nlbound.theory import beta_bar, bound_terms, s_bar, s_bar_r, t_blow, t_star, u_beta
from nlbound.theory import ode as O

FIG1 = dict(d=49, m=60000, kappa=2, p=32, delta=0.05, gamma=1e-6, s=0.633185)
BOUNDED = ("u", "v", "Delta", "deviation", "a_priori_as_printed")


def _terms(form, **kw):
    return bound_terms(**{**FIG1, **kw}, form=form)


def _system(L, eps, beta, rho, s, num):
    """The comparison system of the proof, integrated as written: eq. 35 (L = 2) / eq. 73 (L ≥ 3)
    for (g₁, g₂), and eq. 62/88 for v with G = g₂ (L = 2) or g₁/s̄ (L ≥ 3); `num` is float or mp.mpf."""
    eps, beta, rho, s = map(num, (eps, beta, rho, s))
    rbL = rho * beta**L
    ob = 1 + rbL  # 1̄ (ERRATA 2)
    sb = (1 - eps) * (s + rbL) + eps * (L - 1) * ob  # s̄₁ (ERRATA 1)
    sr = (1 - eps) * (s + rbL) + eps * rho * (L - 1) * ob  # s̄_ρ

    def F(_, y):
        g1, g2, v = y
        G = g2 if L == 2 else g1 / sb
        a = (1 + (L - 1) * rho) * G ** (2 * L - 2) + sb * (L - 1) * G ** (L - 2)  # eq. 88
        b = (L - 1) * G ** (L - 1) * (ob + rho * G**L)  # eq. 88
        return [sb**2 * g2 ** (L - 1), g1 * g2 ** (L - 2), a * v + b]  # eqs. 35/73, 88

    G_of = (lambda y: y[1]) if L == 2 else (lambda y: y[0] / sb)
    return F, [beta * sr, beta, num(0)], G_of


CASES = [  # (L, eps, beta, rho): ρ > 1 so that the ode form differs from the closed form
    (2, 0.01, 1e-3, 5.5), (2, 0.1, 1e-3, 5.5), (2, 0.5, 0.3, 3.0), (3, 0.1, 0.1, 5.5), (3, 0.02, 0.2, 2.0),
    (4, 0.1, 0.3, 3.0)]


def _times(L, eps, beta, rho):
    """0.05, 0.5 and 1 times t*_0.5 (L = 2), or 0.9 times the blow-up time of u (L ≥ 3)."""
    if L == 2:
        ts = float(t_star(0.5, beta, FIG1["s"], L))
    else:
        ts = 0.9 * float(t_blow(L, eps, beta, rho, FIG1["s"]))
    return [0.05 * ts, 0.5 * ts, ts]


@pytest.mark.parametrize("case", CASES)
def test_agrees_with_mpmath_taylor_solution(case):
    """G and v against mpmath's Taylor-series ODE solver (25 digits) of eqs. 35/73 and 62/88: 1e-8."""
    L, eps, beta, rho = case
    ts = _times(L, eps, beta, rho)
    mp.mp.dps = 25
    F, y0, G_of = _system(L, eps, beta, rho, FIG1["s"], mp.mpf)
    sol = mp.odefun(F, 0, y0)
    ref = [sol(mp.mpf(t)) for t in ts]
    got = _terms("ode", depth=L, eps=eps, beta=beta, rho=rho, t=np.array(ts))
    for i, y in enumerate(ref):
        assert got["u"][i] == pytest.approx(float(G_of(y)), rel=1e-12)
        assert got["v"][i] == pytest.approx(float(y[2]), rel=1e-8)
        assert got["v"][i] >= float(y[2])  # the margin makes it an upper bound


@pytest.mark.parametrize("case", CASES)
def test_dominates_solve_ivp(case):
    """Δ_ode ≥ Φ·v·G^{L−1} of a DOP853 solution (rtol 1e-12) of the same system; G ≥ every weight-norm
    bound g₂ of the system; and strictly below the closed form (ρ > 1: the loosening is removed)."""
    L, eps, beta, rho = case
    ts = _times(L, eps, beta, rho)
    F, y0, G_of = _system(L, eps, beta, rho, FIG1["s"], float)
    sol = solve_ivp(F, (0.0, ts[-1]), y0, method="DOP853", rtol=1e-12, atol=1e-30, t_eval=ts)
    assert sol.status == 0
    o = _terms("ode", depth=L, eps=eps, beta=beta, rho=rho, t=np.array(ts))
    c = _terms("closed", depth=L, eps=eps, beta=beta, rho=rho, t=np.array(ts))
    G, g2, v = G_of(sol.y), sol.y[1], sol.y[2]
    assert np.all(o["v"] >= v) and np.all(o["u"] >= g2 * (1 - 1e-12))
    assert np.all(o["Delta"] >= o["phi"] * v * G ** (L - 1))
    assert np.all(o["Delta"] < c["Delta"]) and np.all(o["u"] < c["u"])


@settings(max_examples=80, deadline=None)
@given(L=st.integers(2, 4), eps=st.floats(0, 1), lbeta=st.floats(-6, 1), rho=st.floats(1, 20),
       s=st.floats(0.01, 1), lt=st.floats(-4, 2), kappa=st.sampled_from([1, 2]))
def test_ode_never_above_closed(L, eps, lbeta, rho, s, lt, kappa):
    """Over the valid domain: the ode form is ≤ the closed form in every bounded term, the other
    terms are identical, and nothing is NaN."""
    kw = dict(depth=L, eps=eps, beta=10.0**lbeta, rho=rho, s=s, t=10.0**lt, kappa=kappa)
    o, c = _terms("ode", **kw), _terms("closed", **kw)
    for k in c:
        assert not np.isnan(o[k])
        if k in BOUNDED:
            assert o[k] <= c[k], k
        else:
            assert o[k] == c[k], k


@settings(max_examples=80, deadline=None)
@given(L=st.integers(2, 3), eps=st.floats(0, 1), lbeta=st.floats(-4, 0), rho=st.floats(1, 20),
       s=st.floats(0.01, 1), frac=st.floats(0, 0.99))
def test_bounding_function_inequalities(L, eps, lbeta, rho, s, frac):
    """The inequalities that make G valid (ode.py's docstring): with h = √(g₂² + c²),
    β − β̄ + h ≤ g₂, ρβ − β̄ + h ≤ ρg₂, g₂ ≤ G ≤ u, on [0, 0.99 t_blow(u)] (at t_blow, 1 − β̄s̄t
    cancels and only rounding is compared)."""
    beta = 10.0**lbeta
    sb = float(s_bar(L, eps, beta, rho, s))
    r = float(s_bar_r(rho, L, eps, beta, rho, s)) / sb
    c = beta * np.sqrt(r * r - 1.0)
    bb = float(beta_bar(L, eps, beta, rho, s))
    t = frac * (5.0 / sb if L == 2 else 1.0 / ((L - 2) * sb * bb))  # before u blows up
    lg2, lG = O.g_end(t, L, beta, r, c, sb)
    g2, G = np.exp(lg2), np.exp(lG)
    h = np.sqrt(g2 * g2 + c * c)
    tol = 1e-12 * h
    assert beta - bb + h <= g2 + tol and rho * beta - bb + h <= rho * g2 + rho * tol
    assert g2 <= G * (1 + 1e-12) and G <= float(u_beta(t, L, eps, beta, rho, s)) * (1 + 1e-12)


def test_monotone_in_tau():
    """G and v are non-decreasing in τ (evaluated as ε): the worst case τ = ε dominates [0, ε]."""
    eps = np.linspace(0.0, 0.3, 31)
    for L, beta, rho in [(2, 1e-3, 5.5), (3, 0.1, 5.5), (2, 0.3, 3.0)]:
        t = 0.8 * float(t_star(0.5, beta, FIG1["s"], L))
        o = _terms("ode", depth=L, eps=eps, beta=beta, rho=rho, t=t)
        for k in ("u", "v"):
            assert np.all(o[k][1:] >= o[k][:-1]) and np.isfinite(o[k][1])


def test_equal_to_closed_where_nothing_is_loosened():
    """ρ = 1 (or ε = 0): r = 1, so g₂ = h = u and w(β) = w(β̄): the ode form is the closed form (to
    rounding: G is evaluated by its own formula, v is the closed one, the quadrature's being 1e-9 above)."""
    for kw in [dict(depth=2, eps=1e-3, rho=1.0), dict(depth=3, eps=0.2, rho=1.0), dict(depth=2, eps=0.0, rho=4.0)]:
        t = np.array([0.5, 5.0, 10.0])
        o, c = _terms("ode", beta=1e-3, t=t, **kw), _terms("closed", beta=1e-3, t=t, **kw)
        for k in c:
            np.testing.assert_allclose(o[k], c[k], rtol=1e-14)
        np.testing.assert_array_equal(o["v"], c["v"])


def test_numeric_g2_matches_closed_form_l4():
    """L = 4: eq. 75 integrates to t = (√(1 + c²/β²) − √(1 + c²/g₂²))/(s̄c²) (independent closed form);
    the Newton solution is never below it and within 1e−9 relative up to 0.99 of the blow-up time."""
    rng = np.random.default_rng(0)
    n = 500
    beta = 10 ** rng.uniform(-4, 0, n)
    x2 = 10 ** rng.uniform(-6, 2, n)  # (c/β)²
    c, sb = beta * np.sqrt(x2), rng.uniform(0.1, 3, n)
    tb = x2 / (np.sqrt(1 + x2) + 1) / (sb * c**2)  # blow-up time, written without cancellation
    t = tb * rng.uniform(0, 0.99, n)
    S = 1 + sb * c**2 * (tb - t)  # √(1 + c²/g₂²)
    ref = -0.5 * np.log(sb * (tb - t) * (S + 1))  # log g₂ = −log √((S² − 1)/c²)
    got = O.log_g2_numeric(t, np.full(n, 4.0), beta, c, sb)
    ok = ~np.isnan(got)
    assert ok.mean() > 0.99 and np.all(got[ok] >= ref[ok]) and np.all(got[ok] - ref[ok] < 1e-9)
    after = O.log_g2_numeric(tb * rng.uniform(1.001, 2, n), np.full(n, 4.0), beta, c, sb)
    assert np.all(after == np.inf)


def test_form_is_validated():
    with pytest.raises(ValueError, match="form == 'x', must be one of closed, ode"):
        _terms("x", depth=2, eps=0.1, beta=0.1, rho=1.0, t=1.0)

