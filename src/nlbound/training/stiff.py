"""The stiff fallback: matrix-free Rosenbrock methods (ROS2, Rodas3) and the stiffness detector that calls them.

Why: for depth L >= 3 the converged phase of the flow is stiff. The Jacobian of F = -grad L is
-Hessian; after convergence its largest eigenvalue lambda stays O(1) while nothing else moves, so an
explicit method is held to h ~ stability / lambda (the L = 4 linear twin to 4 t* = 3.2e6 took
263,684 Dormand-Prince steps). ROS2 is L-stable: its step grows once the error allows.

ROS2 (Verwer, Spee, Blom, Hundsdorfer 1999, SIAM J. Sci. Comput. 20(4), eq. 2.4), gamma = 1 + 1/sqrt 2:
    (I - gamma h J) k1 = F(theta)
    (I - gamma h J) k2 = F(theta + h k1) - 2 k1
    theta_new = theta + 3/2 h k1 + 1/2 h k2
It is second order for any matrix in place of J (a W-method), so an approximate Jacobian-vector
product (NetFlow: its exact a.e. product, flows.NetFlow.linearize; other flows: finite differences of F) and inexact
Krylov solves change its stability, never its order. Error estimate: theta_new minus the linearly implicit Euler
solution theta + h k1, i.e. h (k1 + k2) / 2 (first order: step-size exponent 2). The linear systems
of a step are solved in one Krylov basis of J that all its stages share (KrylovBasis: GMRES for the
first stage, each new basis vector one JVP, i.e. one evaluation).

Rodas3 (the RODAS3 constant below) is third order with an embedded second-order estimate: on the
stiff linear test problem of tests/training/test_integrators.py it needs 658 evaluations where ROS2 needs
8,756 (observed orders 2.99-3.05, measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nlbound.training.controllers import global_scale, norm2
from nlbound.training.stats import Flow
from nlbound.training.step import Step, Tolerances

__all__ = [
    "SOLVE_FRACTION", "ROS2_GAMMA", "ROS2", "RODAS3", "ROSENBROCK", "RosenbrockTableau", "KrylovBasis", "rosenbrock_step", "ros2_step",
    "jvp_fd",
    "linearization", "StiffnessDetector", "spectral_estimate",
]

ROS2_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
# Linear solves of a step in the adaptive loop: residual (in state units) <= SOLVE_FRACTION x the global
# tolerance, so that the state error they cause is ~SOLVE_FRACTION of what the error control allows.
SOLVE_FRACTION = 1e-3


def jvp_fd(fun: Flow, theta: np.ndarray, f0: np.ndarray, v: np.ndarray, rel_step: float) -> np.ndarray:
    """J(theta) v ~ (F(theta + delta v) - F(theta)) / delta, delta = rel_step max(1, ||theta||) / ||v||
    (one gradient evaluation; rel_step ~ sqrt of the flow's precision balances rounding and truncation)."""
    nv = norm2(v)
    if nv == 0.0:
        return np.zeros_like(v)
    delta = rel_step * max(1.0, norm2(theta)) / nv
    return (fun(theta + delta * v) - f0) / delta


def linearization(fun: Flow, theta: np.ndarray, f0: np.ndarray, rel_step: float) -> Callable:
    """v -> J(theta) v: the flow's own `linearize(theta)` where it has one (NetFlow: the exact a.e.
    product by forward mode), else forward differences of `fun` (jvp_fd)."""
    linearize = getattr(fun, "linearize", None)
    if linearize is not None:
        return linearize(theta)
    return lambda v: jvp_fd(fun, theta, f0, v, rel_step)


class KrylovBasis:
    """Solves (I - gh J) x = b for every stage of one Rosenbrock step from one growing Krylov basis of J.

    The basis V (orthonormal columns) and JV = J V are kept: a solve takes the least-squares x = V y
    minimising ||(V - gh JV) y - b|| and, while the residual r exceeds tol, adds r (orthogonalised
    against V) to the basis at the cost of one JVP -- GMRES, in exact arithmetic, for the first right-hand
    side. The later stages' right-hand sides (F at nearby points, combinations of earlier stages) lie
    mostly in the span already built, and since span(V) is a Krylov space of J alone, any gh reuses it.
    Measured on Fig. 6's L = 3 net past its stiff switch: BENCHMARKS.md (issue 10 item 4)."""

    def __init__(self, jvp: Callable, n: int, maxdim: int):
        self.jvp, self.maxdim = jvp, maxdim
        self.V = np.empty((n, 0))
        self.JV = np.empty((n, 0))

    def solve(self, gh: float, b: np.ndarray, tol: float) -> np.ndarray:
        """x with ||(I - gh J) x - b|| <= tol, or the best x in a basis of maxdim vectors."""
        while True:
            y = np.zeros(0)
            r = b
            if self.V.shape[1]:
                A = self.V - gh * self.JV
                y = np.linalg.lstsq(A, b, rcond=None)[0]
                r = b - A @ y
            nr = norm2(r)
            if nr <= tol or self.V.shape[1] >= self.maxdim or nr == 0.0:
                return self.V @ y
            v = r - self.V @ (self.V.T @ r)
            v -= self.V @ (self.V.T @ v)  # Gram-Schmidt twice ("twice is enough": Kahan, in Parlett 1980)
            nv = norm2(v)
            if nv <= 1e-14 * nr:  # r already in span(V): the least-squares solution is the best there is
                return self.V @ y
            v /= nv
            self.V = np.column_stack([self.V, v])
            self.JV = np.column_stack([self.JV, self.jvp(v)])


@dataclass(frozen=True, eq=False)
class RosenbrockTableau:
    """A Rosenbrock method in Hairer & Wanner's transformed form (Solving ODEs II, IV.7, eq. 7.25'):
    (I - gamma h J) U_i = gamma h F(theta + sum_j a[i, j] U_j) + gamma sum_j c[i, j] U_j,
    theta_new = theta + b @ U, local error estimate e @ U (e = b - b_hat). exponent: order of the
    error estimate + 1."""

    name: str
    gamma: float
    a: np.ndarray
    c: np.ndarray
    b: np.ndarray
    e: np.ndarray
    exponent: int

    stability = math.inf  # L-stable: no step is stability-limited
    dense_output = False  # no dense output: the loop ends steps at the recording times
    uses_jvps = True

    def attempt(self, fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, tol: Tolerances) -> Step:
        """One step as the adaptive loop takes it (step.StepMethod): rosenbrock_step with each linear
        solve's residual held to SOLVE_FRACTION of the global tolerance at theta."""
        solve_tol = SOLVE_FRACTION * global_scale(theta, theta, tol.rtol, tol.atol)
        theta_new, e = rosenbrock_step(self, fun, theta, f0, h, solve_tol=solve_tol, rel_step=tol.jvp_rel_step)
        return Step(theta_new, e)


_G2 = ROS2_GAMMA
# ROS2 (module docstring) with U_i = gamma h k_i: a21 = 1/gamma, c21 = -2/gamma, b = (3/2, 1/2)/gamma,
# b_hat = (1, 0)/gamma (the linearly implicit Euler step theta + h k1).
ROS2 = RosenbrockTableau("ros2", _G2, np.array([[0, 0], [1 / _G2, 0]]), np.array([[0, 0], [-2 / _G2, 0]]),
                         np.array([1.5 / _G2, 0.5 / _G2]), np.array([0.5 / _G2, 0.5 / _G2]), 2)
# Rodas3 (Sandu, Verwer, Blom, Spee, Carmichael, Potra 1997, Atmos. Environ. 31(20), Table 3; the
# transformed coefficients as in KPP's Rosenbrock integrator): 4 stages, order 3, stiffly accurate,
# L-stable, with an embedded order-2 solution (the error estimate is the last stage U_4). Stage 2
# reuses F(theta) (a[1] = 0). Not a W-method: its order needs the exact Jacobian, which
# NetFlow's forward-mode products give to rounding (difference JVPs: ~1e-8 relative).
RODAS3 = RosenbrockTableau("rodas3", 0.5,
                           np.array([[0, 0, 0, 0], [0, 0, 0, 0], [2, 0, 0, 0], [2, 0, 1, 0]], float),
                           np.array([[0, 0, 0, 0], [4, 0, 0, 0], [1, -1, 0, 0], [1, -1, -8 / 3, 0]], float),
                           np.array([2.0, 0.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0, 1.0]), 3)
# ROS3P was tried and left out: it is only A-stable (R(inf) = 1 - sqrt 3), and its embedded
# estimate missed the error of undamped stiff components (an adaptive run on the stiff linear test
# problem ended 1e3 x its tolerance off).
ROSENBROCK = {t.name: t for t in (ROS2, RODAS3)}


def rosenbrock_step(tab: RosenbrockTableau, fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, *,
                    solve_tol: float, rel_step: float = 1.5e-8, maxdim: int = 100):
    """One step of size h from theta with F(theta) = f0 (the class docstring's equations).

    solve_tol: absolute residual tolerance of each linear solve, in units of the state (each U_i is a
    state increment); maxdim: the most JVPs the step's shared Krylov basis may cost (the GMRES(20) x 5
    cycles it replaces allowed 100 per stage). Returns (theta_new, local error estimate)."""
    gh = tab.gamma * h
    basis = KrylovBasis(linearization(fun, theta, f0, rel_step), theta.size, maxdim)
    U = np.zeros((len(tab.b), theta.size))
    f = f0
    for i in range(len(tab.b)):
        if i > 0 and not np.array_equal(tab.a[i], tab.a[i - 1]):  # a new stage argument
            f = fun(theta + tab.a[i, :i] @ U[:i])
        U[i] = basis.solve(gh, gh * f + tab.gamma * (tab.c[i, :i] @ U[:i]), solve_tol)
    return theta + tab.b @ U, tab.e @ U


def ros2_step(fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, *, solve_tol: float,
              rel_step: float = 1.5e-8, maxdim: int = 100):
    """One ROS2 step (solve_tol in units of the state); see rosenbrock_step."""
    return rosenbrock_step(ROS2, fun, theta, f0, h, solve_tol=solve_tol, rel_step=rel_step, maxdim=maxdim)


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
