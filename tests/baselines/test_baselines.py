"""Baseline bounds (nlbound.baselines) against independent computations: mpmath, torch.distributions,
closed forms written out by hand, sampled perturbations; and one tiny synthetic run end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nlbound.baselines import classical as C
from nlbound.baselines import pacbayes as PB
from nlbound.baselines import spectral as S
from nlbound.networks import layer_shapes
from nlbound.theory.kl import kl_bernoulli, kl_inverse_upper

from mp_references import mp_kl_inverse


def _mp_kl_inverse(q, c) -> float:
    """The 60-digit reference of tests/mp_references.py as a float."""
    return float(mp_kl_inverse(q, c))


@pytest.mark.parametrize("q,c", [(0.0, 0.01), (0.05, 0.001), (0.19, 0.0087), (0.5, 0.2), (0.9, 0.05), (0.3, 1e-6)])
def test_kl_inverse_matches_mpmath(q, c):
    """The package's kl inverse (nlbound.theory.kl, used by this baseline) against this module's reference."""
    got = float(kl_inverse_upper(q, c))
    assert got == pytest.approx(_mp_kl_inverse(q, c), abs=2e-14)
    assert got >= _mp_kl_inverse(q, c) - 1e-15  # never below the true inverse
    assert float(kl_bernoulli(q, min(got, 1 - 1e-16))) == pytest.approx(c, rel=1e-6) or got == 1.0


def test_gaussian_kl_matches_torch_distributions():
    rng = np.random.default_rng(0)
    mean, sigma, prior = rng.normal(size=50), rng.uniform(0.1, 2, 50), rng.normal(size=50)
    lam = 0.7
    q = torch.distributions.Normal(torch.tensor(mean), torch.tensor(sigma))
    p = torch.distributions.Normal(torch.tensor(prior), torch.tensor(math.sqrt(lam), dtype=torch.float64))
    ref = float(torch.distributions.kl_divergence(q, p).sum())
    assert PB.gaussian_kl(mean, sigma, prior, lam) == pytest.approx(ref, rel=1e-12)


def test_pac_bayes_bound_hand_computed_small_case():
    # q^ = 0.1 from n = 100 nets, KL = 10, grid index j = 5, m = 1000, delta_pb = 0.04, delta_mc = 0.01
    e_up = _mp_kl_inverse(0.1, math.log(2 / 0.01) / 100)
    bre = (10 + 2 * math.log(5) + math.log(math.pi**2 * 1000 / (6 * 0.04))) / 999
    expected = _mp_kl_inverse(e_up, bre)
    got = PB.pac_bayes_bound(0.1, 100, 10.0, 5, 1000, 0.04, 0.01)
    assert got["gibbs_train_error_upper"] == pytest.approx(e_up, abs=1e-13)
    assert got["b_re"] == pytest.approx(bre, rel=1e-14)
    assert got["bound"] == pytest.approx(expected, abs=1e-13)
    assert 0.1 < e_up < got["bound"] < 1


def test_lambda_grid_index():
    assert PB.lambda_grid_index(0.1 * math.exp(-3.0), 100, 0.1) == 300
    assert PB.lambda_grid_index(0.5, 100, 0.1) == 1  # above c: clamped to the first grid point


def test_counting_gap_is_the_theorems_upsilon_1():
    from nlbound.theory import bound_terms

    terms = bound_terms(d=49, m=60000, depth=2, kappa=1, p=32, delta=0.05, eps=0.01, beta=1e-3, gamma=1e-2,
                        rho=1.0, s=0.5, t=1.0)
    assert C.counting_gap(49, 32, 60000, 0.05) == pytest.approx(float(terms["upsilon"]), rel=1e-14)
    assert C.counting_gap(49, 32, 60000, 0.05) == pytest.approx(
        math.sqrt((49 * 32 * math.log(2) + math.log(20)) / 120000), rel=1e-15)


def test_network_parameter_count_matches_layer_shapes():
    for d, n, L in [(49, 64, 2), (5, 7, 3), (3, 4, 4)]:
        assert C.network_parameter_count(d, n, L) == sum(a * b for a, b in layer_shapes(d, n, L))
        assert C.network_parameter_count(d, n, L, biases=True) == C.network_parameter_count(d, n, L) + (L - 1) * n + 1


def test_bhlm_vc_dimension_by_hand():
    # d = 2, n = 3, L = 2: W_1 = 3 (2 + 1) = 9, W_2 = W_1 + 1 (3 + 1) = 13; Lbar = 22/13; R = 1*3 + 2*1 = 5; p = 1
    expected = 2 + (22 / 13) * 13 * math.log2(4 * math.e * 5 * math.log2(2 * math.e * 5))
    assert C.bhlm_vc_dimension(2, 3, 2) == pytest.approx(expected, rel=1e-14)
    assert C.bhlm_vc_dimension(49, 64, 3) > C.bhlm_vc_dimension(49, 64, 2)


def test_vc_log_growth_dominates_sauer_sum():
    for D, n in [(3, 10), (5, 40), (10, 200)]:
        exact = math.log(sum(math.comb(n, i) for i in range(D + 1)))
        assert exact <= C.vc_log_growth(D, n) + 1e-12
    assert C.vc_log_growth(100, 50) == pytest.approx(50 * math.log(2))
    # Mohri et al. 2018 Cor. 3.19 written out: sqrt(2 D ln(e m / D) / m) + sqrt(ln(1/delta) / (2m))
    assert C.vc_gap(10, 1000, 0.05) == pytest.approx(
        math.sqrt(2 * 10 * math.log(math.e * 100) / 1000) + math.sqrt(math.log(20) / 2000), rel=1e-14)
    # m < D: only Pi(m) <= 2^m, so the gap is sqrt(2 ln 2) + sqrt(ln(1/delta)/(2m)) > 1 (vacuous)
    assert C.vc_gap(81282, 60000, 0.05) == pytest.approx(
        math.sqrt(2 * math.log(2)) + math.sqrt(math.log(20) / 120000), rel=1e-14)


def test_bhlm_vc_dimension_of_the_papers_net_by_hand():
    """d = 49, n = 64, L = 2 with biases: W_1 = 64 * 50 = 3200, W_2 = W_1 + 65 = 3265 = W;
    Lbar W = 3200 + 3265 = 6465; R = 1 * 64 + 2 * 1 = 66; p = 1: 2 + 6465 log2(4e 66 log2(2e 66))."""
    inner = math.log(2 * math.e * 66) / math.log(2)
    expected = 2 + 6465 * math.log(4 * math.e * 66 * inner) / math.log(2)
    assert C.bhlm_vc_dimension(49, 64, 2) == pytest.approx(expected, rel=1e-14)
    assert 81281 < expected < 81283


def _net(rng, d=5, n=6):
    return [rng.normal(size=(n, d)) / 3, rng.normal(size=(1, n)) / 3]


def _f(ws, x, eps=0.3):
    a = x
    for w in ws[:-1]:
        h = a @ w.T
        a = h - eps * np.minimum(0, h)
    return (a @ ws[-1].T).ravel()


def test_nbs_bound_invariant_to_layer_rescaling():
    rng = np.random.default_rng(1)
    ws = _net(rng)
    x = rng.normal(size=(400, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.sign(rng.normal(size=400))
    scaled = [ws[0] * 7.0, ws[1] / 7.0]  # the same function (positive homogeneity)
    assert np.allclose(_f(ws, x), _f(scaled, x))
    a = S.nbs_bound(ws, y * _f(ws, x), 0.05)
    b = S.nbs_bound(scaled, y * _f(scaled, x), 0.05)
    assert a["bound"] == pytest.approx(b["bound"], rel=1e-10)


def test_nbs_sigma_keeps_perturbation_below_gamma_over_4():
    """Lemma 1's premise, sampled: with sigma of the proof, max_x |f_{w+u}(x) - f_w(x)| < gamma/4 on
    unit-norm inputs for at least half of the perturbations u ~ N(0, sigma^2 I)."""
    rng = np.random.default_rng(2)
    ws = _net(rng)
    spec = [np.linalg.norm(w, 2) for w in ws]
    beta = math.exp(np.mean(np.log(spec)))
    ws = [w * beta / s for w, s in zip(ws, spec, strict=True)]
    x = rng.normal(size=(2000, 5))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    gamma = 0.5
    sigma = S.nbs_sigma(gamma, beta / 1.5, 2, 1.0, 6)  # beta~ >= beta / (1 + 1/L)
    ok = [np.max(np.abs(_f([w + sigma * rng.normal(size=w.shape) for w in ws], x) - _f(ws, x))) < gamma / 4
          for _ in range(200)]
    assert np.mean(ok) >= 0.5


def test_nbs_kl_closed_form():
    ws = [np.diag([2.0, 1.0]), np.array([[0.5, 0.0]])]  # spectral 2, 0.5 -> beta = 1
    # rescaled: W1/2, W2*2: ||.||_F^2 = (1 + 0.25) + 1 = 2.25
    assert S.nbs_kl(ws, 0.1) == pytest.approx(2.25 / (2 * 0.01), rel=1e-14)
    grid = S.nbs_beta_grid(0.1, 2, 1.0, 10000)
    assert grid[0] == pytest.approx(math.sqrt(0.05)) and grid[-1] >= math.sqrt(0.1 * 100 / 2)
    assert np.allclose(grid[1:] / grid[:-1], 1.5)


# ---------------------------------------------------------------- one tiny synthetic run end to end
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from nlbound.training import RunOptions, TrainConfig, train

    out = tmp_path_factory.mktemp("run")
    # rtol 1e-8: re-integrating to t ends a step at t, where the original run interpolated (dense
    # output); the two differ by the local error, ~ rtol, so only a tight run can be checked to 1e-8
    cfg = TrainConfig(dataset="synthetic", size=4, width=8, eps=0.1, beta=0.05, t_end=15.0, rtol=1e-8)
    res = train(cfg, options=RunOptions(out_dir=out, threads=1))
    return out, res


def test_train_result_carries_weights(tiny_run):
    from nlbound.networks import init_weights, pack

    out, res = tiny_run
    d = res.info["d"]
    assert np.array_equal(res.theta0, pack(init_weights(d, 8, 2, 0.05, seed=0)))
    w1 = res.theta[: 8 * d].reshape(8, d)
    assert np.linalg.norm(w1, 2) == pytest.approx(res.trace["W1_spec"][-1], rel=1e-12)


def test_compare_run_sound_and_cached(tiny_run):
    from nlbound.baselines import CompareSettings, PacBayesSettings, compare_run

    out, res = tiny_run
    s = CompareSettings(pacbayes=PacBayesSettings(steps=60, batch=100, n_mc=20))
    r = compare_run(out, 5.0, s, threads=1)
    assert r["reintegration_error"] < 1e-8
    assert r["t"] == pytest.approx(res.trace["t"][np.argmin(np.abs(res.trace["t"] - 5.0))])
    b = r["bounds"]
    assert set(b) == {"theorem_5_2", "linear_counting", "network_counting", "network_vc", "spectral_nbs2018",
                      "pac_bayes_dr2017"}
    for name, rec in b.items():  # every bound at least its predictor's test risk
        pred_test = rec.get("inputs", {}).get("test_risk_of_predictor", r["test_risk"])
        if name == "pac_bayes_dr2017":
            pred_test = rec["inputs"]["gibbs_test_error_100_samples"]
        assert rec["bound"] >= pred_test, name
    assert b["linear_counting"]["bound"] == pytest.approx(
        r["bounds"]["linear_counting"]["inputs"]["emp_risk"] + C.counting_gap(res.info["rank"], 32, 2000, 0.05))
    files = list((out / "baselines").glob("*.json"))
    assert len(files) == 1
    again = compare_run(out, 5.0, s, threads=1)
    assert again == json.loads(files[0].read_text()) == r
    # another form of Theorem 5.2 on top of the cached comparison: only that entry changes, nothing re-run
    kl = compare_run(out, 5.0, s, threads=1, form="kl")
    assert {k: v for k, v in kl["bounds"].items() if k != "theorem_5_2"} == {k: v for k, v in b.items() if k != "theorem_5_2"}
    assert kl["bounds"]["theorem_5_2"]["form"] == "kl" and kl["bounds"]["theorem_5_2"]["bound"] <= b["theorem_5_2"]["bound"]
    rt = compare_run(out, 5.0, s, threads=1, form="runtime-kl")["bounds"]["theorem_5_2"]
    assert rt["a_priori"] is False and rt["bound"] >= r["test_risk"]
    assert len(list((out / "baselines").glob("*.json"))) == 1


def test_cli_compare(tiny_run, capsys):
    from nlbound.cli.main import main

    out, _ = tiny_run
    assert main(["compare", str(out), "--at", "1e9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--at == 1000000000, must be in [0, 15]" in err[0]
    assert main(["compare", str(out), "--delta", "0"]) == 2
    assert "--delta == 0, must be in (0.01, 1)" in capsys.readouterr().err
    assert main(["compare", str(out / "nope")]) == 2
    capsys.readouterr()
    assert main(["compare", str(out), "--form", "bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--form == 'bogus', must be one of closed, ode, kl" in err[0], err


def test_theorem_bound_matches_experiments_bound_curve(tiny_run):
    """theorem_bound's pick equals the experiments layer's eq. 6 curve at that (gamma, kappa), and no
    recorded (gamma, kappa) gives less."""
    from nlbound.baselines import theorem_bound
    from nlbound.analysis.bounds import bound_curve
    from nlbound.analysis.spec import BoundVariant
    from nlbound.analysis.traces import load_run_dir

    out, res = tiny_run
    run = load_run_dir(out)
    j = len(run.t) // 2
    row = {k: float(v[j]) for k, v in run.trace.items()}
    best = theorem_bound(row, run.info, 0.05)
    n = len(run.info["gammas"]) * 2  # the selection is priced: every (gamma, kappa) at delta / n
    assert best["n_searched"] == n
    for gamma in run.info["gammas"]:
        for kappa in (1, 2):
            v = BoundVariant("x", kappa=kappa, p=32, gamma_rule="fixed", q=gamma)
            value = float(bound_curve(run, v, n_searched=n)["bound"][j])
            if (gamma, kappa) == (best["gamma"], best["kappa"]):
                assert value == pytest.approx(best["bound"], rel=1e-12)
                assert float(bound_curve(run, v)["bound"][j]) < best["bound"]  # the unpriced point is smaller
            assert value >= best["bound"] - 1e-12


def test_cli_table_lists_every_bound(tiny_run):
    from nlbound.baselines import CompareSettings, PacBayesSettings, compare_run
    from nlbound.cli.compare import ORDER, _table

    out, _ = tiny_run
    r = compare_run(out, 5.0, CompareSettings(pacbayes=PacBayesSettings(steps=60, batch=100, n_mc=20)), threads=1)
    lines = _table(r).splitlines()
    assert [ln.split()[0] for ln in lines[2:]] == list(ORDER)
    assert float(lines[2].split()[1]) == pytest.approx(r["bounds"]["theorem_5_2"]["bound"], abs=5e-5)


def test_nbs_bound_hand_computed_small_case():
    """NBS 2018 (Lemma 1 + proof of Thm 1) written out by hand: W1 = diag(2, 1), W2 = (0.5, 0):
    beta = (2 * 0.5)^(1/2) = 1, h = 2, L = 2, B = 1; gamma = 0.5, m = 10,000, delta = 0.05.
    beta~ grid 0.5 * 1.5^j from (gamma/2)^(1/2) = 0.5 to (gamma sqrt(m)/2)^(1/2) = 5: j = 0..6 (7 events),
    beta~ = 0.75 (largest <= 1); sigma = gamma / (42 L beta~ sqrt(h ln(4 L h))); rescaled
    ||w~||^2 = 1^2 (||W1||_F^2/4 + ||W2||_F^2/0.25) = 1.25 + 1 = 2.25; KL = 2.25 / (2 sigma^2)."""
    ws = [np.diag([2.0, 1.0]), np.array([[0.5, 0.0]])]
    margins = np.where(np.arange(10000) < 1000, 0.1, 2.0)  # 10% of the margins <= gamma
    sigma = 0.5 / (42 * 2 * 0.75 * math.sqrt(2 * math.log(16)))
    kl = 2.25 / (2 * sigma**2)
    expected = 0.1 + 4 * math.sqrt((kl + math.log(6 * 10000 / (0.05 / 7))) / 9999)
    got = S.nbs_bound(ws, margins, 0.05, B=1.0, gammas=(0.5,))
    assert got["union_events"] == 7 and got["beta_tilde"] == pytest.approx(0.75, rel=1e-14)
    assert got["sigma"] == pytest.approx(sigma, rel=1e-14) and got["kl"] == pytest.approx(kl, rel=1e-12)
    assert got["bound"] == pytest.approx(expected, rel=1e-13)


def test_pacbayes_settings_name_their_own_fields():
    """A refused PacBayesSettings field is reported under its own name (delta_pb, n_mc), not the
    name of the function parameter it feeds."""
    with pytest.raises(ValueError, match=r"^delta_pb == 1.5, must be in \(0, 1\)"):
        PB.PacBayesSettings(delta_pb=1.5)
    with pytest.raises(ValueError, match=r"^n_mc == 0, must be in \[1, inf\)"):
        PB.PacBayesSettings(n_mc=0)
    with pytest.raises(ValueError, match=r"^delta_mc == 0, must be in \(0, 1\)"):
        PB.PacBayesSettings(delta_mc=0.0)
