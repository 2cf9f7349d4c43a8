"""Fig. 11 (beyond the paper, issue 13): Theorem 5.2 and the baseline bounds vs t on runs of Figs 1, 3, 5.

Runs: 7×7 MNIST, L = 2, β = 0.001, ε ∈ {0.001, 0.01} × {default, rank-one} initialisation, seed 0:
the RunSpecs of Figs 1, 3 and 5 that FIG11_RUNS names (taken from the figures' declarations, so the
cached runs are reused). Each bound is evaluated with nlbound.baselines.compare_run at N_TIMES
log-spaced recorded times, t*_0.5 and the theorem's best recorded t (each cached under the run
directory, the PAC-Bayes optimisation included); top row: every bound and f's test risk vs t (log y),
middle row: the same on a linear y in ZOOM, bottom row: the risks.
`fig11(...)` is the entry point for the reproduce pipeline; it never trains a run (it reads the cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nlbound._io import atomic_write_json
from nlbound.analysis.traces import load_run_dir
from nlbound.baselines import CompareSettings, compare_run
from nlbound.baselines.compare import theorem_bound
from nlbound.execution.runner import run_all
from nlbound.paper.figures import Context, build
from nlbound.paper.plotting import FigureData, Panel, render
from nlbound.training import load_run

__all__ = ["FIG11_RUNS", "BOUND_LABELS", "fig11_configs", "curve_times", "theorem_best_time", "bound_curves", "predictor_test_risk",
           "soundness", "figure_data", "fig11"]

# (panel label, figure, that figure's RunSpec label): the runs are taken from the figures'
# declarations (nlbound.paper.figures), so their configs and cache keys are those figures' own
# (seed 0; Fig. 1 declares p = 32 only, Figs 3 and 5 are drawn here at p = 16).
FIG11_RUNS = (("ε=0.001 p=32", "fig1", "β=0.001"), ("ε=0.001 ρ=1 p=16", "fig5", "7×7"),
              ("ε=0.01 p=16", "fig3", "default init p=16"), ("ε=0.01 ρ=1 p=16", "fig3", "ρ=1 p=16"))
# Recorded times per net: N_TIMES log-spaced over the run (the first and the last recorded t > 0)
# plus the ones nearest t*_0.5 and nearest the theorem's best t (4 points). One comparison
# (re-integration + 10,000 Adam steps + 1,000 Monte-Carlo nets on 60,000 points) took 46 s CPU on the
# ε = 0.001 net at t*, measured (98-186 s wall at load 5-10 on the 2 shared cores): 4 points are
# ~3 min CPU per net, inside issue 13's 5 min per net, and fit the session's wall time.
N_TIMES = 2
ZOOM = (0.15, 1.0)  # middle row: linear y range of the non-vacuous bounds and the risks
BOUND_LABELS = {  # name: (legend, color, line style, marker)
    "theorem_5_2": ("Theorem 5.2 (a-priori)", "C0", "-", "o"),
    "linear_counting": ("linear twin, counting ϒ₁", "C1", "--", "s"),
    "network_counting": ("net, p-bit counting", "C2", "-.", "^"),
    "network_vc": ("net, VC (BHLM 2019)", "C3", ":", "v"),
    "spectral_nbs2018": ("spectral PAC-Bayes (NBS 2018)", "C4", "-", "D"),
    "pac_bayes_dr2017": ("PAC-Bayes optimised (DR 2017)", "C5", "--", "x"),
}


def fig11_configs(ctx: Any) -> list[tuple[str, Any]]:
    """(label, TrainConfig) of the four runs: the configs of the RunSpecs FIG11_RUNS names, as the
    figures' builders declare them under ctx (one home: the same cache keys as Figs 1, 3, 5)."""
    names = list(dict.fromkeys(fig for _, fig, _ in FIG11_RUNS))
    specs = {(exp.name, r.label): r.config for exp in build(names, ctx) for r in exp.runs}
    return [(label, specs[(fig, run)]) for label, fig, run in FIG11_RUNS]


def curve_times(t: np.ndarray, n_times: int, t_star: float | None, t_best: float | None = None) -> list[float]:
    """n_times recorded times > 0, log-spaced over the run, plus the recorded times nearest t* and t_best."""
    pos = t[t > 0]
    targets = list(np.geomspace(pos[0], pos[-1], n_times)) + [x for x in (t_star, t_best) if x]
    return sorted({float(pos[np.argmin(np.abs(np.log(pos) - np.log(x)))]) for x in targets})


def theorem_best_time(run_dir, delta: float) -> float:
    """The recorded t > 0 where Theorem 5.2 (compare.theorem_bound: best gamma, kappa) is smallest."""
    run = load_run(run_dir)
    t = run.trace["t"]
    vals = [theorem_bound({k: float(v[j]) for k, v in run.trace.items()}, run.info, delta)["bound"]
            if t[j] > 0 else np.inf for j in range(len(t))]
    return float(t[int(np.argmin(vals))])


def bound_curves(run_dir, times: Sequence[float], settings, *, compare: Callable | None = None,
                 **kw) -> dict[str, np.ndarray]:
    """Every bound (and train/test risk) at each time: arrays keyed by bound name, plus "t"."""
    if compare is None:
        compare = compare_run
    rows = [compare(run_dir, t, settings, **kw) for t in times]
    out = {"t": np.array([r["t"] for r in rows]), "test_risk": np.array([r["test_risk"] for r in rows]),
           "train_risk": np.array([r["train_risk"] for r in rows])}
    for name in BOUND_LABELS:
        out[name] = np.array([r["bounds"][name]["bound"] for r in rows])
        out[f"{name}:predictor_test_risk"] = np.array([predictor_test_risk(r, name) for r in rows])
    return out


def predictor_test_risk(row: dict, name: str) -> float:
    """The test risk of what bound `name` bounds: f for Theorem 5.2, VC and NBS; the linear twin and
    the p-bit rounded net for the counting bounds; the stochastic net Q (100 sampled nets) for DR."""
    inputs = row["bounds"][name].get("inputs") or {}
    for key in ("test_risk_of_predictor", "gibbs_test_error_100_samples"):
        if key in inputs:
            return float(inputs[key])
    return float(row["test_risk"])


def soundness(curves: dict[str, dict[str, np.ndarray]]) -> dict:
    """Count the (run, time) points where each bound is >= the test risk of f and >= the test risk
    of the predictor it bounds (see predictor_test_risk); "baselines" sums every bound but the theorem's."""
    per = {}
    for name in BOUND_LABELS:
        b = np.concatenate([c[name] for c in curves.values()])
        f = np.concatenate([c["test_risk"] for c in curves.values()])
        own = np.concatenate([c[f"{name}:predictor_test_risk"] for c in curves.values()])
        per[name] = {"points": int(b.size), "bound_ge_test_risk_of_f": int(np.sum(b >= f)),
                     "bound_ge_test_risk_of_its_predictor": int(np.sum(b >= own))}
    base = [v for k, v in per.items() if k != "theorem_5_2"]
    total = {k: sum(v[k] for v in base) for k in base[0]}
    return {"runs": list(curves), "per_bound": per, "baselines": total}


def figure_data(curves: dict[str, dict[str, np.ndarray]], note: str = "") -> FigureData:
    """Top row: bounds and f's test risk vs t per run (log y, y = 1 marked); middle row: the same on
    a linear y in [ZOOM] (where the non-vacuous bounds and the risks lie); bottom row: test and train
    risk of f and the Gibbs test risk of DR's stochastic net Q. Only the sampled times are drawn
    (markers, no joining lines: nothing was computed between them); +inf and values above the zoom
    are "^" at the panel's top edge."""
    labels, n = list(curves), len(curves)
    panels = [Panel(lab, ylabel="bound", yscale="log", hlines=[(1.0, "vacuous (1)", "0.5", ":")]) for lab in labels]
    panels += [Panel(f"{lab}: zoom", ylabel="bound", ylim=ZOOM) for lab in labels]
    panels += [Panel(f"{lab}: risk", ylabel="risk", legend="figure") for lab in labels]
    fig = FigureData("fig11", "Fig. 11: Theorem 5.2 vs baseline bounds on the same nets (7×7 MNIST, L=2, β=0.001)",
                     panels, [], ncols=n, note=note)
    for i, lab in enumerate(labels):
        c = curves[lab]
        for row in (0, n):
            for name, (text, color, _, marker) in BOUND_LABELS.items():
                fig.add(row + i, text, c["t"], c[name], color=color, style="none", marker=marker, clip_marker=True)
            fig.add(row + i, "test risk", c["t"], c["test_risk"], color="k", style="none", marker="o")
        fig.add(2 * n + i, "test risk", c["t"], c["test_risk"], color="k", style="none", marker="o")
        fig.add(2 * n + i, "train risk", c["t"], c["train_risk"], color="0.5", style="none", marker="s")
        fig.add(2 * n + i, "Gibbs test risk of Q (DR 2017)", c["t"],
                c["pac_bayes_dr2017:predictor_test_risk"], color="C5", style="none", marker="x")
    return fig


def fig11(cache_dir, out_dir, *, ctx: Any = None, settings: Any = None, n_times: int = N_TIMES, data_dir=None,
          threads: int | None = 1, compare: Callable | None = None, json_path=None) -> dict[str, Path]:
    """Draw Fig. 11 from the run cache (cache_dir/<config key>/) into out_dir/fig11.{png,pdf,csv}, and
    the soundness counts (see `soundness`) with every point's values into json_path (if given).

    Raises FileNotFoundError naming the missing run (train it with `nlbound reproduce fig1 fig3 fig5`)."""
    if settings is None:
        settings = CompareSettings()
    ctx = ctx or Context()
    curves, configs = {}, fig11_configs(ctx)
    for label, config in configs:
        run_dir = Path(cache_dir) / config.key()
        if not (run_dir / "run.json").is_file():
            raise FileNotFoundError(f"fig11 needs the cached run {label!r} ({run_dir}); train it first")
        run = load_run_dir(run_dir)
        times = curve_times(run.t, n_times, run.info.get("t_star_0.5"), theorem_best_time(run_dir, settings.delta))
        kw = {} if compare is not None else {"data_dir": data_dir, "threads": threads}
        curves[label] = bound_curves(run_dir, times, settings, compare=compare, **kw)
    note = ("Bounds at δ = 0.05 each; PAC-Bayes (DR 2017) bounds the stochastic net Q, the linear counting "
            "bound the linear twin, p-bit counting f rounded to p bits; the others bound f. Values > 1 are "
            "vacuous; +∞ (Theorem 5.2 where Δ_κ(t) is infinite) and values above the zoom are drawn as ▲ at the "
            "top edge; only the sampled times are drawn; NBS = 1: β below its grid.")
    paths = render(figure_data(curves, note), out_dir)
    if json_path is not None:
        points = {lab: {k: [float(x) if np.isfinite(x) else None for x in v] for k, v in c.items()}
                  for lab, c in curves.items()}  # None: +inf (Theorem 5.2 where its Δ_κ(t) is infinite)
        paths["json"] = atomic_write_json(Path(json_path), {"soundness": soundness(curves), "n_times": n_times,
                                                             "configs": {lab: cfg.key() for lab, cfg in configs},
                                                             "points": points})
    return paths


def reproduce_fig11(cache_dir, out_dir, *, quick: bool = False, data_dir=None, backend: Any = None,
                    progress: bool = True) -> dict[str, Path]:
    """`nlbound reproduce fig11`: train (or reuse) Fig. 11's four runs with the one runner, then draw
    it from the cache into <out_dir>/figures and write <out_dir>/fig11.json."""
    ctx = Context(quick=quick, data_dir=data_dir)
    run_all([c for _, c in fig11_configs(ctx)], cache_dir, backend=backend, data_dir=data_dir, progress=progress)
    return fig11(cache_dir, Path(out_dir) / "figures", ctx=ctx, data_dir=data_dir, json_path=Path(out_dir) / "fig11.json")
