"""metrics.margin_summary: one mask per gamma vs one searchsorted, by number of gammas (sets FEW_GAMMAS).

Usage: .venv/bin/python benchmarks/bench_margins.py   (m = 60,000 margins, best of 5 x 10 calls)"""

import os
import timeit

import numpy as np

import nlbound.evaluation.metrics as M

rng = np.random.default_rng(0)
m = 60000
y = np.sign(rng.standard_normal(m))
print(f"load average {os.getloadavg()[0]:.1f}")
for G in (3, 4, 6, 11):
    g = tuple(np.geomspace(1e-8, 0.5, G))
    for scale in (1e-6, 1.0):  # outputs at initialisation (all margins below the gammas) / trained
        f = scale * rng.standard_normal(m)
        res = []
        for few in (G, 0):  # mask path, searchsorted path
            M.FEW_GAMMAS = few
            res.append(min(timeit.repeat(lambda: M.margin_summary(y, f, g), number=10, repeat=5)) / 10 * 1e3)
        print(f"{G:2d} gammas, |f| ~ {scale:g}: masks {res[0]:.3f} ms, searchsorted {res[1]:.3f} ms per call")
