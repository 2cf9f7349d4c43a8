"""The linear twin at rtol 1e-8 (the plan's former tolerance) vs 1e-10 (training.flows.TWIN_RTOL): time
ratio and how far v(t) and the predicted margin risks move. Run: .venv/bin/python benchmarks/bench_twin_rtol.py"""
import time, numpy as np
from nlbound.data import load_dataset
from nlbound.planning import twin as TW
from nlbound.theory import t_star
ds = load_dataset("mnist", 7)
for depth, beta in ((2, 1e-3), (3, 1e-2)):
    ts = float(t_star(0.5, beta, ds.s, depth))
    times = np.geomspace(ts / 100, 3 * ts, 30)
    res = {}
    for rtol in (1e-8, 1e-10):
        TW.TWIN_RTOL = rtol
        t0 = time.perf_counter(); v = TW.twin_weights(ds.x_train, ds.y_train, depth, 64, beta, "gaussian", 0, times); dt = time.perf_counter() - t0
        res[rtol] = (v, dt)
    v8, v10 = res[1e-8][0], res[1e-10][0]
    rel = np.max(np.abs(v8 - v10)) / np.max(np.abs(v10))
    z8, z10 = TW.twin_margins(ds.x_train, ds.y_train, v8), TW.twin_margins(ds.x_train, ds.y_train, v10)
    g = np.geomspace(1e-4, 1, 20)
    flips = np.abs(TW.margin_risk_table(z8, g) - TW.margin_risk_table(z10, g)).max()
    print(f"L={depth} beta={beta}: time 1e-8 {res[1e-8][1]:.3f}s, 1e-10 {res[1e-10][1]:.3f}s, ratio {res[1e-10][1]/res[1e-8][1]:.2f}; max rel diff v {rel:.2e}; max margin-risk diff {flips:.2e}")
