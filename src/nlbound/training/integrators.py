"""The integrator registry (declared options per integrator) and the paper's fixed-step GD.

Integrators of an autonomous flow d(theta)/dt = F(theta): fixed-step GD (the paper's scheme) and
an error-controlled embedded Runge-Kutta ("adaptive", nlbound.training.adaptive: the tableaux of
nlbound.training.tableaux, the controller of nlbound.training.controllers, FSAL, dense output that
hits recording times exactly, error measured in the global norm of theta, and optionally the
matrix-free Rosenbrock fallback of nlbound.training.stiff once the flow turns stiff).

Why not Dormand-Prince with scipy's componentwise norm alone (measured, 7x7 MNIST, eps = 0.5,
beta = 1e-3, to 3 t* = 31.6; BENCHMARKS.md): the componentwise norm divides each weight's error by
atol + rtol |theta_i|, so weights passing near zero (atol = 1e-12 is ~1e-8 of a weight at this beta)
force tiny steps -- 2215 evaluations, collapsing to the 1e-3 floor near t = 30. In the global norm
the same rtol takes 175 evaluations. And once the leaky-ReLU kinks matter (eps >= 0.1) the local
error shrinks like h^2-h^3 rather than h^5, so the 3-evaluation 3(2) pair reaches a given accuracy
with ~3x fewer evaluations than the 6-evaluation 5(4) pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.training.adaptive import ADAPTIVE_OPTIONS, integrate_adaptive
from nlbound.training.stats import (
    DEFAULT_MAX_GRAD_EVALS,
    Advance,
    Flow,
    FlowDivergedError,
    IntegratorStats,
    Record,
    WorkLimitError,
)

__all__ = [
    "IntegratorStats", "INTEGRATORS", "Integrator", "WorkLimitError", "FlowDivergedError", "get_integrator",
    "integrate_gd",
    "integrate_adaptive", "integrator_options", "method_for_eps", "DEFAULT_MAX_GRAD_EVALS",
]  # fmt: skip

# Above this eps the leaky-ReLU kinks dominate the local error (it shrinks like h^2-h^3, not h^5) and the
# 3(2) pair is ~3x cheaper than the 5(4) pair at equal accuracy (measured); below, Dormand-Prince.
NONSMOOTH_EPS = 0.1


def method_for_eps(eps: float) -> str:
    """The adaptive method train() uses: "bs3" for eps >= NONSMOOTH_EPS, else "auto" (Dormand-Prince,
    switching to Bogacki-Shampine if its steps stall)."""
    return "bs3" if eps >= NONSMOOTH_EPS else "auto"




GD_OPTIONS = {"lr": Interval(Real, 0, None, closed="neither"),
              "max_grad_evals": Interval(Integral, 1, None, closed="left")}


def integrate_gd(
    fun: Flow, theta0: np.ndarray, times: Sequence[float] | np.ndarray, record: Record, *,
    lr: float = 1e-3, max_grad_evals: int = DEFAULT_MAX_GRAD_EVALS, advance: Advance | None = None,
) -> IntegratorStats:
    """The paper's scheme: theta <- theta + lr * F(theta). Time t is reached after round(t/lr)
    steps; the state there is recorded under the requested t (off by < lr/2 in time).

    A step longer than the horizon (round(t_end/lr) == 0, t_end > 0) takes the one step it can:
    a single Euler step clipped to end at t_end (the state at t <= t_end is theta0 + t F(theta0)),
    never zero steps. The number of steps is known up front: more than max_grad_evals raises
    WorkLimitError before any step is taken (after the times <= 0 are recorded)."""
    validate_params(GD_OPTIONS, {"lr": lr, "max_grad_evals": max_grad_evals})
    stats = IntegratorStats("gd", settings={"lr": lr, "max_grad_evals": max_grad_evals})
    theta = np.array(theta0, dtype=np.float64)
    grid = np.asarray(times, dtype=np.float64)
    t_end = float(grid[-1]) if len(grid) else 0.0
    n_end = int(round(t_end / lr))
    for t in grid[grid <= 0]:
        record(float(t), theta)
    if n_end > max_grad_evals:
        raise WorkLimitError(f"gd integrator would exceed max_grad_evals={max_grad_evals} at t={t_end:g}: "
                             f"{n_end} steps of lr={lr:g}")
    if n_end == 0 and t_end > 0:
        return _gd_clipped_step(fun, theta, grid[grid > 0], record, advance, stats)
    k = 0
    for t in grid[grid > 0]:
        target = int(round(t / lr))
        while k < target:
            theta += lr * fun(theta)
            k += 1
            stats.grad_evals += 1
            stats.steps += 1
            if advance is not None:
                advance(k * lr, theta)
        record(float(t), theta)
    return stats


def _gd_clipped_step(fun: Flow, theta: np.ndarray, times: np.ndarray, record: Record,
                     advance: Advance | None, stats: IntegratorStats) -> IntegratorStats:
    """One Euler step of size t_end = times[-1] (< lr / 2); the times before it on the same segment."""
    f0 = fun(theta)
    stats.grad_evals, stats.steps = 1, 1
    stats.settings["clipped_step"] = float(times[-1])
    if advance is not None:
        advance(float(times[-1]), theta + times[-1] * f0)
    for t in times:
        record(float(t), theta + t * f0)
    return stats


@dataclass(frozen=True)
class Integrator:
    """A registered integrator: its function, the options it accepts (name -> constraint; the
    function checks the values with nlbound._validate) and which TrainConfig fields it takes."""

    name: str
    function: Callable[..., IntegratorStats]
    options: Mapping[str, Any]
    from_config: Callable[[Any], dict] = field(repr=False)
    callbacks: tuple = ("advance",)

    def __call__(self, fun: Flow, theta0: np.ndarray, times: Sequence[float], record: Record,
                 **options: Any) -> IntegratorStats:
        """Run it; an option it does not declare is a ValueError naming the ones it does."""
        unknown = sorted(set(options) - set(self.options) - set(self.callbacks))
        if unknown:
            raise ValueError(f"the {self.name} integrator takes no option {', '.join(map(repr, unknown))}; "
                             f"its options: {', '.join([*self.options, *self.callbacks])}")
        return self.function(fun, theta0, times, record, **options)



INTEGRATORS: dict[str, Integrator] = {
    "gd": Integrator("gd", integrate_gd, GD_OPTIONS, lambda c: {"lr": c.lr}),
    "adaptive": Integrator("adaptive", integrate_adaptive, ADAPTIVE_OPTIONS,
                           lambda c: {"rtol": c.rtol, "atol": c.atol, "method": method_for_eps(c.eps),
                                      "stiffness": c.stiffness},
                           callbacks=("advance", "step_log")),
}


def integrator_options(config: Any) -> dict:
    """The options a TrainConfig asks of its integrator (config.integrator), and only those."""
    return get_integrator(config.integrator).from_config(config)


def get_integrator(name: str) -> Integrator:
    """The integrator registered under `name`; ValueError listing the valid names otherwise."""
    try:
        return INTEGRATORS[name]
    except KeyError:
        raise ValueError(f"integrator == {name!r}, must be one of {', '.join(INTEGRATORS)}") from None
