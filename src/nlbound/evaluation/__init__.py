"""Risks, margin risks, losses, proxies (Sec. 4, eq. 25) and the optimistic bound (eq. 41)."""

from nlbound.evaluation.metrics import (
    assumption_5_1_quantity,
    continuous_margin_risk,
    g2_outputs,
    linear_correction,
    loss,
    loss_x,
    margin_risk,
    margin_summary,
    mean_abs_deviation,
    optimistic_bound,
    risk,
    round_to_precision,
)

__all__ = [
    "assumption_5_1_quantity",
    "continuous_margin_risk",
    "margin_summary",
    "g2_outputs",
    "linear_correction",
    "loss",
    "loss_x",
    "margin_risk",
    "mean_abs_deviation",
    "optimistic_bound",
    "risk",
    "round_to_precision",
]
