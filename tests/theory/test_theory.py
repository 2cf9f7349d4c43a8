"""Theorem 5.2 terms: ODE cross-checks, β → 0 limits, paper-inconsistency decisions, properties, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from nlbound.theory import (
    beta_bar, bound_terms, deviation_at_t_star, deviation_limit, full_bound, one_bar, s_bar, s_bar_r,
    s_hat, t_blow, t_star, u_beta, upsilon, v_beta, w,
)
from tolerances import GRID_ULPS, assert_ulp_close, ulp_distance

BASE = dict(d=49, m=60000, depth=2, kappa=2, p=32, delta=0.05, eps=1e-3, beta=1e-3, gamma=1e-6, rho=1.0, s=0.4, t=5.0)


def _sbar_rho(L, eps, beta, rho, s):
    return s_bar_r(rho, L, eps, beta, rho, s)


# ----------------------------------------------------------------------------- ODE cross-checks

CASES = [(2, 0.1, 1.0, 0.4, 0.05), (2, 0.3, 2.5, 0.7, 0.2), (3, 0.2, 1.0, 0.5, 0.3), (3, 0.4, 3.0, 0.3, 0.1),
         (4, 0.1, 1.7, 0.9, 0.4), (5, 0.05, 1.2, 0.6, 0.5)]


@pytest.mark.parametrize("L,eps,rho,s,beta", CASES)
def test_u_dominates_g_system(L, eps, rho, s, beta):
    """u ≥ g₂ and s̄u ≥ g₁ for the system eq. 35 (L = 2) / eq. 73 (L ≥ 3), with the consistent 1̄."""
    sb, sr = float(s_bar(L, eps, beta, rho, s)), float(_sbar_rho(L, eps, beta, rho, s))
    T = 0.9 * float(t_blow(L, eps, beta, rho, s)) if L > 2 else 3.0
    sol = solve_ivp(lambda t, g: [sb**2 * g[1] ** (L - 1), g[0] * g[1] ** (L - 2)], (0, T), [beta * sr, beta],
                    rtol=1e-11, atol=1e-14, dense_output=True)
    ts = np.linspace(0, T, 50)
    g1, g2 = sol.sol(ts)
    u = u_beta(ts, L, eps, beta, rho, s)
    assert np.all(u >= g2 * (1 - 1e-9))
    assert np.all(sb * u >= g1 * (1 - 1e-9))
    if rho == 1.0:  # then (s̄u, u) solves the same system from the same point
        np.testing.assert_allclose(u, g2, rtol=1e-8)


@pytest.mark.parametrize("L,eps,rho,s,beta", CASES)
def test_v_closed_form_vs_ode(L, eps, rho, s, beta):
    """Closed-form v vs solve_ivp of eq. 62 (L = 2) / eq. 88 (L ≥ 3, consistent 1̄ = 1 + ρβ^L) driven by u."""
    sb, ob = float(s_bar(L, eps, beta, rho, s)), float(one_bar(L, beta, rho))
    T = 0.9 * float(t_blow(L, eps, beta, rho, s)) if L > 2 else 3.0

    def rhs(t, v):
        u = float(u_beta(t, L, eps, beta, rho, s))
        return [v[0] * ((1 + (L - 1) * rho) * u ** (2 * L - 2) + sb * (L - 1) * u ** (L - 2))
                + (L - 1) * u ** (L - 1) * (ob + rho * u**L)]  # eq. 88 (= eq. 62 at L = 2)

    ts = np.linspace(0, T, 30)[1:]
    sol = solve_ivp(rhs, (0, T), [0.0], rtol=1e-11, atol=1e-30, t_eval=ts)
    exact = v_beta(ts, L, eps, beta, rho, s, lower="beta_bar")
    np.testing.assert_allclose(exact, sol.y[0], rtol=1e-8)
    paper = v_beta(ts, L, eps, beta, rho, s)  # with w(β): conservative
    assert np.all(paper >= exact * (1 - 1e-12))
    if rho == 1.0:
        np.testing.assert_allclose(paper, exact, rtol=1e-12)


# ----------------------------------------------------------------------------- β → 0 limits


@pytest.mark.parametrize("L,r", [(2, 2.0), (2, 1.2), (3, 1.2), (4, 1.1), (6, 1.05)])
@pytest.mark.parametrize("rho,eps", [(1.0, 1e-3), (1.5, 1e-2), (5.0, 1e-3)])
@pytest.mark.parametrize("kappa", [1, 2])
def test_finite_beta_approaches_limit(L, r, rho, eps, kappa):
    """Eq. 19 (L = 2) / (Φ_κ/L)·eq. 103·ε^κ (L ≥ 3): relative gap O(β²) (measured O(β^L) for L ≥ 3)."""
    s, q, d = 0.4, 10.0, 49
    lim = float(deviation_limit(d, L, kappa, eps, rho, s, r, q))
    assert np.isfinite(lim) and lim > 0
    gaps = []
    for beta in (1e-2, 1e-3):
        fin = float(deviation_at_t_star(d, L, kappa, eps, beta, rho, s, r, q))
        gaps.append(abs(fin / lim - 1))
    assert gaps[1] <= 100 * 1e-6 + 1e-12  # C β² with C ≤ 100 at β = 1e-3
    assert gaps[1] <= gaps[0] / 50 + 1e-12  # decays at least like β^1.7


# ----------------------------------------------------------------------------- decisions (ERRATA)


def test_sbar_rho_linear_vs_printed_sqrt():
    """ERRATA 1: our s̄_ρ (ρ linear) ≥ the theorem's ε√ρ version for ρ > 1, equal at ρ = 1."""
    L, eps, beta, s = np.array([2, 3, 5]), 0.3, 0.1, 0.4
    for rho in (1.0, 1.5, 5.0):
        ours = s_bar_r(rho, L, eps, beta, rho, s)
        bL = rho * beta**L
        printed = (1 - eps) * (s + bL) + eps * np.sqrt(rho) * (L - 1) * (1 + bL)
        if rho == 1.0:
            np.testing.assert_allclose(ours, printed, rtol=1e-15)
        else:
            assert np.all(ours > printed)


def test_one_bar_uses_rho():
    """ERRATA 2: 1̄ = 1 + ρβ^L ≥ 1 + β^L (eq. 88's), equal at ρ = 1."""
    assert one_bar(3, 0.5, 2.0) == 1 + 2 * 0.125
    assert one_bar(3, 0.5, 1.0) == 1 + 0.125


def test_w_beta_le_w_beta_bar():
    """ERRATA 4: w is increasing and β ≤ β̄, so w(β) ≤ w(β̄) (v with w(β) is conservative)."""
    for L in (2, 3, 6):
        for rho in (1.0, 1.5, 5.0):
            eps, beta, s = 0.2, 0.05, 0.4
            bb = beta_bar(L, eps, beta, rho, s)
            assert w(beta, L, eps, beta, rho, s) <= w(bb, L, eps, beta, rho, s)
            us = np.linspace(0.01, 2, 50)
            assert np.all(np.diff(w(us, L, eps, beta, rho, s)) > 0)


def test_sbar_increasing_in_tau():
    """s̄_r increases in τ (=ε) for s ≤ 1, so the worst case τ = ε is used; β̄ and u increase too."""
    taus = np.linspace(0, 1, 101)
    for L in (2, 3, 5):
        for s in (0.01, 0.5, 1.0):
            for rho in (1.0, 3.0):
                for r in (1.0, rho):
                    assert np.all(np.diff(s_bar_r(r, L, taus, 0.3, rho, s)) >= -1e-14)
                assert np.all(np.diff(beta_bar(L, taus, 0.3, rho, s)) >= -1e-14)
                tb = t_blow(L, 1.0, 0.3, rho, s)
                assert np.all(np.diff(u_beta(min(1.0, 0.5 * tb), L, taus, 0.3, rho, s)) >= -1e-14)


# ----------------------------------------------------------------------------- properties


def test_upsilon_hand_value():
    # κ=2, p=32, d=49, m=60000, δ=0.05: sqrt((2*32*49*ln2 + ln 20)/120000)
    val = ((2 * 32 * 49 * 0.6931471805599453 + 2.995732273553991) / 120000) ** 0.5
    assert abs(float(upsilon(49, 60000, 2, 32, 0.05)) - val) < 1e-15
    assert abs(float(upsilon(49, 60000, 2, 32, 0.05)) - 0.13468184) < 1e-7


def _up(x):
    return bool(np.all(x[1:] >= x[:-1]))  # works with +inf entries


def test_monotone_in_t_eps_gamma_d():
    """Holds: non-decreasing in t, ε, d and 1/γ (all factors are). Checked through the overflow to inf."""
    r = bound_terms(**{**BASE, "t": np.linspace(0, 30, 200)})
    assert _up(r["a_priori_as_printed"]) and _up(r["u"]) and r["a_priori_as_printed"][-1] == np.inf
    assert _up(bound_terms(**{**BASE, "eps": np.linspace(0, 1, 100)})["a_priori_as_printed"])
    assert _up(bound_terms(**{**BASE, "gamma": np.geomspace(1e-9, 1, 50)[::-1]})["a_priori_as_printed"])
    assert _up(bound_terms(**{**BASE, "d": np.arange(1, 200), "m": 60000})["a_priori_as_printed"])
    assert _up(bound_terms(**{**BASE, "depth": 3, "t": np.linspace(0, 1e6, 200)})["a_priori_as_printed"])


def test_blow_up_and_overflow_give_inf_not_nan():
    r = bound_terms(**{**BASE, "depth": 3, "t": [1e9, 1e12]})
    assert np.all(r["u"] == np.inf) and np.all(r["a_priori_as_printed"] == np.inf)
    r = bound_terms(**{**BASE, "t": 1e4})
    assert r["v"] == np.inf and r["a_priori_as_printed"] == np.inf and np.isfinite(r["upsilon"])
    r = bound_terms(**{**BASE, "depth": 3, "t": 1e12, "eps": 0.0})
    assert r["deviation"] == 0 and r["a_priori_as_printed"] == r["upsilon"]


def test_full_bound_and_shapes():
    r = bound_terms(**{**BASE, "kappa": np.array([1, 2])[:, None], "t": np.array([0.0, 1.0, 2.0])})
    assert all(v.shape == (2, 3) and v.dtype == np.float64 for v in r.values())
    fb = full_bound(0.1, **BASE, precision=1e-9)
    assert fb == pytest.approx(0.1 + bound_terms(**BASE, precision=1e-9)["a_priori"])
    assert fb == pytest.approx(0.1 + bound_terms(**BASE)["a_priori_as_printed"] + 1e-9 / BASE["gamma"])
    assert full_bound(0.1, **BASE) == np.inf  # the p-bit term is not known a priori (docs/PROOFS.md step P)
    assert set(r) == {"upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation",
                      "precision", "a_priori", "a_priori_as_printed"}
    np.testing.assert_allclose(r["deviation"], r["Delta"] * BASE["eps"] ** np.array([1, 2])[:, None] / BASE["gamma"])


@settings(max_examples=300, deadline=None)
@given(
    L=st.integers(2, 8), kappa=st.sampled_from([1, 2]), eps=st.floats(0, 1), beta=st.floats(1e-12, 10),
    rho=st.floats(1, 50), s=st.floats(1e-6, 1), t=st.floats(0, 1e8), gamma=st.floats(1e-12, 1e3),
    d=st.integers(1, 1000), delta=st.floats(1e-6, 0.999),
)
def test_never_nan(L, kappa, eps, beta, rho, s, t, gamma, d, delta):
    r = bound_terms(d, d + 10, L, kappa, 32, delta, eps, beta, gamma, rho, s, np.array([0.0, t * 1e-9, t]))
    for k, v in r.items():
        assert not np.any(np.isnan(v)), k
        assert np.all(v >= 0), k


def test_never_nan_big_grid():
    rng = np.random.default_rng(0)
    n = 200_000
    args = dict(d=rng.integers(1, 800, n), m=1000, depth=rng.integers(2, 9, n), kappa=rng.integers(1, 3, n), p=32,
                delta=0.05, eps=rng.uniform(0, 1, n), beta=10 ** rng.uniform(-8, 1, n), gamma=1e-6,
                rho=1 + 10 ** rng.uniform(-3, 2, n) * rng.integers(0, 2, n), s=rng.uniform(1e-3, 1, n),
                t=10 ** rng.uniform(-15, 8, n) * rng.integers(0, 2, n))
    r = bound_terms(**args)
    for k, v in r.items():
        assert not np.any(np.isnan(v)), k


# ----------------------------------------------------------------------------- validation

BAD = [("eps", 1.5, "eps == 1.5, must be in [0, 1]"), ("eps", -0.1, "eps == -0.1, must be in [0, 1]"),
       ("beta", 0.0, "beta == 0, must be in (0, inf)"), ("gamma", -1.0, "gamma == -1, must be in (0, inf)"),
       ("delta", 1.0, "delta == 1, must be in (0, 1)"), ("kappa", 3, "kappa == 3, must be one of 1, 2"),
       ("depth", 1, "depth == 1, must be in [2, inf)"), ("depth", 2.5, "depth"), ("d", 0, "d == 0, must be in [1, inf)"),
       ("m", 10, "m == 10, must be >= d == 49"), ("rho", 0.5, "rho == 0.5, must be in [1, inf)"),
       ("s", 1.5, "s == 1.5, must be in (0, 1]"), ("s", 0.0, "s == 0, must be in (0, 1]"),
       ("p", 0.5, "p == 0.5, must be in [1, inf)"), ("t", -1.0, "t == -1, must be in [0, inf)"),
       ("t", np.inf, "t == inf, must be in [0, inf)"), ("eps", np.nan, "eps == nan"), ("beta", "x", "beta")]


@pytest.mark.parametrize("name,value,msg", BAD)
def test_validation(name, value, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        bound_terms(**{**BASE, name: value})


def test_t_star_domain():
    with pytest.raises(ValueError, match="alpha == 1e-07, must be in"):
        t_star(1e-7, 1e-3, 0.4, 2)
    with pytest.raises(ValueError, match=r"alpha == 1, must be in \(0, 1\)"):
        t_star(1.0, 1e-3, 0.4, 2)
    assert t_star(0.5, 1e-3, 0.4, 2) > 0
    with pytest.raises(ValueError, match="margin_risk"):
        full_bound(1.5, **BASE)


def test_threads_do_not_change_the_result():
    """bound_terms splits large inputs into blocks evaluated on worker threads: bitwise the same."""
    rng = np.random.default_rng(3)
    n = 150_000
    args = dict(d=rng.integers(1, 800, n), m=60000, depth=rng.integers(2, 9, n), kappa=rng.integers(1, 3, n), p=32,
                delta=0.05, eps=rng.uniform(0, 1, n), beta=10 ** rng.uniform(-8, 0.5, n), gamma=1e-6,
                rho=rng.choice([1.0, 1.5, 5.0], n), s=rng.uniform(0.05, 1, n), t=10 ** rng.uniform(-9, 3, n))
    r1 = bound_terms(**args, workers=1)
    r2 = bound_terms(**args, workers=2)
    for k in r1:
        np.testing.assert_array_equal(r1[k], r2[k], err_msg=k)


def test_series_terms_per_element_suffice():
    """The series method uses K(x_u) terms per element (_incgamma.XMAX): compare each K-bin against
    the same series with 40 terms (x_u <= 2, both signs of c, short and long intervals)."""
    from nlbound.theory import _incgamma as G

    rng = np.random.default_rng(4)
    n = 20_000
    for c in (-2 / 3, -0.5, -1 / 3, 0.0, 1 / 3, 0.5, 2 / 3, 1.0):
        xu = np.concatenate([10 ** rng.uniform(-20, np.log10(2.0), n), G.XMAX, np.nextafter(G.XMAX, 0)])
        xu = np.minimum(xu, 2.0)
        Y = 10 ** rng.uniform(-12, 2, xu.size)
        lxb = np.log(xu) - Y
        xb = np.exp(lxb)
        xu = np.exp(lxb + Y)
        kern = G.series_neg if c <= 0 else G.series_pos
        ref = kern(c, 40, xb, lxb, Y, xu)
        (got,) = G.log_int_by_series([(c,)], np.zeros(xu.size, dtype=np.intp), xb, lxb, Y, xu)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-15)


# ----------------------------------------------------------------------------- one home per formula


def test_bound_terms_equals_the_term_functions():
    """bound_terms (the blocked, threaded driver) equals the public term functions elementwise, to
    GRID_ULPS: the same formulas, but over the driver's blocks (other lengths and strides, for which
    numpy may pick other loops; measured bitwise on an AVX-512 CPU at native and baseline dispatch)."""
    from nlbound.theory import phi_kappa

    rng = np.random.default_rng(7)
    n = 3000
    P = dict(d=rng.integers(1, 800, n).astype(float), m=60000.0, depth=rng.integers(2, 8, n).astype(float),
             kappa=rng.integers(1, 3, n).astype(float), p=32.0, delta=0.05, eps=rng.uniform(0, 1, n),
             beta=10 ** rng.uniform(-6, 0.3, n), gamma=1e-6, rho=rng.choice([1.0, 1.5, 5.0], n),
             s=rng.uniform(0.05, 1, n), t=10 ** rng.uniform(-6, 2, n) * rng.integers(0, 2, n))
    r = bound_terms(**P, workers=2)
    L, eps, beta, rho, s, t = (P[k] for k in ("depth", "eps", "beta", "rho", "s", "t"))
    ref = {"upsilon": upsilon(P["d"], P["m"], P["kappa"], P["p"], P["delta"]),
           "phi": phi_kappa(P["d"], L, P["kappa"], rho), "s_bar": s_bar(L, eps, beta, rho, s),
           "s_hat": s_hat(L, eps, beta, rho, s), "beta_bar": beta_bar(L, eps, beta, rho, s),
           "one_bar": one_bar(L, beta, rho), "u": u_beta(t, L, eps, beta, rho, s), "v": v_beta(t, L, eps, beta, rho, s)}
    for k, v in ref.items():
        assert_ulp_close(r[k], np.broadcast_to(v, (n,)), GRID_ULPS, log_scaled=True, what=k)
    with np.errstate(all="ignore"):
        delta = ref["phi"] * ref["v"] * ref["u"] ** (L - 1)  # eq. 7
        dev = np.where(eps == 0, 0.0, delta * eps ** P["kappa"] / P["gamma"])  # eq. 6
    for k, v in (("Delta", delta), ("deviation", dev), ("a_priori_as_printed", ref["upsilon"] + dev)):
        fin = np.isfinite(v)
        np.testing.assert_allclose(r[k][fin], v[fin], rtol=1e-12, err_msg=k)
        assert np.all(r[k][~fin] == np.inf), k


def _points(draw_lists):
    keys = ("d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t")
    return {k: np.array([pt[i] for pt in draw_lists], dtype=float) for i, k in enumerate(keys)}


POINT = st.tuples(
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(2, 12), st.sampled_from([1, 2]), st.floats(1, 1e6),
    st.floats(1e-300, 0.999999), st.sampled_from([0.0, 1e-300, 1e-3, 0.3, 1.0]) | st.floats(0, 1),
    st.floats(1e-300, 1e300), st.floats(1e-300, 1e300), st.floats(1, 1e300), st.floats(1e-300, 1),
    st.sampled_from([0.0, 5e-324, 1e300]) | st.floats(0, 1e300),
).map(lambda x: (x[0], x[0] + x[1], *x[2:]))


def test_ulp_distance():
    one_up = np.nextafter(1.0, 2.0)
    assert ulp_distance(1.0, one_up) == 1 and ulp_distance(one_up, 1.0) == 1
    assert ulp_distance(np.inf, np.inf) == 0 and ulp_distance(np.nan, np.nan) == 0
    assert ulp_distance(1.0, np.inf) == np.inf and ulp_distance(0.0, 5e-324) == 1
    big = np.exp(700.0)
    assert_ulp_close(big * (1 + 5e-14), big, 1, log_scaled=True)  # 225-450 ULP, allowed 1 + 700
    for a, b, log_scaled in ((big * (1 + 5e-14), big, False), (1.0 + 4.5e-16, 1.0, False)):
        with pytest.raises(AssertionError):
            assert_ulp_close(a, b, 1, log_scaled=log_scaled)


@settings(max_examples=60, deadline=None)
@given(pts=st.lists(POINT, min_size=2, max_size=12))
def test_a_point_does_not_depend_on_the_grid(pts):
    """Each point of a mixed grid, including extreme and overflowing ones, equals the point alone to
    GRID_ULPS ULPs (the same infinities and zeros). Not bitwise: the grid runs numpy's array loops,
    the point alone numpy's scalar path (0-d arrays and numpy scalars call the C library's pow/exp/
    log), and on an AVX-512 CPU the array loops are other implementations (measured: they differ in
    the last bit, ≤ 2 ULP in s̄, 1̄, ŝ over 2,000 hypothesis grids at X86_V4/AVX512_ICL; bitwise at
    the baseline dispatch). A point that depended on the rest of the grid would be off by far more."""
    P = _points(pts)
    grid = bound_terms(**P)
    for i in range(len(pts)):
        alone = bound_terms(**{k: v[i] for k, v in P.items()})
        for k in grid:
            assert_ulp_close(grid[k][i], alone[k], GRID_ULPS, log_scaled=True, what=(k, pts[i]))


@settings(max_examples=200, deadline=None)
@given(pts=st.lists(POINT, min_size=1, max_size=30))
def test_never_nan_at_extremes(pts):
    """No NaN and no negative value anywhere in float64's range: overflow is +inf."""
    r = bound_terms(**_points(pts))
    for k, v in r.items():
        assert not np.any(np.isnan(v)), k
        assert np.all(v >= 0), k


def test_overflowing_rho_beta_L():
    """ρβ^L beyond float64 (issue 8: --beta 1e155 --t 1 gave NaN): u, v, Δ, deviation are +inf for
    t > 0; at t = 0, u = β̄ exactly as computed from the limits of the ratios, and v = 0 when ρ = 1."""
    r = bound_terms(**{**BASE, "beta": 1e155, "t": 1.0})
    for k in ("s_bar", "one_bar", "u", "v", "Delta", "deviation", "a_priori_as_printed"):
        assert r[k] == np.inf, k
    r0 = bound_terms(**{**BASE, "beta": 1e155, "t": 0.0})
    assert r0["u"] == pytest.approx(1e155, rel=1e-13) and r0["v"] == 0 and r0["deviation"] == 0
    assert r0["a_priori_as_printed"] == r0["upsilon"]
    # ρ = 2, ε = 0.5: β̄/β → s̄_ρ/s̄₁ = ((1−ε) + ερ(L−1))/((1−ε) + ε(L−1)) = 1.5
    r2 = bound_terms(**{**BASE, "beta": 1e155, "rho": 2.0, "eps": 0.5, "t": 0.0})
    assert r2["beta_bar"] == pytest.approx(1.5e155, rel=1e-14)


def test_t_star_extremes_against_mpmath():
    """Issue 8: --beta 1e-300 (β² underflows) and --alpha 1 − 2^−53 (₂F₁ at 1 − 1e−16) are valid."""
    import mpmath as mp

    with mp.workdps(40):  # (local: the 50-digit tests share mpmath's global precision)
        _t_star_extremes(mp)


def _t_star_extremes(mp):
    b, a, s = mp.mpf("1e-300"), mp.mpf(0.5), mp.mpf(0.4)
    ref = mp.log(a * (s - b**2) / ((1 - a) * b**2)) / (2 * s)  # eq. 15
    assert float(t_star(0.5, 1e-300, 0.4, 2)) == pytest.approx(float(ref), rel=1e-14)
    for L in (3, 4, 7):
        alpha = 1 - 2.0**-53
        c = mp.mpf(2) / L - 1
        A, B = mp.mpf(alpha), mp.mpf(1e-3)
        ref = (B ** (2 - L) * mp.hyp2f1(1, c, c + 1, B**L / s) - (A * s) ** c * mp.hyp2f1(1, c, c + 1, A)) / (s * (L - 2))
        assert float(t_star(alpha, 1e-3, 0.4, L)) == pytest.approx(float(ref), rel=1e-12)
        for alpha in (0.991, 0.9999, 1 - 1e-12):  # the expansion about 1 takes over above 0.99
            A = mp.mpf(alpha)
            ref = (B ** (2 - L) * mp.hyp2f1(1, c, c + 1, B**L / s) - (A * s) ** c * mp.hyp2f1(1, c, c + 1, A)) / (s * (L - 2))
            assert float(t_star(alpha, 1e-3, 0.4, L)) == pytest.approx(float(ref), rel=1e-12)
    assert t_star(0.5, 1e-200, 0.4, 4) == np.inf  # β^{2−L} = 1e400: t*_α beyond float64


def test_term_functions_validate():
    from nlbound.theory import gamma_upper, phi_kappa

    with pytest.raises(ValueError, match=r"rho == 0.5, must be in \[1, inf\)"):
        phi_kappa(49, 2, 1, 0.5)
    with pytest.raises(ValueError, match=r"a == -1, must be in \(-1, inf\)"):
        gamma_upper(-1.0, 1.0)
    with pytest.raises(ValueError, match="lower == 'x', must be one of beta, beta_bar"):
        v_beta(1.0, 2, 0.1, 0.1, 1.0, 0.4, lower="x")
    with pytest.raises(ValueError, match="m == 3, must be >= d == 5"):
        upsilon(5, 3, 1, 32, 0.05)
