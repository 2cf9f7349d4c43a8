"""Plot data of each figure, built from finished runs only (traces + run.json): never trains.

Bound/risk panels are drawn as the paper draws them: linear y on [0, BOUND_TOP] (the bound explodes
after t*, so it is clipped at the top; the CSV keeps every value), log t, the random-guess risk 0.5
and t*_0.5 marked, one colour per q and one linestyle per variant, one legend under the figure.
"""

from __future__ import annotations

from typing import Any, Callable

from nlbound.experiments.bounds import bound_curve, optimistic_bound, t_star_of
from nlbound.experiments.figures import QS
from nlbound.experiments.plotting import FigureData, Panel
from nlbound.experiments.spec import Experiment
from nlbound.experiments.traces import Inputs, RunData

Q_COLORS = {1.0: "tab:green", 10.0: "tab:olive", 100.0: "tab:cyan"}
TINY = 1e-8  # Fig. 7: added to make zero visible on a log axis
BOUND_TOP = 1.05  # bound panels: y in [0, BOUND_TOP], the bound is clipped above
BOUND_YLABEL = f"risk / bound (bound clipped at {BOUND_TOP:g})"
GAMMA_COLORS = ["darkgreen", "tab:green", "tab:olive", "tab:cyan", "tab:blue", "tab:pink"]  # Figs. 8-9


def _risks(fig: FigureData, i: int, run: RunData) -> None:
    fig.add(i, "test risk", run.t, run.col("test_risk"), color="black")
    fig.add(i, "train risk", run.t, run.col("train_risk"), color="black", style="--")


def _bound_axes(title: str, t_star: float) -> Panel:
    """A bound/risk panel: linear [0, BOUND_TOP], random guess at 0.5, t*_0.5 marked."""
    return Panel(title, ylabel=BOUND_YLABEL, ylim=(0.0, BOUND_TOP),
                 hlines=[(0.5, "random guess (0.5)", "red", ":")], vlines=[(t_star, "t*_0.5")])


def _bound_panel(fig: FigureData, inp: Inputs, label: str, variants, title: str,
                 style: Callable[[Any], str] = lambda v: "-", name: Callable[[Any], str] = lambda v: v.label) -> None:
    """Risks (black) and one bound line per variant (colour per q, `style(v)`) of run `label`."""
    run = inp.runs[label]
    i = len(fig.panels)
    fig.panels.append(_bound_axes(title, t_star_of(run, inp.exp.alpha)))
    _risks(fig, i, run)
    for v in variants:
        c = bound_curve(run, v)
        fig.add(i, name(v), c["t"], c["bound"], color=Q_COLORS.get(v.q), style=style(v))


def _variants(exp: Experiment, **match: Any):
    return [v for v in exp.bounds if all(getattr(v, k) == val for k, val in match.items())]


def plot_fig1(inp: Inputs) -> FigureData:
    fig = FigureData("fig1", inp.exp.title, [], [])
    for r in inp.exp.runs:
        _bound_panel(fig, inp, r.label, _variants(inp.exp, kappa=2), r.label)
    return fig


KAPPA_STYLE = {1: "-.", 2: "-"}
KAPPA_STYLE_NAME = {1: "dash-dot", 2: "solid"}
P_STYLE = {32: "-", 16: "-."}


def plot_fig2(inp: Inputs) -> FigureData:
    fig = FigureData("fig2", inp.exp.title, [], [])
    label = inp.exp.runs[0].label
    for kappa in (1, 2):
        _bound_panel(fig, inp, label, _variants(inp.exp, kappa=kappa),
                     f"{label}: κ={kappa} ({KAPPA_STYLE_NAME[kappa]})", style=lambda v: KAPPA_STYLE[v.kappa])
    return fig


def plot_fig3(inp: Inputs) -> FigureData:
    fig = FigureData("fig3", inp.exp.title + " (bound: p=32 solid, p=16 dash-dot)", [], [])
    for r in inp.exp.runs:
        _bound_panel(fig, inp, r.label, inp.exp.bounds, r.label, style=lambda v: P_STYLE[v.p])
    return fig


def plot_fig4(inp: Inputs) -> FigureData:
    """One row per run: full bound / without Υ_κ / without the deviation term; then the two terms."""
    fig = FigureData("fig4", inp.exp.title, [], [], ncols=3)
    titles = {"full": "full bound", "no_upsilon": "without Υ_κ", "no_deviation": "without Δε^κ/γ"}
    for r in inp.exp.runs:
        for term, title in titles.items():
            _bound_panel(fig, inp, r.label, _variants(inp.exp, terms=term), f"{r.label}: {title}",
                         name=lambda v: f"bound γ=β²/{v.q:g}")
    _components_panel(fig, inp)
    return fig


def _components_panel(fig: FigureData, inp: Inputs) -> None:
    i = len(fig.panels)
    fig.panels.append(Panel("terms: Υ_κ (black), Δε^κ/γ (colour per q); ε=0.01 solid, ε=0.1 dashed",
                            ylabel="term (log)", yscale="log", legend="outside",
                            hlines=[(0.5, "random guess (0.5)", "red", ":")]))
    for r, style in zip(inp.exp.runs, ("-", "--")):
        run = inp.runs[r.label]
        for v in _variants(inp.exp, terms="full"):
            c = bound_curve(run, v)
            fig.add(i, f"{r.label} deviation q={v.q:g}", c["t"], c["deviation"], color=Q_COLORS[v.q], style=style)
        fig.add(i, f"{r.label} Υ_2", c["t"], c["upsilon"], color="black", style=style)


def plot_fig5(inp: Inputs) -> FigureData:
    fig = FigureData("fig5", inp.exp.title, [], [])
    for r in inp.exp.runs:
        _bound_panel(fig, inp, r.label, inp.exp.bounds, f"{r.label} (d = rank {inp.runs[r.label].get('rank')})")
    return fig


def plot_fig6(inp: Inputs) -> FigureData:
    fig = FigureData("fig6", inp.exp.title + " — top γ=β²/q, bottom γ=α/q", [], [], ncols=len(inp.exp.runs),
                     note=inp.exp.notes)
    for rule, g in (("beta2", "β²/q"), ("alpha", "α/q")):
        for r in inp.exp.runs:
            _bound_panel(fig, inp, r.label, _variants(inp.exp, gamma_rule=rule), f"{r.label}, γ={g}",
                         name=lambda v: f"bound q={v.q:g}")
    return fig


def plot_fig7(inp: Inputs) -> FigureData:
    fig = FigureData("fig7", inp.exp.title + " (+1e-8)", [], [])
    groups = list(dict.fromkeys(r.group for r in inp.exp.runs))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for i, g in enumerate(groups):
        fig.panels.append(Panel(g, ylabel="decrease (+1e-8, log)", yscale="log"))
        for j, r in enumerate([r for r in inp.exp.runs if r.group == g]):
            run = inp.runs[r.label]
            loss, loss_x = run.col("train_loss"), run.col("train_loss_X")
            eps = r.label.split()[-1]
            fig.add(i, f"{eps} L(0)−L(t) (solid)", run.t, loss[0] - loss + TINY, color=colors[j % 6])
            fig.add(i, f"{eps} L_X(0)−L_X(t) (dashed)", run.t, loss_x[0] - loss_x + TINY, color=colors[j % 6], style="--")
    return fig


def _optimistic_panel(fig: FigureData, inp: Inputs, label: str, proxy: str, title: str) -> None:
    run = inp.runs[label]
    base = inp.baseline(run)
    i = len(fig.panels)
    hl = [(0.5, "zero model loss", "black", ":")]
    if "lin_train_loss" in base:
        hl.append((base["lin_train_loss"], "optimal linear train MSE", "brown", "--"))
    if "lin_train_risk" in base:
        hl.append((base["lin_train_risk"], "optimal linear train risk", "red", "--"))
    fig.panels.append(Panel(title, ylabel=f"risk / MSE / bound (clipped at {BOUND_TOP:g})",
                            ylim=(0.0, BOUND_TOP), hlines=hl))
    fig.add(i, "test risk", run.t, run.col("test_risk"), color="black")
    fig.add(i, "train risk", run.t, run.col("train_risk"), color="black", style="--")
    fig.add(i, "test MSE", run.t, run.col("test_loss"), color="purple")
    fig.add(i, "train MSE", run.t, run.col("train_loss"), color="purple", style="--")
    for k, g in enumerate(inp.exp.optimistic_gammas):
        c = optimistic_bound(run, proxy, g)
        fig.add(i, f"bound γ={g:g}", c["t"], c["bound"], color=GAMMA_COLORS[k % len(GAMMA_COLORS)])


def plot_fig8(inp: Inputs) -> FigureData:
    fig = FigureData("fig8", inp.exp.title, [], [], ncols=2)
    label = inp.exp.runs[0].label
    run = inp.runs[label]
    gs = inp.exp.optimistic_gammas
    colors = {"g1": "tab:blue", "g2": "tab:green", "glin": "tab:orange"}
    fig.panels.append(Panel(f"proxy generalization gap R^C_γ[g] − R̂^C_γ[g] (γ={min(gs):g} solid, "
                            f"{max(gs):g} dashed)", ylabel="gap", legend="lower left"))
    fig.panels.append(Panel("proxy deviation E|f−g| + Ê|f−g|", ylabel="deviation (log)", yscale="log",
                            legend="lower right"))
    for proxy, color in colors.items():
        for g, style in ((min(gs), "-"), (max(gs), "--")):
            fig.add(0, f"{proxy} γ={g:g}", run.t, optimistic_bound(run, proxy, g)["gap"], color=color, style=style)
        fig.add(1, proxy, run.t, optimistic_bound(run, proxy, gs[0])["deviation"], color=color)
    _optimistic_panel(fig, inp, label, "g1", "optimistic bound, κ=1 proxy g1")
    _optimistic_panel(fig, inp, label, "g2", "optimistic bound, κ=2 proxy g2")
    return fig


def plot_fig9(inp: Inputs) -> FigureData:
    fig = FigureData("fig9", inp.exp.title, [], [], ncols=min(3, len(inp.exp.runs)))
    for r in inp.exp.runs:
        _optimistic_panel(fig, inp, r.label, "g2", f"{r.label}: κ=2 optimistic bound")
    return fig


PLOTS: dict[str, Callable[[Inputs], FigureData]] = {
    f"fig{i}": f for i, f in enumerate(
        (plot_fig1, plot_fig2, plot_fig3, plot_fig4, plot_fig5, plot_fig6, plot_fig7, plot_fig8, plot_fig9), 1)
}
