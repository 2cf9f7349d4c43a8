"""Deep nets past convergence (issue 10 item 4): Fig. 6's runs (7x7 MNIST, beta = eps = 1e-3) with the stiff switch.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_stiff.py --depth 3 --stiffness rodas3 --out run.npz
Prints gradient evaluations (a JVP counts as one), steps per method, the stiff switch time and wall time; --out
saves the recording times, train loss / risk there and the final outputs f(X) for comparison (--compare a.npz b.npz)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nlbound.data import load_dataset
from nlbound.networks import forward, init_weights, layer_shapes, pack, unpack
from nlbound.training.adaptive import integrate_adaptive
from nlbound.training.flows import NetFlow
from nlbound.training.stats import WorkLimitError
from nlbound.training.config import TrainConfig
from nlbound.training.run import recording_times
from nlbound.theory import t_star


def _outputs(ds, theta, depth):
    x = torch.from_numpy(np.asarray(ds.x_train, np.float64))
    w = unpack(torch.from_numpy(theta), layer_shapes(x.shape[1], 64, depth))
    return forward(w, x, 1e-3).numpy()


def run(args) -> None:
    torch.set_num_threads(1)
    ds = load_dataset("mnist", 7)
    ts = float(t_star(0.5, 1e-3, float(ds.s), args.depth))
    t_end = float(f"{args.horizon * ts:.3g}")
    config = TrainConfig(depth=args.depth, eps=1e-3, beta=1e-3, rank_one=True, p=16, t_end=t_end, rtol=args.rtol)
    times = recording_times(config, float(ds.s))
    theta0 = pack(init_weights(49, 64, args.depth, 1e-3, rank_one=True, seed=0))
    flow = NetFlow(ds.x_train, ds.y_train, 1e-3, 64, args.depth, "float32")
    y = np.asarray(ds.y_train, np.float64).reshape(-1)
    rec, log = [], []
    start = time.perf_counter()

    def progress(t: float, theta: np.ndarray) -> None:
        if len(log) % 100 == 0 or log[-1][4] != "dopri5":
            print(f"  t={t:.6g} ({t / ts:.3f} t*) attempts {len(log)} flow evals {flow.evals} "
                  f"{log[-1][4]} {time.perf_counter() - start:.0f} s", flush=True)

    try:
        stats = integrate_adaptive(flow, theta0, times, lambda t, th: rec.append((t, th.copy())), rtol=args.rtol,
                                   method="auto", stiffness=args.stiffness, step_log=log, max_grad_evals=args.cap,
                                   advance=progress)
    except WorkLimitError as exc:
        rej = sum(1 for entry in log if not entry[3])
        print(f"stopped: {exc}; {len(log)} attempts, {rej} rejected, last recorded t = {rec[-1][0]:g} "
              f"({rec[-1][0] / ts:.3f} t*), wall {time.perf_counter() - start:.0f} s")
        return
    wall = time.perf_counter() - start
    outs = [_outputs(ds, th, args.depth) for _, th in rec]
    loss = np.array([np.sum((o - y) ** 2) / (2 * y.size) for o in outs])
    risk = np.array([np.mean(np.sign(o) != y) for o in outs])
    s = stats.as_dict()
    print(f"L={args.depth} t*={ts:.6g} t_end={t_end:g} stiffness={args.stiffness} rtol={args.rtol:g}: "
          f"evals {s['grad_evals']} (JVPs {s.get('jvp_evals', 0)}) steps {s['steps']} rejected {s['rejected_steps']} per method "
          f"{s['evals_per_method']} steps {s['steps_per_method']} stiff switch t={s['stiff_switch_time']} "
          f"wall {wall:.1f} s (one thread, under load)")
    if args.out:
        np.savez(args.out, t=np.array([t for t, _ in rec]), loss=loss, risk=risk, final=outs[-1],
                 theta=rec[-1][1], log=np.array([(a, b, c, d) for a, b, c, d, _ in log]),
                 methods=np.array([m for *_, m in log]), wall=wall, evals=s["grad_evals"])


def _load(path: str) -> dict:
    """A saved run (.npz) or a cached train() run's trace.csv (train loss and risk only)."""
    if path.endswith(".csv"):
        import csv

        rows = list(csv.DictReader(open(path)))
        return {k: np.array([float(r[c]) for r in rows]) for k, c in
                (("t", "t"), ("loss", "train_loss"), ("risk", "train_risk"))}
    return dict(np.load(path))


def compare(a: str, b: str) -> None:
    A, B = _load(a), _load(b)
    n = min(len(A["t"]), len(B["t"]))
    assert np.allclose(A["t"][:n], B["t"][:n])
    print(f"max |train loss diff| {np.abs(A['loss'][:n] - B['loss'][:n]).max():.3g} "
          f"max |train risk diff| {np.abs(A['risk'][:n] - B['risk'][:n]).max():.3g} over {n} recorded times")
    if "final" not in A or "final" not in B:
        return
    print(f"final outputs: max |diff| {np.abs(A['final'] - B['final']).max():.3g}, "
          f"rel L2 {np.linalg.norm(A['final'] - B['final']) / np.linalg.norm(B['final']):.3g}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--horizon", type=float, default=4.0)
    p.add_argument("--stiffness", default="ignore")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--cap", type=int, default=100_000)
    p.add_argument("--out", default="")
    p.add_argument("--compare", nargs=2)
    args = p.parse_args()
    compare(*args.compare) if args.compare else run(args)


if __name__ == "__main__":
    main()
