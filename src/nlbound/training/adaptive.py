"""The adaptive integrator's loop: attempt, accept or reject, record, switch methods.

A step is attempted through one interface (step.StepMethod: an explicit tableau of tableaux.py or a
Rosenbrock method of stiff.py; the loop does not ask which); the I controller (controllers.py) picks
the next h; methods switch on stalls (5(4) -> 3(2)) and, when asked, on stiffness (explicit -> ROS2
or Rodas3)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nlbound._validate import Integral, Interval, Options, Real, validate_params
from nlbound.training.controllers import ERROR_NORMS, GLOBAL_LOCAL_FACTOR, IController, error_ratio, rms
from nlbound.training.stats import (
    DEFAULT_MAX_GRAD_EVALS,
    Advance,
    Flow,
    FlowDivergedError,
    IntegratorStats,
    Record,
    WorkLimitError,
)
from nlbound.training.step import Step, StepMethod, Tolerances
from nlbound.training.stiff import ROSENBROCK, StiffnessDetector, spectral_estimate
from nlbound.training.tableaux import TABLEAUX

__all__ = ["integrate_adaptive", "ADAPTIVE_OPTIONS", "METHODS"]

METHODS = ("auto", *TABLEAUX, *ROSENBROCK)
STIFFNESS = ("ignore", *ROSENBROCK)  # "ignore", or the Rosenbrock method to switch to
ADAPTIVE_OPTIONS = {
    "rtol": Interval(Real, 0, None, closed="neither"), "atol": Interval(Real, 0, None, closed="left"),
    "h_min": Interval(Real, 0, None, closed="left"), "h0": Interval(Real, 0, None, closed="neither"),
    "method": Options(*METHODS), "norm": Options(*ERROR_NORMS), "stiffness": Options(*STIFFNESS),
    "max_grad_evals": Interval(Integral, 1, None, closed="left"),
    "jvp_rel_step": Interval(Real, 0, 1, closed="neither"),
}  # fmt: skip
METHODS_BY_NAME: dict[str, StepMethod] = {**TABLEAUX, **ROSENBROCK}  # every method behind step.StepMethod
STALL_REJECTIONS = 3  # "auto": this many rejections in a row make Dormand-Prince hand over to 3(2)


class _Counted:
    """The flow, counting its evaluations: n every pass over the data (F, each Jacobian-vector product
    of its `linearize` where it has one, and what linearize itself evaluates -- NetFlow's primal pass,
    read from the flow's own `evals`), jvps the products alone."""

    def __init__(self, fun: Flow):
        self.fun: Any = fun  # a Flow, maybe with `linearize` and `evals` (NetFlow)
        self.n, self.jvps = 0, 0
        if hasattr(fun, "linearize"):
            self.linearize = self._linearize

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        self.n += 1
        return self.fun(theta)

    def _linearize(self, theta: np.ndarray):
        before = getattr(self.fun, "evals", None)
        jvp = self.fun.linearize(theta)
        if before is not None:
            self.n += self.fun.evals - before

        def counted(v: np.ndarray) -> np.ndarray:
            self.n += 1
            self.jvps += 1
            return jvp(v)

        return counted


class _Run:
    """One adaptive integration: the state (t, theta, F(theta), h), the method in use, the stats."""

    def __init__(self, fun, times, record, rtol, atol, h_min, method, norm, stiffness, max_grad_evals,
                 jvp_rel_step, advance, step_log):
        self.fun, self.times, self.record, self.advance, self.step_log = _Counted(fun), times, record, advance, step_log
        self.rtol, self.atol, self.norm, self.auto = rtol, atol, norm, method == "auto"
        self.ctl, self.max_evals = IController(h_min), max_grad_evals
        self.current = "dopri5" if method == "auto" else method
        self.stiff_method = stiffness
        self.detector = StiffnessDetector() if stiffness != "ignore" and method not in ROSENBROCK else None
        self.tol = Tolerances(rtol, atol, jvp_rel_step)
        self.t, self.t_end, self.i, self.in_a_row = 0.0, float(times[-1]) if len(times) else 0.0, 0, 0
        self.stats = IntegratorStats("adaptive", settings={
            "rtol": rtol, "atol": atol, "h_min": h_min, "method": method, "error_norm": norm,
            "local_tolerance_factor": GLOBAL_LOCAL_FACTOR if norm == "global" else 1.0,
            "max_grad_evals": max_grad_evals, "evals_per_method": {}, "steps_per_method": {},
            "switch_time": None, "stiffness": stiffness, "stiff_switch_time": None})

    def start(self, theta0: np.ndarray, h0: float | None) -> bool:
        """Record the times <= 0, evaluate F(theta0), pick the first step; False if nothing is left."""
        self.theta = np.array(theta0, dtype=np.float64)
        while self.i < len(self.times) and self.times[self.i] <= 0.0:
            self.record(float(self.times[self.i]), self.theta)
            self.i += 1
        if self.i == len(self.times):
            return False
        self.f = self.fun(self.theta)
        self.stats.grad_evals = self.fun.n
        if h0 is None:  # Hairer's heuristic: first step moves theta by ~1% of its tolerance scale
            scale0 = self.atol + self.rtol * np.abs(self.theta)
            d0, d1 = rms(self.theta / scale0), rms(self.f / scale0)
            h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        self.h = max(min(h0, self.t_end), self.ctl.h_min)
        return True

    def attempt(self) -> None:
        """Try one step from (t, theta) with the current h."""
        used = self.current
        method = METHODS_BY_NAME[used]
        stop = self.t_end if method.dense_output else float(self.times[self.i])  # no dense output: hit the times
        truncated = self.h >= stop - self.t  # a step shortened to end at `stop` says nothing about stalling
        h_free, h = self.h, min(self.h, stop - self.t)
        n0 = self.fun.n
        step = method.attempt(self.fun, self.theta, self.f, h, self.tol)
        per = self.stats.settings["evals_per_method"]
        per[used] = per.get(used, 0) + self.fun.n - n0
        self.stats.grad_evals = self.fun.n
        if method.uses_jvps:  # of them Jacobian-vector products (each ~2.6 gradients' wall for NetFlow)
            self.stats.settings["jvp_evals"] = self.fun.jvps
        err = error_ratio(self.norm, step.error, self.theta, step.theta_new, self.rtol, self.atol)
        finite = bool(np.isfinite(err) and np.all(np.isfinite(step.theta_new)))
        accepted = finite and (err <= 1.0 or self.ctl.at_floor(h))
        if self.step_log is not None:
            self.step_log.append((self.t, h, float(err), accepted, used))
        if self.max_evals is not None and self.stats.grad_evals > self.max_evals:
            raise WorkLimitError(f"adaptive integrator exceeded max_grad_evals={self.max_evals} at t={self.t:g}")
        if not accepted:
            self.reject(h, err, method.exponent, finite)
            return
        self.accept(h, err, step, method)
        self.after_accept(method, h, h_free, err, truncated)

    def reject(self, h: float, err: float, q: int, finite: bool) -> None:
        """Shrink the step. A non-finite step that could not be shortened (at the floor h_min, or
        below 1e-13 t_end) is the divergence of the flow: FlowDivergedError at the time the failed
        step ended, t + h (the step actually tried, not the next one)."""
        self.stats.rejected += 1
        self.in_a_row += 1
        tiny = h <= 1e-13 * self.t_end
        if not finite and (self.ctl.at_floor(h) or tiny):
            raise FlowDivergedError(self.t + h, h)
        if tiny:
            raise RuntimeError(f"adaptive integrator: step size underflow (h = {h:g}) at t={self.t:g}")
        self.h = self.ctl.after_reject(h, err, q)

    def accept(self, h: float, err: float, step: Step, method: StepMethod) -> None:
        """Record the requested times the step passed (dense output), then move to its end."""
        if err > 1.0:
            self.stats.forced += 1
            self.stats.max_forced_err = max(self.stats.max_forced_err, float(err))
        t_new = self.t + h
        while self.i < len(self.times) and self.times[self.i] <= t_new * (1 + 1e-14):
            x = (self.times[self.i] - self.t) / h
            state = step.dense(x) if x < 1 and step.dense is not None else step.theta_new
            self.record(float(self.times[self.i]), state)
            self.i += 1
        if step.f_new is not None:
            f_new = step.f_new
        else:
            f_new = self.fun(step.theta_new)
            self.stats.grad_evals = self.fun.n
            per = self.stats.settings["evals_per_method"]
            per[self.current] = per.get(self.current, 0) + 1
        if self.detector is not None and step.probe is not None:
            rho = spectral_estimate(*step.probe)
            if self.detector.update(h, rho, method.stability) and t_new < self.t_end:
                self.current = self.stiff_method  # stability-limited: from here on Rosenbrock
                self.stats.settings["stiff_switch_time"] = t_new
        self.theta, self.t, self.f = step.theta_new, t_new, f_new

    def after_accept(self, method: StepMethod, h: float, h_free: float, err: float, truncated: bool) -> None:
        """Count the step, call advance, pick the next step (and switch 5(4) -> 3(2) if it stalled)."""
        self.stats.steps += 1
        steps = self.stats.settings["steps_per_method"]
        steps[method.name] = steps.get(method.name, 0) + 1
        if self.advance is not None:
            self.advance(self.t, self.theta)
        h_next = self.ctl.after_accept(h, err, method.exponent)
        if not truncated:
            # Only repeated rejections count as a stall. A step much shorter than the longest
            # so far is not one: flows from small beta have a long slow plateau (huge steps) then a
            # fast escape (short steps), and treating that as a stall sent L = 4 runs into the
            # 3(2) pair at tight tolerances: the linear twin of an L = 4 run (7x7, beta = 1e-3, to
            # 3.2e6) had not finished after 15 minutes.
            if (self.auto and self.current == "dopri5" and self.t < self.t_end
                    and self.in_a_row >= STALL_REJECTIONS):
                self.current = "bs3"  # the 5(4) step stalled: from here on the cheaper 3(2) pair
                self.stats.settings["switch_time"] = self.t
        elif not method.dense_output:
            h_next = max(h_next, h_free)  # shortened to hit a recording time: resume the free step
        self.in_a_row = 0
        self.h = h_next


def integrate_adaptive(
    fun: Flow, theta0: np.ndarray, times: Sequence[float] | np.ndarray, record: Record, *,
    rtol: float = 1e-5, atol: float = 1e-12, h_min: float = 1e-3, h0: float | None = None,
    method: str = "auto", norm: str = "global", stiffness: str = "ignore",
    max_grad_evals: int | None = DEFAULT_MAX_GRAD_EVALS, jvp_rel_step: float = 1.5e-8,
    advance: Advance | None = None, step_log: list | None = None,
) -> IntegratorStats:
    """Error-controlled Runge-Kutta with FSAL and dense output, so requested times are hit
    exactly without shortening steps.

    method: "dopri5" (Dormand-Prince 5(4), 6 evaluations per step, 4th-order dense output),
    "bs3" (Bogacki-Shampine 3(2), 3 evaluations per step, cubic Hermite dense output), "ros2" or
    "rodas3" (the L-stable Rosenbrock methods of nlbound.training.stiff, orders 2 and 3; steps end at
    recording times), or
    "auto" (default): Dormand-Prince while it pays, Bogacki-Shampine from the first time the 5(4)
    step stalls. Why: once the net exploits its nonlinearity the right-hand side is only Lipschitz
    (leaky-ReLU kinks of the m x n pre-activations), the local error of every method then shrinks
    only like h^2-h^3, and a 5th-order step buys nothing for its 6 evaluations; a 3(2) pair takes
    comparable steps at half the cost. "Stalls" = three rejections in a row (steps shortened to end
    at the last time do not count).

    stiffness: "ignore" (default), "ros2" or "rodas3": from the first time `StiffnessDetector` finds
    the explicit steps stability-limited, that Rosenbrock method (nlbound.training.stiff; its Krylov
    solves use the flow's `linearize` where it has one -- NetFlow's exact a.e. products -- else
    finite-difference JVPs with relative step jvp_rel_step). Measured (tests/training/test_integrators.py,
    BENCHMARKS "Deep networks past convergence"): it pays where the flow has come to rest (linear
    regime, deep nets past convergence: Fig. 6's L = 3 net to 4 t* in 3,487 evaluations against the
    explicit 10,783, same curves) and pays little where the net keeps learning nonlinearly (ROS2's 2nd
    order then needs 4-6x more evaluations) or drifts across leaky-ReLU kinks (the local error grows
    like h^1.4 there, whatever the order, which holds Rodas3 to h ~ 20 on Fig. 6's nets) -- hence not
    the default; TrainConfig.stiffness / `nlbound train --stiffness` choose it.
    Error norm (see controllers.error_ratio): "global" (default) or "componentwise".
    Floor: the step never goes below h_min (default: the paper's GD step 1e-3); a step at the floor
    is accepted even if err > 1 and counted in `forced` (with the worst err), so the method degrades
    to a fixed-step RK at the paper's step, still closer to the flow than the paper's GD there. A
    non-finite step at the floor (h_min = 0: below 1e-13 t_end) raises FlowDivergedError (a
    RuntimeError) naming the time that step ended. Work cap: past max_grad_evals (None: no cap)
    WorkLimitError (a RuntimeError) is raised naming t.

    step_log: optional list receiving (t, h, err, accepted, method) for every attempted step."""
    validate_params(ADAPTIVE_OPTIONS, {
        "rtol": rtol, "atol": atol, "h_min": h_min, "h0": h0, "method": method, "norm": norm,
        "stiffness": stiffness, "max_grad_evals": max_grad_evals, "jvp_rel_step": jvp_rel_step})
    grid = np.asarray(times, dtype=np.float64)
    run = _Run(fun, grid, record, rtol, atol, h_min, method, norm, stiffness, max_grad_evals, jvp_rel_step,
               advance, step_log)
    if run.start(theta0, h0):
        while run.i < len(grid):
            run.attempt()
    return run.stats
