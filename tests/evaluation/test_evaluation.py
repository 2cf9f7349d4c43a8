"""Pure metrics of Sec. 4-5 / App. B, checked against explicit loops on tiny cases."""

import numpy as np
import pytest
import torch

from nlbound.evaluation import (
    assumption_5_1_quantity, continuous_margin_risk, g2_outputs, linear_correction, loss, loss_x, margin_risk,
    margin_summary, mean_abs_deviation, optimistic_bound, risk, round_to_precision,
)
from nlbound.networks import forward, init_weights

Y = np.array([1.0, -1.0, 1.0, -1.0])
F = np.array([0.5, 0.2, 0.0, -0.05])  # y*f = 0.5, -0.2, 0, 0.05


def test_risks_follow_section_4_definitions():
    assert risk(Y, F) == 0.25  # only y f < 0
    assert margin_risk(Y, F, 0.1) == 0.75  # y f < 0.1: -0.2, 0, 0.05
    # r^C: 0 (0.5 >= gamma), 1 (<0), 1 - 0/0.1 = 1, 1 - 0.05/0.1 = 0.5
    assert continuous_margin_risk(Y, F, 0.1) == pytest.approx((0 + 1 + 1 + 0.5) / 4)
    assert risk(Y, F) <= continuous_margin_risk(Y, F, 0.1) <= margin_risk(Y, F, 0.1)


def test_losses_and_assumption_quantity_by_loops():
    rng = np.random.default_rng(0)
    m, d = 3, 2
    x, y, f = rng.standard_normal((m, d)), np.array([1.0, -1.0, 1.0]), rng.standard_normal(m)
    # paper: X~ is d x m; (Y - f(X~)) X~^T is a 1 x d row; its squared Frobenius norm
    row = [sum((y[k] - f[k]) * x[k, j] for k in range(m)) for j in range(d)]
    q = sum(v * v for v in row)
    assert assumption_5_1_quantity(y, f, x) == pytest.approx(q, rel=1e-14)
    assert loss_x(y, f, x) == pytest.approx(q / (2 * m), rel=1e-14)
    assert loss(y, f) == pytest.approx(sum((y[k] - f[k]) ** 2 for k in range(m)) / (2 * m), rel=1e-14)


def _whitened(m, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((m, d))
    ev, U = np.linalg.eigh(x.T @ x / m)
    return x @ U @ np.diag(ev**-0.5) @ U.T


def test_proxies_against_direct_computation():
    m, d, eps = 6, 3, 0.3
    x = _whitened(m, d)
    x_test = np.random.default_rng(1).standard_normal((4, d))
    th_eps = [torch.from_numpy(w) for w in init_weights(d, 4, 2, 0.8, seed=1)]
    th_0 = [torch.from_numpy(w) for w in init_weights(d, 4, 2, 0.8, seed=2)]

    def net(ws, e, pts):  # literal eq. 2-3, one point at a time
        out = []
        for p in pts:
            h = ws[0].numpy() @ p
            a = h - e * np.minimum(0, h)
            out.append(float((ws[1].numpy() @ a)[0]))
        return np.array(out)

    f = net(th_eps, eps, x)
    g1 = forward(th_0, torch.from_numpy(x), eps).numpy()
    np.testing.assert_allclose(g1, net(th_0, eps, x), rtol=1e-13)
    glin = forward(th_0, torch.from_numpy(x), 0.0).numpy()
    np.testing.assert_allclose(glin, x @ (th_0[1].numpy() @ th_0[0].numpy()).ravel(), rtol=1e-13)
    # eq. 25 with the paper's X (d x m) and the Moore-Penrose pseudo-inverse
    X = x.T
    w_direct = (f - g1) @ np.linalg.pinv(X)
    w = linear_correction(f, g1, x)
    np.testing.assert_allclose(w, w_direct, rtol=1e-10, atol=1e-14)
    g2_test = g2_outputs(net(th_0, eps, x_test), x_test, w)
    np.testing.assert_allclose(g2_test, net(th_0, eps, x_test) + x_test @ w_direct, rtol=1e-10)


def test_g2_interpolates_f_when_m_equals_d():
    d = 5
    x = _whitened(d, d, seed=3)  # square: X~ X~^T = m I with m = d
    f = np.random.default_rng(0).standard_normal(d)
    g1 = np.random.default_rng(1).standard_normal(d)
    np.testing.assert_allclose(g2_outputs(g1, x, linear_correction(f, g1, x)), f, rtol=1e-12, atol=1e-12)


def test_mean_abs_deviation_and_optimistic_bound():
    assert mean_abs_deviation(np.array([1.0, 2.0]), np.array([0.0, 4.0])) == 1.5
    # eq. 41: R^_gamma[f] + (R^C[g] - R^^C[g]) + (test dev + train dev) / gamma
    assert optimistic_bound(0.1, 0.3, 0.2, 0.01, 0.02, 0.5) == pytest.approx(0.1 + 0.1 + 0.06)
    arr = optimistic_bound(np.array([0.1, 0.2]), 0.3, 0.2, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(arr, [0.2, 0.3])


def test_round_to_precision():
    v = np.array([1 / 3, 1e-3, -2.0])
    assert np.array_equal(round_to_precision(v, 64), v)
    assert np.array_equal(round_to_precision(v, 32), v.astype(np.float32).astype(float))
    assert np.abs(round_to_precision(v, 16) - v).max() < 1e-3
    with pytest.raises(ValueError, match="p == 8"):
        round_to_precision(v, 8)


@pytest.mark.parametrize("gammas", [(1e-6, 1e-4, 1e-3, 1e-2, 1.0), (1.0, 1e-3, 0.5, 1e-6, 1e-3, 0.3),
                                    (1e-2, 1e-6, 1e-4), (1e-3,)])
def test_margin_summary_equals_the_single_gamma_functions(gammas):
    """Both paths (one mask per gamma; searchsorted for many, unsorted and repeated gammas)."""
    rng = np.random.default_rng(0)
    y = np.sign(rng.standard_normal(1000))
    f = np.concatenate([rng.standard_normal(500) * 1e-3, rng.standard_normal(497), [0.0, -0.0, 1e-3]])
    r, mr, cmr = margin_summary(y, f, gammas)
    assert r == risk(y, f)
    for j, g in enumerate(gammas):
        assert mr[j] == margin_risk(y, f, g)
        assert cmr[j] == pytest.approx(continuous_margin_risk(y, f, g), rel=1e-13, abs=1e-16)
    r, mr, cmr = margin_summary(Y, F, (0.1,))  # y*f = 0.5, -0.2, 0, 0.05
    assert (r, mr[0], cmr[0]) == (0.25, 0.75, pytest.approx((1 + 1 + 0.5) / 4))
