"""Fig. 11 (nlbound.paper.fig11) drawn from a cache of tiny synthetic runs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from nlbound.paper import fig11 as F


def test_curve_times_are_recorded_and_include_t_star():
    t = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
    got = F.curve_times(t, 3, 2.1)
    assert set(got) <= set(t[1:].tolist()) and 2.0 in got and got[0] == 0.1 and got[-1] == 10.0
    assert F.curve_times(t, 2, 2.1, 0.6) == [0.1, 0.5, 2.0, 10.0]  # + the theorem's best t


def test_fig11_from_cached_synthetic_runs(tmp_path):
    from nlbound.baselines import CompareSettings, PacBayesSettings
    from nlbound.paper.figures import Context
    from nlbound.training import RunOptions, TrainConfig, train

    def make_config(**f):
        return TrainConfig(dataset="synthetic", size=4, width=6, eps=f["eps"], beta=0.05,
                           rank_one=f["rank_one"], t_end=3.0, times=(1.0, 2.0))

    ctx = Context(make_config=make_config, s_of=lambda d, s: 0.5, t_star=lambda *a: 2.0)
    cache = tmp_path / "runs"
    with pytest.raises(FileNotFoundError, match="fig11 needs the cached run"):
        F.fig11(cache, tmp_path / "out", ctx=ctx)
    for _, cfg in F.fig11_configs(ctx):
        train(cfg, options=RunOptions(out_dir=cache / cfg.key(), threads=1))
    settings = CompareSettings(pacbayes=PacBayesSettings(steps=20, batch=100, n_mc=10))
    paths = F.fig11(cache, tmp_path / "out", ctx=ctx, settings=settings, n_times=2,
                    json_path=tmp_path / "fig11.json")
    assert paths["png"].stat().st_size > 10_000 and paths["pdf"].is_file()
    with open(paths["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    series = {r["series"] for r in rows}
    assert {text for text, *_ in F.BOUND_LABELS.values()} | {"test risk", "train risk"} <= series
    test = [float(r["y"]) for r in rows if r["series"] == "test risk" and r["panel_title"].endswith(": risk")]
    def top(r):  # the log-y row (the zoom row repeats it on a linear y)
        return not r["panel_title"].endswith((": risk", ": zoom"))

    assert [float(r["y"]) for r in rows if r["series"] == "test risk" and top(r)] == test
    assert [float(r["y"]) for r in rows if r["series"] == "test risk" and r["panel_title"].endswith(": zoom")] == test
    theorem = [float(r["y"]) for r in rows if r["series"] == "Theorem 5.2 (a-priori)" and top(r)]
    assert len(test) == len(theorem) and all(b >= r for b, r in zip(theorem, test, strict=True))
    # a second call reads every bound from the cache (one json per run and time)
    assert sum(1 for _ in cache.glob("*/baselines/*.json")) == len(test)
    # the soundness counts are recounted here from the CSV (f's test risk) and the cached comparisons
    summary = json.loads(paths["json"].read_text())["soundness"]
    for name, (text, *_) in F.BOUND_LABELS.items():
        ys = [float(r["y"]) for r in rows if r["series"] == text and top(r)]
        got = summary["per_bound"][name]
        assert got["points"] == len(test) == len(ys)
        assert got["bound_ge_test_risk_of_f"] == sum(b >= r for b, r in zip(ys, test, strict=True))
    assert summary["baselines"]["points"] == 5 * len(test)
    # the theorem's best recorded t is one of the drawn times, and no recorded t > 0 gives less
    from nlbound.baselines.compare import theorem_bound
    from nlbound.training import load_run

    run_dir = next(cache.iterdir())
    best = F.theorem_best_time(run_dir, 0.05)
    run = load_run(run_dir)
    rows_t = [{k: float(v[j]) for k, v in run.trace.items()} for j in range(len(run.trace["t"]))]
    vals = {r["t"]: theorem_bound(r, run.info, 0.05)["bound"] for r in rows_t if r["t"] > 0}
    assert vals[best] == min(vals.values())
    rows_json = [json.loads(f.read_text()) for f in cache.glob("*/baselines/*.json")]
    gibbs = [r["bounds"]["pac_bayes_dr2017"] for r in rows_json]
    own = sum(g["bound"] >= g["inputs"]["gibbs_test_error_100_samples"] for g in gibbs)
    assert summary["per_bound"]["pac_bayes_dr2017"]["bound_ge_test_risk_of_its_predictor"] == own


def test_fig11_configs_are_the_figures_own_runs():
    """One home: each Fig. 11 run is the config a figure declares (same object fields, same key)."""
    from nlbound.paper.figures import Context, build

    ctx = Context(make_config=lambda **f: tuple(sorted(f.items())), s_of=lambda d, s: 0.5,
                  t_star=lambda *a: 2.0)
    declared = {(e.name, r.label): r.config for e in build(["fig1", "fig3", "fig5"], ctx) for r in e.runs}
    got = dict(F.fig11_configs(ctx))
    assert len(got) == 4 and set(got.values()) <= set(declared.values())
    fields = {lab: dict(cfg) for lab, cfg in got.items()}
    assert [(f["eps"], f["rank_one"], f.get("p", 32), f["size"], f["init_seed"]) for f in fields.values()] == [
        (1e-3, False, 32, 7, 0), (1e-3, True, 16, 7, 0), (1e-2, False, 16, 7, 0), (1e-2, True, 16, 7, 0)]
