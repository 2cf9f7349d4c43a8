"""Declared experiments, the cached runner, plotting, bounds, claims and report on synthetic traces."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from nlbound.paper import claims as C
from nlbound.paper.crosscheck import crosscheck
from nlbound.analysis import soundness as S
from nlbound.analysis.bounds import bound_curve, optimistic_bound
from nlbound.paper.figures import BUILDERS, build, gammas_for
from nlbound.paper.panels import PLOTS
from nlbound.paper.plotting import draw, render
from nlbound.paper.reproduce import reproduce
from nlbound.execution.runner import run_all
from nlbound.analysis.spec import BoundVariant, Experiment, Output
from nlbound.analysis.traces import Inputs, RunData, load_run_dir
from nlbound.training import TrainConfig

from run_fakes import (
    CountingTrain, ctx, fake_baselines, fake_train, inputs_of, read_json, synthetic_trace, write_run,
)


# --- declarations --------------------------------------------------------------------------------

def test_experiment_hashes_are_stable_and_distinct():
    a = build(["all"], ctx(quick=False))
    b = build(["all"], ctx(quick=False))
    assert [e.key() for e in a] == [e.key() for e in b]
    keys = {e.key() for e in a}
    assert len(keys) == len(BUILDERS)
    quick = {e.key() for e in build(["all"], ctx(quick=True))}
    assert not keys & quick
    e = a[0]
    changed = Experiment(e.name, e.title, e.runs, e.bounds[:-1], quick=e.quick)
    assert changed.key() != e.key()


def test_shared_runs_dedupe_across_figures():
    exps = build(["all"], ctx(quick=False))
    cfgs = [c for e in exps for c in e.configs()]
    keys = {c.key() for c in cfgs}
    assert len(keys) < len(cfgs)  # e.g. fig1 beta=1e-3 is fig2's run and fig7's (beta, eps) = (1e-3, 1e-3)
    f1, f2 = build(["fig1", "fig2"], ctx(quick=False))
    assert f2.runs[0].config.key() in {r.config.key() for r in f1.runs}


def test_every_bound_gamma_is_recorded():
    for e in build(["all"], ctx(quick=False)):
        for r in e.runs:
            gs = {f"{g:.6g}" for g in r.config.gammas}
            assert {f"{v.gamma(r.config.beta):.6g}" for v in e.bounds} <= gs
            assert {f"{g:.6g}" for g in e.optimistic_gammas} <= gs
    assert len(gammas_for(1e-3)) == len(set(gammas_for(1e-3)))


def test_unknown_figure_is_a_value_error():
    with pytest.raises(ValueError, match="fig10.*must be one of all, fig1"):
        build(["fig10"], ctx())


@pytest.mark.parametrize("kw,match", [
    (dict(kappa=3), "kappa == 3, must be one of 1, 2"), (dict(delta=1.0), r"delta == 1, must be in \(0, 1\)"),
    (dict(gamma_rule="beta"), "gamma_rule == 'beta', must be one of beta2, alpha, fixed"),
    (dict(q=0.0), "q == 0"), (dict(terms="none"), "terms == 'none'"), (dict(alpha=float("nan")), "alpha == nan"),
])
def test_bound_variant_constraints(kw, match):
    with pytest.raises(ValueError, match=match):
        BoundVariant("v", **kw)


def test_output_and_figures_names():
    from nlbound.paper.figures import FIGURES

    assert FIGURES == ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig6b", "fig7", "fig8", "fig9")
    with pytest.raises(ValueError, match=r"processes == 0, must be in \[1, 64\]"):
        Output(processes=0)


# --- runner --------------------------------------------------------------------------------------

def _configs(n: int) -> list[TrainConfig]:
    return [TrainConfig(beta=1e-3 * (i + 1), t_end=5.0, gammas=(1e-2,)) for i in range(n)]


def test_runner_caches_and_dedupes(tmp_path):
    cfgs = _configs(3)
    fake = CountingTrain()
    dirs = run_all(cfgs + cfgs[:1], tmp_path, train_fn=fake, processes=1, progress=False)
    assert len(fake.calls) == 3 and len(dirs) == 3
    assert all((d / "trace.csv").exists() and (d / "runner.json").exists() for d in dirs.values())
    again = CountingTrain()
    run_all(cfgs, tmp_path, train_fn=again, processes=1, progress=False)
    assert again.calls == []


def test_interrupted_sweep_resumes(tmp_path):
    cfgs = _configs(4)
    broken = CountingTrain(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_all(cfgs, tmp_path, train_fn=broken, processes=1, progress=False)
    assert len(list(tmp_path.iterdir())) == 2  # two finished runs, no half-written one
    resumed = CountingTrain()
    run_all(cfgs, tmp_path, train_fn=resumed, processes=1, progress=False)
    assert len(resumed.calls) == 2 and set(resumed.calls).isdisjoint(broken.calls[:2])
    assert broken.calls[2] in resumed.calls


def test_runner_parallel_processes(tmp_path):
    cfgs = _configs(3)
    dirs = run_all(cfgs, tmp_path, train_fn=fake_train, processes=2, progress=False)
    assert all((d / "run.json").exists() for d in dirs.values())


def test_interrupted_parallel_sweep_raises_cleanly_and_resumes(tmp_path):
    from run_fakes import interrupting_train

    cfgs = _configs(3)
    bad = cfgs[0].replace(eps=0.5)
    with pytest.raises(KeyboardInterrupt):
        run_all([bad, *cfgs], tmp_path, train_fn=interrupting_train, processes=2, progress=False)
    dirs = run_all(cfgs, tmp_path, train_fn=fake_train, processes=2, progress=False)
    assert all((d / "run.json").exists() for d in dirs.values())


# --- bounds --------------------------------------------------------------------------------------

def _one_run(tmp_path, **kw) -> RunData:
    cfg = TrainConfig(t_end=20.0, gammas=gammas_for(1e-3), **kw)
    write_run(cfg, tmp_path)
    return load_run_dir(tmp_path)


def test_theorem_bound_matches_bound_terms(tmp_path):
    from nlbound.theory import bound_terms

    from nlbound.theory.precision import precision_allowance

    run = _one_run(tmp_path, eps=0.01, p=16)
    v = BoundVariant("x", kappa=2, p=16, gamma_rule="beta2", q=10.0)
    c = bound_curve(run, v)
    gamma = 1e-3**2 / 10
    tr = run.trace
    test, train = precision_allowance(2, 49, tr["prox_dv"], tr["prox_dv_range"], tr["prox_dv_perp"],
                                      tr["prox_nlip"], tr["prox_r"])
    ref = bound_terms(d=49, m=60000, depth=2, kappa=2, p=16, delta=0.05, eps=0.01, beta=1e-3, gamma=gamma,
                      rho=5.0, s=0.6, t=run.t, precision=test + train)
    margin = run.trace[f"train_margin_risk@{gamma:.6g}"]
    np.testing.assert_allclose(c["precision"], (test + train) / gamma)
    np.testing.assert_allclose(c["bound"], margin + ref["upsilon"] + ref["deviation"] + ref["precision"])
    np.testing.assert_allclose(c["bound_as_printed"], margin + ref["upsilon"] + ref["deviation"])
    no_up = bound_curve(run, BoundVariant("y", p=16, q=10.0, terms="no_upsilon"))
    np.testing.assert_allclose(no_up["bound"], margin + ref["deviation"] + ref["precision"])
    with pytest.raises(ValueError, match="run's p == 16"):  # Υ must count the proxies the run rounded
        bound_curve(run, BoundVariant("z", p=32, q=10.0))
    # a minimum over t and variants is priced: each point at delta / n (union_delta)
    from nlbound.analysis.bounds import priced_minimum
    best = priced_minimum(run, [v, BoundVariant("w", p=16, q=1.0)])
    n = int(np.sum(run.t > 0)) * 2
    assert best["n"] == n and best["price"] > 0
    assert best["B"] == pytest.approx(float(np.nanmin(np.where(run.t > 0, np.minimum(
        bound_curve(run, v, n_searched=n)["bound"],
        bound_curve(run, BoundVariant("w", p=16, q=1.0), n_searched=n)["bound"]), np.inf))))


def test_optimistic_bound_direct(tmp_path):
    run = _one_run(tmp_path, eps=0.1)
    g = 1e-2
    tr = run.trace
    for proxy in ("g1", "g2", "glin"):
        got = optimistic_bound(run, proxy, g)["bound"]
        for k in range(len(run.t)):  # eq. 41 term by term at each recorded time
            want = (tr["train_margin_risk@0.01"][k] + tr[f"{proxy}_test_cmr@0.01"][k]
                    - tr[f"{proxy}_train_cmr@0.01"][k] + (tr[f"{proxy}_test_dev"][k] + tr[f"{proxy}_train_dev"][k]) / g)
            assert got[k] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="proxy"):
        optimistic_bound(run, "g3", g)


# --- plotting ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PLOTS))
def test_each_figure_renders_png_pdf_csv(tmp_path, name):
    exp = BUILDERS[name](ctx(quick=True))
    paths = render(PLOTS[name](inputs_of(exp, tmp_path / "runs")), tmp_path / "figs")
    for ext in ("png", "pdf", "csv"):
        assert paths[ext].exists() and paths[ext].stat().st_size > 100
    header = paths["csv"].read_text().splitlines()[0]
    assert header == "panel,panel_title,series,x,y"


BOUND_FIGS = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig8", "fig9"]


@pytest.mark.parametrize("name", BOUND_FIGS)
def test_bound_panels_are_linear_0_1_and_csv_unclipped(tmp_path, name):
    exp = BUILDERS[name](ctx(quick=True))
    fig = PLOTS[name](inputs_of(exp, tmp_path / "runs"))
    bound_panels = [i for i, p in enumerate(fig.panels) if "bound" in p.ylabel]
    assert bound_panels
    mfig = draw(fig)
    try:
        axes = mfig.axes
        for i in bound_panels:
            ax = axes[i]
            lo, hi = ax.get_ylim()
            assert ax.get_xscale() == "log"
            if "(log)" in ax.get_ylabel():  # Fig. 4 rows with nothing below 1, Fig. 6 (L >= 3), Fig. 8 (Thm 5.2)
                assert name in ("fig4", "fig6", "fig8") and ax.get_yscale() == "log" and lo <= 0.05 and hi >= 10
            else:
                assert ax.get_yscale() == "linear"
                assert lo == 0.0 and 1.0 <= hi <= 1.1 and "clipped" in ax.get_ylabel()
            if name != "fig8" and name != "fig9":
                assert any(line.get_ydata()[0] == 0.5 for line in ax.get_lines())  # random guess
    finally:
        import matplotlib.pyplot as plt
        plt.close(mfig)
    with open(render(fig, tmp_path / "figs")["csv"], newline="") as f:
        rows = [r for r in csv.DictReader(f) if "line:" not in r["series"] and not r["series"].startswith("band:")]
    assert len(rows) == sum(len(ln.x) for ln in fig.lines)  # every point, none dropped
    drawn_max = max(float(np.nanmax(ln.y)) for ln in fig.lines if ln.panel in bound_panels)
    csv_max = max(float(r["y"]) for r in rows if int(r["panel"]) in bound_panels)
    assert csv_max == pytest.approx(drawn_max)  # unclipped


def test_bound_values_above_the_top_stay_in_the_csv(tmp_path):
    exp = BUILDERS["fig1"](ctx(quick=True))
    fig = PLOTS["fig1"](inputs_of(exp, tmp_path / "runs"))
    fig.lines[-1].y = fig.lines[-1].y * 0 + 1e30  # a bound that exploded
    rows = render(fig, tmp_path / "figs")["csv"].read_text().splitlines()
    assert any(r.endswith(",1e+30") for r in rows)


def test_fig4_four_columns_and_fig6_errata_note(tmp_path):
    f4 = PLOTS["fig4"](inputs_of(BUILDERS["fig4"](ctx(quick=True)), tmp_path / "a"))
    assert f4.ncols == 4 and [p.title.split(": ")[1] for p in f4.panels[:4]] == \
        ["full bound", "without ϒ_κ", "without Δε^κ/γ", "the two terms"]
    f6 = PLOTS["fig6"](inputs_of(BUILDERS["fig6"](ctx(quick=True)), tmp_path / "b"))
    assert "ERRATA 8" in f6.note


# --- claims --------------------------------------------------------------------------------------

def _fig(name: str, tmp_path: Path, traces: dict | None = None) -> dict[str, Inputs]:
    exp = BUILDERS[name](ctx(quick=False))
    inp = inputs_of(exp, tmp_path)
    for label, fn in (traces or {}).items():
        run = inp.runs[label]
        inp.runs[label] = RunData(fn(dict(run.trace)), run.info)
    return {name: inp}


def test_c8_holds_and_fails(tmp_path):
    figs = _fig("fig7", tmp_path / "a")
    assert C.c8(figs).holds is True

    def bump(tr):
        tr["train_loss_X"] = tr["train_loss_X"].copy()
        tr["train_loss_X"][-1] = tr["train_loss_X"][0] * 1.01  # L_X rises above L_X(0)
        return tr

    label = BUILDERS["fig7"](ctx(quick=False)).main_runs()[-1].label
    bad = _fig("fig7", tmp_path / "b", {label: bump})
    cl = C.c8(bad)
    assert cl.holds is False and cl.measured["min_relative_decrease"][label] == pytest.approx(-0.01, rel=1e-3)


def test_c1_and_soundness_on_known_traces(tmp_path):
    figs = _fig("fig1", tmp_path / "a")  # synthetic margin risk ~0.13 at the end; beta=0.1 deviation huge?
    cl = C.c1(figs)
    assert cl.holds is (all(v["B"] < 0.5 for v in cl.measured.values()))
    # make every margin risk 1: the bound can't be < 0.5, C1 fails
    ones = {r.label: (lambda tr: {k: (np.ones_like(v) if k.startswith("train_margin_risk") else v)
                                  for k, v in tr.items()})
            for r in BUILDERS["fig1"](ctx(quick=False)).runs}
    assert C.c1(_fig("fig1", tmp_path / "b", ones)).holds is False
    figs = _fig("fig1", tmp_path / "c")
    sound = S.soundness(figs)
    n_runs = len(BUILDERS["fig1"](ctx(quick=False)).runs)  # 6 β × 3 seeds + the GD cross-check
    assert n_runs == 19 and sound["theorem"]["total"] == n_runs * 3 == sound["theorem"]["sound"]

    def exact(tr):  # proxies equal to f: no deviation, nothing to violate
        return {k: (np.zeros_like(v) if k.endswith("_dev") else v) for k, v in tr.items()}

    labels = [r.label for r in BUILDERS["fig1"](ctx(quick=False)).runs]
    links = S.deviation_soundness(_fig("fig1", tmp_path / "d", dict.fromkeys(labels, exact)))
    assert links["total"]["curves"] == 2 * n_runs and links["total"]["points"] > 0  # every run × κ
    assert links["total"]["violations"] == 0

    def blow(tr):
        tr = exact(tr)
        tr["g2_train_dev"] = tr["g2_train_dev"] + 1.0  # far above Δε² + the p-bit allowance
        return tr

    bad = S.deviation_soundness(_fig("fig1", tmp_path / "e", {**dict.fromkeys(labels, exact), "β=0.001": blow}))
    row = next(r for r in bad["runs"] if r["run"] == "β=0.001" and r["kappa"] == 2)
    # every recorded t of that run's κ = 2 training-set link where the allowance is below 1 (late t: Δ explodes)
    assert 0 < bad["total"]["violations"] == row["train_violations"] <= row["points"]


def test_c3_criterion_and_strict_ratio(tmp_path):
    cl = C.c3(_fig("fig2", tmp_path))
    m = cl.measured
    assert cl.holds is bool(m["kappa1_vacuous_where_kappa2_not"] and m["deviation_ratio_k1_over_k2"] >= 10)
    assert cl.strict["measured"]["ratio"] > 0 and cl.strict["holds"] is (cl.strict["measured"]["ratio"] >= 2)


def test_c9_phases_hold_and_fail(tmp_path):
    figs = _fig("fig8", tmp_path / "a")
    cl = C.c9(figs)
    assert cl.measured["g2"]["points"] > 0
    # g2 deviation tiny -> bound ~ margin risk < 0.5 in phase 2; g1 deviation 100x larger
    assert cl.holds is True

    def blow_g2(tr):
        tr["g2_test_dev"] = np.full_like(tr["t"], 10.0)
        return tr

    assert C.c9(_fig("fig8", tmp_path / "b", {"ε=0.1": blow_g2})).holds is False


def test_claims_not_evaluated_without_their_figure():
    cls = C.evaluate_claims({})
    assert [c.id for c in cls] == [f"C{i}" for i in range(1, 11)]
    assert all(c.holds is None for c in cls)


# --- end to end with a fake trainer --------------------------------------------------------------

def test_reproduce_end_to_end_with_fake_trainer(tmp_path):
    out, cache = tmp_path / "results", tmp_path / "runs"
    res = reproduce(["fig2", "fig7", "fig8"], Output(str(out), str(cache), processes=1, progress=False),
                    quick=True, ctx=ctx(quick=True), train_fn=fake_train, baselines_fn=fake_baselines,
                    report_path=tmp_path / "REPRODUCTION.md", preamble="# draft\n")
    for name in ("fig2", "fig7", "fig8"):
        assert (out / "figures" / f"{name}.png").exists()
    payload = read_json(out / "claims.json")
    assert [c["id"] for c in payload["claims"]] == [f"C{i}" for i in range(1, 11)]
    assert payload["meta"]["trained"] == res.meta["trained"] > 0
    md = (tmp_path / "REPRODUCTION.md").read_text()
    assert md.startswith("# draft") and "results/figures/fig2.png" in md and "| C8 |" in md
    # second invocation: everything from the cache
    res2 = reproduce(["fig2"], Output(str(out), str(cache), processes=1, progress=False), quick=True,
                     ctx=ctx(quick=True), train_fn=CountingTrain(interrupt_at=1), baselines_fn=fake_baselines)
    assert res2.meta["trained"] == 0
    assert (out / "soundness.json").exists() and read_json(out / "soundness.json")["total"]["violations"] >= 0
    # --from-cache: fig2 is cached and drawn, fig7 of another cache is skipped and nothing is trained
    res3 = reproduce(["fig2", "fig4"], Output(str(tmp_path / "o3"), str(cache), processes=1, progress=False),
                     quick=True, ctx=ctx(quick=True), train_fn=CountingTrain(interrupt_at=1),
                     baselines_fn=fake_baselines, from_cache=True)
    assert res3.meta["trained"] == 0 and res3.meta["skipped_not_cached"] == ["fig4"]
    assert list(res3.figures) == ["fig2"]


def test_crosscheck_can_be_left_out():
    from nlbound.paper.figures import Context

    with_gd = BUILDERS["fig1"](ctx(quick=False))
    no_gd = BUILDERS["fig1"](Context(quick=False, s_of=lambda d, k: 0.6, crosscheck=False))
    assert with_gd.crosscheck("β=0.001") is not None and no_gd.crosscheck("β=0.001") is None
    assert len(no_gd.runs) == len(with_gd.runs) - 1


def test_synthetic_trace_has_architecture_columns():
    cfg = TrainConfig(gammas=(0.01,))
    tr = synthetic_trace(cfg)
    for col in ("t", "train_risk", "test_risk", "train_loss", "train_loss_X", "train_margin_risk@0.01",
                "g2_test_cmr@0.01", "glin_train_dev"):
        assert col in tr


def test_trace_reader_rejects_non_numbers_instead_of_nan(tmp_path):
    from nlbound.training.rundir import read_trace

    good = tmp_path / "good.csv"
    good.write_text("t,train_risk\n0.0,0.5\n1.0,inf\n")
    assert read_trace(good)["train_risk"].tolist() == [0.5, float("inf")]
    bad = tmp_path / "bad.csv"
    bad.write_text("t,train_risk\n0.0,np.float64(0.5)\n")
    with pytest.raises(ValueError, match="must be a number"):
        read_trace(bad)


def test_seed_band_is_min_max_over_the_shared_recorded_prefix():
    from nlbound.paper.panels import _band
    from nlbound.paper.plotting import FigureData, Panel, figure_rows

    fig = FigureData("x", "t", [Panel("p")], [])
    runs = [RunData({"t": np.arange(n, dtype=float), "y": np.arange(n, dtype=float) * k}, {})
            for n, k in ((5, 1.0), (3, 2.0), (4, -1.0))]  # a stopped run holds a prefix of the times
    _band(fig, 0, runs, lambda r: r.col("y"), "seeds", "g")
    b = fig.bands[0]
    assert b.x.tolist() == [0, 1, 2] and b.lo.tolist() == [0, -1, -2] and b.hi.tolist() == [0, 2, 4]
    rows = figure_rows(fig)
    assert [r[4] for r in rows if r[2] == "band:seeds:max"] == [0, 2, 4]
    _band(fig, 0, [runs[0], RunData({"t": np.arange(5.0) + 1, "y": np.zeros(5)}, {})], lambda r: r.col("y"), "no", "g")
    assert len(fig.bands) == 1  # different recorded times: no band rather than a wrong one


def test_gd_crosscheck_compares_the_two_runs_at_shared_times(tmp_path):
    figs = _fig("fig1", tmp_path / "a")
    exp = figs["fig1"].exp
    gd = exp.crosscheck("β=0.001")
    assert gd.config.integrator == "gd" and gd.config.lr == 1e-3 and gd.config.t_end == exp.run("β=0.001").config.t_end
    out = crosscheck(figs)
    (name, res), = out.items()
    assert "GD" in name and res["common_times"] == len(figs["fig1"].runs["β=0.001"].t)
    assert set(res["max_abs_difference"]) >= {"test_risk", "train_risk"}
    assert all(v >= 0 for v in res["max_abs_difference"].values())
    assert exp.crosscheck("β=0.1") is None and BUILDERS["fig1"](ctx(quick=True)).crosscheck("β=0.001") is None


def test_expected_horizon_and_cost_order_the_long_runs_first():
    from nlbound.paper.figures import PHASE3_MARGIN
    from nlbound.execution.cost import estimated_cost

    c = ctx(quick=False)
    f8 = BUILDERS["fig8"](c).runs[0].config
    f9 = {r.label: r.config for r in BUILDERS["fig9"](c).runs}
    f1 = {r.label: r.config for r in BUILDERS["fig1"](c).runs}
    assert c.expected_horizon(f1["β=0.001"]) == pytest.approx(3.0, rel=1e-2)  # t_end = 3 t* rounded to 3 digits
    assert c.expected_horizon(f8) == pytest.approx(PHASE3_MARGIN * 2.4 / 0.1)  # expected stop, below the 60 t* cap
    assert c.expected_horizon(f9["ε=1"]) == pytest.approx(PHASE3_MARGIN * 2.4)
    cost = {k: estimated_cost(v, c.expected_horizon(v)) for k, v in f1.items()}
    assert cost["β=0.001 GD lr=0.001"] > 30 * cost["β=0.001"]
    assert estimated_cost(f8, c.expected_horizon(f8)) > estimated_cost(f9["ε=1"], c.expected_horizon(f9["ε=1"]))
    assert estimated_cost(f1["β=0.001"]) == estimated_cost(f1["β=0.001"], 3.0)  # sweep's one-argument call


def test_deviation_soundness_separates_excesses_within_the_float_floor(tmp_path):
    """A raw excess smaller than the evaluation floor (the proved float error of the measured column)
    is counted as a violation but not beyond the floor; one larger than the floor counts as both."""
    from nlbound.evaluation.run_bound import deviation_links, evaluation_floor, run_inputs

    def runtime_columns(tr):
        tr = dict(tr)
        for l in (1, 2):
            tr[f"W{l}_spec"], tr[f"twin_W{l}_spec"], tr[f"gap_W{l}_spec"] = (np.full_like(tr["t"], v) for v in (2.0, 2.0, 0.1))
        for k, v in (("W1X", 1.0), ("twin_W1X", 1.0), ("gap_W1X", 0.05)):
            tr[f"{k}_fro_over_sqrt_m"] = np.full_like(tr["t"], v)
        tr["prox_r"] = np.zeros_like(tr["t"])
        return tr

    base = _fig("fig1", tmp_path / "a", {"β=0.001": runtime_columns})["fig1"].runs["β=0.001"]
    lk = deviation_links(base.trace, base.info, 2)
    floor = evaluation_floor(base.trace, base.info, 2, float(np.sqrt(run_inputs(base.info)["d"])))
    assert np.all(floor > 0) and np.all(np.isfinite(floor))
    ok = np.isfinite(lk["train_allowance"]) & (lk["train_allowance"] + 0.5 * floor > lk["train_allowance"])
    for scale, beyond in ((0.5, 0), (2.0, int(ok.sum()))):
        def excess(tr, scale=scale):
            tr = runtime_columns(tr)
            tr["g2_train_dev"] = np.where(ok, lk["train_allowance"] + scale * floor, 0.0)
            return tr

        run = _fig("fig1", tmp_path / f"s{scale}", {"β=0.001": excess})["fig1"].runs["β=0.001"]
        links = S.run_links(run, 2)
        assert links["train_violations"] == int(ok.sum()) > 0
        assert links["train_violations_beyond_floor"] == beyond


def test_reproduce_form_draws_that_form_and_judges_claims_in_the_papers(tmp_path):
    """reproduce(form="kl"): the figures' Theorem 5.2 series are the kl form's (never above the closed
    ones, and below somewhere), the title names the form, soundness.json says which form it checked,
    and the claims are those of the paper's form, unchanged."""
    import csv

    cache = tmp_path / "runs"
    res = {}
    for form in ("closed", "kl"):
        out = tmp_path / form
        res[form] = reproduce(["fig2"], Output(str(out), str(cache), processes=1, progress=False), quick=True,
                              ctx=ctx(quick=True), train_fn=fake_train, baselines_fn=fake_baselines, form=form)
    assert read_json(tmp_path / "kl" / "soundness.json")["form"] == "kl"
    assert res["kl"].meta["form"] == "kl" and res["closed"].meta["form"] == "closed"
    assert res["kl"].soundness["theorem"]["total"] == res["closed"].soundness["theorem"]["total"] > 0
    assert [c.measured for c in res["kl"].claims] == [c.measured for c in res["closed"].claims]
    assert "drawn in the form `kl`" in (tmp_path / "kl" / "REPRODUCTION.md").read_text()
    assert "drawn in the form" not in (tmp_path / "closed" / "REPRODUCTION.md").read_text()

    def series(form):
        with open(tmp_path / form / "figures" / "fig2.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["series"].startswith("κ=")]  # Theorem 5.2's variants
        return {(r["panel"], r["series"], r["x"]): float(r["y"]) for r in rows}

    closed, kl = series("closed"), series("kl")
    assert closed.keys() == kl.keys() and len(kl) > 0
    finite = [k for k in kl if np.isfinite(closed[k])]
    assert all(kl[k] <= closed[k] + 1e-12 for k in finite) and any(kl[k] < closed[k] for k in finite)
