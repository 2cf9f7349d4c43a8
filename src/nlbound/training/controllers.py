"""Step-size control of the adaptive integrators: the integral (I) controller and its floor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["IController", "error_ratio", "ERROR_NORMS", "GLOBAL_LOCAL_FACTOR"]

ERROR_NORMS = ("global", "componentwise")
# With the global norm each step's local error is held to GLOBAL_LOCAL_FACTOR * rtol * ||theta||, so
# that the deviation of the outputs from the flow accumulated to 3 t* comes out near rtol (measured on
# 7x7 MNIST, eps = 0.5: max_k |f - f_ref| / max_k |f_ref| ~ 13-30x the local tolerance; BENCHMARKS.md).
GLOBAL_LOCAL_FACTOR = 0.1


@dataclass(frozen=True)
class IController:
    """h_new = h * clip(safety * err^(-1/q), min_factor, max_factor), never below h_min.

    After a rejection the factor is not clipped above (err > 1 makes it < safety anyway) and a
    non-finite err shrinks by min_factor; after an acceptance with err == 0 the step grows by
    max_factor."""

    h_min: float = 1e-3
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 5.0

    def at_floor(self, h: float) -> bool:
        """A step this short is accepted whatever its error (the fallback; counted as forced)."""
        return h <= self.h_min * (1 + 1e-12)

    def after_reject(self, h: float, err: float, q: int) -> float:
        shrink = max(self.min_factor, self.safety * err ** (-1 / q)) if np.isfinite(err) else self.min_factor
        return max(h * shrink, self.h_min)

    def after_accept(self, h: float, err: float, q: int) -> float:
        factor = (self.max_factor if err == 0
                  else min(self.max_factor, max(self.min_factor, self.safety * err ** (-1 / q))))
        return max(h * factor, self.h_min)


def error_ratio(norm: str, e: np.ndarray, theta: np.ndarray, theta_new: np.ndarray, rtol: float, atol: float) -> float:
    """err <= 1 accepts a step whose local error estimate is e.

    global: ||e||_2 / (atol sqrt(n) + GLOBAL_LOCAL_FACTOR rtol max(||theta||_2, ||theta_new||_2)), the
    error relative to the size of the whole weight vector (what moves the outputs:
    |df| <~ sum_l ||dW_l|| / ||W_l|| |f|).
    componentwise: RMS_i e_i / (atol + rtol max(|theta_i|, |theta_new_i|)) (scipy's RK45), which lets
    a single weight crossing zero dictate the step (atol 1e-12 is ~1e-8 of a weight at beta = 1e-3)."""
    if norm == "global":
        return norm2(e) / global_scale(theta, theta_new, rtol, atol)
    scale = atol + rtol * np.maximum(np.abs(theta), np.abs(theta_new))
    return rms(e / scale)


def global_scale(theta: np.ndarray, theta_new: np.ndarray, rtol: float, atol: float) -> float:
    """The global norm's tolerance: what a local error of norm 1 x this is allowed to be."""
    return atol * math.sqrt(theta.size) + GLOBAL_LOCAL_FACTOR * rtol * max(norm2(theta), norm2(theta_new))


def norm2(v: np.ndarray) -> float:
    return float(math.sqrt(np.dot(v, v)))


def rms(v: np.ndarray) -> float:
    return float(math.sqrt(np.dot(v, v) / v.size))
