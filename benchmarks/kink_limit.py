"""Why the stiff switch cannot take long steps on Fig. 6's deep nets (issue 10 item 4): the local error of one
step against the step size, at a state past the stiff switch, for the leaky-ReLU net (eps = 1e-3) and, from the
same weights, its smooth linear twin (eps = 0).

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/kink_limit.py --depth 3 --at 2.5 [--hs 2 5 10 20 40 80 160]

The state: 7x7 MNIST, beta = 1e-3, width 64, rank-one init (Fig. 6's run), integrated by Dormand-Prince (float32
gradients, rtol 1e-5, the figure's tolerance) to --at x t*_0.5. From there, for each h: one Rodas3 step (float64
flow, exact-to-1e-8 difference JVPs) and a float64 Dormand-Prince reference over [0, h] at --ref-rtol (its own
error: the distance to a solve at 10x that tolerance, printed for the largest h); printed:
the true local error ||theta_R - theta_ref||, the step's error estimate, both in units of the adaptive
integrator's global tolerance at rtol 1e-5 (controllers.global_scale; a step is accepted at <= 1), and the number
of (unit, sample) pre-activations whose sign differs between theta and theta_ref (kinks the flow crossed in h).
A smooth flow gives a local error ~ h^4 for Rodas3 (order 3); crossing kinks the solution's derivative jumps,
which no step size short of resolving each crossing integrates to better than O(h * jump)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from nlbound.data import load_dataset
from nlbound.networks import init_weights, layer_shapes, pack, unpack
from nlbound.theory import t_star
from nlbound.training import NetFlow, get_integrator
from nlbound.training.controllers import global_scale, norm2
from nlbound.training.sensitivity import manual_field_and_tangent
from nlbound.training.stiff import RODAS3, rosenbrock_step

BETA, WIDTH, RTOL = 1e-3, 64, 1e-5


def _signs(theta, shapes, x) -> np.ndarray:
    """Signs of every hidden pre-activation (the activation pattern; the same for any leaky slope)."""
    a, out = x, []
    for w in unpack(theta, shapes)[:-1]:
        h = a @ w.T
        out.append((h > 0).ravel())
        a = np.where(h > 0, h, 1e-3 * h)
    return np.concatenate(out)


class ExactJVP(NetFlow):
    """NetFlow whose linearize() gives the a.e. (fixed activation pattern) Jacobian-vector product
    exactly, by the forward-mode pass of training.sensitivity: J v = dF(v) - dF(0) (dF is affine in v,
    its constant part dF/dtau); each product counts as one evaluation (it costs ~2.4 float64 ones)."""

    def linearize(self, theta):
        ws = unpack(torch.from_numpy(theta), self.shapes)
        x, y, work = self.x.to(torch.float64), self.y.to(torch.float64), {}

        def dot(v):
            with torch.no_grad():
                _, d = manual_field_and_tangent(ws, unpack(torch.from_numpy(np.ascontiguousarray(v)), self.shapes),
                                                x, y, self.eps, work)
            return torch.cat([t.reshape(-1) for t in d]).numpy().copy()

        const = dot(np.zeros_like(theta))
        self.evals += 1

        def jvp(v):
            self.evals += 1
            return dot(v) - const

        return jvp


def _solve(flow, theta, t_end, rtol, method):
    out = []
    get_integrator("adaptive")(flow, theta, [0.0, t_end], lambda t, th: out.append(th.copy()), rtol=rtol,
                               atol=1e-16, h_min=0.0, method=method)
    return out[-1]


def _cost(ds, theta, depth, reps: int = 30) -> None:
    """Wall time of one gradient, one linearisation (its primal pass) and one (exact) JVP at theta,
    float32 and float64, one thread."""
    import os

    v = np.random.default_rng(0).standard_normal(theta.size)
    for dtype in ("float32", "float64"):
        flow = NetFlow(ds.x_train, ds.y_train, 1e-3, WIDTH, depth, dtype)
        jvp = flow.linearize(theta)
        ms = []
        for fn in (lambda: flow(theta), lambda: jvp(v), lambda: flow.linearize(theta)):
            fn()
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            ms.append((time.perf_counter() - t0) / reps * 1e3)
        print(f"{dtype}: gradient {ms[0]:.1f} ms, JVP {ms[1]:.1f} ms, ratio {ms[1] / ms[0]:.2f}, "
              f"linearisation (primal pass) {ms[2]:.1f} ms, ratio {ms[2] / ms[0]:.2f} "
              f"(load average {os.getloadavg()[0]:.2f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--at", type=float, default=2.5, help="the state's time in units of t*_0.5")
    ap.add_argument("--hs", type=float, nargs="+", default=[2, 5, 10, 20, 40, 80, 160])
    ap.add_argument("--ref-rtol", type=float, default=1e-9)
    ap.add_argument("--jvp", choices=("fd", "exact"), default="fd", help="the Rodas3 step's Jacobian-vector products")
    ap.add_argument("--eps", type=float, nargs="+", default=[1e-3, 0.0])
    ap.add_argument("--state", help="a .npy file: the state is loaded from it when it exists, else saved there")
    ap.add_argument("--cost", action="store_true", help="only time a gradient and a JVP pass at the state")
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset("mnist", 7)
    ts = float(t_star(0.5, BETA, float(ds.s), a.depth))
    shapes = layer_shapes(ds.d, WIDTH, a.depth)
    x = np.asarray(ds.x_train, np.float64)
    t0 = time.perf_counter()
    f32 = NetFlow(ds.x_train, ds.y_train, 1e-3, WIDTH, a.depth, "float32")
    if a.state and Path(a.state).exists():
        theta = np.load(a.state)
    else:
        theta = _solve(f32, pack(init_weights(ds.d, WIDTH, a.depth, BETA, rank_one=True, seed=0)), a.at * ts,
                       RTOL, "dopri5")
        if a.state:
            np.save(a.state, theta)
    how = (f"loaded from {a.state}" if f32.evals == 0 else
           f"after {f32.evals} float32 evaluations ({time.perf_counter() - t0:.0f} s)")
    print(f"L = {a.depth}, t*_0.5 = {ts:.6g}: state at {a.at:g} t* {how}; ||theta|| = {norm2(theta):.6g}", flush=True)
    if a.cost:
        return _cost(ds, theta, a.depth)
    tol = global_scale(theta, theta, RTOL, 1e-12)
    base = _signs(theta, shapes, x)
    for eps in a.eps:
        flow = (ExactJVP if a.jvp == "exact" else NetFlow)(ds.x_train, ds.y_train, eps, WIDTH, a.depth, "float64")
        f0 = flow(theta)
        print(f"eps = {eps:g}: ||F(theta)|| = {norm2(f0):.3e}; tolerance (rtol {RTOL:g}, global norm) {tol:.3e}; "
              f"Rodas3 with {a.jvp} JVPs")
        print("| h | true local error / tol | estimate / tol | kinks crossed | step evals | reference evals |")
        print("|---|---|---|---|---|---|")
        for h in a.hs:
            n0 = flow.evals
            new, e = rosenbrock_step(RODAS3, flow, theta, f0, h, solve_tol=1e-3 * tol)
            step_evals, n0 = flow.evals - n0, flow.evals
            ref = _solve(flow, theta, h, a.ref_rtol, "dopri5")
            flips = int((_signs(ref, shapes, x) != base).sum())
            print(f"| {h:g} | {norm2(new - ref) / tol:.3g} | {norm2(e) / tol:.3g} | {flips} | {step_evals} | {flow.evals - n0} |",
                  flush=True)
        chk = _solve(flow, theta, a.hs[-1], 10 * a.ref_rtol, "dopri5")
        print(f"reference check at h = {a.hs[-1]:g}: rtol {10 * a.ref_rtol:g} is {norm2(chk - ref) / tol:.2g} tol "
              f"from rtol {a.ref_rtol:g}", flush=True)
    print(f"wall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
