"""Figure data (panels of labelled lines) and its rendering to PNG, PDF and a tidy CSV (Agg).

The CSV holds every line's data as given (unclipped); only the drawing clips to a panel's ylim.
A panel's legend goes to `Panel.legend`: "figure" (one shared, de-duplicated legend below the
panels), "outside" (right of the axes), "none", or a matplotlib location inside the axes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # set here, in the plotting module only: never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from nlbound._io import atomic_write_bytes, atomic_write_csv  # noqa: E402


@dataclass
class Line:
    panel: int
    label: str
    x: np.ndarray
    y: np.ndarray
    color: str | None = None
    style: str = "-"
    width: float = 1.4
    legend: bool = True
    marker: str = ""  # a matplotlib marker at every point ("" none)
    clip_marker: bool = False  # +inf / above-ylim points drawn as a "^" at the panel's top edge


@dataclass
class Band:
    """A shaded range (e.g. min-max over init seeds) of a panel."""

    panel: int
    label: str
    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    color: str | None = None


@dataclass
class Panel:
    title: str
    ylabel: str = ""
    xlabel: str = "t"
    xscale: str = "log"
    yscale: str = "linear"
    ylim: tuple[float, float] | None = None
    hlines: list[tuple[float, str, str, str]] = field(default_factory=list)  # y, label, color, style
    vlines: list[tuple] = field(default_factory=list)  # (x, label) or (x, label, color, style)
    legend: str = "figure"  # "figure", "outside", "none" or a matplotlib loc ("lower left", ...)
    xmax: float | None = None  # drawn t range ends here (the CSV keeps every point)
    annotation: str = ""  # a small text in the panel's upper left corner (e.g. what was clipped)
    linthresh: float | None = None  # xscale "symlog": linear on [0, linthresh] (t = 0 drawn), log above


@dataclass
class FigureData:
    name: str
    title: str
    panels: list[Panel]
    lines: list[Line]
    ncols: int = 0  # 0: all panels in one row
    note: str = ""  # a small footnote under the figure
    bands: list[Band] = field(default_factory=list)

    def add(self, panel: int, label: str, x, y, **kw) -> None:
        self.lines.append(Line(panel, label, np.asarray(x, float), np.asarray(y, float), **kw))

    def add_band(self, panel: int, label: str, x, lo, hi, color: str | None = None) -> None:
        self.bands.append(Band(panel, label, np.asarray(x, float), np.asarray(lo, float), np.asarray(hi, float),
                               color=color))


def _vline(v: tuple) -> tuple[float, str, str, str]:
    """(x, label, color, style) of a vlines entry (x, label) or (x, label, color, style)."""
    return (float(v[0]), v[1], "0.5", ":") if len(v) == 2 else (float(v[0]), v[1], v[2], v[3])


def figure_rows(fig: FigureData) -> list[tuple]:
    """The data behind the plot: one row per point (panel, series, x, y) plus reference lines."""
    rows: list[tuple] = []
    for ln in fig.lines:
        title = fig.panels[ln.panel].title
        rows.extend((ln.panel, title, ln.label, float(x), float(y)) for x, y in zip(ln.x, ln.y, strict=True))
    for i, p in enumerate(fig.panels):
        rows.extend((i, p.title, f"hline:{lab}", float("nan"), float(y)) for y, lab, _, _ in p.hlines)
        rows.extend((i, p.title, f"vline:{lab}", x, float("nan")) for x, lab, _, _ in map(_vline, p.vlines))
    for b in fig.bands:
        title = fig.panels[b.panel].title
        for end, ys in (("min", b.lo), ("max", b.hi)):
            rows.extend((b.panel, title, f"band:{b.label}:{end}", float(x), float(y)) for x, y in zip(b.x, ys, strict=True))
    return rows


def render(fig: FigureData, out_dir: str | Path) -> dict[str, Path]:
    """Draw `fig` and write out_dir/<name>.png, .pdf and .csv (atomically); returns the paths."""
    out = Path(out_dir)
    mfig = draw(fig)
    try:
        paths = {}
        for ext in ("png", "pdf"):
            buf = io.BytesIO()
            mfig.savefig(buf, format=ext, dpi=130)
            paths[ext] = atomic_write_bytes(out / f"{fig.name}.{ext}", buf.getvalue())
    finally:
        plt.close(mfig)
    paths["csv"] = atomic_write_csv(out / f"{fig.name}.csv", ["panel", "panel_title", "series", "x", "y"],
                                    figure_rows(fig))
    return paths


def draw(fig: FigureData):
    """The matplotlib figure of `fig` (the caller closes it): panels, shared legend, footnote.

    The shared legend goes into the unused grid slots when it fits there, else under the panels
    with as many columns as fit the width; the figure grows to hold it (measured, not guessed)."""
    n = len(fig.panels)
    ncols = fig.ncols or n
    nrows = -(-n // ncols)
    width = 4.2 * ncols  # an "outside" legend uses the empty slot to its right
    note_h = 0.15 * -(-len(fig.note) // int(17 * width)) + 0.1 if fig.note else 0.0  # ~17 chars of 7 pt / inch
    panels_h, title_h = 3.4 * nrows, 0.35 * (1 + fig.title.count("\n"))
    mfig, axes = plt.subplots(nrows, ncols, figsize=(width, panels_h + title_h + note_h + 0.1), squeeze=False)
    for i, panel in enumerate(fig.panels):
        _draw_panel(axes[i // ncols][i % ncols], panel, [ln for ln in fig.lines if ln.panel == i],
                    [b for b in fig.bands if b.panel == i])
    spare = [axes[j // ncols][j % ncols] for j in range(n, nrows * ncols)]
    for ax in spare:
        ax.axis("off")
    mfig.suptitle(fig.title, fontsize=10)
    shared = _shared_legend_entries(fig)
    foot_h = note_h + 0.1
    if shared:
        hang = _legend_in_spare_slots(mfig, spare, shared)
        foot_h += _legend_below(mfig, shared, width, note_h) if hang is None else hang
    height = panels_h + title_h + foot_h
    mfig.set_size_inches(width, height)
    if fig.note:
        mfig.text(0.01, 0.005, fig.note, fontsize=7, ha="left", va="bottom", wrap=True, color="0.25")
    for leg in mfig.legends:  # re-anchor: the figure grew
        leg.set_bbox_to_anchor((0.5, (note_h + 0.05) / height), transform=mfig.transFigure)
    mfig.tight_layout(rect=(0, foot_h / height, 1, 1 - title_h / height))
    return mfig


def _handles(shared: dict[str, tuple]) -> tuple[list, list[str]]:
    return [h for h, _ in shared.values()], list(shared)


def _legend_in_spare_slots(mfig, spare: list, shared: dict[str, tuple]) -> float | None:
    """Put the shared legend into the unused slots at the end of the grid (2 columns if they fit
    the slots' width, else 1); returns how far (inches) it hangs below them, or None if there are no
    unused slots or it is wider than they are."""
    if not spare:
        return None
    mfig.tight_layout()
    renderer = mfig.canvas.get_renderer()
    boxes = [ax.get_position() for ax in spare]
    avail_w = (max(b.x1 for b in boxes) - min(b.x0 for b in boxes) + 0.1 * boxes[0].width) * mfig.bbox.width
    top = boxes[0].y1 + 0.1 * boxes[0].height  # the legend's top edge, figure units
    for ncol in (2, 1):
        leg = spare[0].legend(*_handles(shared), loc="upper left", bbox_to_anchor=(-0.05, 1.1), fontsize=7,
                              ncol=ncol, frameon=False)
        ext = leg.get_window_extent(renderer)
        if ext.width <= avail_w:
            below = ext.height / mfig.dpi - top * mfig.get_figheight()  # inches under the figure's bottom
            return max(0.0, below + 0.1)
        leg.remove()
    return None


def _legend_below(mfig, shared: dict[str, tuple], width: float, note_h: float) -> float:
    """A legend under the panels with the most columns (<= 6) that fit the width; its height (inches)."""
    renderer = mfig.canvas.get_renderer()
    for ncol in range(min(6, len(shared)), 0, -1):
        leg = mfig.legend(*_handles(shared), loc="lower center", fontsize=7, ncol=ncol, frameon=False,
                          bbox_to_anchor=(0.5, 0.0))
        ext = leg.get_window_extent(renderer)
        if ext.width <= 0.98 * width * mfig.dpi or ncol == 1:
            return ext.height / mfig.dpi + 0.05
        leg.remove()
    return 0.0


def _shared_legend_entries(fig: FigureData) -> dict[str, tuple]:
    """label -> (proxy artist, label) for every line of a panel whose legend is "figure", first wins."""
    out: dict[str, tuple] = {}
    for ln in fig.lines:
        if ln.legend and fig.panels[ln.panel].legend == "figure" and ln.label not in out:
            out[ln.label] = (Line2D([], [], ls=ln.style, color=ln.color, lw=ln.width, marker=ln.marker or None,
                                    ms=4), ln.label)
    for p in fig.panels:
        if p.legend != "figure":
            continue
        for _y, lab, color, style in p.hlines:
            out.setdefault(lab, (Line2D([], [], ls=style, color=color, lw=1.0), lab))
        for _x, lab, color, style in map(_vline, p.vlines):
            out.setdefault(lab, (Line2D([], [], ls=style, color=color, lw=1.0), lab))
    for b in fig.bands:
        if fig.panels[b.panel].legend == "figure":
            out.setdefault(b.label, (Patch(color=b.color, alpha=0.25), b.label))
    return out


def _drawn_y(panel: Panel, y: np.ndarray) -> np.ndarray:
    """y as drawn: on a linear panel with a ylim, values far outside it are pinned just beyond it
    (so a line leaves the panel at the right place without huge coordinates); the data is unchanged."""
    if panel.ylim is None or panel.yscale != "linear":
        return y
    lo, hi = panel.ylim
    span = hi - lo
    return np.clip(y, lo - span, hi + span)


def _draw_panel(ax, panel: Panel, lines: list[Line], bands: Sequence[Band] = ()) -> None:
    xs = []
    for b in bands:
        ok = np.isfinite(b.x) & np.isfinite(b.lo) & np.isfinite(b.hi) & ((b.x > 0) if panel.xscale == "log" else True)
        ax.fill_between(b.x[ok], _drawn_y(panel, b.lo[ok]), _drawn_y(panel, b.hi[ok]), color=b.color, alpha=0.25,
                        lw=0, label=b.label)
    for ln in lines:
        x, y = ln.x, ln.y
        ok = np.isfinite(x) & np.isfinite(y)
        if panel.xscale == "log":
            ok &= x > 0
        if panel.yscale == "log":
            ok &= y > 0
        xs.append(x[ok])
        drawn = ax.plot(x[ok], _drawn_y(panel, y[ok]), ls=ln.style, color=ln.color, lw=ln.width,
                        marker=ln.marker or None, ms=4, label=ln.label if ln.legend else None)
        if ln.clip_marker:
            xs.append(_clip_markers(ax, panel, x, y, drawn[0].get_color()))
    for yh, lab, color, style in panel.hlines:
        ax.axhline(yh, color=color, ls=style, lw=1.0, label=lab)
    for xv, lab, color, style in map(_vline, panel.vlines):
        if np.isfinite(xv) and (panel.xscale != "log" or xv > 0):
            ax.axvline(xv, color=color, ls=style, lw=1.0, label=lab)
    ax.set_xscale(panel.xscale, **({"linthresh": panel.linthresh} if panel.xscale == "symlog" else {}))
    ax.set_yscale(panel.yscale)
    allx = np.concatenate(xs) if xs else np.array([])
    if allx.size and allx.min() < allx.max():
        lo, hi = allx.min(), (allx.max() if panel.xmax is None else min(allx.max(), panel.xmax))
        if any(ln.marker or ln.clip_marker for ln in lines):  # room for the markers at both ends
            lo, hi = (lo / 1.3, hi * 1.3) if panel.xscale == "log" else (lo - 0.03 * (hi - lo), hi + 0.03 * (hi - lo))
        ax.set_xlim(lo, hi)  # the recorded t range (t > 0 on a log axis), cut at xmax
    if panel.annotation:
        ax.text(0.02, 0.97, panel.annotation, transform=ax.transAxes, fontsize=6, va="top", color="0.3")
    if panel.ylim:
        ax.set_ylim(*panel.ylim)
    ax.set_title(panel.title, fontsize=9)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel, fontsize=9)
    ax.grid(alpha=0.3)
    _panel_legend(ax, panel.legend)


def _clip_markers(ax, panel: Panel, x: np.ndarray, y: np.ndarray, color) -> np.ndarray:
    """Points at +inf or above the panel's ylim: a "^" at the top edge (x in data, y in axes units),
    so a value off the chart is seen as off the chart instead of silently missing; returns their x."""
    top = panel.ylim[1] if panel.ylim else np.inf
    off = np.isfinite(x) & ((y == np.inf) | (np.isfinite(y) & (y > top)))
    if panel.xscale == "log":
        off &= x > 0
    if off.any():
        ax.plot(x[off], np.full(int(off.sum()), 0.97), "^", color=color, ms=5, clip_on=False,
                transform=ax.get_xaxis_transform())
    return x[off]


def _panel_legend(ax, where: str) -> None:
    if where in ("figure", "none") or not ax.get_legend_handles_labels()[0]:
        return
    if where == "outside":
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        ax.legend(fontsize=6, loc=where)
