"""nlbound plan: grid counting, the union-bound price, agreement with bound_terms, the twin's margin risk
against a trained eps = 0 net, the CLI (JSON rows, plot, bad input -> exit 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nlbound.cli.main import main as cli_main
from nlbound.planning import PlanData, PlanGrid, eps_grid, make_plan, margin_risk_table, union_price
from nlbound.planning.report import eps_frontier, top_indices
from nlbound.theory import bound_terms, t_star

D, M, S = 49, 60000, 0.633  # 7x7 MNIST-like statistics, no data needed with a given margin risk
SMALL = dict(betas=(1e-3, 1e-1), epss=(1e-3, 1e-2), alphas=(0.3, 0.5), t_factors=(0.1, 1.0, 2.0),
             gamma_beta_factors=(0.01, 1.0), gamma_alpha_factors=(0.01,), kappas=(1, 2), ps=(32, 64))
# Without data the p-bit term (docs/PROOFS.md step P) cannot be predicted: p < 64 points are +inf,
# p = 64 (nothing rounded) charges 0. These statistics-only plans therefore include p = 64.


def _plan(**kw):
    grid = PlanGrid(**{**SMALL, **kw})
    return make_plan(grid, PlanData(name="stats", d=D, m=M, s=S, n_in=D, margin_risk=0.2), target=0.5, workers=1)


def test_n_points_is_the_size_of_the_declared_product():
    plan = _plan()
    g = plan.grid
    expected = 0
    for beta in g.betas:  # per beta: init x t x gamma x eps x kappa x p
        nt = len({*[float(t_star(a, beta, S, 2)) for a in g.alphas],
                  *[f * float(t_star(0.5, beta, S, 2)) for f in g.t_factors]})
        ng = len({f * beta**2 for f in g.gamma_beta_factors} | {f * 0.5 for f in g.gamma_alpha_factors})
        expected += len(g.inits) * nt * ng * len(g.epss) * len(g.kappas) * len(g.ps)
    assert plan.n_points == expected
    assert np.all(plan.columns["gamma"] > 0) and np.all(plan.columns["t"] > 0)


def test_union_bound_price_is_upsilon_at_delta_over_n():
    plan = _plan()
    c, n = plan.columns, plan.n_points
    # eq. 7 written out here: Upsilon = sqrt((kappa p d ln 2 + ln(N/delta)) / 2m)
    ref = np.sqrt((c["kappa"] * c["p"] * D * math.log(2) + math.log(n / 0.05)) / (2 * M))
    np.testing.assert_allclose(c["upsilon"], ref, rtol=1e-14)
    i = int(top_indices(plan, 1)[0])
    naive = math.sqrt((c["kappa"][i] * c["p"][i] * D * math.log(2) + math.log(1 / 0.05)) / (2 * M))
    assert union_price(plan, i) == pytest.approx(ref[i] - naive, rel=1e-12)
    assert union_price(plan, i) > 0
    # a larger grid pays more: N doubles when the eps grid does
    bigger = _plan(epss=(1e-3, 2e-3, 5e-3, 1e-2))
    assert bigger.n_points == 2 * n
    assert union_price(bigger, 0) > union_price(plan, 0)


def test_plan_terms_agree_with_bound_terms_at_the_chosen_point():
    plan = _plan()
    c = plan.columns
    for i in top_indices(plan, 3):
        r = plan.row(int(i))
        ref = bound_terms(d=D, m=M, depth=r["depth"], kappa=r["kappa"], p=r["p"], delta=0.05 / plan.n_points,
                          eps=r["eps"], beta=r["beta"], gamma=r["gamma"], rho=r["rho"], s=S, t=r["t"], workers=1,
                          precision=0.0 if r["p"] == 64 else None)
        for k in ("upsilon", "deviation", "precision", "a_priori", "u", "v", "Delta"):
            assert c[k][i] == pytest.approx(float(ref[k]), rel=1e-12), k
        assert c["bound"][i] == pytest.approx(0.2 + float(ref["a_priori"]), rel=1e-12)
    # the chosen point is the minimum over its trained network's points
    i = int(top_indices(plan, 1)[0])
    same = c["group"] == c["group"][i]
    assert c["bound"][i] == c["bound"][same].min() == c["bound"].min()
    assert np.all(c["bound"][c["p"] < 64] == np.inf)  # no data: the p-bit term is not predicted


def test_eps_frontier_is_monotone_and_consistent():
    plan = _plan(epss=(1e-3, 1e-2, 1e-1))
    best, largest = eps_frontier(plan)[2]
    bounds = plan.columns["bound"][best]
    assert np.all(np.diff(bounds) >= 0)  # the deviation term grows with eps, the rest does not depend on it
    ok = [plan.columns["eps"][i] for i in best if plan.columns["bound"][i] < 0.5]
    assert largest == (max(ok) if ok else None)


def test_margin_risk_table_counts_strictly_below_gamma():
    rng = np.random.default_rng(0)
    z = np.round(rng.standard_normal((7, 500)), 2)  # many ties, some exactly at a gamma
    gammas = np.array([0.5, -0.1, 0.0, 2.0, 0.5, 0.25])
    ref = np.array([[np.mean(row < g) for g in gammas] for row in z])
    np.testing.assert_array_equal(margin_risk_table(z, gammas), ref)


def test_eps_grid():
    assert eps_grid(0.1) == (0.001, 0.00215443, 0.00464159, 0.01, 0.0215443, 0.0464159, 0.1)
    assert eps_grid(0.001) == (0.001,)
    assert eps_grid(0.0005) == (0.0005,)


def test_twin_margin_risk_matches_a_trained_eps0_run(tmp_path):
    from nlbound.data import load_dataset
    from nlbound.planning.twin import twin_margins, twin_weights
    from nlbound.training import RunOptions, TrainConfig, train

    ds = load_dataset("synthetic", 4)
    beta, width = 0.2, 8
    grid = PlanGrid(betas=(beta,), epss=(1e-3,), inits=("default",), alphas=(0.5,), t_factors=(0.05, 0.2, 0.6),
                    gamma_beta_factors=(1.0,), gamma_alpha_factors=(0.1,), kappas=(2,), ps=(32,), width=width)
    plan = make_plan(grid, PlanData.from_dataset(ds), workers=1)
    c = plan.columns
    gammas = tuple(sorted(set(c["gamma"])))
    t_plan = tuple(sorted(set(c["t"])))
    cfg = TrainConfig(dataset="synthetic", size=4, width=width, eps=0.0, beta=beta, t_end=max(t_plan), times=t_plan,
                      gammas=gammas, dtype="float64", rtol=1e-9, atol=1e-14)
    res = train(cfg, ds, RunOptions(out_dir=tmp_path / "run"))
    v = twin_weights(ds.x_train, ds.y_train, 2, width, beta, "default", 0, np.asarray(t_plan))
    z = twin_margins(ds.x_train, ds.y_train, v)
    seen = []
    for k, t in enumerate(t_plan):
        row = int(np.argmin(np.abs(res.trace["t"] - t)))
        assert res.trace["t"][row] == pytest.approx(t, rel=1e-12)
        for g in gammas:
            i = np.flatnonzero((c["t"] == t) & (c["gamma"] == g))
            predicted = float(c["margin_risk"][i[0]])
            realised = float(res.trace[f"train_margin_risk@{g:.6g}"][row])
            near = np.count_nonzero(np.abs(z[k] - g) <= 1e-6 * max(1.0, abs(g)))  # could flip by rounding
            assert abs(predicted - realised) * ds.m <= near, (t, g)
            seen.append(predicted)
    assert len(set(seen)) > 3  # the margin risk does change with t and gamma: not a vacuous check


def _cli(capsys, *argv):
    rc = cli_main(["plan", *argv])
    return rc, capsys.readouterr()


_STATS = {"--d": "49", "--m": "60000", "--s": "0.633", "--margin-risk": "0.2", "--p": "32,64", "--beta": "0.001,0.01",
          "--alpha": "0.5", "--t-factors": "0.5,1", "--gamma-beta": "0.1,1", "--gamma-alpha": "0.01"}


def stats(*extra: str) -> list[str]:
    """Argv for a small plan on given statistics; flags in `extra` (pairs) replace the defaults."""
    given = dict(zip(extra[::2], extra[1::2], strict=False))
    out = [x for k, v in _STATS.items() if k not in given for x in (k, v)]
    return out + [x for k, v in given.items() for x in (k, v)]


STATS = stats()


def test_cli_json_rows_carry_n_points_and_every_choice(capsys, tmp_path):
    rc, out = _cli(capsys, *STATS, "--eps-max", "0.01", "--top", "2", "--json", "--plot", str(tmp_path / "h.png"))
    assert rc == 0, out.err
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert [r["kind"] for r in rows].count("top") == 2
    n = rows[0]["n_points"]
    assert n == 2 * 2 * 2 * 3 * 4 * 2 * 2  # beta x init x t (t*_0.5 counted once) x gamma x eps x kappa x p
    for r in rows:
        assert r["n_points"] == n and r["delta_point"] == pytest.approx(0.05 / n)
        for k in ("beta", "eps", "gamma", "t", "kappa", "p", "upsilon", "deviation", "pred_margin_risk", "pred_bound"):
            assert r[k] is not None, k
        if r["pred_bound"] is not None:
            assert r["pred_bound"] == pytest.approx(r["pred_margin_risk"] + r["upsilon"] + r["deviation"]
                                                    + r["precision"], rel=1e-12)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_table_says_what_is_predicted(capsys):
    rc, out = _cli(capsys, *STATS, "--eps", "0.001")
    assert rc == 0, out.err
    assert "N = 96 grid points" in out.out and "GIVEN (--margin-risk" in out.out
    assert "largest eps with a predicted bound < 0.5: eps = 0.001" in out.out


def test_cli_plans_the_linear_net_at_eps_0(capsys):
    """eps has the theory's range [0, 1] in the plan too: at eps = 0 the deviation term is exactly 0, so
    kappa = 1 (the smaller Upsilon) is the best point, and eps = 0 is never worse than eps = 0.001."""
    rc, out = _cli(capsys, *STATS, "--eps", "0,0.001", "--json")
    assert rc == 0, out.err
    rows = [json.loads(line) for line in out.out.splitlines()]
    best = {r["eps"]: r for r in rows if r["kind"] == "eps"}
    assert best[0.0]["deviation"] == 0.0 and best[0.0]["kappa"] == 1
    assert best[0.0]["pred_margin_risk"] + best[0.0]["upsilon"] <= \
        best[0.001]["pred_margin_risk"] + best[0.001]["upsilon"] + best[0.001]["deviation"]


@pytest.mark.parametrize("argv, message", [
    (["--eps", "1.5"], "--eps == 1.5, must be in [0, 1]"),  # the theory's range: eps = 0 is planned too
    (["--eps", "-0.1"], "--eps == -0.1, must be in [0, 1]"),
    (["--eps-max", "0"], "--eps-max == 0, must be in (0, 1]"),
    (["--kappa", "3"], "--kappa == 3, must be one of 1, 2"),
    (["--p", "8"], "--p == 8, must be one of 16, 32, 64"),
    (["--beta", "-1"], "--beta == -1, must be in (0, inf)"),
    (["--init", "orthogonal"], "--init == 'orthogonal', must be one of default, rank_one"),
    (["--depth", "1"], "--depth == 1, must be in [2, 64]"),
    (["--top", "0"], "--top == 0, must be in [1, inf)"),
    (["--seed", "-1"], "--seed == -1, must be in [0, inf)"),
    (["--size", "5"], "--size == 5, must be one of 1, 2, 4, 7, 14, 28"),
    (["--gamma-alpha-of", "1"], "--gamma-alpha-of == 1, must be in (0, 1)"),
    (["--beta", "x"], "--beta == 'x', must be a number"),
    (["--delta", "0.05,0.1"], "--delta == '0.05,0.1', must be a single number"),
    (["--delta", "1"], "--delta == 1, must be in (0, 1)"),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, argv, message):
    rc, out = _cli(capsys, *stats(*argv))
    assert rc == 2
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.err


def test_cli_output_paths_are_checked_before_any_work(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    rc, out = _cli(capsys, *STATS, "--plot", str(tmp_path / "file" / "h.png"))
    assert rc == 2 and out.err.count("\n") == 1 and "--plot ==" in out.err and "is a file" in out.err
    rc, out = _cli(capsys, *STATS, "--plot", str(tmp_path))
    assert rc == 2 and "is a directory, not a file" in out.err


def test_cli_data_flags_must_come_together(capsys):
    rc, out = _cli(capsys, "--d", "49", "--m", "60000", "--s", "0.6")
    assert rc == 2 and "--margin-risk == None, must be given with --d --m --s" in out.err
    rc, out = _cli(capsys, *STATS, "--verify", "1")
    assert rc == 2 and "--verify == 1, must be 0" in out.err
    rc, out = _cli(capsys, *stats("--margin-risk", "1.5"))
    assert rc == 2 and "--margin-risk == 1.5, must be in [0, 1]" in out.err


def test_cli_none_leaves_a_family_out(capsys):
    rc, out = _cli(capsys, *stats("--gamma-alpha", "none", "--alpha", "none"), "--json", "--top", "1")
    assert rc == 0, out.err
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert rows[0]["n_points"] == 2 * 2 * 2 * 2 * 1 * 2 * 2  # gamma in {0.1, 1} beta^2 only, t in {0.5, 1} t*
    rc, out = _cli(capsys, *stats("--gamma-alpha", "none", "--gamma-beta", "none"))
    assert rc == 2 and "--gamma-beta == (), must be non-empty when gamma_alpha_factors is empty" in out.err


def test_verify_trains_the_planned_network_and_evaluates_theorem_5_2_there(tmp_path):
    from nlbound.data import load_dataset
    from nlbound.planning.verify import verify

    ds = load_dataset("synthetic", 4)
    grid = PlanGrid(betas=(0.2,), epss=(0.01,), inits=("default",), alphas=(0.5,), t_factors=(0.3,),
                    gamma_beta_factors=(1.0,), gamma_alpha_factors=(0.1,), kappas=(2,), ps=(32,), width=8)
    plan = make_plan(grid, PlanData.from_dataset(ds), workers=1)
    i = top_indices(plan, 1)
    (r,) = verify(plan, i, dataset="synthetic", size=4, cache_dir=tmp_path / "runs", processes=1)
    c = plan.columns
    assert r["t"] == c["t"][i[0]] and r["gamma"] == c["gamma"][i[0]]
    # same a-priori terms: the run measures the same rho on the same W1(0) as the plan computed
    assert r["realised_upsilon"] == pytest.approx(c["upsilon"][i[0]], rel=1e-14)
    assert r["realised_deviation"] == pytest.approx(c["deviation"][i[0]], rel=1e-12)
    assert r["realised_bound"] == pytest.approx(r["realised_margin_risk"] + r["realised_upsilon"]
                                                + r["realised_deviation"] + r["realised_precision"], rel=1e-14)
    assert 0 < r["realised_precision"] < np.inf  # the trained run's own p-bit term (p = 32)
    assert abs(r["realised_margin_risk"] - r["margin_risk"]) < 0.02  # the twin predicts the eps = 0.01 net
    (again,) = verify(plan, i, dataset="synthetic", size=4, cache_dir=tmp_path / "runs", processes=1)
    assert again["run"] == r["run"] and again["realised_bound"] == r["realised_bound"]  # cached, not retrained
    other = make_plan(grid, PlanData.from_dataset(load_dataset("synthetic", 4, seed=1)), workers=1)
    with pytest.raises(ValueError, match="trained on other data than the plan's"):
        verify(other, top_indices(other, 1), dataset="synthetic", size=4, cache_dir=tmp_path / "runs", processes=1)


def test_kl_form_plan_agrees_with_bound_terms_and_never_above_closed():
    """make_plan(form="kl"): every point's bound is bound_terms(form="kl") at the plan's delta/N and
    predicted margin risk, and never above the closed form's; its union price is the kl term at
    delta/N minus the one at delta (same q), positive."""
    closed = make_plan(PlanGrid(**SMALL), PlanData(name="stats", d=D, m=M, s=S, n_in=D, margin_risk=0.2), workers=1)
    kl = make_plan(PlanGrid(**SMALL), PlanData(name="stats", d=D, m=M, s=S, n_in=D, margin_risk=0.2), workers=1,
                   form="kl")
    c, h = kl.columns, closed.columns
    assert kl.form == "kl" and np.all(c["bound"] <= h["bound"])
    np.testing.assert_array_equal(c["deviation"], h["deviation"])
    for i in top_indices(kl, 3):
        r = kl.row(int(i))
        ref = bound_terms(D, M, r["depth"], r["kappa"], r["p"], kl.delta_point, r["eps"], r["beta"], r["gamma"],
                          r["rho"], S, r["t"], form="kl", margin_risk=0.2,
                          precision=float(h["precision"][i]) * r["gamma"])  # the closed plan's step-P charge
        assert r["bound"] == pytest.approx(float(ref["bound"]), rel=1e-14)
        assert union_price(kl, int(i)) > 0
    with pytest.raises(ValueError, match="form == 'x', must be one of"):
        make_plan(PlanGrid(**SMALL), PlanData(name="stats", d=D, m=M, s=S, n_in=D, margin_risk=0.2), form="x")


def test_cli_verify_trains_on_the_plans_data_seed(capsys, tmp_path):
    """plan --verify with --data-seed 2 trains its runs on the seed-2 synthetic set, the data the plan
    was computed on (verify refuses a run on other data); --verify used to refuse a seed other than 0."""
    rc, out = _cli(capsys, "--dataset", "synthetic", "--size", "4", "--data-seed", "2", "--beta", "0.2",
                   "--eps", "0.01", "--alpha", "0.5", "--t-factors", "0.3", "--gamma-beta", "1",
                   "--gamma-alpha", "0.1", "--kappa", "2", "--width", "8", "--verify", "1",
                   "--runs", str(tmp_path / "runs"), "--processes", "1", "--json", "--no-progress")
    assert rc == 0, out.err
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert json.loads((run / "run.json").read_text())["data_seed"] == 2
