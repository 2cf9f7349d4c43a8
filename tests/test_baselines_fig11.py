"""Fig. 11 (nlbound.experiments.fig11) drawn from a cache of tiny synthetic runs."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from nlbound.experiments import fig11 as F


def test_curve_times_are_recorded_and_include_t_star():
    t = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
    got = F.curve_times(t, 3, 2.1)
    assert set(got) <= set(t[1:].tolist()) and 2.0 in got and got[0] == 0.1 and got[-1] == 10.0


def test_fig11_from_cached_synthetic_runs(tmp_path):
    from nlbound.baselines import CompareSettings, PacBayesSettings
    from nlbound.experiments.figures import Context
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
    paths = F.fig11(cache, tmp_path / "out", ctx=ctx, settings=settings, n_times=2)
    assert paths["png"].stat().st_size > 10_000 and paths["pdf"].is_file()
    with open(paths["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    series = {r["series"] for r in rows}
    assert {text for text, _, _ in F.BOUND_LABELS.values()} | {"test risk", "train risk"} <= series
    test = [float(r["y"]) for r in rows if r["series"] == "test risk"]
    theorem = [float(r["y"]) for r in rows if r["series"] == "Theorem 5.2 (a-priori)"]
    assert len(test) == len(theorem) and all(b >= r for b, r in zip(theorem, test))
    # a second call reads every bound from the cache (one json per run and time)
    assert sum(1 for _ in cache.glob("*/baselines/*.json")) == len(test)
