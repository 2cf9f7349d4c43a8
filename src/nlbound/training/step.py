"""The one step interface of the adaptive loop: every method, explicit or Rosenbrock, attempts a step alike.

A method (tableaux.Tableau, stiff.RosenbrockTableau) is data plus `attempt`, which returns a `Step`; the
loop (adaptive.py) never asks which kind of method it holds, only what the step offers: dense output or
not, F at the new point (FSAL) or not, two stages for the stiffness test or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from nlbound.training.stats import Flow

__all__ = ["Step", "StepMethod", "Tolerances"]


@dataclass(frozen=True)
class Tolerances:
    """What a method may need beyond (F, theta, F(theta), h): the loop's error tolerances (a Rosenbrock
    method sizes its linear solves from them) and the relative step of finite-difference JVPs."""

    rtol: float
    atol: float
    jvp_rel_step: float


@dataclass(frozen=True, eq=False)
class Step:
    """One attempted step of size h from theta.

    theta_new: the step's solution; error: its local error estimate (same shape).
    f_new: F(theta_new) where the method already evaluated it (FSAL), else None (the loop evaluates it
    once the step is accepted). dense: x -> the state at t + x h for 0 <= x < 1 (dense output), or None:
    the method has none, so its steps must end at the recording times. probe: (F(a), F(b), a, b) for two
    of the step's stage points, from which stiff.spectral_estimate bounds the Jacobian's spectral radius
    from below (None: the method needs no stiffness test)."""

    theta_new: np.ndarray
    error: np.ndarray
    f_new: np.ndarray | None = None
    dense: Callable[[float], np.ndarray] | None = None
    probe: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


class StepMethod(Protocol):
    """What the adaptive loop needs of a method. exponent: order of the error estimate + 1 (the
    controller's 1/exponent); stability: |h lambda| where the stability region ends on the negative real
    axis (inf for the L-stable Rosenbrock methods); dense_output: whether `attempt` returns `dense`;
    uses_jvps: whether its steps take Jacobian-vector products (counted in the stats)."""

    @property
    def name(self) -> str: ...

    @property
    def exponent(self) -> int: ...

    @property
    def stability(self) -> float: ...

    @property
    def dense_output(self) -> bool: ...

    @property
    def uses_jvps(self) -> bool: ...

    def attempt(self, fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, tol: Tolerances) -> Step: ...
