"""Throughput of the vectorised bound_terms (parameter points per second) against a scalar Python loop."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    ap.add_argument("--versus", metavar="GIT_REV", default=None,
                    help="instead: time this checkout's bound_terms against GIT_REV's, interleaved in one process "
                         "(medians of --repeat runs, 1 and 2 threads)")
    a = ap.parse_args()
    if a.versus:
        return versus(a.versus, a.n, a.repeat)
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


def _theory_at(rev: str, where: Path):
    """The nlbound.theory package of git revision `rev`, importable under another name."""
    root = Path(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
    name = "nlbound_theory_" + re.sub(r"\W", "_", rev)
    pkg = where / name
    pkg.mkdir()
    files = subprocess.check_output(["git", "-C", str(root), "ls-tree", "--name-only", rev, "src/nlbound/theory/"],
                                    text=True).split()
    for f in files:
        text = subprocess.check_output(["git", "-C", str(root), "show", f"{rev}:{f}"], text=True)
        (pkg / Path(f).name).write_text(text.replace("nlbound.theory", name))
    sys.path.insert(0, str(where))
    return importlib.import_module(name)


def versus(rev: str, n: int, repeat: int) -> None:
    """Median time of bound_terms here and at `rev`, alternating old/new in one process."""
    with tempfile.TemporaryDirectory() as tmp:
        old = _theory_at(rev, Path(tmp))
        P = points(n)
        for workers in (1, 2):
            old.bound_terms(**P, workers=workers), bound_terms(**P, workers=workers)  # warm-up
            t_old, t_new = [], []
            for _ in range(repeat):
                t_old.append(_timed(lambda: old.bound_terms(**P, workers=workers)))
                t_new.append(_timed(lambda: bound_terms(**P, workers=workers)))
            mo, mn = statistics.median(t_old), statistics.median(t_new)
            print(f"{workers} thread(s): {rev} median {mo:.3f} s, this checkout median {mn:.3f} s "
                  f"({repeat} runs each, interleaved): time ratio {mn / mo:.3f}, load average {os.getloadavg()[0]:.1f}")


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
