"""The cost model of a run (expected single-thread training seconds): the runner's order and ETA unit."""

from __future__ import annotations

from typing import Any

# Seconds per t*_0.5 of horizon of a 7x7, L = 2, small-eps adaptive run, and the factors below:
# fitted to the single-thread wall times of the earlier full reproduction (README: 7x7 to 3 t*
# 13 s, 14x14 41 s, 28x28 170-178 s; L = 3 to 4 t* 448 s, L = 4 to 1.5 t* 20 s; 14x14 to 10 t*
# at eps = 0.1 ... 1: 78 ... 371 s) and BENCHMARKS.md (a 7x7 gradient evaluation: 13.9 ms, so
# GD lr 1e-3 to 3 t* = 31,600 steps ~ 440 s, 34x the adaptive run).
SECONDS_PER_T_STAR = 4.3
DEPTH_FACTOR = {2: 1.0, 3: 26.0, 4: 3.0}  # L = 4 runs stop at 1.5 t*, before the stiff phase
GD_FACTOR = 34.0


def estimated_cost(config: Any, horizon_t_star: float = 3.0) -> float:
    """Expected single-thread training seconds of a run (the progress bar's unit; the runner starts
    the longest first): per-evaluation cost grows with the input dimension, the number of
    evaluations with eps (harder flows), depth and the horizon in units of t*_0.5."""
    per_eval = {7: 1.0, 14: 2.5, 28: 8.0}.get(int(config.size), float(config.size) ** 2 / 49)
    evals = (1.0 + 4.0 * float(config.eps)) * DEPTH_FACTOR.get(int(config.depth), 26.0 * (int(config.depth) - 2))
    scheme = 1.0 if config.integrator == "adaptive" else GD_FACTOR
    return SECONDS_PER_T_STAR * per_eval * evals * scheme * float(horizon_t_star)
