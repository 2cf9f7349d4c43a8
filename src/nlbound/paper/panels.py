"""Plot data of each figure, built from finished runs only (traces + run.json): never trains.

Bound/risk panels are drawn as the paper draws them: linear y on [0, BOUND_TOP] (the bound explodes
after t*, so it is clipped at the top and the panel says so; the CSV keeps every value), log t,
the random-guess risk 0.5 and t*_0.5 marked, one colour per q and one linestyle per variant, one
legend under the figure. Re-seeded runs are drawn as a min-max band around their main run.
Figs. 8-9: the per-t minimum over every recorded γ (with the union-bound price), a few single γ,
App. B's t1 and t2 marked, t cut at 1.5 t2 (or the cap, "phase 3 not reached by T").
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from nlbound.analysis.bounds import bound_curve, optimistic_bound, optimistic_min, t_star_of
from nlbound.analysis.phases import cut_time, run_phases
from nlbound.analysis.spec import BoundVariant, Experiment
from nlbound.analysis.traces import Inputs, RunData
from nlbound.evaluation.run_bound import RUNTIME_FORMS
from nlbound.paper.claim_checks import planned_bounds
from nlbound.paper.figures import PHASE3_MARGIN, SHOWN_GAMMAS
from nlbound.paper.plotting import FigureData, Panel

Q_COLORS = {1.0: "tab:green", 10.0: "tab:olive", 100.0: "tab:cyan"}
TINY = 1e-8  # Fig. 7: added to make zero visible on a log axis
BOUND_TOP = 1.05  # bound panels: y in [0, BOUND_TOP], the bound is clipped above
BOUND_YLABEL = f"risk / bound (bound clipped at {BOUND_TOP:g})"
T_STAR_LABEL = "t*_0.5: linear twin has learned half its top mode (eq. 15)"
ODE_SUFFIX = "[ode form]"  # series suffix of Theorem 5.2 with form="ode" (Figs. 1, 3, 8), drawn dashed
UPSILON = "ϒ"  # U+03D2: DejaVu Sans draws the capital Υ (U+03A5) exactly like a Latin Y
GAMMA_COLORS = ["darkgreen", "tab:green", "tab:olive", "tab:cyan", "tab:blue", "tab:pink"]  # Figs. 8-9


def _risks(fig: FigureData, i: int, run: RunData, x_scale: float = 1.0) -> None:
    fig.add(i, "test risk", run.t / x_scale, run.col("test_risk"), color="black")
    fig.add(i, "train risk", run.t / x_scale, run.col("train_risk"), color="black", style="--")


def _bound_axes(title: str, t_star: float, log: bool = False) -> Panel:
    """A bound/risk panel: linear [0, BOUND_TOP] (or log [1e-2, 1e2]), random guess at 0.5, t* marked."""
    if log:
        return Panel(title, ylabel="risk / bound (log)", yscale="log", ylim=(1e-2, 1e2),
                     hlines=[(0.5, "random guess (0.5)", "red", ":")], vlines=[(t_star, T_STAR_LABEL)],
                     annotation="log y: the whole bound is shown")
    return Panel(title, ylabel=BOUND_YLABEL, ylim=(0.0, BOUND_TOP),
                 hlines=[(0.5, "random guess (0.5)", "red", ":")], vlines=[(t_star, T_STAR_LABEL)])


def _seed_runs(inp: Inputs, label: str) -> list[RunData]:
    exp = inp.exp
    return [inp.runs[exp.seed_run(label, k).label] for k in range(exp.n_seeds())
            if exp.seed_run(label, k).label in inp.runs]


def _band(fig: FigureData, i: int, runs: list[RunData], curve: Callable[[RunData], np.ndarray], label: str,
          color: str | None, x_scale: float = 1.0) -> None:
    """Min-max over the seeds' curves at the recorded times they share: the seeds record the same
    declared times, and a run ended by the phase-3 stop rule holds a prefix of them."""
    if len(runs) < 2:
        return
    n = min(r.t.size for r in runs)
    if any(not np.array_equal(r.t[:n], runs[0].t[:n]) for r in runs):
        return
    ys = np.stack([curve(r)[:n] for r in runs])
    fig.add_band(i, label, runs[0].t[:n] / x_scale, ys.min(axis=0), ys.max(axis=0), color=color)


def _bound_panel(fig: FigureData, inp: Inputs, label: str, variants, title: str,
                 style: Callable[[Any], str] = lambda v: "-", name: Callable[[Any], str] = lambda v: v.label,
                 log: bool = False, x_in_t_star: bool = False, ode: bool = False) -> int:
    """Risks (black) and one bound line per variant (colour per q, `style(v)`) of run `label`, with
    the seed band (min-max over init seeds) of the test risk and of the q=1 bound. ode: also the
    same bound with form="ode" (the proof's comparison ODEs solved, ≤ the closed form), dashed,
    series "<name> [ode form]"."""
    run = inp.runs[label]
    i = len(fig.panels)
    ts = t_star_of(run, inp.exp.alpha)
    scale = ts if x_in_t_star else 1.0
    fig.panels.append(_bound_axes(title, 1.0 if x_in_t_star else ts, log=log))
    if x_in_t_star:
        fig.panels[i].xlabel = "t / t*_0.5"
    _risks(fig, i, run, scale)
    seeds = _seed_runs(inp, label)
    _band(fig, i, seeds, lambda r: r.col("test_risk"), "test risk: min–max over seeds", "0.5", scale)
    for v in variants:
        c = bound_curve(run, v, form=inp.form)
        fig.add(i, name(v), c["t"] / scale, c["bound"], color=Q_COLORS.get(v.q), style=style(v))
        if ode and inp.form == "closed":  # the ode form beside the paper's (another --form draws only its own)
            fig.add(i, f"{name(v)} {ODE_SUFFIX}", c["t"] / scale, bound_curve(run, v, form="ode")["bound"],
                    color=Q_COLORS.get(v.q), style="--", width=0.9)
        if v.q == 1.0:
            _band(fig, i, seeds, partial(_bound_of, v, inp.form), "bound q=1: min–max over seeds",
                  Q_COLORS[1.0], scale)
    return i


def _bound_of(v: BoundVariant, form: str, run: RunData) -> np.ndarray:
    """Theorem 5.2's curve of variant v in `form` on one run (for the min–max band over seeds)."""
    return bound_curve(run, v, form=form)["bound"]


def _variants(exp: Experiment, **match: Any):
    return [v for v in exp.bounds if all(getattr(v, k) == val for k, val in match.items())]


def plot_fig1(inp: Inputs) -> FigureData:
    fig = FigureData("fig1", inp.exp.title, [], [], ncols=3, note=inp.exp.notes)
    for r in inp.exp.main_runs():
        i = _bound_panel(fig, inp, r.label, _variants(inp.exp, kappa=2), r.label, ode=True)
        gd = inp.exp.crosscheck(r.label)
        if gd is not None and gd.label in inp.runs:
            run = inp.runs[gd.label]
            fig.add(i, "GD lr=0.001: test risk", run.t, run.col("test_risk"), color="tab:red", style=":")
            v = _variants(inp.exp, kappa=2, q=1.0)[0]
            fig.add(i, "GD lr=0.001: bound q=1", run.t, bound_curve(run, v, form=inp.form)["bound"], color="tab:red",
                    style="-.")
    return fig


KAPPA_STYLE = {1: "-.", 2: "-"}
KAPPA_STYLE_NAME = {1: "dash-dot", 2: "solid"}
P_STYLE = {32: "-", 16: "-."}


def plot_fig2(inp: Inputs) -> FigureData:
    fig = FigureData("fig2", inp.exp.title, [], [])
    label = inp.exp.main_runs()[0].label
    for kappa in (1, 2):
        _bound_panel(fig, inp, label, _variants(inp.exp, kappa=kappa),
                     f"{label}: κ={kappa} ({KAPPA_STYLE_NAME[kappa]})", style=lambda v: KAPPA_STYLE[v.kappa])
    return fig


def plot_fig3(inp: Inputs) -> FigureData:
    fig = FigureData("fig3", inp.exp.title, [], [], ncols=2,
                     note=inp.exp.notes + " The network f itself is float32 in every run; p is the proxies' precision.")
    for r in inp.exp.main_runs():
        p = int(inp.runs[r.label].get("p"))
        _bound_panel(fig, inp, r.label, _variants(inp.exp, p=p), r.label, style=lambda v: P_STYLE[v.p], ode=True)
    return fig


def plot_fig4(inp: Inputs) -> FigureData:
    """One row per run: full bound / without Υ_κ / without the deviation term / the two terms.
    Rows whose bound never comes below BOUND_TOP (ε = 0.1: nothing to see on the linear axis) use a log y axis."""
    fig = FigureData("fig4", inp.exp.title, [], [], ncols=4)
    titles = {"full": "full bound", "no_upsilon": f"without {UPSILON}_κ", "no_deviation": "without Δε^κ/γ"}
    for r in inp.exp.main_runs():
        run = inp.runs[r.label]
        full = [bound_curve(run, v, form=inp.form)["bound"][run.t > 0] for v in _variants(inp.exp, terms="full")]
        log = bool(min(float(np.nanmin(b)) for b in full) > BOUND_TOP)  # nothing to see on [0, BOUND_TOP]
        for term, title in titles.items():
            _bound_panel(fig, inp, r.label, _variants(inp.exp, terms=term), f"{r.label}: {title}",
                         name=lambda v: f"bound γ=β²/{v.q:g}", log=log)
        _components_panel(fig, inp, r.label)
    return fig


def _components_panel(fig: FigureData, inp: Inputs, label: str) -> None:
    """The two terms of run `label` on a log y: Υ_κ (black dash-dot) and Δε^κ/γ (colour per q, dotted)."""
    i = len(fig.panels)
    fig.panels.append(Panel(f"{label}: the two terms", ylabel="term (log)", yscale="log", ylim=(1e-4, 1e2),
                            hlines=[(0.5, "random guess (0.5)", "red", ":")],
                            annotation="y cut to [1e-4, 1e2]: where a term matters"))
    run = inp.runs[label]
    for v in _variants(inp.exp, terms="full"):
        c = bound_curve(run, v, form=inp.form)
        fig.add(i, f"term Δε^κ/γ, γ=β²/{v.q:g}", c["t"], c["deviation"], color=Q_COLORS[v.q], style=":", width=1.8)
    fig.add(i, f"term {UPSILON}_2", c["t"], c["upsilon"], color="black", style="-.")


def plot_fig5(inp: Inputs) -> FigureData:
    fig = FigureData("fig5", inp.exp.title, [], [], note=inp.exp.notes)
    for r in inp.exp.main_runs():
        _bound_panel(fig, inp, r.label, inp.exp.bounds, f"{r.label} (d = rank {inp.runs[r.label].get('rank')})")
    return fig


def plot_fig6(inp: Inputs) -> FigureData:
    """Depth: t in units of each run's t*_0.5 so the panels compare; log y so that the L ≥ 3 bounds
    (≥ 1 + Υ) are drawn, not clipped; +inf (past the blow-up of u, eq. 9) drawn as "^" at the top."""
    fig = FigureData("fig6", inp.exp.title + " — top γ=β²/q, bottom γ=α/q", [], [],
                     ncols=len(inp.exp.main_runs()), note=_fig6_note(inp))
    for rule, g in (("beta2", "β²/q"), ("alpha", "α/q")):
        for r in inp.exp.main_runs():
            i = _bound_panel(fig, inp, r.label, _variants(inp.exp, gamma_rule=rule), f"{r.label}, γ={g}",
                             name=lambda v: f"bound q={v.q:g}", log=True, x_in_t_star=True)
            for ln in fig.lines:
                ln.clip_marker = ln.clip_marker or (ln.panel == i and ln.label.startswith("bound"))
    return fig


def _fig6_note(inp: Inputs) -> str:
    """What the reader must know to read Fig. 6: each run's horizon (from its trace), why L = 4 stops
    early, and why the L ≥ 3 bounds are flat (from the curves themselves)."""
    ends = []
    for r in inp.exp.main_runs():
        run = inp.runs[r.label]
        ends.append(f"{r.label} to {float(run.t[-1]) / t_star_of(run, inp.exp.alpha):.2g}·t*")
    parts = ["Runs end at: " + ", ".join(ends) + "."]
    if any(int(inp.runs[r.label].get("depth")) >= 4 for r in inp.exp.main_runs()):
        parts.append("L = 4 is kept at 1.5·t*: the kink-limited step makes 4·t* cost ~3.5·10⁵ gradient "
                     "evaluations (measured, BENCHMARKS.md, stiff switch).")
    flat = _flat_at_one_plus_upsilon(inp)
    if flat:
        parts.append(f"{', '.join(flat)}: train margin risk 1 at every γ wherever the bound is finite (no margin "
                     f"reaches γ before u(t), eq. 9, blows up near t*), so the bound is flat at 1 + {UPSILON}_κ "
                     "(the deviation term negligible) until it rises and becomes +∞ (▲ at the top).")
    return " ".join(parts + [inp.exp.notes])


def _flat_at_one_plus_upsilon(inp: Inputs) -> list[str]:
    """Labels of the runs whose train margin risk is 1 wherever a bound variant is finite."""
    out = []
    for r in inp.exp.main_runs():
        curves = [bound_curve(inp.runs[r.label], v, form=inp.form) for v in inp.exp.bounds]
        if curves and all(bool(np.all(c["margin_risk"][np.isfinite(c["bound"])] == 1.0)) for c in curves):
            out.append(r.label)
    return out


def plot_fig7(inp: Inputs) -> FigureData:
    """One panel per β (in increasing β); the curves of ε ≤ 0.1 nearly coincide, so the smallest ε is
    drawn widest, underneath, and each larger ε thinner on top of it."""
    fig = FigureData("fig7", inp.exp.title + " (+1e-8)", [], [], ncols=2,
                     note=inp.exp.notes + " Coinciding curves: smaller ε drawn wider, underneath.")
    mains = inp.exp.main_runs()
    beta = {r.group: float(inp.runs[r.label].get("beta")) for r in mains}
    groups = sorted(dict.fromkeys(r.group for r in mains), key=lambda g: beta[g])
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for i, g in enumerate(groups):
        fig.panels.append(Panel(g, ylabel="decrease (+1e-8, log)", yscale="log"))
        runs = sorted((r for r in mains if r.group == g), key=lambda r: float(inp.runs[r.label].get("eps")))
        for j, r in enumerate(runs):
            run = inp.runs[r.label]
            loss, loss_x = run.col("train_loss"), run.col("train_loss_X")
            eps = r.label.split()[-1]
            w = 1.0 + 0.7 * (len(runs) - 1 - j)
            fig.add(i, f"{eps} L(0)−L(t) (solid)", run.t, loss[0] - loss + TINY, color=colors[j % 6], width=w)
            fig.add(i, f"{eps} L_X(0)−L_X(t) (dashed)", run.t, loss_x[0] - loss_x + TINY, color=colors[j % 6],
                    style="--", width=w)
    return fig


def _phase_marks(run: RunData, base: dict[str, float]) -> tuple[list[tuple], float | None, str]:
    """App. B's t1, t2 as vertical lines, where the figure is cut, and what the title says."""
    if "lin_train_risk" not in base:
        return [], None, ""
    ph = run_phases(run, base)
    marks = [(ph.t1, "t1: risk reaches the optimal linear model's", "tab:red", "-."),
             (ph.t2, "t2: risk and MSE below it (phase 3)", "brown", "-.")]
    return marks, cut_time(run, ph, PHASE3_MARGIN), _cut_note(run, ph)


def _cut_note(run: RunData, ph: Any) -> str:
    """Where the drawn t range ends and why, from the run itself: at margin·t2, or where the run
    stopped (its cap T) before margin·t2, or at T with phase 3 not observed."""
    end = float(run.t[-1])
    if not ph.phase3_reached:
        return f"phase 3 not reached by T = {end:.3g}"
    target = PHASE3_MARGIN * ph.t2
    if target <= end:
        return f"t cut at {PHASE3_MARGIN:g}·t2 = {target:.3g}"
    return f"run ended at its cap T = {end:.3g}, before {PHASE3_MARGIN:g}·t2 = {target:.3g}"


def _optimistic_panel(fig: FigureData, inp: Inputs, label: str, proxy: str, title: str) -> None:
    run = inp.runs[label]
    base = inp.baseline(run)
    i = len(fig.panels)
    hl = [(0.5, "zero model loss", "black", ":")]
    if "lin_train_loss" in base:
        hl.append((base["lin_train_loss"], "optimal linear train MSE", "brown", "--"))
    if "lin_train_risk" in base:
        hl.append((base["lin_train_risk"], "optimal linear train risk", "red", "--"))
    marks, cut, note = _phase_marks(run, base)
    fig.panels.append(Panel(title, ylabel=f"risk / MSE / bound (clipped at {BOUND_TOP:g})", ylim=(0.0, BOUND_TOP),
                            hlines=hl, vlines=marks, xmax=cut, annotation=note))
    fig.add(i, "test risk", run.t, run.col("test_risk"), color="black")
    fig.add(i, "train risk", run.t, run.col("train_risk"), color="black", style="--")
    fig.add(i, "test MSE", run.t, run.col("test_loss"), color="purple")
    fig.add(i, "train MSE", run.t, run.col("train_loss"), color="purple", style="--")
    shown = [g for g in inp.exp.optimistic_gammas if any(abs(g / s - 1) < 1e-6 for s in SHOWN_GAMMAS)]
    for k, g in enumerate(shown):
        c = optimistic_bound(run, proxy, g)
        fig.add(i, f"bound γ={g:g}", c["t"], c["bound"], color=GAMMA_COLORS[k % len(GAMMA_COLORS)], width=0.8)
    gs = inp.exp.optimistic_gammas
    m = optimistic_min(run, proxy, gs)
    fig.add(i, f"bound: min over {len(gs)} γ per t + price √(ln {len(gs)}/2m) = {float(m['price']):.3g}",
            m["t"], m["bound"], color="green", width=2.4)
    _band(fig, i, _seed_runs(inp, label), lambda r: optimistic_min(r, proxy, gs)["bound"],
          "min-over-γ bound: min–max over seeds", "green")


def form_words(form: str) -> str:
    """How a figure names the form of Theorem 5.2 it draws (docs/PROOFS.md)."""
    if form in RUNTIME_FORMS:
        return f"run-time variant (a-posteriori), form {form}"
    return "a-priori" if form == "closed" else f"a-priori {form} form"


# Fig. 8's run under Theorem 5.2 itself (issue 12 item 4: the bound in both forms); γ = α/q (Sec. 5.3)
FIG8_THEOREM = tuple(BoundVariant(f"κ=2 p=32 γ=α/{q:g}", kappa=2, p=32, gamma_rule="alpha", q=q)
                     for q in (1.0, 10.0, 100.0))


def plot_fig8(inp: Inputs) -> FigureData:
    fig = FigureData("fig8", inp.exp.title, [], [], ncols=2)
    label = inp.exp.main_runs()[0].label
    run = inp.runs[label]
    gs = inp.exp.optimistic_gammas
    colors = {"g1": "tab:blue", "g2": "tab:green", "glin": "tab:orange"}
    marks, cut, _ = _phase_marks(run, inp.baseline(run))
    fig.panels.append(Panel("proxy generalization gap R^C_γ[g] − R̂^C_γ[g]",
                            ylabel="generalization gap", vlines=marks, xmax=cut))
    fig.panels.append(Panel("proxy deviation E|f−g| + Ê|f−g|", ylabel="deviation (log)", yscale="log",
                            vlines=marks, xmax=cut))
    for proxy, color in colors.items():
        for g, style in ((min(gs), "-"), (max(gs), "--")):
            fig.add(0, f"{proxy} γ={g:g}", run.t, optimistic_bound(run, proxy, g)["gap"], color=color, style=style)
        fig.add(1, proxy, run.t, optimistic_bound(run, proxy, gs[0])["deviation"], color=color)
    _optimistic_panel(fig, inp, label, "g1", "optimistic bound, κ=1 proxy g1")
    _optimistic_panel(fig, inp, label, "g2", "optimistic bound, κ=2 proxy g2")
    _bound_panel(fig, inp, label, FIG8_THEOREM,
                 f"Theorem 5.2 ({form_words(inp.form)}), κ=2, γ=α/q",
                 name=lambda v: f"Thm 5.2 q={v.q:g}", log=True, ode=True)
    return fig


def plot_fig9(inp: Inputs) -> FigureData:
    fig = FigureData("fig9", inp.exp.title, [], [], ncols=min(3, len(inp.exp.main_runs())))
    for r in inp.exp.main_runs():
        _optimistic_panel(fig, inp, r.label, "g2", f"{r.label}: κ=2 optimistic bound")
    return fig


def plot_fig6b(inp: Inputs) -> FigureData:
    """The planner's best setup per depth, trained on each seed: Theorem 5.2 with the p-bit term at
    the planned (γ, t), δ/N (paper.claim_checks.planned_bounds), and the test risk there."""
    fig = FigureData("fig6b", inp.exp.title, [Panel("bound and test risk at the planned point", "risk",
                                                    xlabel="depth L", xscale="linear", ylim=(0.0, 1.05),
                                                    hlines=[(0.5, "random guess (0.5)", "0.5", "--")])], [],
                     note=inp.exp.notes)
    for k in range(inp.exp.n_seeds()):
        rows = planned_bounds(inp, k)
        depths = sorted(rows)
        fig.add(0, f"bound, seed {k}" if k else "bound (Theorem 5.2 + p-bit term, δ/N)", depths,
                [rows[L]["B"] for L in depths], color="tab:blue", marker="o", legend=k == 0)
        fig.add(0, "test risk", depths, [rows[L]["test_risk"] for L in depths], color="k", style=":",
                marker="x", legend=k == 0)
    return fig


PLOTS: dict[str, Callable[[Inputs], FigureData]] = {
    **{f"fig{i}": f for i, f in enumerate(
        (plot_fig1, plot_fig2, plot_fig3, plot_fig4, plot_fig5, plot_fig6, plot_fig7, plot_fig8, plot_fig9), 1)},
    "fig6b": plot_fig6b,
}
