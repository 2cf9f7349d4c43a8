"""--verify: train planned configurations with the cached runner and evaluate Theorem 5.2 on the trained nets."""

from __future__ import annotations

import numpy as np

from nlbound.evaluation.run_bound import run_bound
from nlbound.execution.runner import run_all
from nlbound.planning.search import Plan
from nlbound.training import TrainConfig, load_run

__all__ = ["train_config", "verify"]


def train_config(plan: Plan, i: int, dataset: str, size: int, data_seed: int = 0, positive: tuple = ()):
    """The TrainConfig that trains point i's network (depth, beta, init, eps; the grid's width and
    init seed) to its planned stopping time t, recording the train margin risk at its planned gamma."""
    r = plan.row(i)
    return TrainConfig(dataset=dataset, size=size, positive=positive, depth=r["depth"], width=plan.grid.width, eps=r["eps"],
                       beta=r["beta"], rank_one=(r["init"] == "rank_one"), init_seed=plan.grid.init_seed,
                       data_seed=data_seed, t_end=r["t"], times=(r["t"],), gammas=(r["gamma"],), p=r["p"])


def _realised(plan: Plan, i: int, run) -> dict:
    """Theorem 5.2 (eq. 6) on the trained net at the planned (gamma, t), at the plan's delta/N."""
    r = plan.row(i)
    tr, info = run.trace, run.info
    same = (int(info["rank"]), int(info["m"])) == (plan.data.d, plan.data.m) and \
        abs(float(info["s"]) - plan.data.s) <= 1e-9 * plan.data.s
    if not same:
        raise ValueError(f"run {run.out_dir} was trained on other data than the plan's (its d, m, s == "
                         f"{info['rank']}, {info['m']}, {info['s']:.9g}; the plan's: {plan.data.d}, {plan.data.m}, "
                         f"{plan.data.s:.9g})")
    k = int(np.argmin(np.abs(tr["t"] - r["t"])))
    # Theorem 5.2 with the p-bit term on the trained net (evaluation.run_bound), at the plan's delta/N
    b = run_bound(tr, info, kappa=r["kappa"], gamma=r["gamma"], delta=plan.grid.delta, p=r["p"],
                  n_searched=plan.n_points, form=plan.form)
    return {"realised_margin_risk": float(b["margin_risk"][k]), "realised_upsilon": float(b["upsilon"][k]),
            "realised_deviation": float(b["deviation"][k]), "realised_precision": float(b["precision"][k]),
            "realised_bound": float(b["bound"][k]),  # eq. 6 with step P
            "test_risk": float(tr["test_risk"][k]), "train_risk": float(tr["train_risk"][k]),
            "run": str(run.out_dir)}


def verify(plan: Plan, indices, *, dataset: str, size: int, cache_dir, data_seed: int = 0, positive: tuple = (),
           data_dir=None, processes: int = 1, progress: bool = False) -> list[dict]:
    """Train (or reuse from the run cache) the networks of the planned points `indices` and return,
    per point, the plan's row with the realised margin risk, terms and bound next to the predicted ones."""
    configs = [train_config(plan, int(i), dataset, size, data_seed, positive) for i in indices]
    dirs = run_all(configs, cache_dir, processes=processes, data_dir=data_dir, progress=progress)
    return [{**plan.row(int(i)), **_realised(plan, int(i), load_run(dirs[c.key()]))}
            for i, c in zip(indices, configs, strict=True)]
