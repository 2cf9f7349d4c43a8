"""--plot: heat map of the best predicted bound over (beta, eps), the non-vacuous region outlined."""

from __future__ import annotations

import io

import numpy as np

from nlbound._io import atomic_write_bytes
from nlbound.planning.search import Plan, argmin_by

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


def plot_plan(plan: Plan, path) -> None:
    """One panel per depth: log-log heat map of the best predicted bound, contour at plan.target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = plan.grid.depths
    fig, axes = plt.subplots(1, len(depths), figsize=(5.2 * len(depths), 4.2), squeeze=False)
    for ax, L in zip(axes[0], depths):
        betas, epss, B = best_over_beta_eps(plan, L)
        shown = np.minimum(np.where(np.isfinite(B), B, 2.0), 2.0)
        mesh = ax.pcolormesh(epss, betas, shown, shading="nearest", cmap="viridis", vmin=0.0, vmax=max(1.0, plan.target))
        if epss.size > 1 and betas.size > 1 and (B < plan.target).any() and (B >= plan.target).any():
            ax.contour(epss, betas, (B < plan.target).astype(float), levels=[0.5], colors="white", linewidths=2)
        for i, b in enumerate(betas):
            for j, e in enumerate(epss):
                ax.text(e, b, "inf" if not np.isfinite(B[i, j]) else f"{B[i, j]:.2f}", ha="center", va="center",
                        fontsize=7, color="white" if shown[i, j] < 0.6 else "black")
        ax.set_xscale("log" if epss.size > 1 else "linear")
        ax.set_yscale("log" if betas.size > 1 else "linear")
        ax.set_xlabel("ε")
        ax.set_ylabel("β")
        ax.set_title(f"L={L}: best predicted bound (outline: < {plan.target:g})", fontsize=9)
        fig.colorbar(mesh, ax=ax)
    fig.suptitle(f"nlbound plan, {plan.data.name}: predicted (twin margin risk) + Υ at δ/N, N={plan.n_points:,}",
                 fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fmt = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
    fig.savefig(buf, format=fmt, dpi=130)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
