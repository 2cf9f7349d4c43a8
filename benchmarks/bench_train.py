"""Benchmark of the training engine: cost per gradient evaluation (vs this machine's matmul peak) and
the fast integrator vs the paper's GD (lr 1e-3) on 7x7 MNIST, both against a tight reference of the flow.

Usage: .venv/bin/python benchmarks/bench_train.py [--section grad|flow|all] [--eps 0.01 0.5]
       [--threads 1] [--ref-rtol 1e-6] [--rtol R] [--parallel]
Everything printed is measured in this one run: GD lr 1e-3 is run in full (31,600 steps to 3 t*),
never extrapolated. The load average is printed at the start and end of each section (the machine
is shared; wall times are upper bounds when it is loaded).

Deviation from the flow = max_k |f(x_k) - f_ref(x_k)| / max_k |f_ref(x_k)| over the 60,000
training inputs (float64 forward pass), where f_ref is the net at the same time integrated by
the adaptive integrator in float64 at --ref-rtol; the reference's own error is estimated by a
second float64 solve at 10x that tolerance and printed ("ref check")."""

from __future__ import annotations

import argparse
import builtins
import os
import time

import numpy as np
import torch

from nlbound.networks import forward, init_weights, pack, unpack
from nlbound.training import NetFlow, get_integrator, t_star_default
from nlbound.training.integrators import method_for_eps

FAST_RTOL = {0.01: 1e-5, 0.5: 1e-4}  # the tolerances the figure experiments use (experiments/figures.py)


def _load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


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
    print(f"## gradient evaluation, {threads} thread(s), {_load()}")
    peak = matmul_peak(threads)
    print(f"matmul peak (torch.mm 2048^2 float32, best of 10): {peak:.1f} GFLOP/s")
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
        # X W1^T and delta^T X (2 m d n each) dominate; + h W2^T, e^T a, e W2 (2 m n each)
        flops = 4 * m * d * width + 6 * m * width
        print(f"grad eval d={d:4d}: {ms:7.2f} ms (median of {reps}), {flops / ms / 1e6:6.1f} GFLOP/s "
              f"= {100 * flops / ms / 1e6 / peak:5.1f} % of peak")
    print(f"(end of section: {_load()})")


def _outputs(theta, shapes, x, eps):
    ws = [torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(theta, shapes)]
    with torch.no_grad():
        return forward(ws, x, eps).numpy()


def _run(name, flow, th0, times, **kw):
    """States at `times`, wall seconds from the start and gradient evaluations spent when each of them
    was recorded (for the adaptive integrator: at the end of the step that passes it), stats."""
    states, walls, evals = [], [], []
    flow.evals = 0
    t0 = time.perf_counter()

    def record(t, th):
        states.append(th.copy())
        walls.append(time.perf_counter() - t0)
        evals.append(flow.evals)

    stats = get_integrator(name)(flow, th0, times, record, **kw)
    return states, walls, evals, stats


def bench_flow(eps: float, rtol: float, ref_rtol: float, scale: float = 1.0) -> list[str]:
    """One eps: reference, reference check, adaptive and GD in this process (1 thread); returns the
    lines to print (also echoed with a [eps] prefix as they come)."""
    from nlbound.data import load_dataset

    torch.set_num_threads(1)
    lines: list[str] = []

    def print(line):  # noqa: A001 - collect and echo
        lines.append(line)
        builtins.print(f"[eps {eps}] {line}", flush=True)

    method = method_for_eps(eps)
    print(f"## eps = {eps}: GD lr 1e-3 vs adaptive (method {method}, rtol {rtol:g}, float32 gradients), "
          f"1 thread, {_load()}")
    ds = load_dataset("mnist", 7)
    ts = t_star_default(1e-3, ds.s, 2)
    times = [0.0, scale * ts, 3 * scale * ts]  # scale < 1: smoke test only (--smoke)
    th0 = pack(init_weights(ds.d, 64, 2, 1e-3, seed=0))
    x64 = torch.from_numpy(np.require(ds.x_train, np.float64, ["C", "W"]))
    f32 = NetFlow(ds.x_train, ds.y_train, eps, 64, 2, "float32")
    f64 = NetFlow(ds.x_train, ds.y_train, eps, 64, 2, "float64")
    shapes = f32.shapes

    ref, ref_walls, ref_evals, ref_stats = _run("adaptive", f64, th0, times, rtol=ref_rtol, atol=1e-14, h_min=0.0,
                                                method=method)
    chk, _, chk_evals, _ = _run("adaptive", f64, th0, times, rtol=10 * ref_rtol, atol=1e-14, h_min=0.0,
                                method=method)
    f_ref = [_outputs(r, shapes, x64, eps) for r in ref]

    def dev(states, i):
        return np.abs(_outputs(states[i], shapes, x64, eps) - f_ref[i]).max() / np.abs(f_ref[i]).max()

    print(f"s = {ds.s:.4f}, t* = {ts:.3f}; reference: adaptive float64 rtol {ref_rtol:g} "
          f"({ref_evals[-1]} evals, {ref_walls[-1]:.0f} s, {ref_stats.as_dict()['evals_per_method']}); "
          f"ref check (rtol {10 * ref_rtol:g}, {chk_evals[-1]} evals) vs reference: "
          f"{dev(chk, 1):.1e} at t*, {dev(chk, 2):.1e} at 3t*")
    fasts = []
    for r in (rtol, rtol / 3):  # the figures' tolerance and a 3x tighter one
        fast, fast_walls, fast_evals, fast_stats = _run("adaptive", f32, th0, times, rtol=r, method=method)
        fs = fast_stats.as_dict()
        print(f"adaptive rtol {r:.3g}: {fs['steps']} steps, {fs['rejected_steps']} rejected, {fs['forced_steps']} "
              f"forced, evals per method {fs['evals_per_method']}, switch to bs3 at t = {fs['switch_time']}")
        fasts.append((r, fast, fast_walls, fast_evals))
    gd, gd_walls, gd_evals, _ = _run("gd", f32, th0, times, lr=1e-3)
    print(f"| eps | to | GD lr 1e-3: evals | wall s | dev | adaptive rtol | evals | wall s | dev | wall ratio | "
          f"evals ratio | dev ratio GD/adaptive |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r, fast, fast_walls, fast_evals in fasts:
        for i, label in ((1, "t*"), (2, "3t*")):
            ev, wall = fast_evals[i], fast_walls[i]
            d_gd, d_fast = dev(gd, i), dev(fast, i)
            print(f"| {eps} | {label} ({times[i]:.2f}) | {gd_evals[i]} | {gd_walls[i]:.1f} | {d_gd:.1e} | {r:.3g} | "
                  f"{ev} | {wall:.2f} | {d_fast:.1e} | {gd_walls[i] / wall:.0f}x | {gd_evals[i] / ev:.0f}x | "
                  f"{d_gd / d_fast:.2g}x |")
    print(f"(end of section: {_load()})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--section", choices=("grad", "flow", "all"), default="all")
    ap.add_argument("--eps", type=float, nargs="+", default=[0.01, 0.5])
    ap.add_argument("--rtol", type=float, default=None, help="adaptive rtol (default: as the figures use)")
    ap.add_argument("--ref-rtol", type=float, default=1e-6)
    ap.add_argument("--threads", type=int, default=1, help="threads of the grad section")
    ap.add_argument("--parallel", action="store_true", help="run the eps sections in parallel processes")
    ap.add_argument("--smoke", action="store_true", help="targets at 0.02 t* (checks the script, measures nothing)")
    args = ap.parse_args()
    print(f"bench_train.py, torch {torch.__version__}, {os.cpu_count()} cpus, {_load()}")
    if args.section in ("grad", "all"):
        bench_grad(args.threads)
    if args.section in ("flow", "all"):
        jobs = [(eps, args.rtol or FAST_RTOL.get(eps, 1e-4 if eps >= 0.1 else 1e-5), args.ref_rtol,
                 0.02 if args.smoke else 1.0) for eps in args.eps]
        if args.parallel and len(jobs) > 1:  # one single-thread process per eps (the machine has 2 cores)
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(len(jobs), mp_context=mp.get_context("spawn")) as pool:
                results = list(pool.map(bench_flow, *zip(*jobs)))
        else:
            results = [bench_flow(*job) for job in jobs]
        print("\n# flow sections (collected)")
        for lines in results:
            print("\n".join(lines))
    print(f"done, {_load()}")


if __name__ == "__main__":
    main()
