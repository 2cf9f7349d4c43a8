"""The run-time (a-posteriori) variant (nlbound.theory.runtime; docs/PROOFS.md "Run-time (a-posteriori)
variant"): S3/S4 checked against exact evaluation of f − g₁ and f − f̃ (eq. 25) on random nets of depth
2-4 with arbitrary weights θ^ε and θ⁰, and runtime_terms assembled as the docstring says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nlbound.theory import bound_terms
from nlbound.theory.kl import kl_inverse_upper
from nlbound.theory.runtime import _a_b, runtime_terms


def _net(ws, Z, eps):
    a = Z
    for w in ws[:-1]:
        a = w @ a
        a = a - eps * np.minimum(a, 0.0)
    return ws[-1] @ a


def _measured(ws, w0, X):
    """(gap (L,), M (L,), ‖ΔW₁X̃‖_F/√m, M_X): the trace columns' quantities, computed here by SVD."""
    m = X.shape[1]
    op = lambda w: np.linalg.svd(w, compute_uv=False)[0]  # noqa: E731
    gap = np.array([op(w - v) for w, v in zip(ws, w0, strict=True)])
    mx = np.array([max(op(w), op(v)) for w, v in zip(ws, w0, strict=True)])
    fro = lambda w: np.linalg.norm(w @ X) / math.sqrt(m)  # noqa: E731
    return gap, mx, fro(ws[0] - w0[0]), max(fro(ws[0]), fro(w0[0]))


@pytest.mark.parametrize("L", [2, 3, 4])
def test_s3_s4_hold_against_exact_deviations(L):
    rng = np.random.default_rng(L)
    worst = np.zeros(4)
    for _ in range(150):
        d, n, m = int(rng.integers(2, 6)), int(rng.integers(2, 7)), int(rng.integers(8, 25))
        U, _, Vt = np.linalg.svd(rng.normal(size=(d, m)), full_matrices=False)
        X = math.sqrt(m) * U @ Vt  # X̃X̃ᵀ = mI
        shapes = [(n, d)] + [(n, n)] * (L - 2) + [(1, n)]
        w0 = [rng.normal(size=s) for s in shapes]
        size = 10.0 ** rng.uniform(-3, 0)
        ws = [w + size * rng.normal(size=w.shape) for w in w0]
        eps, x = rng.uniform(0.01, 1.0), rng.normal(size=(d, 1))
        Xp = np.linalg.pinv(X)
        gap, mx, gap1x, mx1x = _measured(ws, w0, X)
        a, b = _a_b(gap, mx, gap1x, mx1x)
        # kappa = 1: f^eps at theta^eps vs at theta^0 (S3), at x and on the sample
        d1x = abs((_net(ws, x, eps) - _net(w0, x, eps)).item())
        d1X = np.linalg.norm(_net(ws, X, eps) - _net(w0, X, eps)) / math.sqrt(m)
        # kappa = 2: f - f~ with f~ of eq. 25 (S4)
        corr = (_net(ws, X, eps) - _net(w0, X, eps)) @ Xp
        d2x = abs((_net(ws, x, eps) - _net(w0, x, eps) - corr @ x).item())
        d2X = np.linalg.norm(_net(ws, X, eps) - _net(w0, X, eps) - corr @ X) / math.sqrt(m)
        nx = np.linalg.norm(x)
        allow = [a * nx, b, eps * (L - 1) * (a + b) * nx, eps * (L - 1) * b]
        got = [d1x, d1X, d2x, d2X]
        for g, al in zip(got, allow, strict=True):
            assert g <= al * (1 + 1e-10) + 1e-300, (L, got, allow)
        worst = np.maximum(worst, [g / al for g, al in zip(got, allow, strict=True)])
    assert np.all(worst > 0.02), worst  # not loose by orders of magnitude on every draw


def test_runtime_terms_assembly_and_kl():
    gap, w, tw = np.array([[1e-4, 2e-4]]), np.array([[0.5, 0.6]]), np.array([[0.5, 0.61]])
    kw = dict(d=49, m=60000, depth=2, kappa=2, p=32, delta=0.05, eps=0.01, gamma=1e-3, margin_risk=0.2,
              gap_spec=gap, w_spec=w, twin_spec=tw, gap_w1x=np.array([3e-4]), w1x=np.array([0.4]),
              twin_w1x=np.array([0.41]))
    h, k = runtime_terms(**kw, precision=(0.0, 0.0)), runtime_terms(**kw, counting="kl", precision=(0.0, 0.0))
    s = 1 + 1e-9
    a = s * s * (1e-4 * 0.61 + 2e-4 * 0.5)
    b = s * s * (3e-4 * 0.61 + 2e-4 * 0.41)
    test, train = 0.01 * 7 * (a + b) / 1e-3, 0.01 * b / 1e-3
    assert h["dev_test"].item() == pytest.approx(test, rel=1e-14) and h["dev_train"].item() == pytest.approx(train, rel=1e-14)
    ups = float(bound_terms(49, 60000, 2, 2, 32, 0.05, 0.01, 0.001, 1e-3, 1.0, 0.5, 1.0)["upsilon"])
    assert h["bound"].item() == pytest.approx(0.2 + ups + test + train, rel=1e-14)
    ref = float(kl_inverse_upper(0.2 + train, 2 * ups**2)) + test
    assert k["bound"].item() == pytest.approx(ref, rel=1e-13) and k["bound"].item() < h["bound"].item()
    # the p-bit term (A_test, A_train): Hoeffding adds both over γ; kl puts A_train inside kl⁻¹, A_test outside
    a_te, a_tr = 2e-7, 3e-7
    hp, kp = (runtime_terms(**kw, counting=c, precision=(a_te, a_tr)) for c in ("hoeffding", "kl"))
    assert hp["bound"].item() == pytest.approx(0.2 + ups + test + train + (a_te + a_tr) / 1e-3, rel=1e-14)
    ref = float(kl_inverse_upper(0.2 + train + a_tr / 1e-3, 2 * ups**2)) + test + a_te / 1e-3
    assert kp["bound"].item() == pytest.approx(ref, rel=1e-13) and kp["bound"].item() < hp["bound"].item()
    assert np.isinf(runtime_terms(**kw)["bound"]).all()  # not charged (None): no bound
    for bad in ((1.0,), (-1.0, 0.0), (np.nan, 0.0)):
        with pytest.raises(ValueError, match="precision =="):
            runtime_terms(**kw, precision=bad)
    with pytest.raises(ValueError, match="gap_spec has"):
        runtime_terms(**{**kw, "depth": 3})
    with pytest.raises(ValueError, match="gap_w1x == -1"):
        runtime_terms(**{**kw, "gap_w1x": np.array([-1.0])})
