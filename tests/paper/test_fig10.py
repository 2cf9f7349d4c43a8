"""Fig. 10 and the slack budget (issue 12 items 2-4): horizon, factor identity, CLI, ode series of the figures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nlbound.evaluation import lemmas as LM
from nlbound.analysis.bounds import bound_curve
from nlbound.paper.fig10 import lemma_horizon
from nlbound.paper.figures import BUILDERS
from nlbound.paper.panels import ODE_SUFFIX, PLOTS
from nlbound.paper.plotting import render
from nlbound.theory import bound_terms

from run_fakes import ctx, inputs_of

SEVEN = dict(d=49, m=60000, depth=2, beta=1e-3, rho=3.8433405149843227, s=0.6331852403652786)


@pytest.mark.parametrize("eps", [1e-3, 0.1])
def test_lemma_horizon_is_past_the_last_possible_minimiser(eps):
    """Just after H/1.1 the largest-γ deviation term is ≥ 2 for every κ and form (so no later t can
    minimise eq. 6), and 1% earlier it is < 2 for one of them (the horizon is not needlessly long)."""
    H = lemma_horizon(eps=eps, gamma_max=1.0, **SEVEN)
    T = H / 1.1

    def dev(t, kappa, form):
        return float(bound_terms(kappa=kappa, p=32, delta=0.01, eps=eps, gamma=1.0, t=t, form=form, **SEVEN)
                     ["deviation"])

    assert min(dev(T * 1.001, k, f) for k in (1, 2) for f in ("closed", "ode")) >= 2.0
    assert min(dev(T * 0.99, k, f) for k in (1, 2) for f in ("closed", "ode")) < 2.0


def test_lemma_horizon_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        lemma_horizon(eps=0.1, gamma_max=0.0, **SEVEN)
    with pytest.raises(ValueError, match="no finite horizon"):  # ε = 0: the deviation term is 0 forever
        lemma_horizon(eps=0.0, gamma_max=1.0, **SEVEN)


@pytest.mark.parametrize("seed", range(5))
def test_slack_factors_multiply_to_total_with_ode(seed):
    """The per-link factors multiply to Δ_closed / deviation, also when the ODE values are not
    consistent with eq. 7 (ode.refine's elementwise min fell back for Δ but not for u)."""
    rng = np.random.default_rng(seed)
    dev = {"train": rng.uniform(1e-6, 1), "test": rng.uniform(1e-6, 1)}
    rhs = {k: v * rng.uniform(1, 50) for k, v in dev.items()}
    rhs_d = {k: v * rng.uniform(1, 2) for k, v in rhs.items()}
    phi, U, V, L = rng.uniform(1, 100), rng.uniform(0.01, 1), rng.uniform(0.01, 1), int(rng.integers(2, 5))
    u, v = U * rng.uniform(1, 3), V * rng.uniform(1, 10)
    Delta = phi * v * u ** (L - 1)
    for ode in ((u * 0.9, v * 0.8, phi * v * 0.8 * (u * 0.9) ** (L - 1)), (u * 0.9, v, Delta)):
        f = LM.slack_budget(dev, rhs, rhs_d, phi, U, V, u, v, Delta, L, Delta_ode=ode)
        prod = np.prod([f[k] for k in ("triangle", "mean_x", "uniform", "lemma_u", "lemma_v", "closed_ode")])
        assert prod == pytest.approx(f["total"], rel=1e-12)
        assert f["total"] == pytest.approx(Delta / (dev["train"] + dev["test"]), rel=1e-14)
        assert f["closed_ode"] == pytest.approx(Delta / ode[2], rel=1e-14)


def _series(path: Path) -> dict:
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault((r["panel"], r["series"]), []).append((float(r["x"]), float(r["y"])))
    return out


@pytest.mark.parametrize("name", ["fig1", "fig3", "fig8"])
def test_ode_series_are_below_closed_in_the_figure_csv(tmp_path, name):
    """Every Theorem 5.2 line of Figs. 1, 3, 8 has an "[ode form]" twin at the same t, ≤ it everywhere."""
    exp = BUILDERS[name](ctx(quick=True))
    series = _series(render(PLOTS[name](inputs_of(exp, tmp_path / "runs")), tmp_path / "figs")["csv"])
    twins = [(k, (k[0], k[1][: -len(ODE_SUFFIX) - 1])) for k in series if k[1].endswith(ODE_SUFFIX)]
    assert len(twins) >= 3
    strict = 0
    for ode_key, closed_key in twins:
        o, c = np.array(series[ode_key]), np.array(series[closed_key])
        assert np.array_equal(o[:, 0], c[:, 0])
        assert np.all(o[:, 1] <= c[:, 1]), (name, ode_key)
        strict += int(np.any(o[:, 1] < c[:, 1]))
    if name != "fig1":  # quick Fig. 1 runs at tiny ε: the forms may agree to the last digit there
        assert strict > 0


def test_bound_curve_form_bad_input(tmp_path):
    exp = BUILDERS["fig1"](ctx(quick=True))
    run = next(iter(inputs_of(exp, tmp_path / "runs").runs.values()))
    with pytest.raises(ValueError, match="form"):
        bound_curve(run, exp.bounds[0], form="exact")


def test_reproduce_fig10_quick_cli(tmp_path, capsys):
    """`nlbound reproduce fig10 --quick`: one small synthetic lemma run, computed then reused."""
    from nlbound.cli.main import main

    argv = ["reproduce", "fig10", "--quick", "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "cache"),
            "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "1 computed, 0 cached" in first and "ratios > 1: 0" in first
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / "out" / "figures" / f"fig10.{ext}").stat().st_size > 100
    data = json.loads((tmp_path / "out" / "lemmas.json").read_text())
    (run,) = data["runs"]
    f = run["slack"]["2"]["factors"]
    assert f["closed_ode"] is not None and f["closed_ode"] >= 1.0
    prod = np.prod([f[k] for k in ("triangle", "mean_x", "uniform", "lemma_u", "lemma_v", "closed_ode")])
    assert prod == pytest.approx(f["total"], rel=1e-10)
    cached = list((tmp_path / "cache" / "lemmas").glob("lemmas-*.json"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert main(argv) == 0
    assert "0 computed, 1 cached" in capsys.readouterr().out and cached[0].stat().st_mtime_ns == mtime
    assert not (tmp_path / "out" / "figures" / "fig1.csv").exists()  # fig10 alone draws nothing else


@pytest.mark.parametrize("value", ["0.3", "abc", "0.1,", ""])
def test_reproduce_fig10_bad_lemma_eps_exits_2(tmp_path, capsys, value):
    from nlbound.cli.main import main

    argv = ["reproduce", "fig10", "--quick", "--lemma-eps", value, "--out", str(tmp_path / "o"),
            "--runs", str(tmp_path / "c")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lemma-eps" in err[0] and "0.1" in err[0]
    assert not (tmp_path / "c" / "lemmas").exists()


def test_fig10_configs_select_by_eps():
    from nlbound.paper.fig10 import fig10_configs

    fake = lambda config, ctx: (49, 60000, 3.8433405149843227, 0.6331852403652786)  # noqa: E731
    got = fig10_configs(ctx(), eps=[0.01, 0.4], chain=fake)
    assert [c.eps for _, c in got] == [0.01, 0.4]
    for _, c in got:
        assert c.dtype == "float64" and c.stop_phase3 == 0.0 and c.times[-1] == c.t_end
    with pytest.raises(ValueError, match="eps"):
        fig10_configs(ctx(), eps=[0.3], chain=fake)
