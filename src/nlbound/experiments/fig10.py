"""Fig. 10 (issue 12): the proof's links as measured/bound ratios along t, and the measured-chain diagnostic."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nlbound.experiments.lemmas import RATIO_LINKS, _params, bound_theory, link_ratios
from nlbound.experiments.plotting import FigureData, Panel

__all__ = ["plot_fig10", "measured_chain_curve"]

_PANELS = (*RATIO_LINKS, "dev_train_rhs", "dev_test_rhs", "dev_Delta")
_TITLES = {  # short panel titles; LM.LINKS has the full statements
    "W_spec": "‖W_l‖ / u  (L. 7.1)", "W1X": "‖W₁X̃‖_F/√m / ρu  (L. 7.1)", "dW_spec": "‖∂W_l/∂τ‖ / v  (L. 7.1)",
    "dW1X": "‖∂W₁X̃/∂τ‖_F/√m / v  (L. 7.1)", "xi_fro": "‖Ξ‖_F / (1+ρβ^L)/√m  (L. 7.4)",
    "xi_x": "‖ΞX̃ᵀ‖ / (s+ρβ^L)  (L. 7.4)", "dev_train_rhs": "train dev. / eq. 21 (48)",
    "dev_test_rhs": "test dev. / eq. 20 (46)", "dev_Delta": "deviation / Δ  (eq. 7)"}


def measured_chain_curve(res: dict, kappa: int = 1) -> dict:
    """Along t: Δ_κ,β(t) (eq. 7), the "measured-chain" Φ_κ V̂ Û^{L−1} (Theorem 5.2's formula with the
    measured sup-norms over the sampled τ in place of u, v -- a diagnostic, NOT a bound: the sup over τ
    is sampled and the norms are data-dependent) and the measured (train + test) deviation / ε^κ."""
    p = _params(res, kappa)
    th = bound_theory(np.asarray(res["t"]), p, res["m"])
    phi = np.broadcast_to(th["phi"], np.shape(res["t"]))
    chain = np.array([phi[i] * r["V"] * r["U"] ** (p.depth - 1) for i, r in enumerate(res["records"])])
    dev = np.array([sum(r["dev"][str(kappa)].values()) for r in res["records"]])
    return {"t": np.asarray(res["t"]), "Delta": th["Delta"], "measured_chain": chain, "deviation": dev}


def plot_fig10(results: Sequence[dict], kappa: int = 1) -> FigureData:
    """One panel per link (max over the τ grid of measured/bound; the line y = 1 is what the paper
    proves) and a last panel with Δ, the measured deviation and the dashed measured-chain diagnostic."""
    panels = [Panel(title=_TITLES[k], ylabel="measured / bound", yscale="log",
                    hlines=[(1.0, "bound", "black", ":")], legend="none") for k in _PANELS]
    panels.append(Panel(title=f"κ = {kappa}: Δ vs measured", ylabel="(1/ε^κ) deviation", yscale="log",
                        legend="lower right"))
    fig = FigureData(name="fig10", title="Where the proof is loose: each link measured (issue 12)",
                     panels=panels, lines=[], ncols=5,
                     note="dashed: measured-chain diagnostic (Theorem 5.2's formula with measured norms), not a bound")
    for res in results:
        c = res["config"]
        label = f"{c['dataset']} {c['size']}x{c['size']} eps={c['eps']:g}"
        t = np.asarray(res["t"])
        keep = t > 0
        ratios = link_ratios(res, kappa)
        for i, k in enumerate(_PANELS):
            fig.add(i, label, t[keep], ratios[k].max(axis=1)[keep])
        mc = measured_chain_curve(res, kappa)
        last = len(_PANELS)
        fig.add(last, f"Δ (bound), {label}", t[keep], mc["Delta"][keep])
        fig.add(last, f"measured chain (diagnostic, not a bound), {label}", t[keep], mc["measured_chain"][keep],
                style="--")
        fig.add(last, f"measured deviation, {label}", t[keep], mc["deviation"][keep], style=":")
    return fig
