"""Figure data (panels of labelled lines) and its rendering to PNG, PDF and a tidy CSV (Agg)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # set here, in the plotting module only: never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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


@dataclass
class Panel:
    title: str
    ylabel: str = ""
    xlabel: str = "t"
    xscale: str = "log"
    yscale: str = "linear"
    ylim: tuple[float, float] | None = None
    hlines: list[tuple[float, str, str, str]] = field(default_factory=list)  # y, label, color, style
    vlines: list[tuple[float, str]] = field(default_factory=list)  # x, label


@dataclass
class FigureData:
    name: str
    title: str
    panels: list[Panel]
    lines: list[Line]
    ncols: int = 0  # 0: all panels in one row

    def add(self, panel: int, label: str, x, y, **kw) -> None:
        self.lines.append(Line(panel, label, np.asarray(x, float), np.asarray(y, float), **kw))


def figure_rows(fig: FigureData) -> list[tuple]:
    """The data behind the plot: one row per point (panel, series, x, y) plus reference lines."""
    rows: list[tuple] = []
    for ln in fig.lines:
        title = fig.panels[ln.panel].title
        rows.extend((ln.panel, title, ln.label, float(x), float(y)) for x, y in zip(ln.x, ln.y))
    for i, p in enumerate(fig.panels):
        rows.extend((i, p.title, f"hline:{lab}", float("nan"), float(y)) for y, lab, _, _ in p.hlines)
        rows.extend((i, p.title, f"vline:{lab}", float(x), float("nan")) for x, lab in p.vlines)
    return rows


def render(fig: FigureData, out_dir: str | Path) -> dict[str, Path]:
    """Draw `fig` and write out_dir/<name>.png, .pdf and .csv (atomically); returns the paths."""
    out = Path(out_dir)
    n = len(fig.panels)
    ncols = fig.ncols or n
    nrows = -(-n // ncols)
    mfig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    try:
        for i, panel in enumerate(fig.panels):
            _draw_panel(axes[i // ncols][i % ncols], panel, [ln for ln in fig.lines if ln.panel == i])
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].axis("off")
        mfig.suptitle(fig.title, fontsize=10)
        mfig.tight_layout()
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


def _draw_panel(ax, panel: Panel, lines: list[Line]) -> None:
    for ln in lines:
        x, y = ln.x, ln.y
        ok = np.isfinite(x) & np.isfinite(y)
        if panel.xscale == "log":
            ok &= x > 0
        if panel.yscale == "log":
            ok &= y > 0
        ax.plot(x[ok], y[ok], ln.style, color=ln.color, lw=ln.width, label=ln.label if ln.legend else None)
    for y, lab, color, style in panel.hlines:
        ax.axhline(y, color=color, ls=style, lw=1.0, label=lab)
    for x, lab in panel.vlines:
        if panel.xscale != "log" or x > 0:
            ax.axvline(x, color="0.5", ls=":", lw=1.0, label=lab)
    ax.set_xscale(panel.xscale)
    ax.set_yscale(panel.yscale)
    if panel.ylim:
        ax.set_ylim(*panel.ylim)
    ax.set_title(panel.title, fontsize=9)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")
