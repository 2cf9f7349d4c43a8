"""What every integrator reports (IntegratorStats), its callback types and its work-cap error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "IntegratorStats", "WorkLimitError", "FlowDivergedError", "DEFAULT_MAX_GRAD_EVALS", "Flow", "Record", "Advance",
]

Flow = Callable[[np.ndarray], np.ndarray]  # theta -> d(theta)/dt (float64, same shape)
Record = Callable[[float, np.ndarray], None]  # called at each requested time, in order
Advance = Callable[[float, np.ndarray], None]  # called after each accepted step: (t, theta)

# Default work cap of every integrator: 1e7 gradient evaluations (~2.6 days of 7x7 MNIST evaluations
# at ~23 ms each: BENCHMARKS.md, eps = 0.5, 256 in 5.82 s) -- past it a run is a mistake (e.g.
# --until 1e300), not a plan.
DEFAULT_MAX_GRAD_EVALS = 10_000_000


class WorkLimitError(RuntimeError):
    """An integration would need more gradient evaluations than its max_grad_evals (train(): status
    "failed", the message in run.json["error"])."""


class FlowDivergedError(RuntimeError):
    """The flow's right-hand side (or the state) became non-finite on a step that could not be
    shortened further; t is where that step ended (train(): status "diverged", raised on as
    TrainingDivergedError naming the run directory)."""

    def __init__(self, t: float, h: float):
        self.t, self.h = t, h
        super().__init__(f"the flow diverged: non-finite state or gradient at t={t:g} "
                         f"(a step of h={h:g} that could not be shortened failed)")


@dataclass
class IntegratorStats:
    """What an integration cost and how it went; merged into run.json."""

    name: str
    grad_evals: int = 0
    steps: int = 0
    rejected: int = 0
    forced: int = 0  # adaptive steps accepted at the h_min floor despite err > 1 (the fallback)
    max_forced_err: float = 0.0
    settings: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "integrator": self.name,
            "grad_evals": self.grad_evals,
            "steps": self.steps,
            "rejected_steps": self.rejected,
            "forced_steps": self.forced,
            "max_forced_error_ratio": self.max_forced_err,
            **self.settings,
        }
