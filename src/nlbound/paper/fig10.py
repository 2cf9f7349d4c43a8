"""Fig. 10: the proof's links as measured/bound ratios along t, and the measured-chain diagnostic.

Runs: the setups of Figs 1, 3 (7×7 MNIST, L = 2, width 64, β = 0.001, ε = 0.001 and 0.01) and of
Figs 8-9 (14×14, ε = 0.1, 0.2, 0.4), built by the figures' own Context (same fields, gammas, rtol),
with three changes: float64 (the sensitivity flow integrates in float64), no phase-3 stop rule, and
a horizon from theory (`lemma_horizon`): a little past the last time at which Theorem 5.2's bound
can still be minimal, since the slack budget is read at the bound-minimising time.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nlbound.analysis.lemma_runs import (
    RATIO_LINKS,
    _params,
    bound_theory,
    cache_path,
    link_ratios,
    run_lemmas,
    tau_grid,
    write_lemmas_json,
)
from nlbound.data import dataset_for
from nlbound.evaluation.run_bound import clamp_rho
from nlbound.networks import frobenius_spectral_ratio, init_weights
from nlbound.paper.figures import Context
from nlbound.paper.plotting import FigureData, Panel, render
from nlbound.theory import bound_terms

__all__ = ["plot_fig10", "measured_chain_curve", "FIG10_RUNS", "QUICK_RUNS", "lemma_horizon", "fig10_configs",
           "fig10"]

# (label, figure whose setup it is, config fields)
FIG10_RUNS = (("7×7 ε=0.001", "fig1", dict(eps=1e-3)), ("7×7 ε=0.01", "fig3", dict(eps=1e-2)),
              ("14×14 ε=0.1", "fig8", dict(size=14, eps=0.1)), ("14×14 ε=0.2", "fig9", dict(size=14, eps=0.2)),
              ("14×14 ε=0.4", "fig9", dict(size=14, eps=0.4)))
QUICK_RUNS = (("synthetic ε=0.1", "fig1", dict(dataset="synthetic", width=16, beta=0.1, eps=0.1)),)
HORIZON_PAST = 1.1  # the lemma run ends 10% past the last time at which the bound can be minimal
N_TIMES = 16  # recorded times > 0, log-spaced over [t_end/100, t_end]


def lemma_horizon(*, d: int, m: int, depth: int, eps: float, beta: float, rho: float, s: float,
                  gamma_max: float, kappas=(1, 2), past: float = HORIZON_PAST) -> float:
    """H = `past` · T, T a time past which Theorem 5.2's bound (eq. 6) cannot be minimal.

    R̂_γ ∈ [0, 1] and Υ_κ do not depend on t, Δ_κ,β is non-decreasing in t and Δε^κ/γ is largest at
    γ_max. T: the first t with Δ_κ,β(T) ε^κ/γ_max ≥ 2 for every κ and form ("closed", "ode"). At any
    t ≥ T and any γ ≤ γ_max the bound is ≥ Υ + 2, while at the first recorded time H/100 it is
    ≤ Υ + 1 + Δ(H/100)ε^κ/γ_max ≤ Υ + 2 (checked here: ValueError otherwise), so for each κ the
    minimiser over the recorded (t, γ) lies in (0, T]. Cheap: theory only."""
    devs = [lambda t, kappa=kappa, form=form: bound_terms(
        d=d, m=m, depth=depth, kappa=kappa, p=32, delta=0.01, eps=eps, beta=beta, gamma=gamma_max, rho=rho, s=s,
        t=t, form=form)["deviation"] for kappa in kappas for form in ("closed", "ode")]
    H = float(f"{past * max(_first_crossing(dev, 2.0) for dev in devs):.3g}")
    first = max(float(dev(np.asarray([H / 100]))[0]) for dev in devs)
    if first > 1.0:
        raise ValueError(f"deviation term {first:.3g} > 1 at the first recorded time {H / 100:.3g}: "
                         "the horizon argument does not apply")
    return H


def _first_crossing(dev, level: float) -> float:
    """First t (on a log grid, 0.5% resolution, rounded up) with dev(t) ≥ level; dev non-decreasing."""
    hi = 1.0
    while float(dev(np.asarray([hi]))[0]) < level:
        hi *= 2.0
        if hi > 1e9:
            raise ValueError(f"deviation term stays below {level} up to t = 1e9: no finite horizon")
    t = np.geomspace(hi / 1e4, hi, 2000)
    return float(t[int(np.argmax(dev(t) >= level))])


def fig10_configs(ctx: Any, *, quick: bool = False, n_times: int = N_TIMES, eps: Sequence[float] | None = None,
                  chain=None) -> list[tuple[str, Any]]:
    """(label, TrainConfig) of the lemma runs: the figure's config (ctx.config of its horizon kind)
    with float64, no stop rule, t_end = lemma_horizon and n_times log-spaced times in [t_end/100, t_end];
    only the runs with ε in `eps` when given (an ε not among them: ValueError).
    chain(config) -> (d, m, rho, s) of the run (default: the dataset and init, measured)."""
    chain = chain or _chain_params
    runs = QUICK_RUNS if quick else FIG10_RUNS
    known = [f["eps"] for _, _, f in runs]
    if eps is not None and (not eps or any(e not in known for e in eps)):
        raise ValueError(f"eps == {list(eps)}, must be a non-empty subset of {known}")
    out = []
    for label, fig, fields in runs:
        if eps is not None and fields["eps"] not in eps:
            continue
        base = ctx.config("optimistic" if fig in ("fig8", "fig9") else "theorem", **fields)
        d, m, rho, s = chain(base, ctx)
        H = lemma_horizon(d=d, m=m, depth=base.depth, eps=base.eps, beta=base.beta, rho=rho, s=s,
                          gamma_max=max(base.gammas))
        times = tuple(float(f"{x:.4g}") for x in np.geomspace(H / 100, H, n_times))
        out.append((label, dataclasses.replace(base, dtype="float64", stop_phase3=0.0, t_end=H, times=times)))
    return out


def _chain_params(config: Any, ctx: Any) -> tuple[int, int, float, float]:
    ds = dataset_for(config, data_dir=getattr(ctx, "data_dir", None))
    m, d = np.shape(ds.x_train)
    w0 = init_weights(d, config.width, config.depth, config.beta, rank_one=config.rank_one, seed=config.init_seed)
    return int(ds.rank), int(m), clamp_rho(frobenius_spectral_ratio(w0[0])), float(ds.s)

_PANELS = (*RATIO_LINKS, "dev_train_rhs", "dev_test_rhs", "dev_Delta")
_TITLES = {  # short panel titles; LM.LINKS has the full statements
    "W_spec": "‖W_l‖ / u  (L. 7.1)", "W1X": "‖W₁X̃‖_F/√m / ρu  (L. 7.1)", "dW_spec": "‖∂W_l/∂τ‖ / v  (L. 7.1)",
    "dW1X": "‖∂W₁X̃/∂τ‖_F/√m / v  (L. 7.1)", "xi_fro": "‖Ξ‖_F / (1+ρβ^L)/√m  (L. 7.4)",
    "xi_x": "‖ΞX̃ᵀ‖ / (s+ρβ^L)  (L. 7.4)", "dev_train_rhs": "train dev. / eq. 21 (48)",
    "dev_test_rhs": "test dev. / eq. 20 (46)", "dev_Delta": "deviation / Δ  (eq. 7)"}


def measured_chain_curve(res: dict, kappa: int = 1) -> dict:
    """Along t: Δ_κ,β(t) (eq. 7), the "measured-chain" Φ_κ V̂ Û^{L−1} (Theorem 5.2's formula with the
    measured sup-norms over the sampled τ in place of u, v -- a diagnostic, NOT a bound: the sup over τ
    is sampled and the norms are data-dependent) and the measured (train + test) deviation / ε^κ."""
    p = _params(res, kappa)
    th = bound_theory(np.asarray(res["t"]), p, res["m"])
    phi = np.broadcast_to(th["phi"], np.shape(res["t"]))
    chain = np.array([phi[i] * r["V"] * r["U"] ** (p.depth - 1) for i, r in enumerate(res["records"])])
    dev = np.array([sum(r["dev"][str(kappa)].values()) for r in res["records"]])
    return {"t": np.asarray(res["t"]), "Delta": th["Delta"], "measured_chain": chain, "deviation": dev}


RUN_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")


def plot_fig10(results: Sequence[dict], kappa: int = 1) -> FigureData:
    """One panel per link (max over the τ grid of measured/bound; the line y = 1 is what the paper
    proves) and a last panel with Δ, the measured deviation and the dashed measured-chain diagnostic.
    One colour per run in every panel, one legend under the figure; t on a symlog axis (linear up
    to the first recorded t > 0) so that the values at t = 0 are drawn."""
    first = min((float(np.min(np.asarray(r["t"])[np.asarray(r["t"]) > 0])) for r in results), default=1.0)
    xlabel = f"t (linear below {first:.2g})"
    panels = [Panel(title=_TITLES[k], ylabel="measured / bound", yscale="log", xscale="symlog", linthresh=first,
                    xlabel=xlabel, hlines=[(1.0, "bound (measured/bound = 1)", "black", ":")]) for k in _PANELS]
    panels.append(Panel(title=f"κ = {kappa}: Δ (solid) vs measured (dotted)", ylabel="(1/ε^κ) deviation",
                        yscale="log", xscale="symlog", linthresh=first, xlabel=xlabel))
    fig = FigureData(name="fig10", title="Where the proof is loose: each link of the proof measured",
                     panels=panels, lines=[], ncols=5,
                     note=f"Last panel (κ = {kappa}): solid Δ_κ,β (eq. 7), dotted the measured deviation, dashed the "
                          "measured-chain diagnostic (Theorem 5.2's formula with measured norms), not a bound.")
    for n, res in enumerate(results):
        c = res["config"]
        label, color = f"{c['dataset']} {c['size']}x{c['size']} eps={c['eps']:g}", RUN_COLORS[n % len(RUN_COLORS)]
        t = np.asarray(res["t"])
        ratios = link_ratios(res, kappa)
        for i, k in enumerate(_PANELS):
            fig.add(i, label, t, ratios[k].max(axis=1), color=color)
        mc = measured_chain_curve(res, kappa)
        last = len(_PANELS)
        fig.add(last, f"Δ (bound), {label}", t, mc["Delta"], color=color, legend=False)
        fig.add(last, f"measured chain (diagnostic, not a bound), {label}", t, mc["measured_chain"], color=color,
                style="--", legend=False)
        fig.add(last, f"measured deviation, {label}", t, mc["deviation"], color=color, style=":", legend=False)
    return fig


def fig10(cache_dir, out_dir, *, ctx: Any = None, quick: bool = False, data_dir=None, n_times: int = N_TIMES,
          kappa: int = 1, eps: Sequence[float] | None = None, log=None) -> dict:
    """Compute (or reuse from cache_dir/lemmas/, keyed as analysis.lemma_runs.cache_path) the lemma runs
    (those with ε in `eps`, default all), then write out_dir/figures/fig10.{png,pdf,csv} and
    out_dir/lemmas.json. Returns the paths, how many runs were computed / reused and the number of
    measured/bound ratios > 1. log(str): one line per run (label, computed or cached, wall s)."""
    ctx = ctx or Context(quick=quick, data_dir=data_dir)
    lem_dir = Path(cache_dir) / "lemmas"
    results, computed = [], 0
    configs = fig10_configs(ctx, quick=quick, n_times=n_times, eps=eps)
    for label, config in configs:
        cached = cache_path(lem_dir, config, tau_grid(config.eps)).exists()
        t0 = time.perf_counter()
        ds = dataset_for(config, data_dir=data_dir)
        results.append(run_lemmas(config, ds, cache_dir=lem_dir))
        computed += not cached
        if log is not None:
            how = "cached" if cached else "computed"
            log(f"{label}: {how} ({time.perf_counter() - t0:.0f} s wall, t_end {config.t_end:g})")
    paths = render(plot_fig10(results, kappa), Path(out_dir) / "figures")
    paths["json"] = write_lemmas_json(results, Path(out_dir) / "lemmas.json")
    runs = json.loads(paths["json"].read_text())["runs"]
    bad = sum(row["violations"] for r in runs for rows in r["links"].values() for row in rows.values())
    return {"paths": paths, "computed": computed, "cached": len(results) - computed, "violations": bad}
