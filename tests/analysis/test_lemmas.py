"""The proof's chain measured (evaluation/lemmas.py, analysis/lemma_runs.py, paper/fig10.py):
norms against independent computations, Lemma 7.4 at f = 0 in closed form, the deviation bounds of
eqs. 20-21 / 46-48 and Lemma 7.1 on a real (small) trajectory, the slack budget's identity."""

import json
import math

import numpy as np
import pytest

from nlbound.data import synthetic_dataset
from nlbound.evaluation import lemmas as LM
from nlbound.analysis import lemma_runs as E
from nlbound.paper.fig10 import measured_chain_curve, plot_fig10
from nlbound.training import TrainConfig


def test_ratio_is_never_clipped():
    assert LM.ratio(2.0, 1.0) == 2.0
    assert LM.ratio(0.0, 0.0) == 0.0
    assert LM.ratio(1e-300, 0.0) == math.inf


def test_layer_norms_against_svd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    ws = [rng.normal(size=(4, 6)), rng.normal(size=(1, 4))]
    dws = [rng.normal(size=(4, 6)), rng.normal(size=(1, 4))]
    n = LM.layer_norms(ws, dws, x)
    np.testing.assert_allclose(n["W_spec"], [np.linalg.svd(w, compute_uv=False)[0] for w in ws], rtol=1e-13)
    np.testing.assert_allclose(n["dW_spec"], [np.linalg.svd(w, compute_uv=False)[0] for w in dws], rtol=1e-13)
    assert n["W1X"] == pytest.approx(np.sqrt(np.sum((ws[0] @ x.T) ** 2) / 50), rel=1e-13)
    assert n["dW1X"] == pytest.approx(np.sqrt(np.sum((dws[0] @ x.T) ** 2) / 50), rel=1e-13)


def test_xi_at_zero_output_is_closed_form():
    """f = 0: Ξ = Y/m, so ‖Ξ‖_F = √m/m = 1/√m and ‖Ξ X̃ᵀ‖ = ‖Y X̃ᵀ‖/m = ‖Y X̃⁺‖ = s (Sec. 5.3)."""
    ds = synthetic_dataset(m=400, m_test=10, size=7, seed=1)
    fro, xx = LM.xi_norms(ds.y_train, np.zeros(400), np.asarray(ds.x_train))
    assert fro == pytest.approx(1 / math.sqrt(400), rel=1e-14)
    assert xx == pytest.approx(ds.s, rel=1e-10)


def _norms(W, dW, W1X, dW1X):
    return {"W_spec": np.array(W), "dW_spec": np.array(dW), "W1X": W1X, "dW1X": dW1X}


def test_deviation_rhs_written_out():
    """eqs. 20-21 (κ = 1) and 46/48 (κ = 2) for L = 3, by hand, sup over two τ."""
    a = _norms([2.0, 3.0, 5.0], [0.1, 0.2, 0.3], 7.0, 0.4)
    b = _norms([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 1.0, 1.0)
    all_a = 0.1 * 15 + 0.2 * 10 + 0.3 * 6
    first_a, rest_a = 0.4 * 15, 7.0 * (0.2 * 5 + 0.3 * 3)
    r1 = LM.deviation_rhs([a, b], 2.0, 1)
    assert r1["test"] == pytest.approx(max(all_a, 3.0) * 2.0)
    assert r1["train"] == pytest.approx(max(first_a, 1.0) + max(rest_a, 2.0))
    r2 = LM.deviation_rhs([a, b], 2.0, 2)
    assert r2["test"] == pytest.approx(2 * (all_a + rest_a + first_a) * 2.0)
    assert r2["train"] == pytest.approx(2 * 2 * (rest_a + first_a))


def test_slack_budget_factors_multiply_to_total():
    dev = {"train": 0.01, "test": 0.02}
    rhs, rhs_d = {"train": 0.1, "test": 0.3}, {"train": 0.1, "test": 0.4}
    f = LM.slack_budget(dev, rhs, rhs_d, phi=20.0, U=0.5, V=0.2, u=0.8, v=1.5, Delta=20 * 1.5 * 0.8,
                        depth=2)
    prod = f["triangle"] * f["mean_x"] * f["uniform"] * f["lemma_u"] * f["lemma_v"]
    assert prod == pytest.approx(f["total"], rel=1e-12)
    assert f["closed_ode"] is None
    g = LM.slack_budget(dev, rhs, rhs_d, 20.0, 0.5, 0.2, 0.8, 1.5, 24.0, 2, Delta_ode=(0.7, 1.0, 14.0))
    prod = g["triangle"] * g["mean_x"] * g["uniform"] * g["lemma_u"] * g["lemma_v"] * g["closed_ode"]
    assert prod == pytest.approx(g["total"], rel=1e-12)


def test_chain_params_validation():
    with pytest.raises(ValueError, match="rho == 0.5"):
        LM.ChainParams(depth=2, eps=0.1, beta=0.1, rho=0.5, s=0.5, d=4)
    with pytest.raises(ValueError, match="kappa"):
        LM.ChainParams(depth=2, eps=0.1, beta=0.1, rho=1.0, s=0.5, d=4, kappa=3)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A real trajectory on the synthetic set (m = 2000): width 6, ε = 0.2, β = 0.1, fixed-step
    integration (lr 1e-2) so it takes seconds."""
    ds = synthetic_dataset(size=7, seed=0)
    cfg = TrainConfig(dataset="synthetic", size=7, depth=2, width=6, eps=0.2, beta=0.1, integrator="gd",
                      lr=1e-2, t_end=3.0, times=(0.5, 1.5, 3.0), dtype="float64", gammas=(1e-2, 1e-1))
    cache = tmp_path_factory.mktemp("lemmas")
    return E.run_lemmas(cfg, ds, cache_dir=cache), cfg, ds, cache


def test_chain_holds_on_a_real_trajectory(small_run):
    """Every link ≤ 1 (Lemma 7.1, Lemma 7.4, eqs. 20-21 and 46-48, Δ) on a small trained net; and the
    ratios are not all trivially tiny (the deviation links measure something)."""
    res = small_run[0]
    summary = E.summarize(res)
    for kappa, rows in summary.items():
        for link, row in rows.items():
            assert row["violations"] == 0, (kappa, link, row)
    assert summary["1"]["dev_train_rhs"]["max_ratio"] > 1e-3
    assert summary["1"]["W_spec"]["max_ratio"] > 0.5


def test_slack_at_optimum_is_consistent(small_run):
    res = small_run[0]
    for kappa in (1, 2):
        s = E.slack_at_optimum(res, kappa)
        f = s["factors"]
        prod = np.prod([f[k] for k in ("triangle", "mean_x", "uniform", "lemma_u", "lemma_v")])
        prod *= 1.0 if f["closed_ode"] is None else f["closed_ode"]
        assert prod == pytest.approx(f["total"], rel=1e-10)
        assert f["total"] == pytest.approx(s["Delta"] / sum(s["deviation"].values()), rel=1e-12)
        for k in ("triangle", "uniform", "lemma_u", "lemma_v"):
            assert f[k] >= 1.0 - 1e-12, (kappa, k, f[k])


def test_cache_and_outputs(small_run, tmp_path):
    res, cfg, ds, cache = small_run
    path = E.cache_path(cache, cfg, E.tau_grid(cfg.eps))
    assert path.exists()
    again = E.run_lemmas(cfg, ds, cache_dir=cache)  # read back, not recomputed
    assert again["records"][2]["U"] == res["records"][2]["U"]
    assert E.cache_path(cache, cfg, (0.0, 0.2)) != path
    out = E.write_lemmas_json([res], tmp_path / "lemmas.json")
    data = json.loads(out.read_text())
    assert data["runs"][0]["links"]["1"]["dev_Delta"]["violations"] == 0
    fig = plot_fig10([res])
    assert len(fig.panels) == 10 and any(ln.style == "--" and "not a bound" in ln.label for ln in fig.lines)
    mc = measured_chain_curve(res)
    assert np.all(mc["measured_chain"][1:] <= mc["Delta"][1:])  # Lemma 7.1 tight would give equality
