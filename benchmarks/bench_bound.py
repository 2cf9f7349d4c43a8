"""Throughput of the vectorised bound_terms (parameter points per second) against a scalar Python loop."""

from __future__ import annotations

import argparse
import time

import numpy as np

from nlbound.theory import bound_terms


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
    a = ap.parse_args()
    P = points(a.n)
    best = min(_timed(lambda: bound_terms(**P)) for _ in range(a.repeat))
    vec = a.n / best
    Q = points(a.n_loop, seed=1)
    keys = list(Q)

    def loop():
        for i in range(a.n_loop):
            bound_terms(**{k: (Q[k][i] if np.ndim(Q[k]) else Q[k]) for k in keys})

    loop_rate = a.n_loop / _timed(loop)
    print(f"vectorised bound_terms: {a.n} points (depth 2..6 mixed) in {best:.3f} s = {vec:,.0f} points/s")
    print(f"scalar Python loop    : {a.n_loop} points in {a.n_loop / loop_rate:.3f} s = {loop_rate:,.0f} points/s")
    print(f"speed-up              : {vec / loop_rate:,.0f}x")


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
