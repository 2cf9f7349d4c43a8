"""--plot: heat map of the best predicted bound over (beta, eps), the non-vacuous region outlined."""

from __future__ import annotations

import io

import matplotlib
import numpy as np

from nlbound._io import atomic_write_bytes
from nlbound.planning.search import Plan, argmin_by

matplotlib.use("Agg")  # files only, never a display (as paper.plotting)
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["best_over_beta_eps", "plot_plan"]


def best_over_beta_eps(plan: Plan, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(betas, epss, B) with B[i, j] = the smallest predicted bound at depth, betas[i], epss[j]
    (minimum over init, t, gamma, kappa, p)."""
    c = plan.columns
    sel = np.flatnonzero(c["depth"] == depth)
    betas, epss = np.asarray(plan.grid.betas), np.asarray(plan.grid.epss)
    B = np.full((betas.size, epss.size), np.inf)
    for i in sel[argmin_by(c["bound"][sel], c["beta"][sel], c["eps"][sel])]:
        B[np.searchsorted(betas, c["beta"][i]), np.searchsorted(epss, c["eps"][i])] = c["bound"][i]
    return betas, epss, B


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around sorted positive centres: geometric midpoints (log axes), a factor 2 outside
    for a single value."""
    if v.size == 1:
        return np.array([v[0] / 2.0, v[0] * 2.0])
    mid = np.sqrt(v[:-1] * v[1:])
    return np.concatenate([[v[0] ** 2 / mid[0]], mid, [v[-1] ** 2 / mid[-1]]])


def _outline(ax, xe: np.ndarray, ye: np.ndarray, inside: np.ndarray) -> None:
    """Draw every cell edge between a cell inside and one outside (or the border) of the region."""
    pad = np.pad(inside, 1, constant_values=False)
    ny, nx = inside.shape
    for i in range(ny + 1):  # horizontal edges y = ye[i]
        for j in range(nx):
            if pad[i, j + 1] != pad[i + 1, j + 1]:
                ax.plot([xe[j], xe[j + 1]], [ye[i], ye[i]], color="white", lw=2)
    for i in range(ny):  # vertical edges x = xe[j]
        for j in range(nx + 1):
            if pad[i + 1, j] != pad[i + 1, j + 1]:
                ax.plot([xe[j], xe[j]], [ye[i], ye[i + 1]], color="white", lw=2)


def _panel(ax, fig, plan: Plan, L: int) -> None:
    betas, epss, B = best_over_beta_eps(plan, L)
    shown = np.minimum(np.where(np.isfinite(B), B, 2.0), 2.0)
    xe, ye = _edges(epss), _edges(betas)
    mesh = ax.pcolormesh(xe, ye, shown, shading="flat", cmap="viridis", vmin=0.0, vmax=max(1.0, plan.target))
    _outline(ax, xe, ye, B < plan.target)
    for i, b in enumerate(betas):
        for j, e in enumerate(epss):
            ax.text(e, b, "inf" if not np.isfinite(B[i, j]) else f"{B[i, j]:.2f}", ha="center", va="center",
                    fontsize=7, color="white" if shown[i, j] < 0.6 else "black")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε")
    ax.set_ylabel("β")
    ax.set_title(f"L={L}: best predicted bound (white outline: < {plan.target:g})", fontsize=9)
    fig.colorbar(mesh, ax=ax)


def plot_plan(plan: Plan, path) -> None:
    """One panel per depth: log-log heat map of the best predicted bound (minimum over init, t, gamma,
    kappa, p), the cells with a bound < plan.target outlined; written atomically (format from the suffix)."""

    depths = plan.grid.depths
    fig, axes = plt.subplots(1, len(depths), figsize=(5.6 * len(depths), 4.4), squeeze=False)
    for ax, L in zip(axes[0], depths, strict=True):
        _panel(ax, fig, plan, L)
    fig.suptitle(f"nlbound plan, {plan.data.name}: predicted bound =\npredicted margin risk + Υ + deviation "
                 f"(Theorem 5.2 at δ/N, N={plan.n_points:,})", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
    fig.savefig(buf, format=fmt, dpi=130)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
