"""Benchmark of the training engine as a user meets it: complete train() calls (default recording,
one thread, one process, one after another) of the paper's GD (lr 1e-3) and the adaptive integrator
(TrainConfig's default tolerance) on 7x7 MNIST, beta = 1e-3, to t*_0.5, both against a float64
reference of the flow; plus the recorder's cost per recorded time and the gradient evaluation's
cost against this machine's matmul peak.

Usage: .venv/bin/python benchmarks/bench_train.py [--section flow|record|grad|interleaved|all] [--eps 0.01 0.5]
       [--ref-rtol 1e-7] [--rtols 1e-3 3e-4 1e-4 3e-5] [--quick]
--quick: horizon t*/4 and a 10x looser reference (~2 minutes on a quiet 2-core machine): checks
the script and shows the shape of the result; the goals are stated for the full run.

Goals (docs: BENCHMARKS.md): to t*, adaptive >= 50x less wall than GD at eps = 0.01 and >= 25x at
eps = 0.5, while >= 10x closer to the reference flow. Distance to the flow = max_k |f(x_k) - f_ref(x_k)|
/ max_k |f_ref(x_k)| over the 60,000 training inputs (float64 forward pass) at the final time, where
f_ref is the net integrated by the adaptive integrator in float64 at --ref-rtol (method as train()
chooses); the reference's own error is estimated by a second solve at 10x its tolerance ("ref check").
Everything printed is measured in this run; the load average is printed with every section (the
machine may be shared: wall times are then upper bounds)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nlbound.networks import forward, init_weights, layer_shapes, pack, unpack
from nlbound.training import NetFlow, RunOptions, TrainConfig, get_integrator, t_star_default, train
from nlbound.training import run as run_module
from nlbound.training.integrators import method_for_eps
from nlbound.training.recording import Recorder

BETA, SIZE, WIDTH = 1e-3, 7, 64


def _load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def _outputs(theta, shapes, x, eps):
    ws = [torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(theta, shapes)]
    with torch.no_grad():
        return forward(ws, x, eps).numpy()


def timed_train(config: TrainConfig, ds, out: Path):
    """One complete train() call as a user makes it (dataset already loaded, one thread):
    (wall seconds, TrainResult, weights at t_end)."""
    t0 = time.perf_counter()
    res = train(config, ds, RunOptions(out_dir=out, threads=1))
    return time.perf_counter() - t0, res, res.theta


def reference(eps, th0, t_end, ds, rtol):
    """Weights at t_end by the adaptive integrator in float64 at rtol (no recording): (theta, evals, s)."""
    flow = NetFlow(ds.x_train, ds.y_train, eps, WIDTH, 2, "float64")
    out = []
    t0 = time.perf_counter()
    get_integrator("adaptive")(flow, th0, [0.0, t_end], lambda t, th: out.append(th.copy()), rtol=rtol,
                               atol=1e-14, h_min=0.0, method=method_for_eps(eps))
    return out[-1], flow.evals, time.perf_counter() - t0


def bench_flow(eps: float, ds, ref_rtol: float, scale: float, out: Path, rtols=()) -> None:
    torch.set_num_threads(1)
    ts = t_star_default(BETA, ds.s, 2)
    t_end = scale * ts
    base = TrainConfig(dataset="mnist", size=SIZE, width=WIDTH, eps=eps, beta=BETA, t_end=t_end)
    print(f"## eps = {eps}: to {'t*' if scale == 1 else f'{scale:g} t*'} = {t_end:.3f} (s = {ds.s:.4f}), "
          f"7x7 MNIST, beta = {BETA}, width {WIDTH}, 1 thread, {_load()}", flush=True)
    th0 = pack(init_weights(ds.d, WIDTH, 2, BETA, seed=base.init_seed))
    shapes = layer_shapes(ds.d, WIDTH, 2)
    x64 = torch.from_numpy(np.require(ds.x_train, np.float64, ["C", "W"]))
    ref, ref_evals, ref_wall = reference(eps, th0, t_end, ds, ref_rtol)
    chk, chk_evals, _ = reference(eps, th0, t_end, ds, 10 * ref_rtol)
    f_ref = _outputs(ref, shapes, x64, eps)

    def dist(theta):
        return float(np.abs(_outputs(theta, shapes, x64, eps) - f_ref).max() / np.abs(f_ref).max())

    print(f"reference: float64 adaptive rtol {ref_rtol:g}, {ref_evals} evals, {ref_wall:.0f} s; ref check "
          f"(rtol {10 * ref_rtol:g}, {chk_evals} evals) is {dist(chk):.1e} from it", flush=True)
    rows = []
    for name, cfg in (("adaptive", base), ("GD lr 1e-3", base.replace(integrator="gd", lr=1e-3))):
        wall, res, theta = timed_train(cfg, ds, out / name.split()[0])
        info = res.info
        rows.append((name, cfg, wall, info, dist(theta)))
        print(f"{name}: train() {wall:.2f} s, {info['grad_evals']} grad evals, {info['recorded']} recorded times, "
              f"distance to the flow {rows[-1][4]:.2e}, train loss at the end {res.trace['train_loss'][-1]:.10f} "
              f"(reference {_loss(ref, shapes, ds, eps):.10f})", flush=True)
    (_, a_cfg, a_wall, a_info, a_dist), (_, _, g_wall, g_info, g_dist) = rows
    print("| eps | to | GD: evals | wall s | distance | adaptive rtol | evals | wall s | distance | "
          "wall ratio | evals ratio | closer |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {eps} | {t_end:.2f} | {g_info['grad_evals']} | {g_wall:.1f} | {g_dist:.1e} | {a_cfg.rtol:g} | "
          f"{a_info['grad_evals']} | {a_wall:.2f} | {a_dist:.1e} | {g_wall / a_wall:.1f}x | "
          f"{g_info['grad_evals'] / a_info['grad_evals']:.0f}x | {g_dist / a_dist:.0f}x |")
    if rtols:
        tolerance_sweep(eps, ds, th0, t_end, rtols, dist, g_dist)
    print(f"(end of section: {_load()})", flush=True)


def tolerance_sweep(eps, ds, th0, t_end, rtols, dist, gd_dist) -> None:
    """The adaptive integrator alone (float32 gradients, no recording) at each rtol: evaluations and
    distance to the reference at t_end, against GD's distance (the rule behind TrainConfig.rtol)."""
    print(f"tolerance sweep (eps = {eps}, method {method_for_eps(eps)}): | rtol | grad evals | distance | "
          f"GD's distance / distance |")
    for r in rtols:
        flow = NetFlow(ds.x_train, ds.y_train, eps, WIDTH, 2, "float32")
        out = []
        get_integrator("adaptive")(flow, th0, [0.0, t_end], lambda t, th: out.append(th.copy()), rtol=r,
                                   method=method_for_eps(eps))
        d = dist(out[-1])
        print(f"| {r:g} | {flow.evals} | {d:.1e} | {gd_dist / d:.1f}x |", flush=True)


def _loss(theta, shapes, ds, eps) -> float:
    x = torch.from_numpy(np.require(ds.x_train, np.float64, ["C", "W"]))
    r = _outputs(theta, shapes, x, eps) - ds.y_train
    return float(r @ r / (2 * r.size))


def bench_record(ds, reps: int = 15) -> None:
    """Cost per recorded time, interleaved with a float32 gradient evaluation (the unit), for the
    recorder in float32 and float64 and, if tests/ is beside this script, the previous recorder."""
    torch.set_num_threads(1)
    print(f"## recording, 7x7 MNIST, width {WIDTH}, 1 thread, {_load()}", flush=True)
    cfg = TrainConfig(dataset="mnist", size=SIZE, width=WIDTH, eps=0.01, beta=BETA, t_end=10.55)
    theta0, times, twin, twin_exact, info, S, basis = run_module._prepare(cfg, ds, Path("/nonexistent"))
    recs = {f"new, {dt}": Recorder(cfg.replace(dtype=dt), ds, twin, twin_exact, Path("/nonexistent"), S, basis)
            for dt in ("float32", "float64")}
    tests = Path(__file__).resolve().parent.parent / "tests" / "training"
    if (tests / "test_recording.py").exists():
        sys.path.insert(0, str(tests))
        from test_recording import OldRecorder

        recs["previous (float64)"] = OldRecorder(cfg, ds, twin, twin_exact, Path("/nonexistent"), {"_S": S})
    for r in recs.values():
        r.write_interval = float("inf")
    flow = NetFlow(ds.x_train, ds.y_train, 0.01, WIDTH, 2, "float32")
    th = theta0 + 0.1 * flow(theta0)
    i = len(times) - 2  # not the last: no p-rounding measurement
    tm = {k: [] for k in ["grad eval (float32)", *recs]}
    for _ in range(reps):
        t0 = time.perf_counter()
        flow(th)
        tm["grad eval (float32)"].append(time.perf_counter() - t0)
        for k, r in recs.items():
            t0 = time.perf_counter()
            r.record(i, times[i], th)
            tm[k].append(time.perf_counter() - t0)
    unit = np.median(tm["grad eval (float32)"])
    for k, v in tm.items():
        print(f"{k:22s}: {1e3 * np.median(v):7.2f} ms per record (median of {reps}) = "
              f"{np.median(v) / unit:4.2f} gradient evaluations")
    _breakdown(recs["new, float32"], i, times[i], th, reps)
    print(f"(end of section: {_load()})", flush=True)


def _breakdown(rec: Recorder, i, t, theta, reps: int) -> None:
    """Median time of each part of Recorder.record (same calls, timed one by one)."""
    from nlbound.evaluation import metrics as M
    from nlbound.training.flows import end_to_end

    parts: dict[str, list] = {}

    def clock(name, fn):
        t0 = time.perf_counter()
        out = fn()
        parts.setdefault(name, []).append(time.perf_counter() - t0)
        return out

    for _ in range(reps):
        out = {s: clock(f"forward f, g1 ({s})", lambda s=s: rec._outputs([theta, rec.twin[i]], s))
               for s in ("train", "test")}
        f = {s: out[s][0] for s in out}
        g1 = {s: out[s][1] for s in out}
        y = rec.y["train"]
        resid_x, corr_x = clock("(Y-f)X^T, (f-g1)X^T float64", lambda: np.stack(
            [y - f["train"], f["train"] - g1["train"]]) @ rec.x64["train"])
        w = M.round_to_precision(corr_x / y.shape[0], rec.cfg.p)
        v = end_to_end(unpack(rec.twin[i], rec.shapes)).reshape(-1)
        row: dict = {}
        clock("risks, losses, margins of f", lambda: rec._model_columns(row, f, resid_x))
        clock("norms", lambda: rec._norm_columns(row, theta))
        clock("proxies g1, g2, glin", lambda: rec._proxy_columns(row, f, g1, v, w))
    total = sum(np.median(v) for v in parts.values())
    for k, v in parts.items():
        print(f"  {k:30s} {1e3 * np.median(v):6.2f} ms ({100 * np.median(v) / total:3.0f} %)")


def bench_interleaved(eps: float, ds, rounds: int = 2, steps: int = 300) -> None:
    """For a loaded machine: a complete adaptive train() to t*, then `steps` bare GD steps, alternately,
    so both see the same load. 10549 x (ms per GD step) / adaptive wall is a lower bound of the wall
    ratio (a GD train() also records 50 times); the flow section measures the real one."""
    torch.set_num_threads(1)
    ts = t_star_default(BETA, ds.s, 2)
    cfg = TrainConfig(dataset="mnist", size=SIZE, width=WIDTH, eps=eps, beta=BETA, t_end=ts)
    flow = NetFlow(ds.x_train, ds.y_train, eps, WIDTH, 2, "float32")
    th = pack(init_weights(ds.d, WIDTH, 2, BETA))
    n_gd = round(ts / 1e-3)
    print(f"## interleaved, eps = {eps}, to t* = {ts:.3f}, 1 thread, {_load()}", flush=True)
    for rnd in range(rounds):
        t0 = time.perf_counter()
        res = train(cfg, ds, RunOptions(out_dir=Path("/tmp/nlbound-bench-interleaved") / f"eps{eps}", threads=1))
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(steps):
            th = th + 1e-3 * flow(th)
        step = (time.perf_counter() - t0) / steps
        print(f"round {rnd}: adaptive train() {wall:.2f} s ({res.info['grad_evals']} evals, rtol {cfg.rtol:g}); GD "
              f"{1e3 * step:.2f} ms per step -> {n_gd} steps >= {n_gd * step:.0f} s: wall ratio >= "
              f"{n_gd * step / wall:.1f}x ({_load()})", flush=True)


def matmul_peak(dtype=torch.float32, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    c = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=c)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def bench_grad(m: int = 60000, reps: int = 20) -> None:
    torch.set_num_threads(1)
    print(f"## gradient evaluation, 1 thread, {_load()}")
    peak = matmul_peak()
    print(f"matmul peak (torch.mm 2048^2 float32, best of 10): {peak:.1f} GFLOP/s")
    rng = np.random.default_rng(0)
    for d in (49, 196, 784):
        x = rng.standard_normal((m, d)) / np.sqrt(d)
        flow = NetFlow(x, np.sign(rng.standard_normal(m)), 0.01, WIDTH, 2, "float32")
        th = pack(init_weights(d, WIDTH, 2, BETA))
        flow(th)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            flow(th)
            times.append(time.perf_counter() - t0)
        ms = 1e3 * float(np.median(times))
        flops = 4 * m * d * WIDTH + 6 * m * WIDTH  # X W1^T and delta^T X dominate
        print(f"grad eval d={d:4d}: {ms:7.2f} ms (median of {reps}), {flops / ms / 1e6:6.1f} GFLOP/s "
              f"= {100 * flops / ms / 1e6 / peak:5.1f} % of peak")
        if d == 49:
            _threads_ratio(flow, th, reps)
    torch.set_num_threads(1)


def _threads_ratio(flow, th, reps: int) -> None:
    """One process, 1 vs 2 threads interleaved (RunOptions.threads default): median ms per evaluation."""
    tm: dict[int, list] = {1: [], 2: []}
    for _ in range(reps):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            flow(th)
            tm[threads].append(time.perf_counter() - t0)
    one, two = (1e3 * float(np.median(tm[k])) for k in (1, 2))
    print(f"  threads, d = 49 (interleaved): 1 thread {one:.2f} ms, 2 threads {two:.2f} ms per evaluation: "
          f"2 threads = {one / two:.2f}x the speed of 1 ({_load()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", choices=("flow", "record", "grad", "interleaved", "all"), default="all",
                    help="interleaved (not in all): adaptive train() vs GD per-step cost, alternately")
    ap.add_argument("--eps", type=float, nargs="+", default=[0.01, 0.5])
    ap.add_argument("--ref-rtol", type=float, default=1e-7)
    ap.add_argument("--quick", action="store_true", help="to t*/4 with a 10x looser reference")
    ap.add_argument("--rtols", type=float, nargs="*", default=[1e-3, 3e-4, 1e-4, 3e-5],
                    help="tolerance sweep of the bare adaptive integrator after each flow section")
    ap.add_argument("--out", default="/tmp/nlbound-bench-train", help="run directories of the timed runs")
    args = ap.parse_args()
    from nlbound.data import load_dataset

    print(f"bench_train.py{' --quick' if args.quick else ''}, torch {torch.__version__}, {os.cpu_count()} cpus, "
          f"{_load()}", flush=True)
    ds = load_dataset("mnist", SIZE)
    if args.section in ("grad", "all"):
        bench_grad()
    if args.section in ("record", "all"):
        bench_record(ds)
    if args.section == "interleaved":
        for eps in args.eps:
            bench_interleaved(eps, ds)
    if args.section in ("flow", "all"):
        for eps in args.eps:
            bench_flow(eps, ds, args.ref_rtol * (10 if args.quick else 1), 0.25 if args.quick else 1.0,
                       Path(args.out) / f"eps{eps}", args.rtols)
    print(f"done, {_load()}")


if __name__ == "__main__":
    main()
