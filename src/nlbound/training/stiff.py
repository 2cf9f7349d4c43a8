"""The stiff fallback: a matrix-free Rosenbrock method (ROS2) and the stiffness detector that calls it.

Why: for depth L >= 3 the converged phase of the flow is stiff. The Jacobian of F = -grad L is
-Hessian; after convergence its largest eigenvalue lambda stays O(1) while nothing else moves, so an
explicit method is held to h ~ stability / lambda (the L = 4 linear twin to 4 t* = 3.2e6 took
263,684 Dormand-Prince steps). ROS2 is L-stable: its step grows once the error allows.

ROS2 (Verwer, Spee, Blom, Hundsdorfer 1999, SIAM J. Sci. Comput. 20(4), eq. 2.4), gamma = 1 + 1/sqrt 2:
    (I - gamma h J) k1 = F(theta)
    (I - gamma h J) k2 = F(theta + h k1) - 2 k1
    theta_new = theta + 3/2 h k1 + 1/2 h k2
It is second order for any matrix in place of J (a W-method), so an approximate Jacobian-vector
product (finite differences of F; for NetFlow in float64 whatever the gradients' dtype) and inexact
Krylov solves change its stability, never its order. Error estimate: theta_new minus the linearly implicit Euler
solution theta + h k1, i.e. h (k1 + k2) / 2 (first order: step-size exponent 2). The linear systems
are solved by GMRES (scipy.sparse.linalg.gmres) with a LinearOperator whose matvec is one JVP,
i.e. one gradient evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from nlbound.training.controllers import norm2

__all__ = ["ROS2_GAMMA", "ros2_step", "jvp_fd", "linearization", "StiffnessDetector", "spectral_estimate"]

Flow = Callable[[np.ndarray], np.ndarray]
ROS2_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
ROS2_EXPONENT = 2  # the error estimate is first order: local error ~ h^2


def jvp_fd(fun: Flow, theta: np.ndarray, f0: np.ndarray, v: np.ndarray, rel_step: float) -> np.ndarray:
    """J(theta) v ~ (F(theta + delta v) - F(theta)) / delta, delta = rel_step max(1, ||theta||) / ||v||
    (one gradient evaluation; rel_step ~ sqrt of the flow's precision balances rounding and truncation)."""
    nv = norm2(v)
    if nv == 0.0:
        return np.zeros_like(v)
    delta = rel_step * max(1.0, norm2(theta)) / nv
    return (fun(theta + delta * v) - f0) / delta


def linearization(fun: Flow, theta: np.ndarray, f0: np.ndarray, rel_step: float) -> Callable:
    """v -> J(theta) v: the flow's own `linearize(theta)` where it has one (NetFlow: float64
    differences whatever the gradients' dtype), else forward differences of `fun` (jvp_fd)."""
    linearize = getattr(fun, "linearize", None)
    if linearize is not None:
        return linearize(theta)
    return lambda v: jvp_fd(fun, theta, f0, v, rel_step)


def _solve(jvp: Callable, gh: float, rhs: np.ndarray, tol: float, maxiter: int) -> np.ndarray:
    """x with ||(I - gh J) x - rhs|| <= tol (or maxiter GMRES cycles of 20)."""
    n = rhs.size
    op = LinearOperator((n, n), matvec=lambda v: v - gh * jvp(np.ravel(v)), dtype=np.float64)
    x, _ = gmres(op, rhs, rtol=1e-12, atol=tol, restart=20, maxiter=maxiter)
    return x


def ros2_step(fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, *, solve_tol: float,
              rel_step: float = 1e-7, maxiter: int = 5):
    """One ROS2 step of size h from theta with F(theta) = f0 (see the module docstring).

    solve_tol: absolute residual tolerance of each linear solve, in units of k (the step's state
    error it causes is ~ h solve_tol). Returns (theta_new, error estimate h (k1 + k2) / 2)."""
    gh, jvp = ROS2_GAMMA * h, linearization(fun, theta, f0, rel_step)
    k1 = _solve(jvp, gh, f0, solve_tol, maxiter)
    f1 = fun(theta + h * k1)
    k2 = _solve(jvp, gh, f1 - 2.0 * k1, solve_tol, maxiter)
    theta_new = theta + (1.5 * h) * k1 + (0.5 * h) * k2
    return theta_new, (0.5 * h) * (k1 + k2)


@dataclass
class StiffnessDetector:
    """Declares the flow stiff once `needed` accepted explicit steps in a row were stability-limited.

    After each accepted explicit step, rho = ||F(a) - F(b)|| / ||a - b|| over the step's last two
    stages (for Dormand-Prince both at t + h: Hairer & Wanner's test, Solving ODEs II, IV.2) is a
    lower estimate of the Jacobian's spectral radius; h rho > `fraction` x the tableau's stability
    bound marks the step stability-limited. `reset_after` non-limited steps in a row reset the count."""

    needed: int = 15
    reset_after: int = 6
    fraction: float = 0.9
    limited: int = 0
    free: int = 0

    def update(self, h: float, rho: float, stability: float) -> bool:
        """Record one accepted step; True when the flow is declared stiff."""
        if h * rho > self.fraction * stability:
            self.limited, self.free = self.limited + 1, 0
        else:
            self.free += 1
            if self.free >= self.reset_after:
                self.limited = 0
        return self.limited >= self.needed


def spectral_estimate(fa: np.ndarray, fb: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """||F(a) - F(b)|| / ||a - b|| (0 when a == b)."""
    d = norm2(a - b)
    return norm2(fa - fb) / d if d > 0 else 0.0
