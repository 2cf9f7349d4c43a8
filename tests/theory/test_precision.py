"""The p-bit proxy's term (docs/PROOFS.md step P) against direct rounding experiments, and the one
run -> bound map (evaluation.run_bound) charging it."""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
import torch

from nlbound.evaluation.metrics import range_basis, round_in_basis, round_to_precision
from nlbound.evaluation.rounding import rounding_constants
from nlbound.evaluation.run_bound import clamp_rho, deviation_links, run_bound, union_delta
from nlbound.networks import forward
from nlbound.theory import bound_terms, phi_kappa
from nlbound.theory.precision import (
    correction_bound, deviation_split, precision_allowance, precision_term, rounding_error_bound,
)
from nlbound.training import RunOptions, TrainConfig, train
from toy_data import toy_dataset


def net(ws, x, eps):
    """f^eps_W(x) for rows x, in float64 (eq. 2), by the package's forward pass."""
    return forward([torch.from_numpy(w) for w in ws], torch.from_numpy(x), eps).numpy()


def random_pair(rng, d, width, depth, rel):
    ws = [rng.standard_normal((width, d)) / math.sqrt(d)]
    ws += [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(depth - 2)]
    ws += [rng.standard_normal((1, width)) / math.sqrt(width)]
    wt = [w + rel * np.abs(w) * rng.standard_normal(w.shape) for w in ws]
    return ws, wt


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("eps", [0.01, 0.4, 1.0])
def test_nonlinear_rest_is_within_N_norm_x_pointwise(depth, eps):
    """(P2): |h(x) - δv·x| <= N ||x|| for h = f^eps_W - f^eps_W~, at random and at near-kink inputs."""
    rng = np.random.default_rng(depth)
    d, width = 7, 9
    ws, wt = random_pair(rng, d, width, depth, 1e-2)
    consts = rounding_constants(ws, wt, eps, np.eye(d))
    dv = (reduce(np.matmul, ws[::-1]) - reduce(np.matmul, wt[::-1])).reshape(-1)
    x = rng.standard_normal((20000, d))
    x = np.concatenate([x, x[:200] - np.outer(x[:200] @ ws[0][0], ws[0][0]) / (ws[0][0] @ ws[0][0])])  # on a kink
    n = net(ws, x, eps) - net(wt, x, eps) - x @ dv
    ratio = np.abs(n) / np.linalg.norm(x, axis=1)
    assert ratio.max() <= consts["n_lip"] * (1 + 1e-9) + 1e-15
    assert ratio.max() >= 0.01 * consts["n_lip"]  # N is an upper bound, not a vacuous one here


def test_rounding_experiment_kappa2_within_allowance():
    """A direct rounding experiment (P5, P6): twins W, W~ = W perturbed at the float16 scale, a
    trained-like f, the correction w~' rounded to float16; measured mean |g_k - g~_k| on the training
    set (exact inequality) and on a large Gaussian test sample (E[x x^T] = I, premise W) against the
    allowance. The test sample's mean carries a relative sampling error ~1/sqrt(n): 5/sqrt(n) allowed."""
    rng = np.random.default_rng(0)
    d, width, m, n_test, eps = 6, 8, 3000, 200000, 0.05
    q = np.linalg.qr(rng.standard_normal((m, d)))[0] * math.sqrt(m)  # X~ X~^T / m = I exactly
    ws, wt = random_pair(rng, d, width, 2, 2.0 ** -11)
    wf = [w + 0.1 * rng.standard_normal(w.shape) / math.sqrt(w.shape[1]) for w in ws]  # the "trained" f
    f_tr, g1_tr, gt1_tr = net(wf, q, eps), net(ws, q, eps), net(wt, q, eps)
    w_exact = (f_tr - g1_tr) @ q / m  # g2's correction (eq. 25, unrounded proxy)
    wp = (f_tr - gt1_tr) @ q / m  # w~' (from the p-bit twin)
    wr = round_to_precision(wp, 16)
    consts = rounding_constants(ws, wt, eps, np.eye(d))
    r = float(np.linalg.norm(wp - wr))
    test_a, train_a = precision_allowance(2, d, consts["dv"], consts["dv_range"], consts["dv_perp"], consts["n_lip"], r)
    xt = rng.standard_normal((n_test, d))
    for x, allowance, slack in ((q, train_a, 1.0), (xt, test_a, 1 + 5 / math.sqrt(n_test))):
        g2 = net(ws, x, eps) + x @ w_exact
        gt2 = net(wt, x, eps) + x @ wr
        assert np.mean(np.abs(g2 - gt2)) <= float(allowance) * slack
    test1, train1 = precision_allowance(1, d, consts["dv"], consts["dv_range"], consts["dv_perp"], consts["n_lip"], 0.0)
    assert np.mean(np.abs(net(ws, q, eps) - net(wt, q, eps))) <= float(train1)
    assert np.mean(np.abs(net(ws, xt, eps) - net(wt, xt, eps))) <= float(test1) * (1 + 5 / math.sqrt(n_test))


def test_rounding_error_bound_covers_float16_and_float32():
    """(P8): ||fl_p(a) - a|| <= u_p ||a|| + eta_p sqrt(n), subnormals included."""
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.standard_normal(50) * 10.0 ** rng.uniform(-9, 3, 50), [1e-7, -3e-8, 0.0]])
    for p in (16, 32):
        err = np.linalg.norm(round_to_precision(a, p) - a)
        assert 0 < err <= float(rounding_error_bound(p, np.linalg.norm(a), a.size))
    assert float(rounding_error_bound(64, 1.0, 5)) == 0.0
    with pytest.raises(ValueError, match="p == 8"):
        rounding_error_bound(8, 1.0, 1)


def test_round_in_basis_keeps_the_range_and_rounds_its_coordinates():
    rng = np.random.default_rng(2)
    u = np.linalg.qr(rng.standard_normal((5, 3)))[0]
    S = u @ u.T
    basis = range_basis(S)
    assert basis is not None and basis.shape == (5, 3)
    assert range_basis(np.eye(4)) is None
    c = u @ rng.standard_normal(3)
    cr = round_in_basis(c, 16, basis)
    np.testing.assert_allclose(S @ cr, cr, atol=1e-15)  # still in the range
    coords = basis.T @ cr
    np.testing.assert_allclose(round_to_precision(coords, 16), coords, rtol=1e-12, atol=1e-300)  # 3 float16 numbers


def test_deviation_split_sums_to_phi_kappa():
    for d, L, k, rho in [(49, 2, 1, 1.0), (49, 2, 2, 3.7), (188, 4, 2, 1.0), (3, 3, 1, 2.0)]:
        test, train = deviation_split(d, L, k, rho)
        assert float(test + train) == pytest.approx(float(phi_kappa(d, L, k, rho)), rel=1e-14)
        assert float(train) > 0 and float(test) > 0


def test_precision_term_formula_and_refusals():
    test, train = precision_allowance(2, 4, 0.5, 0.3, 0.1, 0.01, 0.2)
    assert float(test) == pytest.approx(0.1 + 2 * 0.01 * 2 + 0.2)
    assert float(train) == pytest.approx(2 * 0.01 * 2 + 0.2)
    t1, r1 = precision_allowance(1, 4, 0.5, 0.3, 0.1, 0.01, 0.2)
    assert (float(t1), float(r1)) == pytest.approx((0.5 + 0.02, 0.3 + 0.02))
    assert float(precision_term(2, 4, 0.5, 0.5, 0.3, 0.1, 0.01, 0.2)) == pytest.approx((0.34 + 0.24) / 0.5)
    with pytest.raises(ValueError, match="n_lip"):
        precision_allowance(2, 4, 0.5, 0.3, 0.1, -1.0, 0.2)
    with pytest.raises(ValueError, match="kappa"):
        precision_allowance(3, 4, 0.5, 0.3, 0.1, 0.0, 0.2)
    assert float(correction_bound(0.0, 2, 1.0, np.inf, np.inf, 0.1, 0.0, 4)) == pytest.approx(0.1)


BASE = dict(d=49, m=60000, depth=2, kappa=2, p=16, delta=0.05, eps=1e-3, beta=1e-3, gamma=1e-6, rho=1.0, s=0.6, t=1.0)


def test_bound_terms_charges_the_p_bit_term():
    printed = bound_terms(**BASE, precision=0.0)["a_priori_as_printed"]
    r = bound_terms(**BASE, precision=2e-8)
    assert float(r["precision"]) == pytest.approx(2e-8 / 1e-6)
    assert float(r["a_priori"]) == pytest.approx(float(printed) + 0.02)
    assert float(r["a_priori_as_printed"]) == float(r["upsilon"] + r["deviation"])
    none = bound_terms(**BASE)
    assert none["precision"] == np.inf and none["a_priori"] == np.inf  # not known a priori: no bound
    with pytest.raises(ValueError, match="precision"):
        bound_terms(**BASE, precision=-1.0)


def test_union_delta_prices_a_selection():
    assert union_delta(0.05, 20) == pytest.approx(0.0025)
    up = bound_terms(**BASE, precision=0.0)["upsilon"]
    up_n = bound_terms(**{**BASE, "delta": union_delta(0.05, 40)}, precision=0.0)["upsilon"]
    ref = math.sqrt((2 * 16 * 49 * math.log(2) + math.log(40 / 0.05)) / (2 * 60000))  # eq. 7 at delta/40
    assert float(up_n) == pytest.approx(ref, rel=1e-13) and float(up_n) > float(up)
    for bad in ((0.0, 3), (0.05, 0), (0.05, 2.5)):
        with pytest.raises(ValueError):
            union_delta(*bad)
    assert clamp_rho(1 - 1e-16) == 1.0 and clamp_rho(2.5) == 2.5


@pytest.fixture(scope="module")
def p16_run(tmp_path_factory):
    """A small p = 16 run where the rounding of the proxy dominates Δε² (measured: up to ~75x)."""
    ds = toy_dataset(m=2000, d=6, m_test=1000, seed=0)
    cfg = TrainConfig(dataset="synthetic", width=16, eps=1e-3, beta=1e-3, t_end=20.0, p=16,
                      gammas=(1e-6,), dtype="float64")
    return train(cfg, ds, RunOptions(out_dir=tmp_path_factory.mktemp("p16") / "run"))


def test_p16_run_deviation_within_what_the_bound_charges(p16_run):
    """The bound (run_bound) charges Δε^κ + A_κ above Υ; the measured mean |f - g~_κ| (train + test,
    the p-bit proxy of the trace) must stay within it at every recorded t. Before the p-bit term was
    charged this failed: the Δε² allowance alone is exceeded on this run (checked below)."""
    tr, info = p16_run.trace, p16_run.info
    for kappa in (1, 2):
        b = run_bound(tr, info, kappa=kappa, gamma=1e-6, delta=0.05)
        charged = (b["bound"] - b["margin_risk"] - b["upsilon"]) * 1e-6  # Δε^κ + A_κ, output units
        measured = tr[f"g{kappa}_test_dev"] + tr[f"g{kappa}_train_dev"]
        assert np.all(measured <= charged * (1 + 1e-9))
        lk = deviation_links(tr, info, kappa)
        for split in ("test", "train"):  # link by link
            assert np.all(lk[f"{split}_dev"] <= lk[f"{split}_allowance"] * (1 + 1e-9))
    lk = deviation_links(tr, info, 2)
    assert np.any(lk["train_dev"] > lk["train_delta"])  # without step P: violated (the failure it fixes)


def test_run_bound_refuses_another_p_and_a_trace_without_the_columns(p16_run):
    tr, info = p16_run.trace, p16_run.info
    with pytest.raises(ValueError, match="run's p == 16"):
        run_bound(tr, info, kappa=2, gamma=1e-6, delta=0.05, p=32)
    old = {k: v for k, v in tr.items() if not k.startswith("prox_")}
    with pytest.raises(ValueError, match="prox_dv"):
        run_bound(old, info, kappa=2, gamma=1e-6, delta=0.05)
