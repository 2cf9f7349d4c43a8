"""Every figure (Figs 1-11, full and --quick declarations) drawn from synthetic runs: no legend clipped
by the figure's edge, no empty axes, no text naming an issue, no panel title running over its axes."""

from __future__ import annotations

import copy
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from nlbound.paper import fig11 as F11
from nlbound.paper.fig10 import fig10_configs, plot_fig10
from nlbound.paper.figures import BUILDERS, Context
from nlbound.paper.panels import PLOTS
from nlbound.paper.plotting import FigureData, Panel, draw

from run_fakes import ctx, inputs_of

ISSUE = re.compile(r"\bissues?\b", re.IGNORECASE)
CAPITAL_UPSILON = "\u03a5"  # DejaVu Sans draws it as a Latin Y: use ϒ (U+03D2)


def layout_problems(fig: FigureData) -> list[str]:
    """What a reader would stumble on in the drawn figure (empty list: none)."""
    mfig = draw(fig)
    try:
        mfig.canvas.draw()
        renderer = mfig.canvas.get_renderer()
        box = mfig.bbox
        out = []
        legends = list(mfig.legends) + [ax.get_legend() for ax in mfig.axes if ax.get_legend() is not None]
        for leg in legends:
            e = leg.get_window_extent(renderer)
            if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
                out.append(f"legend clipped: {e.bounds} outside the figure {box.bounds}")
        for k, ax in enumerate(mfig.axes):
            data = [ln for ln in ax.get_lines() if ln.get_transform() is ax.transData and len(ln.get_xdata())]
            if ax.axison and not data and not ax.collections:
                out.append(f"axes {k} ({ax.get_title()!r}) has no data")
            if not ax.axison and ax.get_legend() is None:
                out.append(f"axes {k} is an empty slot")
            title = ax.title.get_window_extent(renderer)
            if ax.get_title() and title.width > 1.15 * ax.get_window_extent(renderer).width:
                out.append(f"title {ax.get_title()!r} overruns its axes")
            if ax.get_title() and (title.x0 < box.x0 - 1 or title.x1 > box.x1 + 1):
                out.append(f"title {ax.get_title()!r} leaves the figure")
        for t in mfig.findobj(Text):
            s = t.get_text()
            if t.get_visible() and ISSUE.search(s):
                out.append(f"text names an issue: {s!r}")
            if t.get_visible() and CAPITAL_UPSILON in s:
                out.append(f"capital Upsilon (drawn as Y): {s!r}")
        return out
    finally:
        plt.close(mfig)


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
@pytest.mark.parametrize("name", list(PLOTS))
def test_figures_1_to_9_have_no_layout_problems(tmp_path, name, quick):
    fig = PLOTS[name](inputs_of(BUILDERS[name](ctx(quick=quick)), tmp_path))
    assert layout_problems(fig) == []


def _fig11_curves(n_labels: int = 4) -> dict:
    t = np.array([0.03, 1.0, 10.0, 31.6])
    out = {}
    for k in range(n_labels):
        c = {"t": t, "test_risk": np.array([0.45, 0.2, 0.18, 0.18]), "train_risk": np.array([0.46, 0.2, 0.19, 0.19])}
        for j, name in enumerate(F11.BOUND_LABELS):
            c[name] = np.array([0.6, 0.4 + 0.1 * j, 1.5 + j, 2.0 + j])
            c[f"{name}:predictor_test_risk"] = c["test_risk"]
        c["theorem_5_2"] = np.array([0.6, 0.35, 0.5, np.inf])  # +inf where Δ_κ(t) is infinite
        out[f"run {k}"] = c
    return out


def test_fig11_has_no_layout_problems_and_marks_infinity():
    fig = F11.figure_data(_fig11_curves(), note="a note")
    assert layout_problems(fig) == []
    assert all(ln.style == "none" and ln.marker for ln in fig.lines)  # sampled times: markers, no joining lines
    mfig = draw(fig)
    try:
        ax = mfig.axes[0]  # log-y row: Theorem 5.2 is +inf at t = 31.6 -> a "^" at the top edge
        tops = [ln for ln in ax.get_lines() if ln.get_marker() == "^" and ln.get_transform() is not ax.transData]
        assert any(31.6 in list(ln.get_xdata()) and list(ln.get_ydata()) == [0.97] for ln in tops)
    finally:
        plt.close(mfig)


@pytest.fixture(scope="module")
def lemma_results(tmp_path_factory):
    """One small synthetic lemma run (as `reproduce fig10 --quick`), copied under 5 labels."""
    from nlbound.data import load_dataset
    from nlbound.analysis.lemma_runs import run_lemmas

    ((_, config),) = fig10_configs(Context(quick=True), quick=True)
    res = run_lemmas(config, load_dataset(config.dataset, config.size),
                     cache_dir=tmp_path_factory.mktemp("lemmas"))
    out = []
    for eps in (0.001, 0.01, 0.1, 0.2, 0.4):
        r = copy.deepcopy(res)
        r["config"]["eps"] = eps
        out.append(r)
    return out


def test_fig10_has_no_layout_problems_and_draws_t0(lemma_results):
    fig = plot_fig10(lemma_results)
    assert layout_problems(fig) == []
    mfig = draw(fig)
    try:
        for ax in mfig.axes[:-1]:
            assert ax.get_xscale() == "symlog"
        # the t = 0 values are drawn wherever they are positive
        assert any(0.0 in list(ln.get_xdata()) for ln in mfig.axes[0].get_lines())
    finally:
        plt.close(mfig)


def test_the_checks_fail_on_known_defects():
    """layout_problems is not a test that cannot fail: each defect it looks for is caught."""
    t = np.geomspace(0.1, 10, 5)
    panels = [Panel("a"), Panel("b"), Panel("an issue 12 title"), Panel("ϒ ok but \u03a5 not")]
    fig = FigureData("x", "t", panels[:3], [], ncols=2)
    fig.add(0, "line", t, t, legend=False)  # no shared legend: it would fill the spare slot
    fig.add(2, "line", t, t, legend=False)
    got = "\n".join(layout_problems(fig))
    assert "axes 1" in got and "has no data" in got and "empty slot" in got and "names an issue" in got
    wide = FigureData("y", "t", [Panel("a very long panel title " * 6)], [])
    wide.add(0, "line", t, t)
    assert any("overruns" in p for p in layout_problems(wide))
    up = FigureData("z", "t", panels[3:], [])
    up.add(0, "line", t, t)
    assert any("Upsilon" in p for p in layout_problems(up))


def test_fig8_cut_label_is_computed_from_the_run(tmp_path):
    """The label says where the drawn t range ends and why, from the run: here the run stops at its cap
    T before 1.5·t2 (as the committed Fig. 8, whose runs end at the 60·t* cap), never a fixed text."""
    from nlbound.analysis.phases import run_phases

    inp = inputs_of(BUILDERS["fig8"](ctx(quick=False)), tmp_path)
    fig = PLOTS["fig8"](inp)
    run = inp.runs[inp.exp.main_runs()[0].label]
    ph = run_phases(run, inp.baseline(run))
    assert ph.phase3_reached and 1.5 * ph.t2 > run.t[-1]  # the synthetic trace is such a run
    notes = {p.annotation for p in fig.panels if p.annotation.startswith(("t cut", "run ended", "phase 3"))}
    assert notes == {f"run ended at its cap T = {run.t[-1]:.3g}, before 1.5·t2 = {1.5 * ph.t2:.3g}"}
