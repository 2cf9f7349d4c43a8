"""bound_terms(form="kl" / "ode-kl"): the counting step of eq. 24 in kl form (docs/PROOFS.md, "Counting
step in kl form") — never above the Hoeffding form (property over random inputs), every other term
identical, and the value against a reference written out here from the paper's equations with mpmath."""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlbound.cli.main import main
from nlbound.theory import bound_terms, full_bound

SAME = ("phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation")


def _kw(d, m, L, kappa, p, delta, eps, beta, gamma, rho, s, t):
    # precision=0: the counting step in isolation (the p-bit term, docs/PROOFS.md step P, is charged
    # by callers that know its allowance; +inf without one)
    return dict(d=d, m=m, depth=L, kappa=kappa, p=p, delta=delta, eps=eps, beta=beta, gamma=gamma, rho=rho, s=s, t=t,
                precision=0.0)


@settings(max_examples=150, deadline=None)
@given(d=st.integers(1, 800), extra=st.integers(0, 10**6), L=st.integers(2, 4), kappa=st.sampled_from([1, 2]),
       p=st.sampled_from([8, 16, 32, 64]), delta=st.floats(1e-6, 0.5), eps=st.floats(0, 1),
       lbeta=st.floats(-5, 0.5), lgamma=st.floats(-9, 0), rho=st.floats(1, 8), s=st.floats(0.01, 1),
       lt=st.floats(-3, 1.5), mr=st.floats(0, 1))
def test_kl_never_above_hoeffding_and_other_terms_identical(d, extra, L, kappa, p, delta, eps, lbeta, lgamma, rho,
                                                             s, lt, mr):
    kw = _kw(d, d + extra, L, kappa, p, delta, eps, 10**lbeta, 10**lgamma, rho, s, 10**lt)
    ho = bound_terms(**kw, margin_risk=mr, workers=1)
    kl = bound_terms(**kw, form="kl", margin_risk=mr, workers=1)
    for k in SAME:  # the same code path up to the counting step: bitwise
        np.testing.assert_array_equal(kl[k], ho[k])
    assert 0.0 <= kl["upsilon"] <= ho["upsilon"]
    assert kl["bound"] <= ho["bound"]
    assert kl["a_priori"] == kl["upsilon"] + kl["deviation"] + kl["precision"]
    assert kl["bound"] == mr + kl["a_priori"]
    assert not np.isnan(kl["bound"])


def _mp_inverse(q, c):
    with mpmath.workdps(50):
        q, c = mpmath.mpf(q), mpmath.mpf(c)
        if q == 1:
            return mpmath.mpf(1)
        kl = lambda p: (q * mpmath.log(q / p) if q > 0 else 0) + (1 - q) * mpmath.log((1 - q) / (1 - p))  # noqa: E731
        lo, hi = q, mpmath.mpf(1) - mpmath.mpf(10) ** -45
        for _ in range(300):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if kl(mid) <= c else (lo, mid)
        return hi


@pytest.mark.parametrize("d,L,kappa,rho,mr,gamma", [
    (49, 2, 2, 3.0, 0.2, 1e-6), (49, 2, 2, 1.0, 0.05, 1e-5), (188, 2, 2, 1.0, 0.1, 1e-6),
    (49, 3, 1, 2.5, 0.3, 1e-4), (49, 2, 1, 1.0, 0.0, 1e-5), (712, 4, 2, 1.7, 0.45, 1e-3),
])
def test_kl_value_against_paper_reference(d, L, kappa, rho, mr, gamma):
    """R ≤ kl⁻¹(min(1, R̂ + D_train), (κpd ln 2 + ln(1/δ))/m) + D_test, with D_train/D_test split as
    eqs. 21/27 (training set: (1 + (L−1)ρ), 2(L−1)(1 + (L−1)ρ)) vs eqs. 20/26 (distribution:
    L√d, (L−1)(L+1+(L−1)ρ)√d), each times v u^{L−1} ε^κ/γ (Lemma 7.1)."""
    m, p, delta = 60000, 16, 0.05
    kw = _kw(d, m, L, kappa, p, delta, 0.001, 0.001, gamma, rho, 0.5, 3.0)
    ho = bound_terms(**kw)
    got = bound_terms(**kw, form="kl", margin_risk=mr)
    scale = float(ho["v"] * ho["u"] ** (L - 1) * 0.001**kappa / gamma)
    if kappa == 1:
        train, test = 1 + (L - 1) * rho, L * math.sqrt(d)  # eqs. 21, 20
    else:
        train, test = 2 * (L - 1) * (1 + (L - 1) * rho), (L - 1) * (L + 1 + (L - 1) * rho) * math.sqrt(d)  # 27, 26
    c = (kappa * p * d * math.log(2) + math.log(1 / delta)) / m  # eq. 24's argument of the square root, x2
    q = min(1.0, mr + train * scale)
    ref = float(_mp_inverse(q, c)) + test * scale
    assert float(got["bound"]) == pytest.approx(ref, rel=1e-12)
    assert float(got["deviation"]) == pytest.approx((train + test) * scale, rel=1e-12)


def test_kl_strictly_tighter_at_small_margin_risk():
    kw = _kw(49, 60000, 2, 2, 32, 0.05, 0.001, 0.001, 1e-5, 1.0, 0.5, 3.0)
    ho, kl = bound_terms(**kw), bound_terms(**kw, form="kl", margin_risk=0.02)
    assert kl["upsilon"] < 0.6 * ho["upsilon"]  # Pinsker is loose far from q = 1/2


def test_ode_kl_is_ode_deviation_with_kl_counting():
    kw = _kw(49, 60000, 2, 2, 32, 0.05, 0.01, 0.001, np.array([1e-6, 1e-5, 1e-4]), 3.0, 0.5, 5.0)
    ode, okl, kl = (bound_terms(**kw, form=f, margin_risk=0.2) for f in ("ode", "ode-kl", "kl"))
    np.testing.assert_array_equal(okl["deviation"], ode["deviation"])
    assert np.all(okl["bound"] <= kl["bound"]) and np.all(okl["bound"] <= ode["bound"])


def test_infinite_deviation_and_q_clipped():
    kw = _kw(49, 60000, 3, 2, 32, 0.05, 0.1, 0.5, 1e-6, 2.0, 0.5, 1e6)  # L = 3 past the blow-up: Δ = +inf
    kl = bound_terms(**kw, form="kl", margin_risk=0.3)
    assert kl["deviation"] == np.inf and kl["a_priori"] == np.inf and kl["upsilon"] == 0.0
    big = bound_terms(**_kw(49, 60000, 2, 2, 32, 0.05, 0.01, 0.001, 1e-9, 3.0, 0.5, 5.0), form="kl", margin_risk=0.9)
    assert big["upsilon"] == 0.0 and big["bound"] > 1.0  # R̂ + D_train ≥ 1: kl⁻¹(1) = 1, vacuous


def test_margin_risk_required_and_validated(capsys):
    kw = _kw(49, 60000, 2, 2, 32, 0.05, 0.001, 0.001, 1e-6, 1.0, 0.5, 3.0)
    with pytest.raises(ValueError, match="margin_risk is required with form == 'kl'"):
        bound_terms(**kw, form="kl")
    with pytest.raises(ValueError, match=r"margin_risk == 1.5, must be in \[0, 1\]"):
        bound_terms(**kw, form="kl", margin_risk=1.5)
    assert full_bound(0.2, **kw, form="kl") == bound_terms(**kw, form="kl", margin_risk=0.2)["bound"]
    assert full_bound(0.2, **kw) == pytest.approx(0.2 + float(bound_terms(**kw)["a_priori"]), rel=1e-15)
    argv = ["bound", "--d", "49", "--m", "60000", "--beta", "0.001", "--eps", "0.001", "--rho", "1", "--s", "0.4",
            "--gamma", "1e-6", "--t", "3", "--form", "kl"]
    assert main(argv) == 2
    assert "--form kl needs --margin-risk" in capsys.readouterr().err
    assert main(argv + ["--margin-risk", "0.1,0.2", "--precision-allowance", "0", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for r in rows:
        ref = bound_terms(**kw | dict(rho=1.0, s=0.4, t=3.0), form="kl", margin_risk=r["margin_risk"])
        assert r["bound"] == pytest.approx(float(ref["bound"]), rel=1e-15)
