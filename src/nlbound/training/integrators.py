"""Integrators of an autonomous flow d(theta)/dt = F(theta) behind a registry: fixed-step GD and
an error-controlled Dormand-Prince 5(4) with FSAL and dense output that hits recording times exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

__all__ = ["IntegratorStats", "INTEGRATORS", "get_integrator", "integrate_gd", "integrate_adaptive"]

Flow = Callable[[np.ndarray], np.ndarray]  # theta -> d(theta)/dt (float64, same shape)
Record = Callable[[float, np.ndarray], None]  # called at each requested time, in order
Advance = Callable[[float, np.ndarray], None]  # called after each accepted step: (t, theta)


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


def integrate_gd(
    fun: Flow, theta0: np.ndarray, times: Sequence[float], record: Record, *,
    lr: float = 1e-3, advance: Advance | None = None, **_: object,
) -> IntegratorStats:
    """The paper's scheme: theta <- theta + lr * F(theta). Time t is reached after round(t/lr)
    steps; the state there is recorded under the requested t (off by < lr/2 in time)."""
    stats = IntegratorStats("gd", settings={"lr": lr})
    theta = np.array(theta0, dtype=np.float64)
    k = 0
    for t in times:
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


# Dormand-Prince 5(4) tableau, error weights and the dense-output matrix (as in scipy's RK45).
_C = np.array([0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1])
_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
]
_B = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
_P = np.array([
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
])


def _dopri_step(fun: Flow, theta: np.ndarray, k0: np.ndarray, h: float, K: np.ndarray):
    """One DP5(4) step of size h from theta with F(theta) = k0; fills K (7, n); returns theta_new."""
    K[0] = k0
    for s in range(1, 6):
        K[s] = fun(theta + h * (_A[s] @ K[:s]))
    theta_new = theta + h * (_B @ K[:6])
    K[6] = fun(theta_new)  # FSAL: F(theta_new) is the next step's first stage
    return theta_new


def integrate_adaptive(
    fun: Flow, theta0: np.ndarray, times: Sequence[float], record: Record, *,
    rtol: float = 1e-5, atol: float = 1e-12, h_min: float = 1e-3, h0: float | None = None,
    max_grad_evals: int = 10_000_000, advance: Advance | None = None, **_: object,
) -> IntegratorStats:
    """Dormand-Prince 5(4) with error control err = RMS(E.K h / (atol + rtol*max|theta|)) <= 1,
    FSAL (6 gradient evaluations per accepted step) and the 4th-order dense output, so requested
    times are hit exactly without shortening steps.

    Fallback when steps collapse (stiffness once the net exploits its nonlinearity): the step never
    goes below h_min (default: the paper's GD step 1e-3); a step at the floor is accepted even if
    err > 1 and counted in `forced` (with the worst err), so the method degrades to fixed-step RK5
    at the paper's step, which is strictly closer to the flow than the paper's GD at that step.
    Past max_grad_evals a RuntimeError is raised."""
    times = np.asarray(times, dtype=np.float64)
    stats = IntegratorStats("adaptive", settings={"rtol": rtol, "atol": atol, "h_min": h_min})
    theta = np.array(theta0, dtype=np.float64)
    n = theta.size
    K = np.empty((7, n))
    t, t_end = 0.0, float(times[-1]) if len(times) else 0.0
    i = 0
    while i < len(times) and times[i] <= 0.0:
        record(float(times[i]), theta)
        i += 1
    if i == len(times):
        return stats
    k0 = fun(theta)
    stats.grad_evals += 1
    scale0 = atol + rtol * np.abs(theta)
    if h0 is None:  # Hairer's heuristic: first step moves theta by ~1% of its tolerance scale
        d0, d1 = _rms(theta / scale0), _rms(k0 / scale0)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h = max(min(h0, t_end), h_min)
    while i < len(times):
        h = min(h, t_end - t)
        theta_new = _dopri_step(fun, theta, k0, h, K)
        stats.grad_evals += 6
        scale = atol + rtol * np.maximum(np.abs(theta), np.abs(theta_new))
        err = _rms(h * (_E @ K) / scale)
        at_floor = h <= h_min * (1 + 1e-12)
        if not np.isfinite(err) or (err > 1.0 and not at_floor):
            stats.rejected += 1
            h = max(h * max(0.2, 0.9 * err ** -0.2) if np.isfinite(err) else h * 0.2, h_min)
            if not np.all(np.isfinite(theta_new)) and h <= h_min:
                theta, t = theta_new, t + h  # diverged even at the floor: let the caller see it
                record(t, theta)
                return stats
            continue
        if err > 1.0:
            stats.forced += 1
            stats.max_forced_err = max(stats.max_forced_err, float(err))
        Q = K.T @ _P  # dense output on [t, t+h]: theta + h * Q @ [x, x^2, x^3, x^4]
        t_new = t + h
        while i < len(times) and times[i] <= t_new * (1 + 1e-14):
            x = (times[i] - t) / h
            record(float(times[i]), theta + h * (Q @ np.cumprod(np.full(4, x))) if x < 1 else theta_new)
            i += 1
        theta, t, k0 = theta_new, t_new, K[6].copy()
        stats.steps += 1
        if advance is not None:
            advance(t, theta)
        if stats.grad_evals > max_grad_evals:
            raise RuntimeError(f"adaptive integrator exceeded max_grad_evals={max_grad_evals} at t={t:g}")
        factor = 5.0 if err == 0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
        h = max(h * factor, h_min)
    return stats


def _rms(v: np.ndarray) -> float:
    return float(math.sqrt(np.dot(v, v) / v.size))


INTEGRATORS: dict[str, Callable[..., IntegratorStats]] = {
    "gd": integrate_gd,
    "adaptive": integrate_adaptive,
}


def get_integrator(name: str) -> Callable[..., IntegratorStats]:
    """The integrator registered under `name`; ValueError listing the valid names otherwise."""
    try:
        return INTEGRATORS[name]
    except KeyError:
        raise ValueError(f"integrator == {name!r}, must be one of {', '.join(INTEGRATORS)}") from None
