"""Benchmark of the training engine: cost per gradient evaluation (vs this machine's matmul peak) and
fast integrator vs the paper's GD (lr 1e-3) on 7x7 MNIST, both against a tight reference of the flow.

Usage: .venv/bin/python benchmarks/bench_train.py [--section grad|flow|all] [--eps 0.01 0.5]
       [--gd-prefix N]   (time GD on its first N steps only and extrapolate; said so in the output)
All ratios printed are measured in this one run."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nlbound.networks import forward, init_weights, pack, unpack
from nlbound.training import NetFlow, get_integrator, t_star_default


def matmul_peak(threads: int, dtype=torch.float32, n: int = 2048, reps: int = 10) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    c = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=c)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def bench_grad(threads: int, m: int = 60000, width: int = 64, reps: int = 20) -> None:
    torch.set_num_threads(threads)
    peak = matmul_peak(threads)
    print(f"matmul peak (torch.mm 2048^2 float32, {threads} threads): {peak:.1f} GFLOP/s")
    rng = np.random.default_rng(0)
    for d in (49, 196, 784):
        x = rng.standard_normal((m, d)) / np.sqrt(d)
        y = np.sign(rng.standard_normal(m))
        flow = NetFlow(x, y, 0.01, width, 2, "float32")
        th = pack(init_weights(d, width, 2, 1e-3))
        flow(th)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            flow(th)
            times.append(time.perf_counter() - t0)
        ms = 1e3 * float(np.median(times))
        flops = 4 * m * d * width + 8 * m * width  # X W1^T, delta^T X; the rest is O(m n)
        print(f"grad eval d={d:4d}: {ms:7.2f} ms (median of {reps}), {flops / ms / 1e6:6.1f} GFLOP/s "
              f"= {100 * flops / ms / 1e6 / peak:5.1f} % of peak")


def _outputs(theta, shapes, x, eps):
    ws = [torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(theta, shapes)]
    with torch.no_grad():
        return forward(ws, x, eps).numpy()


def _run(name, flow, th0, times, **kw):
    states = []
    flow.evals = 0
    t0 = time.perf_counter()
    get_integrator(name)(flow, th0, times, lambda t, th: states.append(th.copy()), **kw)
    return states, time.perf_counter() - t0, flow.evals


def bench_flow(eps: float, gd_prefix: int | None, rtol: float, ref_rtol: float) -> None:
    from nlbound.data import load_dataset

    torch.set_num_threads(1)
    ds = load_dataset("mnist", 7)
    ts = t_star_default(1e-3, ds.s, 2)
    times = [ts, 3 * ts]
    th0 = pack(init_weights(ds.d, 64, 2, 1e-3, seed=0))
    x64 = torch.from_numpy(np.require(ds.x_train, np.float64, ["C", "W"]))
    f32 = NetFlow(ds.x_train, ds.y_train, eps, 64, 2, "float32")
    f64 = NetFlow(ds.x_train, ds.y_train, eps, 64, 2, "float64")
    ref, ref_wall, ref_evals = _run("adaptive", f64, th0, times, rtol=ref_rtol, atol=1e-14, h_min=1e-4)
    fast, fast_wall, fast_evals = _run("adaptive", f32, th0, times, rtol=rtol, atol=1e-12)
    if gd_prefix:
        _, w, n = _run("gd", f32, th0, [gd_prefix * 1e-3], lr=1e-3)
        gd_wall, gd_evals, gd = [w / n * round(t / 1e-3) for t in times], [round(t / 1e-3) for t in times], None
        note = f"(GD EXTRAPOLATED from a {gd_prefix}-step prefix; no GD fidelity measured)"
    else:
        walls = {}
        gd, _, _ = _run("gd", f32, th0, times, lr=1e-3,
                        advance=lambda t, th: walls.setdefault(round(t, 9), time.perf_counter()))
        gd_wall, gd_evals, note = None, [round(t / 1e-3) for t in times], "(GD run in full)"
        t_start = min(walls.values()) if walls else 0
        # wall time to each target: time of the step reaching it, measured from the first step
        steps = sorted(walls)
        gd_wall = [walls[steps[min(int(round(t / 1e-3)), len(steps)) - 1]] - t_start for t in times]
    shapes = f32.shapes
    print(f"eps={eps} s={ds.s:.4f} t*={ts:.3f} reference: adaptive float64 rtol={ref_rtol:g} "
          f"({ref_evals} evals, {ref_wall:.1f} s) {note}")
    for i, label in enumerate(("t*", "3t*")):
        f_ref = _outputs(ref[i], shapes, x64, eps)
        scale = np.abs(f_ref).max()
        dev_fast = np.abs(_outputs(fast[i], shapes, x64, eps) - f_ref).max() / scale
        line = (f"  to {label:3s}: adaptive rtol={rtol:g} float32: {fast_evals if i else '':>5} evals "
                f"dev {dev_fast:.2e} | GD lr 1e-3: {gd_evals[i]} evals, {gd_wall[i]:.1f} s")
        if gd is not None:
            dev_gd = np.abs(_outputs(gd[i], shapes, x64, eps) - f_ref).max() / scale
            line += f", dev {dev_gd:.2e} | GD/adaptive: dev ratio {dev_gd / dev_fast:.0f}x"
        print(line)
    print(f"  adaptive to 3t*: {fast_evals} evals, {fast_wall:.2f} s; GD/adaptive to 3t*: wall "
          f"{gd_wall[1] / fast_wall:.0f}x, evals {gd_evals[1] / fast_evals:.0f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--section", choices=("grad", "flow", "all"), default="all")
    ap.add_argument("--eps", type=float, nargs="+", default=[0.01, 0.5])
    ap.add_argument("--gd-prefix", type=int, default=None)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--ref-rtol", type=float, default=1e-8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.section in ("grad", "all"):
        bench_grad(1)
        if args.threads > 1:
            bench_grad(args.threads)
    if args.section in ("flow", "all"):
        for eps in args.eps:
            bench_flow(eps, args.gd_prefix, args.rtol, args.ref_rtol)


if __name__ == "__main__":
    main()
