"""plain vs --sensitivity train() on 7x7 MNIST, eps 0.01, beta 1e-3, to t*_0.5: one thread, sequential, one process.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_sensitivity_train.py plain sens plain2 sens2

Each argument is one run, in order: a label starting with "sens" trains with sensitivity=True.
Run directories go to /tmp/nlbound-bench-sensitivity/<label>; one JSON line per run.
"""

import json
import os
import shutil
import sys
import time

from nlbound.data import load_dataset
from nlbound.theory import t_star
from nlbound.training import RunOptions, TrainConfig, train


def main() -> None:
    ds = load_dataset("mnist", 7)
    cfg = TrainConfig(eps=0.01, beta=1e-3, t_end=float(t_star(0.5, 1e-3, ds.s, 2)))
    for label in sys.argv[1:]:
        c = cfg.replace(sensitivity=label.startswith("sens"))
        d = f"/tmp/nlbound-bench-sensitivity/{label}"
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.perf_counter()
        r = train(c, ds, RunOptions(out_dir=d))
        wall = time.perf_counter() - t0
        print(label, json.dumps({"t_end": c.t_end, "wall_s": round(wall, 2), "evals": r.info["grad_evals"],
                                 "steps": r.info["steps"], "rejected": r.info["rejected_steps"],
                                 "loadavg_after": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main()
