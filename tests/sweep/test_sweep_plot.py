"""`nlbound plot SWEEP_DIR`: the drawn data is each run's best variant, the summary's minimum sits on it,
+inf is a marker at the top edge, and 0.5 / 1 are marked (checked on the plotted data, not pixels)."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nlbound.cli.main import main
from nlbound.execution.backends import LocalBackend
from nlbound.paper.plotting import draw
from nlbound.sweep import load_spec, run_sweep
from nlbound.sweep.plot import read_sweep, sweep_figure

from run_fakes import synthetic_trace, write_run

# 7x7 MNIST-like runs (fake traces: m = 60,000, rank 49; see run_fakes), kappa 1 and 2.
SPEC = """
[fixed]
dataset = "mnist"
size = 7
depth = 2
width = 8
beta = 0.001
[sweep]
eps = [0.001, 0.1]
init_seed = [0, 1]
[horizon]
t_star_multiple = 3.0
[bounds]
kappa = [1, 2]
q = [100, 10, 1]
"""


def early_train(config, out_dir, data_dir) -> None:
    """A fake run whose risks fall early (by t_end/300), before the deviation term grows."""
    tr = synthetic_trace(config)
    fall = 0.38 * (1.0 - np.exp(-tr["t"] / (config.t_end / 300)))
    for k in list(tr):
        if k.startswith(("train_margin_risk@", "test_margin_risk@", "train_risk", "test_risk")):
            tr[k] = np.clip(0.5 - fall + (tr[k] - tr[k][0]) * 0 + (tr[k][0] - 0.5), 0.0, 1.0)
    write_run(config, out_dir, tr)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweepplot")
    (root / "spec.toml").write_text(textwrap.dedent(SPEC))
    run_sweep(load_spec(root / "spec.toml"), root / "out", root / "runs", backend=LocalBackend(processes=1),
              progress=False, train_fn=early_train, s_of=lambda config: 0.6, log=lambda s: None)
    return root / "out"


def _bound_lines(fig):
    return [ln for ln in fig.lines if "bound [" in ln.label]


def test_best_variant_is_drawn_and_the_summary_minimum_lies_on_it(sweep_dir):
    spec, results, summary = read_sweep(sweep_dir)
    fig = sweep_figure(spec, results, summary)
    lines = _bound_lines(fig)
    assert len(lines) == len(summary) == 4
    below = 0
    for s in summary:
        (ln,) = [ln for ln in lines if ln.label.endswith(f"[{s['variant_at_min']}]") and
                 ln.panel == fig.panels.index(next(p for p in fig.panels
                                                   if p.title == f"eps={float(s['eps']):g}, init_seed={s['init_seed']}"))]
        rows = [r for r in results if r["key"] == s["key"] and r["variant"] == s["variant_at_min"]]
        assert np.array_equal(ln.y, [float(r["bound"]) for r in rows])  # the drawn curve is results.csv's
        t_min, b_min = float(s["t_at_min"]), float(s["min_bound"])
        at = float(ln.y[list(ln.x).index(t_min)])
        assert at <= b_min  # the summary pays the union price on top of the curve
        if b_min < 0.5:
            below += 1
            assert at < 0.5
    assert below >= 1, "the fake sweep must have a non-vacuous point for this test to mean anything"
    first = results[0]["variant"]  # what `sweep --plot` used to draw for every run
    assert first == "kappa=1 p=32 gamma=beta2/100" and not any(ln.label.endswith(f"[{first}]") for ln in lines)
    assert all((0.5, "random guess (0.5)") == p.hlines[0][:2] and p.hlines[1][0] == 1.0 for p in fig.panels)


def test_infinite_bound_is_a_marker_at_the_top_not_the_axis(sweep_dir):
    spec, results, summary = read_sweep(sweep_dir)
    variant = "kappa=2 p=32 gamma=beta2/100"
    fig = sweep_figure(spec, results, summary, variant=variant)
    lines = _bound_lines(fig)
    assert all(ln.label.endswith(f"[{variant}]") for ln in lines)
    assert any(np.isinf(ln.y).any() for ln in lines)
    mfig = draw(fig)
    try:
        for ax in mfig.axes[:len(fig.panels)]:
            lo, hi = ax.get_ylim()
            assert ax.get_yscale() == "log" and hi == pytest.approx(10.0) and lo < 0.5  # not pinned by inf
        marks = [ln for ax in mfig.axes for ln in ax.get_lines()
                 if ln.get_marker() == "^" and ln.get_transform() is not ax.transData]
        assert marks and all(set(ln.get_ydata()) == {0.97} for ln in marks)
    finally:
        plt.close(mfig)


def test_cli_plot_and_bad_variant(sweep_dir, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["plot", str(sweep_dir), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "p.csv", newline="") as fh:
        series = {r["series"] for r in csv.DictReader(fh)}
    assert any(s.startswith("bound [kappa=2") for s in series)
    assert main(["plot", str(sweep_dir), "--variant", "kappa=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--variant == 'kappa=3'" in err
    assert main(["plot", str(tmp_path / "nothing")]) == 2
    assert "sweep.json is missing" in capsys.readouterr().err
