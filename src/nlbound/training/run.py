"""train(): one gradient-flow run of a nearly-linear net, instrumented, written to a run directory.

p-bit proxies (Lemma 7.2, eq. 28). The bound counts proxies whose free parameters are p-bit
numbers computed from Y X~^T. We make that literally true: the linear twin theta^0(t) is trained
(in float64, to a tight tolerance) from c = Y X~^T / m rounded to p bits (float16 for p = 16,
float32 for p = 32, exact for p = 64), so theta^0(t), g1 = f^eps_theta0 and glin = f^0_theta0 are
functions of d p-bit numbers (at most 2^{pd} of them); for kappa = 2 the correction d-vector
w = (f(X~) - g1(X~)) X~^+ of eq. 25 is rounded to p bits as well (2^{2pd} proxies in all).
All proxy columns of the trace use these rounded parameters; run.json["p_rounding"] records how
much the rounding moved them (max |g - g_unrounded| on the training set), so one sees it is
negligible. (S = X~ X~^T / m is used exactly: it is I for full-rank whitened data, and the
projector P otherwise.)
"""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nlbound import __version__
from nlbound._io import atomic_write_json
from nlbound.evaluation import metrics as M
from nlbound.networks import frobenius_spectral_ratio, init_weights, pack
from nlbound.training.config import RunOptions, TrainConfig
from nlbound.training.flows import LinearTwinFlow, NetFlow
from nlbound.training.integrators import get_integrator, integrate_adaptive, method_for_eps
from nlbound.training.recording import Recorder, TrainingDivergedError

__all__ = ["TrainResult", "TrainingDivergedError", "train", "load_run", "recording_times", "t_star_default"]

TWIN_RTOL = 1e-10  # the linear twin costs microseconds per evaluation: integrate it tightly
DEFAULT_ALPHA = 0.5


@dataclass
class TrainResult:
    trace: dict  # column name -> np.ndarray, column "t" first
    info: dict  # the contents of run.json
    out_dir: Path


def t_star_default(beta: float, s: float, depth: int, alpha: float = DEFAULT_ALPHA) -> float | None:
    """t*_alpha(beta) from nlbound.theory (eq. 15 / eq. 97); None where it is undefined."""
    from nlbound.theory import t_star

    try:
        value = float(t_star(alpha, beta, s, depth))
    except ValueError:  # alpha outside (beta^L/s, 1): t* undefined
        return None
    return value if np.isfinite(value) and value > 0 else None


def recording_times(config: TrainConfig, s: float) -> np.ndarray:
    """Sorted recording times: 0 and t_end always; config.times if given, else 25 log-spaced
    times over [t_end/1e3, t_end], 25 evenly spaced ones and t*_0.5 when it is below t_end."""
    t_end = config.t_end
    times = [0.0, t_end, *config.times]
    if not config.times:
        times += list(np.geomspace(t_end / 1e3, t_end, 25)) + list(np.linspace(0, t_end, 26))
        ts = t_star_default(config.beta, s, config.depth)
        if ts is not None and ts < t_end:
            times.append(ts)
    return np.unique(np.asarray(times, dtype=np.float64))


def _train_twin(c: np.ndarray, S: np.ndarray, theta0: np.ndarray, times: np.ndarray, config: TrainConfig):
    """Weights of the linear twin (same init, eps = 0) at every recording time, from (c, S)."""
    flow = LinearTwinFlow(c, S, config.width, config.depth)
    states: list[np.ndarray] = []
    # The twin's flow is smooth (no kinks at eps = 0): the 5th-order pair throughout.
    stats = integrate_adaptive(flow, theta0, times, lambda t, th: states.append(th.copy()),
                               rtol=TWIN_RTOL, atol=1e-16, h_min=0.0, method="dopri5")
    return states, stats


def _versions() -> dict:
    import scipy

    return {"nlbound": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "scipy": scipy.__version__}


def _load_dataset(config: TrainConfig, options: RunOptions):
    """The dataset named by config: (dataset, size, data_seed) via nlbound.data.load_dataset."""
    from nlbound.data import load_dataset

    return load_dataset(config.dataset, config.size, data_dir=options.data_dir, cache_dir=options.cache_dir,
                        seed=config.data_seed)


def _prepare(config: TrainConfig, ds, out_dir: Path):
    """Initial weights, recording times, linear twins and the static part of run.json."""
    x = np.asarray(ds.x_train, dtype=np.float64)
    m, d = x.shape
    weights0 = init_weights(d, config.width, config.depth, config.beta, rank_one=config.rank_one,
                            seed=config.init_seed)
    theta0 = pack(weights0)
    times = recording_times(config, float(ds.s))
    S = x.T @ x / m
    c_exact = x.T @ np.asarray(ds.y_train, dtype=np.float64) / m  # Y X~^T / m
    c = M.round_to_precision(c_exact, config.p)
    twin, twin_stats = _train_twin(c, S, theta0, times, config)
    twin_exact = None if config.p == 64 else _train_twin(c_exact, S, theta0, times, config)[0]
    info = {
        **config.as_dict(), "key": config.key(), "out_dir": str(out_dir),
        "rho": frobenius_spectral_ratio(weights0[0]), "s": float(ds.s), "rank": int(ds.rank), "d": d, "m": m,
        "m_test": int(np.asarray(ds.x_test).shape[0]),
        "t_star_0.5": t_star_default(config.beta, float(ds.s), config.depth),
        "twin": {**twin_stats.as_dict(), "source": "statistics c = Y X^T/m, S = X X^T/m"},
        "p_rounding": {"c_max_abs_change": float(np.abs(c - c_exact).max())},
        "versions": _versions(), "threads": torch.get_num_threads(), "status": "running",
        "_S": S,
    }
    return theta0, times, twin, twin_exact, info


def train(config: TrainConfig, dataset=None, options: RunOptions = RunOptions()) -> TrainResult:
    """Integrate the gradient flow of eq. 4 for `config`, recording every trace column at the
    recording times; writes trace.csv and run.json under the run directory and returns them.

    Raises TrainingDivergedError (a ValueError) on NaN/inf, after writing the partial trace with
    status "diverged"; KeyboardInterrupt likewise leaves status "interrupted" and a RuntimeError
    (the integrator's work cap) status "failed" with run.json["error"], and is re-raised.

    Integrator (adaptive): method_for_eps(eps) -- Bogacki-Shampine 3(2) for eps >= 0.1, else
    Dormand-Prince 5(4) with a switch to 3(2) if its steps stall -- with the global error norm; run.json
    gets steps, rejected_steps, forced_steps, evals_per_method, steps_per_method, switch_time."""
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config == {config!r}, must be a TrainConfig")
    if options.threads is not None:
        torch.set_num_threads(int(options.threads))
    ds = dataset if dataset is not None else _load_dataset(config, options)
    out_dir = Path(options.out_dir if options.out_dir is not None else Path("runs") / config.key()[:12])
    start = time.perf_counter()
    theta0, times, twin, twin_exact, info = _prepare(config, ds, out_dir)
    rec = Recorder(config, ds, twin, twin_exact, out_dir, info)
    flow = NetFlow(ds.x_train, ds.y_train, config.eps, config.width, config.depth, config.dtype)
    pbar = _progress(options.progress, config.t_end)
    index = iter(range(len(times)))

    def advance(t: float, theta: np.ndarray) -> None:
        if not np.all(np.isfinite(theta)):
            raise TrainingDivergedError(t, out_dir)
        if pbar is not None:
            pbar.update(min(t, config.t_end) - pbar.n)

    def finish(status: str, stats=None) -> None:
        info.update(status=status, wall_s=time.perf_counter() - start, grad_evals=flow.evals,
                    p_rounding={**info["p_rounding"], **rec.rounding}, recorded=len(rec.columns.get("t", [])))
        if stats is not None:
            info.update(stats.as_dict())
        rec.write_trace()
        atomic_write_json(out_dir / "run.json", info)
        if pbar is not None:
            pbar.close()

    try:
        stats = get_integrator(config.integrator)(
            flow, theta0, times, lambda t, th: rec.record(next(index), t, th),
            lr=config.lr, rtol=config.rtol, atol=config.atol, advance=advance, method=method_for_eps(config.eps))
    except TrainingDivergedError:
        finish("diverged")
        raise
    except KeyboardInterrupt:
        finish("interrupted")
        raise
    except RuntimeError as exc:  # e.g. the adaptive integrator's work cap (max_grad_evals)
        info["error"] = str(exc)
        finish("failed")
        raise
    finish("complete", stats)
    return TrainResult(rec.trace(), info, out_dir)


def _progress(enabled: bool, total: float):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="t", file=sys.stderr, mininterval=0.5,
                bar_format="{l_bar}{bar}| t={n:.3g}/{total:.3g} [{elapsed}<{remaining}]")


def load_run(out_dir) -> TrainResult:
    """Read a run directory written by train(): trace.csv as float arrays and run.json."""
    out_dir = Path(out_dir)
    info = json.loads((out_dir / "run.json").read_text())
    with open(out_dir / "trace.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    trace = {name: np.array([float(r[j]) for r in body], dtype=np.float64) for j, name in enumerate(header)}
    return TrainResult(trace, info, out_dir)
