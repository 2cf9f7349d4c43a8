"""Explicit embedded Runge-Kutta methods as data (Butcher tableau, error weights, dense output)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlbound.training.stats import Flow
from nlbound.training.step import Step, Tolerances

__all__ = ["Tableau", "DOPRI5", "BS3", "TABLEAUX"]


@dataclass(frozen=True, eq=False)
class Tableau:
    """An explicit FSAL Runge-Kutta pair: stages k_j = F(theta + h sum_i a[j, i] k_i), j < s,
    theta_new = theta + h b @ k, k_s = F(theta_new) (the next step's first stage).

    e: error weights b - b_hat over the s + 1 stages (incl. the FSAL stage), so that h e @ K is
    the local error estimate. exponent: order of the error estimate + 1 (the step-size exponent
    1/exponent). dense: (s + 1, p) interpolation coefficients: theta(t + x h) =
    theta + h (K.T @ dense) @ (x, x^2, ..., x^p). stability: |h lambda| at which the method's
    stability region ends on the negative real axis (what bounds a stability-limited step)."""

    name: str
    a: np.ndarray
    b: np.ndarray
    e: np.ndarray
    exponent: int
    dense: np.ndarray
    stability: float

    dense_output = True  # every step can be evaluated inside (dense)
    uses_jvps = False

    @property
    def stages(self) -> int:
        return len(self.b)

    def attempt(self, fun: Flow, theta: np.ndarray, f0: np.ndarray, h: float, tol: Tolerances) -> Step:
        """One step as the adaptive loop takes it (step.StepMethod): the solution, its error estimate,
        F at the new point (FSAL), the dense output and the last two stages for the stiffness test.
        `tol` is not needed by an explicit method."""
        K = np.empty((self.stages + 1, theta.size))
        theta_new, arg = self.step(fun, theta, f0, h, K)
        return Step(theta_new, self.error(K, h), f_new=K[-1],
                    dense=lambda x: self.interpolate(theta, K, h, x), probe=(K[-1], K[-2], theta_new, arg))

    def step(self, fun: Flow, theta: np.ndarray, k0: np.ndarray, h: float, K: np.ndarray):
        """One step of size h from theta with F(theta) = k0; fills K (s + 1, n).
        Returns (theta_new, the argument of the last non-FSAL stage)."""
        s = self.stages
        K[0] = k0
        arg = theta
        for j in range(1, s):
            arg = theta + h * (self.a[j, :j] @ K[:j])
            K[j] = fun(arg)
        theta_new = theta + h * (self.b @ K[:s])
        K[s] = fun(theta_new)  # FSAL
        return theta_new, arg

    def error(self, K: np.ndarray, h: float) -> np.ndarray:
        """The local error estimate of the step whose stages are K."""
        return h * (self.e @ K)

    def interpolate(self, theta: np.ndarray, K: np.ndarray, h: float, x: float) -> np.ndarray:
        """State at t + x h, 0 <= x < 1, from the step's stages (dense output)."""
        return theta + h * ((K.T @ self.dense) @ np.cumprod(np.full(self.dense.shape[1], x)))


def _lower(rows: list[list[float]]) -> np.ndarray:
    a = np.zeros((len(rows), len(rows)))
    for j, row in enumerate(rows):
        a[j, :len(row)] = row
    return a


# Dormand-Prince 5(4): tableau, error weights and the dense-output matrix as in scipy's RK45 (4th-order
# continuous extension). Stability interval on the negative real axis ~ [-3.3, 0] (Hairer-Wanner, IV.2).
DOPRI5 = Tableau(
    name="dopri5",
    a=_lower([
        [],
        [1 / 5],
        [3 / 40, 9 / 40],
        [44 / 45, -56 / 15, 32 / 9],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    ]),
    b=np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]),
    e=np.array([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40]),
    exponent=5,
    dense=np.array([
        [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
        [0, 0, 0, 0],
        [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
        [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
        [0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
        [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
        [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
    ]),
    stability=3.3,
)

# Bogacki-Shampine 3(2) with FSAL (3 gradient evaluations per accepted step). Dense output: the cubic
# Hermite interpolant between (theta, K[0]) and (theta_new, K[3]) (3rd order), written over the stages:
# with theta_new = theta + h b @ K, h00 + h01 = 1, h01 = 3x^2 - 2x^3, h10 = x - 2x^2 + x^3,
# h11 = x^3 - x^2, the coefficient of K_j is h01 b_j + h10 [j = 0] + h11 [j = 3].
_BS3_B = np.array([2 / 9, 1 / 3, 4 / 9])
BS3 = Tableau(
    name="bs3",
    a=_lower([[], [1 / 2], [0, 3 / 4]]),
    b=_BS3_B,
    e=np.array([2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8]),
    exponent=3,
    dense=np.array([
        [1, 3 * _BS3_B[0] - 2, 1 - 2 * _BS3_B[0]],
        [0, 3 * _BS3_B[1], -2 * _BS3_B[1]],
        [0, 3 * _BS3_B[2], -2 * _BS3_B[2]],
        [0, -1, 1],
    ]),
    stability=2.5,
)

TABLEAUX = {t.name: t for t in (DOPRI5, BS3)}
