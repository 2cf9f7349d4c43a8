"""The paper's Figures 1-9 declared as experiments: their training runs and bound parameters.

Every run records the same canonical set of margin thresholds for its beta (`gammas_for`), so a
run that two figures need has one TrainConfig, one cache key and is trained once. Horizons are
multiples of t*_0.5(beta) (eq. 15 / 97) computed from the dataset's s, rounded to 3 digits.
To change a parameter, edit the builder of that figure; to add a figure, add a builder to
`BUILDERS`, a plot function to `nlbound.paper.panels.PLOTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Callable

import numpy as np
import torch  # as nlbound.networks imports it: no cost of its own here

from nlbound.analysis.spec import BoundVariant, Experiment, RunSpec, gamma_value
from nlbound.data import load_dataset
from nlbound.networks import layer_shapes
from nlbound.theory import t_star_time
from nlbound.training import TrainConfig

ALPHA = 0.5
QS = (1.0, 10.0, 100.0)
# Margin thresholds recorded by every run: two per decade from 1e-8 to 1 (so that "some gamma" of
# the optimistic bound, Figs. 8-9, has a fair chance) plus the theorem's beta^2/q and alpha/q.
DENSE_GAMMAS = tuple(float(f"{10 ** (k / 2):.6g}") for k in range(-16, 1))
SHOWN_GAMMAS = (1e-8, 1e-5, 1e-3, 1e-2, 0.1, 1.0)  # Figs. 8-9: individual gammas drawn for shape
SEEDS = (0, 1, 2)  # init seeds of Figs. 1, 3, 5, 8 (ISSUE 11 item 6); --quick: the first only
BASE: dict[str, Any] = dict(
    dataset="mnist", size=7, depth=2, width=64, eps=1e-3, beta=1e-3, rank_one=False,
    init_seed=0, data_seed=0, integrator="adaptive", dtype="float32",
)
RTOL = {False: 1e-5, True: 1e-4}  # full / quick; eps >= 0.1 always 1e-4 (cost: BENCHMARKS.md, rtol per eps)
# Horizons in multiples of t*_0.5. Optimistic runs (Figs. 8-9): a cap of 60 t* and the declared
# stop rule "phase 3 of App. B observed, then 1.5 t2" (TrainConfig.stop_phase3, training.stopping):
# a run ends at the first recorded t >= 1.5 t2, or at the cap, where the figures and claims say
# "phase 3 not reached by T". Depth >= 4: the bound is +inf past the blow-up of u (~t*), and an
# explicit integrator pays dearly for the converged phase, where the flow is stiff (measured: the
# L = 4 linear twin to 4 t* = 3.2e6 took 263,684 Dormand-Prince steps); 1.5 t* covers every
# finite point of the bound. "levelled" (Fig. 7): long enough for L_X to level off.
# "levelled": the quick run (1.5 t* of beta = 0.3, t = 2.1) already shows L_X(0) - L_X(t) flattening
# at beta = 1 by t ~ 1-2, so 5 t* (t = 7.1) covers the level-off with room.
HORIZON = {"theorem": 3.0, "deep": 4.0, "deeper": 1.5, "optimistic": 60.0, "levelled": 5.0}
QUICK_HORIZON = {"theorem": 1.5, "deep": 2.0, "deeper": 1.5, "optimistic": 3.0, "levelled": 1.5}
PHASE3_MARGIN = 1.5  # optimistic runs stop at the first recorded t >= PHASE3_MARGIN * t2
OPT_TIMES_PER_DECADE = 12  # optimistic runs record 12 log-spaced times per decade over 4 decades
# t*_0.5 (eq. 15) exists only for beta^L / s < 1/2: a larger beta starts past half the top mode.
# Such runs (beta = 1, PyTorch's default scale) get the horizon of BETA_HORIZON_MAX.
BETA_HORIZON_MAX = 0.3
DATASET_LABELS = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}  # figure titles (the MNIST titles unchanged)


def gammas_for(beta: float) -> tuple[float, ...]:
    """The canonical margin thresholds recorded for a run with init scale beta."""
    vals = {gamma_value(rule, q, beta, ALPHA) for rule in ("beta2", "alpha") for q in QS}
    return tuple(sorted(vals | set(DENSE_GAMMAS)))


def pytorch_default_beta(d: int, width: int, depth: int = 2, seed: int = 0) -> float:
    """The init scale of PyTorch's default linear layers, measured: the geometric mean of the
    spectral norms of U(-1/sqrt(fan_in), 1/sqrt(fan_in)) layers drawn from the generator stream
    networks.init_weights uses before it rescales them (so beta^L is their product), 3 digits."""
    gen = torch.Generator().manual_seed(int(seed))
    logs = []
    for n_out, n_in in layer_shapes(d, width, depth):
        w = torch.empty(n_out, n_in, dtype=torch.float64).uniform_(-n_in ** -0.5, n_in ** -0.5, generator=gen)
        logs.append(float(torch.log(torch.linalg.matrix_norm(w, 2))))
    return float(f"{float(np.exp(np.mean(logs))):.3g}")


@dataclass
class Context:
    """How builders turn parameters into configs: not part of any result."""

    quick: bool = False
    make_config: Callable[..., Any] | None = None  # (**fields) -> TrainConfig
    s_of: Callable[[str, int], float] | None = None  # (dataset, size) -> s = ||Y X~+||
    t_star: Callable[..., float] | None = None  # (alpha, beta, s, depth) -> t*; default nlbound.theory
    data_dir: str | None = None  # IDX directory for the default s_of (reproduce --data-dir)
    crosscheck: bool = True  # Fig. 1's GD cross-check run (reproduce --no-crosscheck leaves it out)
    dataset: str = "mnist"  # every run's dataset (reproduce --dataset; one of nlbound.data.IMAGE_DATASETS)

    @property
    def label(self) -> str:
        """The dataset's name in figure titles ("MNIST", "Fashion-MNIST")."""
        return DATASET_LABELS.get(self.dataset, self.dataset)

    def seeds(self) -> tuple[int, ...]:
        return SEEDS[:1] if self.quick else SEEDS

    def config(self, horizon: str, **fields: Any) -> Any:
        f = {**BASE, "dataset": self.dataset, **fields}
        table = QUICK_HORIZON if self.quick else HORIZON
        s = (self.s_of or partial(_real_s, data_dir=self.data_dir))(f["dataset"], int(f["size"]))
        t_star = self.t_star or t_star_time
        beta_h = f["beta"] if f["beta"] ** int(f["depth"]) / s < ALPHA else BETA_HORIZON_MAX
        t_end = float(f"{table[horizon] * float(t_star(ALPHA, beta_h, s, f['depth'])):.3g}")
        f.setdefault("t_end", t_end)
        f.setdefault("rtol", RTOL[self.quick] if f["eps"] < 0.1 else 1e-4)
        f.setdefault("gammas", gammas_for(f["beta"]))
        if horizon == "optimistic":
            f.setdefault("stop_phase3", PHASE3_MARGIN)
            f.setdefault("times", tuple(float(f"{x:.4g}") for x in
                                        np.geomspace(f["t_end"] / 1e4, f["t_end"], 4 * OPT_TIMES_PER_DECADE + 1)))
        return (self.make_config or _real_config)(**f)

    def expected_horizon(self, config: Any) -> float:
        """How far a run is expected to go, in units of t*_0.5 (of BETA_HORIZON_MAX where t* is
        undefined): t_end / t*, or for a run with the phase-3 stop rule the margin times the t2
        that ISSUE 11 measured (phase 3 from ~2.4 t*/eps: t = 22.5, 34.1, 60.6 at eps = 1, 0.7,
        0.4 with t* = 9.47), capped at t_end. Only the runner's ordering and ETA use it."""
        s = (self.s_of or partial(_real_s, data_dir=self.data_dir))(config.dataset, int(config.size))
        beta = config.beta if config.beta ** int(config.depth) / s < ALPHA else BETA_HORIZON_MAX
        t_star = float((self.t_star or t_star_time)(ALPHA, beta, s, config.depth))
        units = float(config.t_end) / t_star
        if getattr(config, "stop_phase3", 0) and config.eps > 0:
            units = min(units, float(config.stop_phase3) * 2.4 / float(config.eps))
        return units

    def seeded(self, label: str, horizon: str, group: str = "", **fields: Any) -> tuple[RunSpec, ...]:
        """The main run `label` (seed SEEDS[0]) and its re-seeded copies (role "seed")."""
        seeds = self.seeds()
        out = [RunSpec(label, self.config(horizon, init_seed=seeds[0], **fields), group=group)]
        out += [RunSpec(f"{label} seed={k}", self.config(horizon, init_seed=k, **fields), group=group,
                        role="seed", of=label) for k in seeds[1:]]
        return tuple(out)


def _real_config(**fields: Any) -> Any:
    return TrainConfig(**fields)


@lru_cache(maxsize=None)
def _real_s(dataset: str, size: int, data_dir: str | None = None) -> float:
    return float(load_dataset(dataset, size=size, data_dir=data_dir).s)


def _theorem_bounds(kappas=(2,), ps=(32,), rules=("beta2",), terms=("full",)) -> tuple[BoundVariant, ...]:
    out = []
    for kappa in kappas:
        for p in ps:
            for rule in rules:
                for term in terms:
                    for q in QS:
                        g = "β²" if rule == "beta2" else "α"
                        label = f"κ={kappa} p={p} γ={g}/{q:g}" + ("" if term == "full" else f" {term}")
                        out.append(BoundVariant(label, kappa=kappa, p=p, gamma_rule=rule, q=q, terms=term))
    return tuple(out)


DEPTH_HORIZON_NOTE = ("L = 3 runs to 1.5 t*_0.5 like L = 4 (earlier versions ran it to 4 t*): the bound is vacuous past "
                      "~t* and the test risk is lowest near 1.1 t* (measured on the 4 t* run); the 4 t* run cost "
                      "~500 s of `make reproduce`'s 45 minutes, and three seeds of it would not fit.")
P_NOTE = ("p = 16: the proxies' free parameters (c = YX̃ᵀ/m, from which the linear twin θ⁰ is trained, "
          "and the κ=2 correction w of eq. 25) are rounded to 16-bit floats in training; ϒ_κ counts "
          "2^(κpd) such proxies (Lemma 7.2, eq. 28).")


def fig1(ctx: Context) -> Experiment:
    betas = (1e-3, 1e-1, 1.0) if ctx.quick else (1e-3, 1e-2, 3e-2, 1e-1, 0.3, 1.0)
    runs = tuple(r for b in betas for r in ctx.seeded(f"β={b:g}", "theorem", beta=b))
    if not ctx.quick and ctx.crosscheck:  # the paper's own scheme; 31,600 full-batch steps (~14 ms each, BENCHMARKS.md)
        gd = ctx.config("theorem", beta=1e-3, integrator="gd", lr=1e-3)
        runs += (RunSpec("β=0.001 GD lr=0.001", gd, role="crosscheck", of="β=0.001"),)
    return Experiment("fig1", f"Fig. 1: 7×7 {ctx.label}, L=2, κ=2, ε=0.001, γ=β²/q; bound vs β",
                      runs, _theorem_bounds(), quick=ctx.quick,
                      notes=f"β ≥ {BETA_HORIZON_MAX:g}: t*_0.5 undefined for β²/s ≥ 1/2, horizon that of "
                            f"β = {BETA_HORIZON_MAX:g}. Band: min–max over init seeds {list(ctx.seeds())}.")


def fig2(ctx: Context) -> Experiment:
    runs = ctx.seeded("β=ε=0.001", "theorem")  # the configs of Fig. 1's β = 0.001 seeds: trained once
    return Experiment("fig2", f"Fig. 2: 7×7 {ctx.label}, L=2, β=ε=0.001; κ=1 vs κ=2",
                      runs, _theorem_bounds(kappas=(1, 2)), quick=ctx.quick)


def fig3(ctx: Context) -> Experiment:
    runs: tuple[RunSpec, ...] = ()
    for p in (32, 16):  # each run trained with the p its bound is evaluated with
        runs += ctx.seeded(f"default init p={p}", "theorem", group=f"p={p}", eps=0.01, p=p)
        runs += ctx.seeded(f"ρ=1 p={p}", "theorem", group=f"p={p}", eps=0.01, rank_one=True, p=p)
    return Experiment("fig3", f"Fig. 3: 7×7 {ctx.label}, L=2, β=0.001, ε=0.01, κ=2; ρ and p",
                      runs, _theorem_bounds(ps=(16, 32)), quick=ctx.quick, notes=P_NOTE)


def fig4(ctx: Context) -> Experiment:
    runs = ctx.seeded("ε=0.01", "theorem", eps=0.01) + ctx.seeded("ε=0.1", "theorem", eps=0.1)
    return Experiment("fig4", f"Fig. 4: 7×7 {ctx.label}, L=2, β=0.001, κ=2; components of the bound",
                      runs, _theorem_bounds(terms=("full", "no_upsilon", "no_deviation")), quick=ctx.quick)


def fig5(ctx: Context) -> Experiment:
    sizes = (7, 14) if ctx.quick else (7, 14, 28)
    runs = tuple(r for k in sizes for r in ctx.seeded(f"{k}×{k}", "theorem", size=k, rank_one=True, p=16))
    return Experiment("fig5", f"Fig. 5: {ctx.label}, L=2, β=ε=0.001, κ=2, p=16, ρ=1; image size",
                      runs, _theorem_bounds(ps=(16,)), quick=ctx.quick, notes=P_NOTE)


def fig6(ctx: Context) -> Experiment:
    depths = (2, 3) if ctx.quick else (2, 3, 4)
    horizon = {2: "theorem"}  # L >= 3: 1.5 t* (DEPTH_HORIZON_NOTE)
    runs = tuple(r for L in depths
                 for r in ctx.seeded(f"L={L}", horizon.get(L, "deeper"), depth=L, rank_one=True, p=16))
    return Experiment("fig6", f"Fig. 6: 7×7 {ctx.label}, β=ε=0.001, κ=2, p=16, ρ=1; depth (t in units of t*_0.5)",
                      runs, _theorem_bounds(ps=(16,), rules=("beta2", "alpha")), quick=ctx.quick,
                      notes=DEPTH_HORIZON_NOTE + " ERRATA 8: γ=β²/q makes the last term vanish like β^(L−2) for L ≥ 3; "
                            "γ=α/q (Sec. 5.3, ν=1) is the fair depth comparison and is plotted in the "
                            "bottom row. " + P_NOTE)


def fig7(ctx: Context) -> Experiment:
    epss = (1e-3, 1.0) if ctx.quick else (1e-3, 1e-2, 1e-1, 1.0)
    b_pt = pytorch_default_beta(7 * 7, BASE["width"], BASE["depth"], BASE["init_seed"])
    betas = (1e-3, 1e-1, 1.0) if ctx.quick else (1e-3, 1e-1, 1.0, b_pt)
    runs = tuple(r for b in dict.fromkeys(betas) for e in epss
                 for r in ctx.seeded(f"β={b:g} ε={e:g}", "levelled" if b >= 1 or b == b_pt else "theorem",
                                     group=f"β={b:g}", beta=b, eps=e))
    return Experiment("fig7", f"Fig. 7: 7×7 {ctx.label}, L=2; L(0)−L(t) (solid), L_X(0)−L_X(t) (dashed)",
                      runs, quick=ctx.quick, params=(("pytorch_default_beta", b_pt),),
                      notes=f"β = {b_pt:g} is PyTorch's default init scale for this net (measured: geometric "
                            f"mean of the layers' spectral norms); β ≥ 1 runs to "
                            f"{(QUICK_HORIZON if ctx.quick else HORIZON)['levelled']:g}·t*_0.5 "
                            f"of β = {BETA_HORIZON_MAX:g}.")


def fig8(ctx: Context) -> Experiment:
    runs = ctx.seeded("ε=0.1", "optimistic", size=14, eps=0.1)
    return Experiment("fig8", f"Fig. 8: 14×14 {ctx.label}, L=2, β=0.001, ε=0.1; optimistic bound (eq. 41)",
                      runs, optimistic_gammas=gammas_for(BASE["beta"]), quick=ctx.quick)


def fig9(ctx: Context) -> Experiment:
    epss = (0.1, 0.4) if ctx.quick else (0.1, 0.2, 0.4, 0.7, 1.0)
    # seed copies for ε ≤ 0.4, the range C10 judges (ε = 0.1's are Fig. 8's); ε > 0.4 is reported on one
    # seed (each 14×14 optimistic run costs 150-300 s: `make reproduce` stays within 45 min)
    runs = tuple(r for e in epss for r in (ctx.seeded(f"ε={e:g}", "optimistic", size=14, eps=e) if e <= 0.4
                                           else (RunSpec(f"ε={e:g}", ctx.config("optimistic", size=14, eps=e)),)))
    return Experiment("fig9", f"Fig. 9: 14×14 {ctx.label}, L=2, β=0.001; optimistic κ=2 bound over ε",
                      runs, optimistic_gammas=gammas_for(BASE["beta"]), quick=ctx.quick)


# The best setup per depth of `nlbound plan --depth L --top 1 --json --threads 1` (7x7 MNIST, every
# other axis at its default: eps 0.001, beta 1e-4..0.3, both inits, kappa 1,2, p 16,32; the p-bit term
# predicted, docs/PROOFS.md step P), run on commit 1ac899d of issue 21 (later commits changed only warnings and style there); the plan's grid size N per
# depth prices the choice (each point at delta/N). C7 judges depth by these, trained on 3 seeds.
PLANNED_BEST = {
    2: dict(beta=0.1, init="rank_one", eps=0.001, t=1.5280158293054302, gamma=0.0005, kappa=2, p=16,
            n_points=30656),  # predicted 0.3070
    3: dict(beta=0.3, init="rank_one", eps=0.001, t=1.2911082659623259, gamma=0.00026999999999999995, kappa=2,
            p=16, n_points=30720),  # predicted 0.3578
    4: dict(beta=0.3, init="default", eps=0.001, t=1.3719694863784118, gamma=8.1e-05, kappa=2, p=16,
            n_points=30720),  # predicted 0.5580
}
PLAN_DELTA = 0.05


def _planned_config(ctx: Context, depth: int, seed: int) -> Any:
    """The TrainConfig `nlbound plan --verify` trains for the planned point (planning.verify.train_config)."""
    r = PLANNED_BEST[depth]
    return (ctx.make_config or _real_config)(
        dataset=ctx.dataset, size=7, depth=depth, width=BASE["width"], eps=r["eps"], beta=r["beta"],
        rank_one=(r["init"] == "rank_one"), init_seed=seed, data_seed=0, t_end=r["t"], times=(r["t"],),
        gammas=(r["gamma"],), p=r["p"])


def fig6b(ctx: Context) -> Experiment:
    seeds = ctx.seeds()
    runs = tuple(RunSpec(f"L={L}" + ("" if k == 0 else f" seed={s}"), _planned_config(ctx, L, s), group=f"L={L}",
                         role="main" if k == 0 else "seed", of="" if k == 0 else f"L={L}")
                 for L in sorted(PLANNED_BEST) for k, s in enumerate(seeds))
    # The setups were planned on 7x7 MNIST (PLANNED_BEST); another dataset trains the same setups and says
    # so in the title (the choice did not look at that dataset, so paying δ/N there is conservative).
    where = "7×7 MNIST" if ctx.dataset == "mnist" else f"planned on 7×7 MNIST, trained on 7×7 {ctx.label}"
    return Experiment("fig6b", f"Fig. 6b: the planner's best setup per depth ({where}), trained; bound at the "
                      "planned (γ, t), δ/N", runs, quick=ctx.quick,
                      params=(("planned_best", tuple(sorted((L, tuple(sorted(r.items()))) for L, r in PLANNED_BEST.items()))),
                              ("plan_delta", PLAN_DELTA)),
                      notes="Each depth's setup is `nlbound plan --depth L`'s top choice (figures.PLANNED_BEST); "
                            "seeds 1, 2 train the same setup from other initialisations.")


BUILDERS: dict[str, Callable[[Context], Experiment]] = {
    f.__name__: f for f in (fig1, fig2, fig3, fig4, fig5, fig6, fig6b, fig7, fig8, fig9)
}
FIGURES: tuple[str, ...] = tuple(BUILDERS)  # the figure names, from the builders (the CLI lists these)


def build(names: list[str], ctx: Context) -> list[Experiment]:
    """Declared experiments for figure names ("all" = every figure); unknown name -> ValueError."""
    if "all" in names:
        names = list(BUILDERS)
    bad = [n for n in names if n not in BUILDERS]
    if bad:
        raise ValueError(f"figure == {bad[0]!r}, must be one of all, {', '.join(FIGURES)}")
    return [BUILDERS[n](ctx) for n in dict.fromkeys(names)]
