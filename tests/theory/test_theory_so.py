"""The centred second-order step (docs/PROOFS.md, "Second-order step centred by eq. 25's identity"):
S1 and S2 checked on random two-layer nets along C¹ paths θ^τ against the exact f − f̃ of eq. 25, and
bound_terms(form="so" ...) against eq. 8 (never above it; the paper's form where the step does not apply)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlbound.theory import bound_terms
from nlbound.theory.kl import kl_inverse_upper


def _f(W1, W2, Z, eps):
    """The L = 2 leaky-ReLU net of eqs. 2-3 on the columns of Z."""
    A = W1 @ Z
    return W2 @ (A - eps * np.minimum(A, 0.0))


def _case(rng):
    """A random two-layer net along θ^τ = θ₀ + sτθ₁ + sτ²θ₂, whitened data X̃ (X̃X̃ᵀ = mI), a point x,
    ε; and certified majorants on [0, ε] of ‖W₂‖, ‖Ẇ₂‖, ‖W₁X̃‖_F, ‖Ẇ₁X̃‖_F (each increasing in τ,
    taken at τ = ε by the triangle inequality)."""
    d, n, m = int(rng.integers(2, 6)), int(rng.integers(2, 8)), int(rng.integers(8, 30))
    U, _, Vt = np.linalg.svd(rng.normal(size=(d, m)), full_matrices=False)
    X = math.sqrt(m) * U @ Vt
    A, B = [rng.normal(size=(n, d)) for _ in range(3)], [rng.normal(size=(1, n)) for _ in range(3)]
    s, eps = rng.uniform(0.1, 2.0), rng.uniform(0.01, 1.0)
    W1 = lambda tau: A[0] + s * tau * A[1] + s * tau**2 * A[2]  # noqa: E731
    W2 = lambda tau: B[0] + s * tau * B[1] + s * tau**2 * B[2]  # noqa: E731
    fro, op = (lambda M: np.linalg.norm(M @ X)), (lambda M: np.linalg.norm(M, 2))
    maj = dict(w1x=fro(A[0]) + s * eps * fro(A[1]) + s * eps**2 * fro(A[2]), dw1x=s * fro(A[1]) + 2 * s * eps * fro(A[2]),
               w2=op(B[0]) + s * eps * op(B[1]) + s * eps**2 * op(B[2]), dw2=s * op(B[1]) + 2 * s * eps * op(B[2]))
    return X, W1, W2, rng.normal(size=(d, 1)), eps, maj


def test_s1_s2_hold_on_random_paths():
    """|f − f̃|(x) ≤ ε²‖X̃⁺x‖(‖Ẇ₂‖‖W₁X̃‖_F + ‖W₂‖‖Ẇ₁X̃‖_F) (S1) and ‖f − f̃‖(X̃) ≤ ε²(same bracket) (S2),
    f̃ built exactly as eq. 25; not loose by orders of magnitude either (the worst case is within ×5)."""
    rng = np.random.default_rng(7)
    worst = [0.0, 0.0]
    for _ in range(200):
        X, W1, W2, x, eps, mj = _case(rng)
        Xp = np.linalg.pinv(X)
        corr = (_f(W1(eps), W2(eps), X, eps) - _f(W1(0.0), W2(0.0), X, eps)) @ Xp  # eq. 25's linear correction
        w10, w20 = W1(0.0), W2(0.0)

        def ftil(Z, w10=w10, w20=w20, eps=eps, corr=corr):
            return _f(w10, w20, Z, eps) + corr @ Z
        bracket = mj["dw2"] * mj["w1x"] + mj["w2"] * mj["dw1x"]
        s1 = eps**2 * np.linalg.norm(Xp @ x) * bracket
        s2 = eps**2 * bracket
        dev_x = abs((_f(W1(eps), W2(eps), x, eps) - ftil(x)).item())
        dev_X = np.linalg.norm(_f(W1(eps), W2(eps), X, eps) - ftil(X))
        assert dev_x <= s1 * (1 + 1e-12) and dev_X <= s2 * (1 + 1e-12)
        worst = [max(worst[0], dev_x / s1), max(worst[1], dev_X / s2)]
    assert worst[0] > 0.2 and worst[1] > 0.2, worst


@settings(max_examples=100, deadline=None)
@given(d=st.integers(1, 800), L=st.integers(2, 4), kappa=st.sampled_from([1, 2]), eps=st.floats(0, 1),
       lbeta=st.floats(-5, 0.5), rho=st.floats(1, 8), s=st.floats(0.01, 1), lt=st.floats(-3, 1.5))
def test_so_never_above_eq8_and_the_paper_where_it_does_not_apply(d, L, kappa, eps, lbeta, rho, s, lt):
    kw = dict(precision=0.0, d=d, m=d + 1000, depth=L, kappa=kappa, p=32, delta=0.05, eps=eps, beta=10**lbeta, gamma=1e-4,
              rho=rho, s=s, t=10**lt, workers=1)
    closed, so = bound_terms(**kw), bound_terms(**kw, form="so")
    if L == 2 and kappa == 2:
        assert so["phi"] == pytest.approx((1 + rho) * (math.sqrt(d) + 1), rel=1e-15)
        assert so["phi"] < closed["phi"] and so["deviation"] <= closed["deviation"]
    else:
        for k in closed:
            np.testing.assert_array_equal(so[k], closed[k])


def test_kl_so_uses_the_centred_training_share():
    kw = dict(precision=0.0, d=49, m=60000, depth=2, kappa=2, p=32, delta=0.05, eps=0.01, beta=0.001, gamma=1e-5, rho=1.0, s=0.5,
              t=5.0)
    so, klso = bound_terms(**kw, form="so"), bound_terms(**kw, form="kl-so", margin_risk=0.15)
    dev, c = float(so["deviation"]), 2 * float(so["upsilon"]) ** 2
    ref = float(kl_inverse_upper(min(1.0, 0.15 + dev / 8.0), c)) + dev * 7.0 / 8.0  # √49 = 7: shares 1/8, 7/8
    assert float(klso["bound"]) == pytest.approx(ref, rel=1e-14)
    assert float(klso["bound"]) <= float(bound_terms(**kw, form="kl", margin_risk=0.15)["bound"])
