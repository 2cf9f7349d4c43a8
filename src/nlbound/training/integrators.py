"""Integrators of an autonomous flow d(theta)/dt = F(theta) behind a registry: fixed-step GD and an
error-controlled embedded Runge-Kutta ("adaptive": Dormand-Prince 5(4) or Bogacki-Shampine 3(2), FSAL,
dense output that hits recording times exactly, error measured in the global norm of theta).

Why not Dormand-Prince with scipy's componentwise norm alone (measured, 7x7 MNIST, eps = 0.5,
beta = 1e-3, to 3 t* = 31.6; BENCHMARKS.md): the componentwise norm divides each weight's error by
atol + rtol |theta_i|, so weights passing near zero (atol = 1e-12 is ~1e-8 of a weight at this beta)
force tiny steps -- 2215 evaluations, collapsing to the 1e-3 floor near t = 30. In the global norm
the same rtol takes 175 evaluations. And once the leaky-ReLU kinks matter (eps >= 0.1) the local
error shrinks like h^2-h^3 rather than h^5, so the 3-evaluation 3(2) pair reaches a given accuracy
with ~3x fewer evaluations than the 6-evaluation 5(4) pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

__all__ = ["IntegratorStats", "INTEGRATORS", "get_integrator", "integrate_gd", "integrate_adaptive", "method_for_eps"]

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


# Bogacki-Shampine 3(2) with FSAL (3 gradient evaluations per accepted step); dense output by cubic
# Hermite interpolation between (theta, F(theta)) and (theta_new, F(theta_new)) (3rd order).
_BS_A = [[], [1 / 2], [0, 3 / 4]]
_BS_B = np.array([2 / 9, 1 / 3, 4 / 9])
_BS_E = np.array([2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8])  # b - b_hat (incl. FSAL stage)

# name -> (A, B, E, order of the error estimate + 1 for the step-size exponent)
_METHODS = {
    "dopri5": (_A, _B, _E, 5),
    "bs3": (_BS_A, _BS_B, _BS_E, 3),
}


def _rk_step(fun: Flow, theta: np.ndarray, k0: np.ndarray, h: float, K: np.ndarray, A, B):
    """One explicit RK step of size h from theta with F(theta) = k0 (FSAL tableau A, weights B);
    fills K (s + 1, n), K[s] = F(theta_new); returns theta_new."""
    s = len(B)
    K[0] = k0
    for j in range(1, s):
        K[j] = fun(theta + h * (np.asarray(A[j]) @ K[:j]))
    theta_new = theta + h * (B @ K[:s])
    K[s] = fun(theta_new)  # FSAL: F(theta_new) is the next step's first stage
    return theta_new


def _dense(method: str, theta, theta_new, K, h: float, x: float) -> np.ndarray:
    """State at t + x h, 0 <= x < 1, from the step's stages."""
    if method == "dopri5":
        return theta + h * ((K.T @ _P) @ np.cumprod(np.full(4, x)))
    # cubic Hermite with end slopes K[0], K[-1]
    h00, h10 = 2 * x**3 - 3 * x**2 + 1, x**3 - 2 * x**2 + x
    h01, h11 = -2 * x**3 + 3 * x**2, x**3 - x**2
    return h00 * theta + h01 * theta_new + h * (h10 * K[0] + h11 * K[-1])


ERROR_NORMS = ("global", "componentwise")
# With the global norm each step's local error is held to GLOBAL_LOCAL_FACTOR * rtol * ||theta||, so
# that the deviation of the outputs from the flow accumulated to 3 t* comes out near rtol (measured on
# 7x7 MNIST, eps = 0.5: max_k |f - f_ref| / max_k |f_ref| ~ 13-30x the local tolerance; BENCHMARKS.md).
GLOBAL_LOCAL_FACTOR = 0.1
# Above this eps the leaky-ReLU kinks dominate the local error (it shrinks like h^2-h^3, not h^5) and the
# 3(2) pair is ~3x cheaper than the 5(4) pair at equal accuracy (measured); below, Dormand-Prince.
NONSMOOTH_EPS = 0.1


def method_for_eps(eps: float) -> str:
    """The adaptive method train() uses: "bs3" for eps >= NONSMOOTH_EPS, else "auto" (Dormand-Prince,
    switching to Bogacki-Shampine if its steps stall)."""
    return "bs3" if eps >= NONSMOOTH_EPS else "auto"


def _error_ratio(norm: str, e: np.ndarray, theta: np.ndarray, theta_new: np.ndarray, rtol: float, atol: float) -> float:
    """err <= 1 accepts a step whose local error estimate is e.
    global: ||e||_2 / (atol sqrt(n) + rtol max(||theta||_2, ||theta_new||_2)), the error relative to the
    size of the whole weight vector (what moves the outputs: |df| <~ sum_l ||dW_l|| / ||W_l|| |f|).
    (times GLOBAL_LOCAL_FACTOR on rtol, see there).
    componentwise: RMS_i e_i / (atol + rtol max(|theta_i|, |theta_new_i|)) (scipy's RK45), which lets
    a single weight crossing zero dictate the step (atol 1e-12 is ~1e-8 of a weight at beta = 1e-3)."""
    if norm == "global":
        scale = atol * math.sqrt(e.size) + GLOBAL_LOCAL_FACTOR * rtol * max(_norm(theta), _norm(theta_new))
        return _norm(e) / scale
    scale = atol + rtol * np.maximum(np.abs(theta), np.abs(theta_new))
    return _rms(e / scale)


def integrate_adaptive(
    fun: Flow, theta0: np.ndarray, times: Sequence[float], record: Record, *,
    rtol: float = 1e-5, atol: float = 1e-12, h_min: float = 1e-3, h0: float | None = None,
    method: str = "auto", norm: str = "global", max_grad_evals: int | None = None,
    advance: Advance | None = None, step_log: list | None = None, **_: object,
) -> IntegratorStats:
    """Error-controlled explicit Runge-Kutta with FSAL and dense output, so requested times are hit
    exactly without shortening steps.

    method: "dopri5" (Dormand-Prince 5(4), 6 evaluations per step, 4th-order dense output),
    "bs3" (Bogacki-Shampine 3(2), 3 evaluations per step, cubic Hermite dense output), or "auto"
    (default): Dormand-Prince while it pays, Bogacki-Shampine from the first time the 5(4) step
    stalls. Why: once the net exploits its nonlinearity the right-hand side is only Lipschitz
    (leaky-ReLU kinks of the m x n pre-activations), the local error of every method then shrinks
    only like h^2-h^3, and a 5th-order step buys nothing for its 6 evaluations; a 3(2) pair takes
    comparable steps at half the cost. "Stalls" = three rejections in a row (steps shortened to end
    at the last time do not count).

    Error norm (see _error_ratio): "global" (default) or "componentwise".
    Floor: the step never goes below h_min (default: the paper's GD step 1e-3); a step at the floor
    is accepted even if err > 1 and counted in `forced` (with the worst err), so the method degrades
    to a fixed-step RK at the paper's step, still closer to the flow than the paper's GD there.
    Work cap: past max_grad_evals (None: no cap) a RuntimeError is raised naming t.

    step_log: optional list receiving (t, h, err, accepted, method) for every attempted step."""
    if method not in ("auto", *_METHODS):
        raise ValueError(f"method == {method!r}, must be one of auto, {', '.join(_METHODS)}")
    if norm not in ERROR_NORMS:
        raise ValueError(f"norm == {norm!r}, must be one of {', '.join(ERROR_NORMS)}")
    times = np.asarray(times, dtype=np.float64)
    current = "dopri5" if method == "auto" else method
    stats = IntegratorStats("adaptive", settings={
        "rtol": rtol, "atol": atol, "h_min": h_min, "method": method, "error_norm": norm,
        "local_tolerance_factor": GLOBAL_LOCAL_FACTOR if norm == "global" else 1.0,
        "max_grad_evals": max_grad_evals, "evals_per_method": {}, "steps_per_method": {},
        "switch_time": None})
    per_evals, per_steps = stats.settings["evals_per_method"], stats.settings["steps_per_method"]
    theta = np.array(theta0, dtype=np.float64)
    n = theta.size
    t, t_end = 0.0, float(times[-1]) if len(times) else 0.0
    i = 0
    while i < len(times) and times[i] <= 0.0:
        record(float(times[i]), theta)
        i += 1
    if i == len(times):
        return stats
    k0 = fun(theta)
    stats.grad_evals += 1
    if h0 is None:  # Hairer's heuristic: first step moves theta by ~1% of its tolerance scale
        scale0 = atol + rtol * np.abs(theta)
        d0, d1 = _rms(theta / scale0), _rms(k0 / scale0)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h = max(min(h0, t_end), h_min)
    rejected_in_a_row = 0
    while i < len(times):
        A, B, E, q = _METHODS[current]
        K = np.empty((len(B) + 1, n))
        truncated = h >= t_end - t  # a step shortened to end exactly at t_end says nothing about stalling
        h = min(h, t_end - t)
        theta_new = _rk_step(fun, theta, k0, h, K, A, B)
        stats.grad_evals += len(B)
        per_evals[current] = per_evals.get(current, 0) + len(B)
        err = _error_ratio(norm, h * (E @ K), theta, theta_new, rtol, atol)
        at_floor = h <= h_min * (1 + 1e-12)
        accepted = np.isfinite(err) and (err <= 1.0 or at_floor)
        if step_log is not None:
            step_log.append((t, h, float(err), bool(accepted), current))
        if max_grad_evals is not None and stats.grad_evals > max_grad_evals:
            raise RuntimeError(f"adaptive integrator exceeded max_grad_evals={max_grad_evals} at t={t:g}")
        if not accepted:
            stats.rejected += 1
            rejected_in_a_row += 1
            h = max(h * max(0.2, 0.9 * err ** (-1 / q)) if np.isfinite(err) else h * 0.2, h_min)
            if not np.all(np.isfinite(theta_new)) and h <= h_min:
                theta, t = theta_new, t + h  # diverged even at the floor: let the caller see it
                record(t, theta)
                return stats
            continue
        if err > 1.0:
            stats.forced += 1
            stats.max_forced_err = max(stats.max_forced_err, float(err))
        t_new = t + h
        while i < len(times) and times[i] <= t_new * (1 + 1e-14):
            x = (times[i] - t) / h
            record(float(times[i]), _dense(current, theta, theta_new, K, h, x) if x < 1 else theta_new)
            i += 1
        theta, t, k0 = theta_new, t_new, K[-1].copy()
        stats.steps += 1
        per_steps[current] = per_steps.get(current, 0) + 1
        if advance is not None:
            advance(t, theta)
        factor = 5.0 if err == 0 else min(5.0, max(0.2, 0.9 * err ** (-1 / q)))
        if not truncated:
            # Only repeated rejections count as a stall. A step much shorter than the longest
            # so far is not one: flows from small beta have a long slow plateau (huge steps) then a
            # fast escape (short steps), and treating that as a stall sent L = 4 runs into the
            # 3(2) pair at tight tolerances: the linear twin of an L = 4 run (7x7, beta = 1e-3, to
            # 3.2e6) had not finished after 15 minutes.
            if method == "auto" and current == "dopri5" and t < t_end and rejected_in_a_row >= 3:
                current = "bs3"  # the 5(4) step stalled: from here on the cheaper 3(2) pair
                stats.settings["switch_time"] = t
        rejected_in_a_row = 0
        h = max(h * factor, h_min)
    return stats


def _norm(v: np.ndarray) -> float:
    return float(math.sqrt(np.dot(v, v)))


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
