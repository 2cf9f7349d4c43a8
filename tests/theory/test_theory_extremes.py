"""Theorem 5.2 at extreme but valid inputs, every form (issue 22 item 3): never NaN, +inf only as overflow,
form="ode" never above form="closed", G (= u of the ode form) never below g₂(0) = β; the kl and so forms
never above the form they modify."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlbound.theory import bound_terms
from nlbound.theory._checks import CONSTRAINTS

FORMS = CONSTRAINTS["form"].choices
N = 12  # points per call (one vectorised call per form)


def log_uniform(lo: float, hi: float):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0**e))


def column(strategy):
    return st.lists(strategy, min_size=N, max_size=N)


POINTS = st.fixed_dictionaries({
    "depth": column(st.integers(2, 6)),
    "kappa": column(st.sampled_from([1, 2])),
    "p": column(st.sampled_from([1, 16, 32, 64])),
    "eps": column(st.one_of(st.just(0.0), st.just(1.0), log_uniform(1e-300, 1.0))),
    "beta": column(st.one_of(st.just(1e-300), log_uniform(1e-300, 10.0))),
    "gamma": column(log_uniform(1e-300, 1e300)),
    "rho": column(st.one_of(st.just(1.0), log_uniform(1.0, 1e3))),
    "s": column(st.one_of(st.just(1.0), log_uniform(1e-300, 1.0))),
    "t": column(st.one_of(st.just(0.0), log_uniform(1e-300, 1e300))),
    "margin_risk": column(st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))),  # used by the kl forms
})


@settings(max_examples=40, deadline=None)
@given(POINTS, st.sampled_from([(1, 1), (49, 60000), (10**6, 10**9)]), log_uniform(1e-300, 0.99))
def test_every_form_is_never_nan(point, dm, delta):
    args = {k: np.asarray(v, dtype=np.float64) for k, v in point.items()}
    mr = args.pop("margin_risk")
    out = {form: bound_terms(d=dm[0], m=dm[1], delta=delta, form=form, margin_risk=mr if "kl" in form else None, precision=0.0,
                             **args) for form in FORMS}
    for form, terms in out.items():
        for name, value in terms.items():
            assert not np.isnan(value).any(), (form, name, {k: v[np.isnan(value)] for k, v in args.items()})
            assert (value >= 0).all(), (form, name)
    for name in ("u", "v", "Delta", "deviation", "a_priori"):
        assert (out["ode"][name] <= out["closed"][name]).all(), name
    assert (out["ode"]["u"] >= args["beta"] * (1 - 1e-12)).all()  # G >= g₂ >= β: every weight norm at t = 0
    for form in FORMS:  # the kl counting step and the centred step never raise the bound (Pinsker; eq. 8)
        base = form.replace("-kl", "").replace("kl-", "").replace("kl", "closed")
        assert (out[form]["a_priori"] <= out[base]["a_priori"]).all(), (form, base)
    assert (out["so"]["a_priori"] <= out["closed"]["a_priori"]).all()


@pytest.mark.parametrize("beta", [1e-300, 1e-200, 1e-170, 1e-165, 1e-160, 1e-155])
@pytest.mark.parametrize("rho", [1.0, 1.0 + 1e-12, 3.0])
def test_ode_form_underflow_at_depth_3(beta, rho):
    """The issue's case: L = 3, β ≤ 1e-165 (g₂² underflows): Δ, deviation and a_priori were NaN; u must
    stay >= β (it was computed below β at β = 1e-160 from a subnormal g₂²)."""
    kw = {"precision": 0.0, "d": 49, "m": 60000, "depth": 3, "kappa": 2, "p": 32, "delta": 0.05, "eps": 0.1, "beta": beta,
          "gamma": 0.1, "rho": rho, "s": 0.5, "t": np.array([0.0, 1.0, 1e3])}
    ode, closed = bound_terms(form="ode", **kw), bound_terms(form="closed", **kw)
    for name, value in ode.items():
        assert np.isfinite(value).all(), name
    assert (ode["u"] >= beta * (1 - 1e-12)).all() and (ode["u"] <= closed["u"]).all()
    assert (ode["a_priori"] <= closed["a_priori"]).all()
