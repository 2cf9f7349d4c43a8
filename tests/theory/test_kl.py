"""nlbound.theory.kl: the binomial kl and its upper inverse against mpmath at 60 digits, closed forms
(q = 0: 1 − e^{−c}), Pinsker's bracket, monotonicity, and array vs scalar evaluation."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlbound.theory.kl import kl_bernoulli, kl_inverse_upper

from mp_references import mp_kl, mp_kl_inverse


def _close_above(got, ref, q=None):
    """got within 4 floats of ref (never more than 2 floats below: the inverse is an upper bound),
    both widened by the conditioning of the root, the contract of kl_inverse_upper ("up to one kl
    evaluation's rounding"): a float64 kl(q‖p) carries a rounding error of a few
    ε·(|q ln(q/p)| + |(1−q) ln((1−q)/(1−p))|) (its two terms cancel; the SIMD log of another dispatch
    level rounds differently), which moves the root by that over kl'(p) = (p − q)/(p(1 − p)).
    Measured on AVX-512 loops: 5 floats above at q = 0.526, c = 2.7e-4; 6 floats below at q = 1e-10,
    c = 4.1e-11 (a relative 7e-16)."""
    ref = float(ref)
    cond = 0.0
    if q is not None and 0 < q < ref < 1:
        terms = abs(q * math.log(q / ref)) + abs((1 - q) * math.log((1 - q) / (1 - ref)))
        cond = 8 * np.finfo(float).eps * terms * ref * (1 - ref) / (ref - q)
    tol = 4 * np.spacing(max(ref, 1e-300)) + cond
    assert abs(got - ref) <= max(tol, 1e-15 * ref), (got, ref)
    assert got >= ref - 2 * np.spacing(ref) - cond, (got, ref)


@pytest.mark.parametrize("q,c", [
    (0.0, 1e-3), (0.0, 1e-12), (0.2, 0.036), (0.5, 1e-10), (1e-5, 1e-8), (0.9999, 1e-3), (0.01, 2.0),
    (0.5, 1e-25), (0.212, 0.0366), (0.99, 0.5), (0.3, 20.0), (1e-9, 0.1), (0.7, 1e-4),
])
def test_inverse_matches_mpmath(q, c):
    _close_above(float(kl_inverse_upper(q, c)), mp_kl_inverse(q, c), q)


@settings(max_examples=60, deadline=None)
@given(q=st.floats(0.0, 1.0), logc=st.floats(-14.0, 1.5))
def test_inverse_matches_mpmath_random(q, logc):
    c = 10.0**logc
    _close_above(float(kl_inverse_upper(q, c)), mp_kl_inverse(q, c), q)


@settings(max_examples=200, deadline=None)
@given(q=st.floats(0.0, 1.0), c=st.floats(0.0, 100.0))
def test_inverse_inside_pinsker_bracket(q, c):
    """q ≤ kl⁻¹(q, c) ≤ min(1, q + √(c/2)): the property the kl counting step's `never above Hoeffding` rests on."""
    got = float(kl_inverse_upper(q, c))
    assert q <= got <= min(1.0, q + math.sqrt(c / 2))


def test_inverse_edges_and_monotone():
    assert float(kl_inverse_upper(0.2, 0.0)) == 0.2
    assert float(kl_inverse_upper(0.2, math.inf)) == 1.0
    assert float(kl_inverse_upper(1.0, 0.3)) == 1.0
    assert float(kl_inverse_upper(0.2, 50.0)) == 1.0
    cs = np.geomspace(1e-8, 5.0, 40)
    assert np.all(np.diff(kl_inverse_upper(0.1, cs)) > 0)
    qs = np.linspace(0.0, 0.99, 40)
    assert np.all(np.diff(kl_inverse_upper(qs, 0.05)) > 0)


def test_inverse_array_equals_scalar():
    """A point's value does not depend on the rest of the array (same code path: bitwise)."""
    rng = np.random.default_rng(3)
    q, c = rng.uniform(size=64) ** 3, 10.0 ** rng.uniform(-10, 1, 64)
    arr = kl_inverse_upper(q[:, None], c[None, :])
    assert arr.shape == (64, 64)
    for i, j in [(0, 0), (5, 17), (63, 2), (30, 63)]:
        assert float(kl_inverse_upper(q[i], c[j])) == arr[i, j]


@pytest.mark.parametrize("q,p", [(0.1, 0.3), (0.0, 0.4), (1.0, 0.6), (0.45, 0.45), (1e-30, 0.5), (0.3, 0.3 + 1e-12)])
def test_kl_matches_mpmath(q, p):
    """Relative 1e-13, or absolute 1e-15 |p − q| where the two terms (each ~|p − q|) cancel to ~(p − q)²."""
    with mpmath.workdps(60):
        ref = float(mp_kl(q, p))
    assert float(kl_bernoulli(q, p)) == pytest.approx(ref, rel=1e-13, abs=1e-15 * abs(p - q))


def test_kl_infinite_and_bad_input():
    assert float(kl_bernoulli(0.5, 1.0)) == math.inf
    assert float(kl_bernoulli(0.5, 0.0)) == math.inf
    assert float(kl_bernoulli(0.0, 0.0)) == 0.0
    with pytest.raises(ValueError, match=r"q == 1.5, must be in \[0, 1\]"):
        kl_inverse_upper(1.5, 0.1)
    with pytest.raises(ValueError, match="c == -1, must be in"):
        kl_inverse_upper(0.5, -1.0)
    with pytest.raises(ValueError, match="q == nan"):
        kl_inverse_upper(np.nan, 0.1)
