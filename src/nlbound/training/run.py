"""train(): one gradient-flow run of a nearly-linear net, instrumented, written to a run directory.

p-bit proxies (Lemma 7.2, eq. 28). The bound counts proxies whose free parameters are p-bit
numbers computed from Y X~^T. We make that literally true: the linear twin theta^0(t) is trained
(in float64, to a tight tolerance) from c = Y X~^T / m rounded to p bits (float16 for p = 16,
float32 for p = 32, exact for p = 64), so theta^0(t), g1 = f^eps_theta0 and glin = f^0_theta0 are
functions of d p-bit numbers (at most 2^{pd} of them); for kappa = 2 the correction d-vector
w = (f(X~) - g1(X~)) X~^+ of eq. 25 is rounded to p bits as well (2^{2pd} proxies in all).
All proxy columns of the trace use these rounded parameters. The rounding is not negligible
next to Delta eps^kappa (p = 16, eps = 0.001: the measured |f - g2~| is up to ~15x Delta eps^2), so
the bound charges it, for every p: the trace columns prox_dv, prox_dv_range, prox_dv_perp,
prox_nlip, prox_r (the exact twin against the p-bit one, at every recorded time) feed
theory.precision (docs/PROOFS.md, step P). For rank-deficient data the d_eff coordinates of c and
w on the data's range are rounded (step C), so 2^{p d_eff} counts them. run.json["p_rounding"]
keeps the max |g - g_unrounded| on the training set at the last time. (S = X~ X~^T / m is used
exactly: it is I for full-rank whitened data, and the projector P otherwise.)
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import torch

from nlbound import __version__
from nlbound._blas import blas_threads
from nlbound._io import atomic_write_columns, atomic_write_json
from nlbound.data import dataset_for, dataset_statistics
from nlbound.evaluation import metrics as M
from nlbound.networks import frobenius_spectral_ratio, init_weights, pack
from nlbound.theory import t_star_or_none
from nlbound.training.config import RunOptions, TrainConfig
from nlbound.training.flows import TWIN_RTOL, LinearTwinFlow, NetFlow
from nlbound.training.integrators import FlowDivergedError, get_integrator, integrate_adaptive, integrator_options
from nlbound.training.recording import Recorder, TrainingDivergedError
from nlbound.training.rundir import (
    DEFAULT_RUNS,
    INFO_FILE,
    TRACE_FILE,
    RunDirLock,
    publish,
    read_run,
    run_dir,
    temporary_dir,
)
from nlbound.training.supervise import Heartbeat, progress_bar, signals_blocked, sigterm_as_interrupt
from nlbound.training.sensitivity import SensitivityFlow, initial_state, split_state
from nlbound.training.stopping import should_stop

__all__ = ["TrainResult", "TrainingDivergedError", "train", "load_run", "recording_times", "t_star_default"]

DEFAULT_ALPHA = 0.5


@dataclass
class TrainResult:
    trace: dict  # column name -> np.ndarray, column "t" first
    info: dict  # the contents of run.json
    out_dir: Path
    # packed weights theta(0) and theta(t_end) (networks.pack order), in memory only: set by
    # train(), None from load_run() (run directories store no weights; re-train to obtain them)
    theta0: np.ndarray | None = None
    theta: np.ndarray | None = None
    tangent: np.ndarray | None = None  # ∂θ^ε/∂τ at the last recorded time (config.sensitivity only)


def t_star_default(beta: float, s: float, depth: int, alpha: float = DEFAULT_ALPHA) -> float | None:
    """t*_alpha(beta) of eq. 15 / eq. 97 (nlbound.theory.t_star_or_none); None where it is undefined."""
    return t_star_or_none(alpha, beta, s, depth)


def recording_times(config: TrainConfig, s: float) -> np.ndarray:
    """Sorted recording times: 0 and t_end always; config.times if given, else 25 log-spaced
    times over [t_end/1e3, t_end], 25 evenly spaced ones and t*_0.5 when it is below t_end."""
    return _recording_times(config, t_star_default(config.beta, s, config.depth))


def _recording_times(config: TrainConfig, ts: float | None) -> np.ndarray:
    """recording_times with t*_0.5 given (`ts`, None where undefined): train() computes it once."""
    t_end = config.t_end
    times = [0.0, t_end, *config.times]
    if not config.times:
        times += list(np.geomspace(t_end / 1e3, t_end, 25)) + list(np.linspace(0, t_end, 26))
        if ts is not None and ts < t_end:
            times.append(ts)
    return np.unique(np.asarray(times, dtype=np.float64))


def _train_twin(c: np.ndarray, S: np.ndarray, theta0: np.ndarray, times: np.ndarray, config: TrainConfig):
    """Weights of the linear twin (same init, eps = 0) at every recording time, from (c, S)."""
    flow = LinearTwinFlow(c, S, config.width, config.depth)
    states: list[np.ndarray] = []
    # The twin's flow is smooth (no kinks at eps = 0): the 5th-order pair throughout, then the run's
    # stiff method once stability-limited (config.stiffness; its JVPs by the complex step, exact).
    stats = integrate_adaptive(flow, theta0, times, lambda t, th: states.append(th.copy()),
                               rtol=TWIN_RTOL, atol=1e-16, h_min=0.0, method="dopri5", stiffness=config.stiffness)
    return states, stats


def _versions() -> dict:
    return {"nlbound": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "scipy": scipy.__version__}


def _check_dataset(config: TrainConfig, ds) -> None:
    """The dataset passed must be the one config names (a non-square synthetic one has size None; an
    npz one is the file's content: its sha256 and positive labels, wherever it was read)."""
    if config.data_sha256:
        if getattr(ds, "sha256", None) != config.data_sha256 or tuple(ds.positive) != config.positive:
            raise ValueError(f"dataset {config.dataset!r} has sha256 {getattr(ds, 'sha256', None)} and positive "
                             f"labels {list(getattr(ds, 'positive', ()))}, must be the config's "
                             f"{config.data_sha256} and {list(config.positive)} (has the file changed?)")
        return
    if ds.name != config.dataset or (ds.size is not None and int(ds.size) != config.size):
        raise ValueError(f"dataset == {ds.name!r} of size {ds.size}, must be the config's "
                         f"{config.dataset!r} of size {config.size}")


def _prepare(config: TrainConfig, ds, out_dir: Path):
    """Initial weights, recording times, linear twins, S = X~ X~^T / m and the static part of run.json."""
    x = np.asarray(ds.x_train, dtype=np.float64)
    m, d = x.shape
    weights0 = init_weights(d, config.width, config.depth, config.beta, rank_one=config.rank_one,
                            seed=config.init_seed)
    theta0 = pack(weights0)
    t_star_half = t_star_default(config.beta, float(ds.s), config.depth)  # once per run: times and run.json
    times = _recording_times(config, t_star_half)
    S = x.T @ x / m
    c_exact = x.T @ np.asarray(ds.y_train, dtype=np.float64) / m  # Y X~^T / m
    basis = M.range_basis(S)  # rank < d: round the d_eff coordinates on the range (PROOFS.md, step C)
    c = M.round_in_basis(c_exact, config.p, basis)
    twin, twin_stats = _train_twin(c, S, theta0, times, config)
    twin_exact = None if config.p == 64 else _train_twin(c_exact, S, theta0, times, config)[0]
    info = {
        **config.as_dict(), "key": config.key(), "out_dir": str(out_dir),
        "rho": frobenius_spectral_ratio(weights0[0]), "s": float(ds.s), "rank": int(ds.rank), "d": d, "m": m,
        "m_test": int(np.asarray(ds.x_test).shape[0]),
        "t_star_0.5": t_star_half,
        "twin": {**twin_stats.as_dict(), "source": "statistics c = Y X^T/m, S = X X^T/m"},
        "p_rounding": {"c_max_abs_change": float(np.abs(c - c_exact).max())},
        "versions": _versions(), "threads": torch.get_num_threads(), "status": "running",
    }
    return theta0, times, twin, twin_exact, info, S, basis


def train(config: TrainConfig, dataset=None, options: RunOptions = RunOptions()) -> TrainResult:
    """Integrate the gradient flow of eq. 4 for `config`, recording every trace column at the
    recording times; writes trace.csv and run.json under the run directory and returns them.

    The run directory (options.out_dir, default run_dir("runs", config)) is consistent at every
    instant (nlbound.training.rundir): the run is written into `<out>.tmp-<token>` under the writer
    lock `<out>.lock` and renamed into place when it ends; a second writer on the same directory
    gets RunDirLockedError (a ValueError). How it ended is run.json["status"]:
    TrainingDivergedError (a ValueError) on NaN/inf -> "diverged"; KeyboardInterrupt or SIGTERM
    -> "interrupted" (re-raised as KeyboardInterrupt); a RuntimeError (the integrator's work cap)
    -> "failed" with run.json["error"], re-raised. Each keeps the rows recorded so far.

    Integrator (adaptive): method_for_eps(eps) -- Bogacki-Shampine 3(2) for eps >= 0.1, else
    Dormand-Prince 5(4) with a switch to 3(2) if its steps stall -- with the global error norm; run.json
    gets steps, rejected_steps, forced_steps, evals_per_method, steps_per_method, switch_time."""
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config == {config!r}, must be a TrainConfig")
    if options.threads is not None:
        torch.set_num_threads(int(options.threads))
    ds = dataset if dataset is not None else dataset_for(config, data_dir=options.data_dir, cache_dir=options.cache_dir)
    _check_dataset(config, ds)
    out_dir = Path(options.out_dir) if options.out_dir is not None else run_dir(DEFAULT_RUNS, config)
    with blas_threads(options.threads), RunDirLock(out_dir), sigterm_as_interrupt():
        tmp = temporary_dir(out_dir)
        try:
            return _train_into(config, ds, options, tmp, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already unless the run failed before finishing


def _train_into(config: TrainConfig, ds, options: RunOptions, tmp: Path, out_dir: Path) -> TrainResult:
    """train() proper: everything is written into `tmp`, which is renamed to `out_dir` at the end."""
    start = time.perf_counter()
    theta0, times, twin, twin_exact, info, S, basis = _prepare(config, ds, out_dir)
    rec = Recorder(config, ds, twin, twin_exact, tmp, S, basis)
    flow, state0, split = _flow(config, ds, theta0)
    pbar = progress_bar(options.progress, config.t_end)
    beat = Heartbeat(options.progress_file, config.t_end)
    index = iter(range(len(times)))
    advance = _advance(config.t_end, out_dir, pbar, beat)

    def finish(status: str, stats=None) -> None:
        with signals_blocked():  # the files and the rename are not interrupted half-way
            info.update(status=status, wall_s=time.perf_counter() - start, grad_evals=flow.evals,
                        p_rounding={**info["p_rounding"], **rec.rounding}, recorded=len(rec.columns.get("t", [])))
            if stats is not None:
                info.update(stats.as_dict())
            rec.write_trace()
            if not rec.columns:
                atomic_write_columns(tmp / TRACE_FILE, {"t": []})
            atomic_write_json(tmp / INFO_FILE, info)
            publish(tmp, out_dir)
        if pbar is not None:
            pbar.close()
        beat.close()

    try:
        stats = get_integrator(config.integrator)(
            flow, state0, times, _record_callback(config, ds, rec, index, split), advance=advance,
            **integrator_options(config))
    except (TrainingDivergedError, FlowDivergedError) as exc:
        finish("diverged")
        raise TrainingDivergedError(exc.t, out_dir) from None
    except KeyboardInterrupt:
        finish("interrupted")
        raise
    except _StopRequested as stop:  # config.stop_phase3: a declared end, not a failure
        info["stopped"] = {"t": stop.t, "rule": f"first recorded t >= {config.stop_phase3:g} * t2 (App. B)"}
        finish("complete")
        return TrainResult(rec.trace(), info, out_dir, theta0=theta0, theta=rec.last_theta,
                           tangent=rec.last_tangent)
    except RuntimeError as exc:  # e.g. the adaptive integrator's work cap (max_grad_evals)
        info["error"] = str(exc)
        finish("failed")
        raise
    finish("complete", stats)
    return TrainResult(rec.trace(), info, out_dir, theta0=theta0, theta=rec.last_theta,
                           tangent=rec.last_tangent)


def _advance(t_end: float, out_dir: Path, pbar, beat: Heartbeat):
    """The integrator's per-step hook: a non-finite state is divergence; the bar and heartbeat follow t."""
    def advance(t: float, theta: np.ndarray) -> None:
        if not np.all(np.isfinite(theta)):
            raise TrainingDivergedError(t, out_dir)
        if pbar is not None:
            pbar.update(min(t, t_end) - pbar.n)
        beat(t)

    return advance


class _StopRequested(Exception):
    """The recording callback's signal that config.stop_phase3's rule holds (caught in _train_into)."""

    def __init__(self, t: float):
        super().__init__(t)
        self.t = float(t)


def _flow(config: TrainConfig, ds, theta0: np.ndarray):
    """(flow, initial state, split): NetFlow on θ; with config.sensitivity, SensitivityFlow at τ = ε on
    z = [θ, c ∂θ^ε/∂τ] from [θ(0), 0] (d/dt ∂θ/∂τ = ∂F/∂θ ∂θ/∂τ + ∂F/∂τ), the tangent in the global
    error norm with weight c = ε (1 at ε = 0): ε ∂θ/∂τ ≈ θ^ε − θ^0, the deviation from the linear
    twin, is then held to the same absolute accuracy as θ itself, and a sensitivity run takes the
    plain run's steps (c = 1 made the tangent dominate the norm: 1.7x the evaluations on 7x7 MNIST,
    ε = 0.01, BENCHMARKS.md). split: state -> the arguments (θ[, ∂θ/∂τ]) of Recorder.record."""
    if not config.sensitivity:
        return NetFlow(ds.x_train, ds.y_train, config.eps, config.width, config.depth, config.dtype), theta0, \
            (lambda th: (th,))
    flow = SensitivityFlow(ds.x_train, ds.y_train, config.eps, config.width, config.depth,
                           tangent_scale=config.eps if config.eps > 0 else 1.0, dtype=config.dtype)
    return flow, initial_state(theta0), (lambda z: split_state(z, flow.scale))


def _record_callback(config: TrainConfig, ds, rec, index, split):
    """The integrators' recording callback: record a row; with config.stop_phase3 = m > 0 end the
    run once phase 3 (App. B, nlbound.training.stopping) is observed and t >= m * t2."""
    if not config.stop_phase3:
        return lambda t, th: rec.record(next(index), t, *split(th))

    st = dataset_statistics(ds)
    lin_risk, lin_loss = float(st["linear_train_risk"]), float(st["linear_train_mse"])

    def on_record(t: float, state: np.ndarray) -> None:
        rec.record(next(index), t, *split(state))
        c = rec.columns
        if should_stop(c["t"], c["train_risk"], c["train_loss"], lin_risk, lin_loss, config.stop_phase3):
            raise _StopRequested(t)

    return on_record


def load_run(out_dir, *, complete: bool = True) -> TrainResult:
    """Read a run directory written by train(): trace.csv as float arrays (sorted by t) and run.json.

    Refuses (RunDirError, a ValueError naming the path) a directory whose files are missing, damaged
    or disagree (row count != run.json["recorded"]), or, with `complete`, whose status is not
    "complete"; complete=False reads interrupted, diverged and failed runs too."""
    trace, info = read_run(out_dir, complete=complete)
    return TrainResult(trace, info, Path(out_dir))
