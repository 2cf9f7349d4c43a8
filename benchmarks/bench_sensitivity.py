"""Cost of one sensitivity-flow evaluation (θ and ∂θ/∂τ, training/sensitivity.py) vs a plain NetFlow
evaluation, interleaved in one process so machine load hits both alike; prints ratios.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_sensitivity.py [--m 60000] [--reps 10]
"""

import argparse
import os
import time

import numpy as np
import torch

from nlbound.data import synthetic_dataset
from nlbound.networks import init_weights, pack
from nlbound.training.flows import NetFlow
from nlbound.training.sensitivity import SensitivityFlow, initial_state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=60000)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = synthetic_dataset(m=a.m, m_test=10, size=7, seed=0)
    th = pack(init_weights(ds.d, a.width, 2, 0.1, seed=0))
    z = initial_state(th)
    z[th.size:] = np.random.default_rng(0).normal(size=th.size) * 0.01
    funcs = {"netflow_float32": (NetFlow(ds.x_train, ds.y_train, 0.01, a.width, 2, "float32"), th),
             "netflow_float64": (NetFlow(ds.x_train, ds.y_train, 0.01, a.width, 2, "float64"), th),
             "sensitivity_manual": (SensitivityFlow(ds.x_train, ds.y_train, 0.01, a.width, 2), z),
             "sensitivity_manual_float32": (SensitivityFlow(ds.x_train, ds.y_train, 0.01, a.width, 2,
                                                            dtype="float32"), z),
             "sensitivity_jvp": (SensitivityFlow(ds.x_train, ds.y_train, 0.01, a.width, 2, mode="jvp"), z)}
    times = {k: [] for k in funcs}
    for _ in range(a.reps):  # interleaved
        for k, (f, arg) in funcs.items():
            t0 = time.perf_counter()
            f(arg)
            times[k].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"m = {a.m}, d = {ds.d}, width {a.width}, 1 thread, {a.reps} interleaved reps, "
          f"load average {os.getloadavg()[0]:.1f}")
    for k, v in med.items():
        print(f"{k:20s} {v * 1e3:9.1f} ms  = {v / med['netflow_float64']:.2f}x float64 NetFlow, "
              f"{v / med['netflow_float32']:.2f}x float32 NetFlow")


if __name__ == "__main__":
    main()
