"""Wall time of `nlbound plan`'s search (make_plan) on a ~10^5-point grid, against a per-point loop.

The plan: the linear twin per (beta, init) + ONE vectorised bound_terms call over every point + the
margin-risk tables (searchsorted). The baseline scores points one at a time: a scalar bound_terms
call and mean(z < gamma) over the twin's margins -- the twin's margins are handed to the loop for
free, so the ratio understates the plan's advantage. The loop is timed on --n-loop random points
and extrapolated to N; plan and loop are timed alternately in the same process (--repeat pairs).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from nlbound.data import load_dataset
from nlbound.planning import PlanData, PlanGrid, eps_grid, make_plan
from nlbound.planning.twin import twin_margins, twin_weights
from nlbound.theory import bound_terms


def _loop(plan, data, idx) -> float:
    """Score plan points idx one by one (scalar bound_terms + a margin count); returns seconds."""
    c, g = plan.columns, plan.grid
    margins = {}
    for i in idx:  # the twin's margins at each point's (beta, init, t), computed outside the timing
        key = (c["depth"][i], c["beta"][i], c["init"][i], c["t"][i])
        if key not in margins:
            v = twin_weights(data.x, data.y, int(key[0]), g.width, key[1], g.inits[int(key[2])], g.init_seed,
                             np.array([key[3]]))
            margins[key] = twin_margins(data.x, data.y, v)[0]
    t0 = time.perf_counter()
    for i in idx:
        z = margins[(c["depth"][i], c["beta"][i], c["init"][i], c["t"][i])]
        mr = float(np.mean(z < c["gamma"][i]))
        terms = bound_terms(d=data.d, m=data.m, depth=c["depth"][i], kappa=c["kappa"][i], p=c["p"][i],
                            delta=plan.delta_point, eps=c["eps"][i], beta=c["beta"][i], gamma=c["gamma"][i],
                            rho=c["rho"][i], s=data.s, t=c["t"][i], workers=1)
        _ = mr + float(terms["a_priori"])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--size", type=int, default=7)
    ap.add_argument("--eps-max", type=float, default=0.01, help="eps grid 1e-3..eps_max (3 per decade)")
    ap.add_argument("--n-loop", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    ds = load_dataset(a.dataset, a.size)
    data = PlanData.from_dataset(ds)
    grid = PlanGrid(epss=eps_grid(a.eps_max))
    plan = make_plan(grid, data, workers=a.workers)  # warm-up
    n = plan.n_points
    idx = np.random.default_rng(0).choice(n, size=min(a.n_loop, n), replace=False)
    plan_s, loop_s, bt_s = [], [], []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        make_plan(grid, data, workers=a.workers)
        plan_s.append(time.perf_counter() - t0)
        c = plan.columns
        t0 = time.perf_counter()
        bound_terms(d=data.d, m=data.m, depth=c["depth"], kappa=c["kappa"], p=c["p"], delta=plan.delta_point,
                    eps=c["eps"], beta=c["beta"], gamma=c["gamma"], rho=c["rho"], s=data.s, t=c["t"],
                    workers=a.workers)
        bt_s.append(time.perf_counter() - t0)
        loop_s.append(_loop(plan, data, idx) / idx.size * n)
    best, loop = min(plan_s), min(loop_s)
    print(f"grid: {ds.name} {a.size}x{a.size}, N = {n:,} points ({len(grid.betas)} beta x {len(grid.inits)} init x "
          f"t x gamma x {len(grid.epss)} eps x {len(grid.kappas)} kappa x {len(grid.ps)} p); "
          f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"make_plan (twin + one bound_terms call + margin tables): {best:.2f} s  (runs: "
          f"{', '.join(f'{x:.2f}' for x in plan_s)}); of which bound_terms alone: {min(bt_s):.2f} s")
    print(f"per-point loop (baseline), extrapolated from {idx.size} points: {loop:.1f} s "
          f"({n / loop:,.0f} points/s)")
    print(f"ratio loop / plan: {loop / best:.0f}x")


if __name__ == "__main__":
    main()
