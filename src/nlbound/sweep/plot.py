"""`nlbound plot SWEEP_DIR`: bound vs t small multiples of a finished sweep, read from its files only.

Reads results.csv, summary.csv and sweep.json (never a run directory, never trains). One panel per
value pair of two swept axes; per run the bound of one variant (default: the run's own best, the
summary's `variant_at_min`) and its test risk; the summary's minimum (union-bound price paid) as a
star; +inf or values above the panel's top as "^" at the top edge; reference lines at 0.5 and 1.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from nlbound._validate import ParameterError
from nlbound.paper.plotting import FigureData, Panel, render

__all__ = ["BEST", "read_sweep", "sweep_figure", "plot_sweep_dir"]

BEST = "best"  # --variant best: per run, the variant at the summary's minimum
Y_TOP = 10.0  # log y drawn up to here; above (vacuous by far) and +inf: a marker at the top edge
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
          "tab:olive", "tab:cyan")


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ValueError(f"SWEEP_DIR: {path} is missing (not a finished sweep's output directory?)")
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_sweep(sweep_dir: str | Path) -> tuple[dict, list[dict[str, str]], list[dict[str, str]]]:
    """(spec of sweep.json, rows of results.csv, rows of summary.csv); ValueError naming a missing file."""
    d = Path(sweep_dir)
    meta = d / "sweep.json"
    if not meta.is_file():
        raise ValueError(f"SWEEP_DIR: {meta} is missing (not a finished sweep's output directory?)")
    return json.loads(meta.read_text())["spec"], _read_csv(d / "results.csv"), _read_csv(d / "summary.csv")


def _axes(spec: dict, results: list[dict[str, str]], axes: tuple[str, ...] | None) -> tuple[str, str | None]:
    header = list(results[0]) if results else []
    names = [c for c in header if c in spec["sweep"]] or list(spec["sweep"])  # the spec's order (json sorts keys)
    if not names:
        raise ValueError(f"plot needs a swept axis, sweep {spec['name']!r} has none")
    axes = tuple(axes or names[:2])
    for a in axes:
        if a not in names:
            raise ParameterError("axes", a, "one of " + ", ".join(names))
    if len(axes) > 1 and axes[0] == axes[1]:
        raise ParameterError("axes", axes[1], f"an axis other than {axes[0]!r}")
    return axes[0], (axes[1] if len(axes) > 1 else None)


def _index(values: list, cell: str) -> int:
    """Position of a CSV cell among an axis' spec values (numbers compared as floats)."""
    for i, v in enumerate(values):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                if math.isclose(float(cell), float(v), rel_tol=1e-12, abs_tol=0.0) or float(cell) == float(v):
                    return i
            except ValueError:
                continue
        elif str(v) == cell:
            return i
    raise ValueError(f"value {cell!r} of the results is not among the spec's {values}")


def sweep_figure(spec: dict, results: list[dict[str, str]], summary: list[dict[str, str]],
                 variant: str = BEST, axes: tuple[str, ...] | None = None) -> FigureData:
    """The small multiples as FigureData (lines: bound per run, its test risk, the summary's min)."""
    rows_axis, cols_axis = _axes(spec, results, axes)
    known = list(dict.fromkeys(r["variant"] for r in results))
    if variant != BEST and variant not in known:
        raise ParameterError("variant", variant, f"{BEST} or one of " + ", ".join(known))
    row_vals = spec["sweep"][rows_axis]
    col_vals = spec["sweep"][cols_axis] if cols_axis else [None]
    title = f"{spec['name']}: bound of Theorem 5.2 vs t, " + (
        "each run's best variant (summary.csv variant_at_min)" if variant == BEST else variant)
    panels = [Panel(f"{rows_axis}={rv}" + (f", {cols_axis}={cv}" if cols_axis else ""),
                    ylabel="bound (solid), test risk (dotted)", yscale="log", ylim=None,
                    hlines=[(0.5, "random guess (0.5)", "red", ":"), (1.0, "vacuous (1)", "0.4", "--")])
                  for rv in row_vals for cv in col_vals]
    fig = FigureData("sweep", title, panels, [], ncols=len(col_vals),
                     note=f"▲ at the top edge: bound above {Y_TOP:g} or +inf. ★: summary.csv min_bound at t_at_min "
                          "(union bound over the run's grid of t and variants paid, so above the plain curve).")
    best = {s["key"]: s["variant_at_min"] for s in summary}
    mins = {s["key"]: s for s in summary}
    by_key: dict[str, list[dict[str, str]]] = {}
    for r in results:
        by_key.setdefault(r["key"], []).append(r)
    others = [a for a in spec["sweep"] if a not in (rows_axis, cols_axis)]
    colour: dict[str, str] = {}
    for key, rows in by_key.items():
        first = rows[0]
        panel = _index(row_vals, first[rows_axis]) * len(col_vals) + (_index(col_vals, first[cols_axis])
                                                                      if cols_axis else 0)
        chosen = best[key] if variant == BEST else variant
        mine = [r for r in rows if r["variant"] == chosen]
        t = np.array([float(r["t"]) for r in mine])
        name = ", ".join(f"{a}={first[a]}" for a in others)
        if name not in colour:  # one legend entry per colour (the runs that differ in the other axes)
            colour[name] = COLORS[len(colour) % len(COLORS)]
            fig.add(0, name or "bound (solid), test risk (dotted)", [], [], color=colour[name])
        c, prefix = colour[name], (f"{name}: " if name else "")
        fig.add(panel, f"{prefix}bound [{chosen}]", t, [float(r["bound"]) for r in mine], color=c,
                clip_marker=True, legend=False)
        fig.add(panel, f"{prefix}test risk", t, [float(r["test_risk"]) for r in mine], color=c, style=":",
                legend=False)
        if variant == BEST and key in mins and math.isfinite(float(mins[key]["min_bound"])):
            fig.add(panel, f"{prefix}min_bound (summary)", [float(mins[key]["t_at_min"])],
                    [float(mins[key]["min_bound"])], color=c, style="none", marker="*", legend=False)
    for p in fig.panels:
        p.ylim = (_y_bottom(fig), Y_TOP)
    return fig


def _y_bottom(fig: FigureData) -> float:
    """The log axis' bottom: a little below the smallest positive finite value drawn (>= 1e-3)."""
    ys = np.concatenate([ln.y[np.isfinite(ln.y) & (ln.y > 0)] for ln in fig.lines] or [np.array([0.1])])
    return max(1e-3, float(ys.min()) / 1.5) if ys.size else 0.1


def plot_sweep_dir(sweep_dir: str | Path, variant: str = BEST, axes: tuple[str, ...] | None = None,
                   out: str | Path | None = None) -> dict[str, Path]:
    """Draw a finished sweep into out (default SWEEP_DIR/sweep.png), with .pdf and the plotted data (.csv)
    beside it."""
    spec, results, summary = read_sweep(sweep_dir)
    fig = sweep_figure(spec, results, summary, variant, axes)
    path = Path(out) if out is not None else Path(sweep_dir) / "sweep.png"
    if path.suffix != ".png":
        raise ParameterError("out", str(path), "a path ending in .png")
    fig.name = path.stem
    return render(fig, path.parent)
