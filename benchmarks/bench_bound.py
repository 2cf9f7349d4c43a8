"""Throughput of the vectorised bound_terms (parameter points per second) against a scalar Python loop."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from nlbound.theory import bound_terms
from nlbound.theory._threads import default_workers


def points(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return dict(d=rng.integers(1, 800, n), m=60000, depth=rng.integers(2, 7, n), kappa=rng.integers(1, 3, n), p=32,
                delta=0.05, eps=rng.uniform(0, 1, n), beta=10 ** rng.uniform(-6, 0, n), gamma=1e-6,
                rho=rng.choice([1.0, 1.5, 5.0], n), s=rng.uniform(0.05, 1, n), t=10 ** rng.uniform(-6, 2, n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--n-loop", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="threads for the threaded run (default: CPUs available)")
    a = ap.parse_args()
    P = points(a.n)
    workers = default_workers() if a.workers is None else a.workers
    bound_terms(**P, workers=workers)  # warm-up (thread pool, coefficient tables)
    best1 = min(_timed(lambda: bound_terms(**P, workers=1)) for _ in range(a.repeat))
    bestw = min(_timed(lambda: bound_terms(**P, workers=workers)) for _ in range(a.repeat))
    vec1, vecw = a.n / best1, a.n / bestw
    Q = points(a.n_loop, seed=1)
    keys = list(Q)

    def loop():
        for i in range(a.n_loop):
            bound_terms(**{k: (Q[k][i] if np.ndim(Q[k]) else Q[k]) for k in keys}, workers=1)

    loop_rate = a.n_loop / _timed(loop)
    print(f"vectorised bound_terms, 1 thread : {a.n} points (depth 2..6 mixed) in {best1:.3f} s = {vec1:,.0f} points/s")
    print(f"vectorised bound_terms, {workers} threads: {a.n} points (depth 2..6 mixed) in {bestw:.3f} s = {vecw:,.0f} points/s"
          f" ({vecw / vec1:.2f}x the 1-thread run; {len(os.sched_getaffinity(0))} CPUs available, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"scalar Python loop (baseline)   : {a.n_loop} points in {a.n_loop / loop_rate:.3f} s = {loop_rate:,.0f} points/s")
    print(f"speed-up over the loop          : {vec1 / loop_rate:,.0f}x (1 thread), {vecw / loop_rate:,.0f}x ({workers} threads)")


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
