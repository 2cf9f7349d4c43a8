"""Every baseline bound and Theorem 5.2 on one trained run at one recorded time, cached like a run.

"a_priori" marks a bound whose complexity term needs no trained weights (Theorem 5.2, the counting
and VC bounds; each still adds an empirical risk of the trained net); the spectral and PAC-Bayes
terms depend on the trained weights (a-posteriori, the paper's Sec. 3).

Cache: <run dir>/baselines/<key>.json, key = sha256 of (the run's config key, t, CompareSettings);
written atomically, so the PAC-Bayes optimisation runs once per (run, t, settings)."""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nlbound._validate import validate_params
from nlbound.baselines import classical as C
from nlbound.baselines import pacbayes as PB
from nlbound.baselines.cache import cache_problem, plain, read_cached, write_cached
from nlbound.baselines.spectral import DEFAULT_GAMMAS, nbs_bound
from nlbound.baselines.weights import TrainedNet, checked_run, recorded_time, trained_net
from nlbound.evaluation import metrics as M
from nlbound.evaluation.run_bound import RUNTIME_FORMS, check_form, run_bound
from nlbound.networks import forward_many, layer_shapes, unpack
from nlbound.theory import CONSTRAINTS as THEORY

__all__ = ["CompareSettings", "theorem_bound", "linear_counting", "network_counting", "network_vc",
           "spectral", "pac_bayes", "compare_net", "compare_run", "cache_path"]

_CONSTRAINTS = {"delta": THEORY["delta"]}


@dataclass(frozen=True)
class CompareSettings:
    """What determines the comparison besides the run and t: the failure probability delta shared by
    every bound (0.05, as the paper's figures) and the PAC-Bayes settings (whose delta split must sum
    to delta)."""

    delta: float = 0.05
    pacbayes: PB.PacBayesSettings = field(default_factory=PB.PacBayesSettings)
    nbs_gammas: tuple = DEFAULT_GAMMAS

    def __post_init__(self) -> None:
        validate_params(_CONSTRAINTS, {"delta": self.delta})
        total = self.pacbayes.delta_pb + self.pacbayes.delta_mc
        if not math.isclose(total, self.delta, rel_tol=1e-12):
            raise ValueError(f"delta_pb + delta_mc == {total:g}, must equal delta == {self.delta:g}")

    def key(self, config_key: str, t: float) -> str:
        payload = json.dumps({"config": config_key, "t": repr(float(t)), "settings": asdict(self)},
                             sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()


def theorem_bound(row: dict, info: dict, delta: float, kappas=(1, 2), form: str = "closed") -> dict:
    """Theorem 5.2 with the p-bit term (eq. 6 + docs/PROOFS.md step P) at the row's t: the least over
    the recorded gammas and kappas, reported as a bound, so every one of the n = #gammas x #kappas
    points searched is evaluated at delta / n (evaluation.run_bound.union_delta; `n_searched`).
    form: the bound's form (evaluation.run_bound.RUN_FORMS; the paper's "closed" by default)."""
    trace = {k: np.array([v], dtype=np.float64) for k, v in row.items() if isinstance(v, (int, float))}
    n = len(info["gammas"]) * len(kappas)
    if n == 0:
        raise ValueError(f"gammas == {info['gammas']!r}, kappas == {kappas!r}: the run records no margin to bound")
    best: dict | None = None
    for gamma in info["gammas"]:
        for kappa in kappas:
            b = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in
                 run_bound(trace, info, kappa=kappa, gamma=float(gamma), delta=delta, n_searched=n,
                           form=form).items()}
            if best is None or b["bound"] < best["bound"]:
                best = {"bound": b["bound"], "gamma": float(gamma), "kappa": kappa, "margin_risk": b["margin_risk"],
                        "upsilon": b["upsilon"], "deviation": b["deviation"], "precision": b["precision"],
                        "n_searched": n}
    assert best is not None  # n >= 1 points were evaluated
    return {**best, "a_priori": form not in RUNTIME_FORMS, "form": form,
            "source": f"Theorem 5.2 (eq. 6, form {form}) + p-bit term, least of {n} (gamma, kappa) at delta/{n} each"}


def linear_counting(net: TrainedNet, delta: float) -> dict:
    """Counting bound of the linear twin glin = f^0_theta0(t), a function of d p-bit numbers
    (Y X~^T/m rounded to p bits): R[glin] <= R^[glin] + Upsilon_1 (eq. 7 with kappa = 1)."""
    d, m, p = int(net.info["rank"]), int(net.info["m"]), int(net.config.p)
    emp = net.row["lin_train_risk"]
    gap = C.counting_gap(d, p, m, delta)
    return {"bound": emp + gap, "a_priori": True, "predictor": "linear twin glin (not f)",
            "inputs": {"emp_risk": emp, "n_params": d, "p": p, "m": m, "gap": gap,
                       "test_risk_of_predictor": net.row["lin_test_risk"]},
            "source": "Hoeffding + union over 2^{pd} (paper eq. 7, kappa = 1)"}


def _outputs(net: TrainedNet, theta: np.ndarray, split: str) -> np.ndarray:
    shapes = layer_shapes(net.dataset.x_train.shape[1], net.config.width, net.config.depth)
    x = torch.from_numpy(np.array(getattr(net.dataset, f"x_{split}"), dtype=np.float64))
    ws = [torch.from_numpy(np.ascontiguousarray(w)) for w in unpack(theta, shapes)]
    with torch.no_grad():
        return forward_many([ws], x, net.config.eps)[0].numpy()


def network_counting(net: TrainedNet, delta: float) -> dict:
    """Counting bound for the whole net with every weight a p-bit number: the trained weights are
    rounded to p bits and R <= R^[rounded net] + sqrt((p W ln 2 + ln(1/delta)) / 2m)."""
    p, m = int(net.config.p), int(net.info["m"])
    W = C.network_parameter_count(net.dataset.x_train.shape[1], net.config.width, net.config.depth)
    rounded = M.round_to_precision(net.theta, p)
    y = np.asarray(net.dataset.y_train)
    emp = M.risk(y, _outputs(net, rounded, "train"))
    test = M.risk(np.asarray(net.dataset.y_test), _outputs(net, rounded, "test"))
    gap = C.counting_gap(W, p, m, delta)
    return {"bound": emp + gap, "a_priori": True, "predictor": f"f with weights rounded to {p} bits",
            "inputs": {"emp_risk": emp, "n_params": W, "p": p, "m": m, "gap": gap,
                       "test_risk_of_predictor": test},
            "source": "Hoeffding + union over 2^{pW}, W = (d+1)n + (L-2)n^2 (paper Sec. 4)"}


def network_vc(net: TrainedNet, delta: float) -> dict:
    """VC bound (Mohri et al. 2018, Cor. 3.9 with Sauer) with BHLM 2019 Theorem 7's VC dimension."""
    d, n, L, m = net.dataset.x_train.shape[1], net.config.width, net.config.depth, int(net.info["m"])
    D = C.bhlm_vc_dimension(d, n, L)
    emp = net.row["train_risk"]
    gap = C.vc_gap(D, m, delta)
    return {"bound": emp + gap, "a_priori": True, "predictor": "f",
            "inputs": {"emp_risk": emp, "vc_dim": D, "params_with_biases": C.network_parameter_count(d, n, L, True),
                       "m": m, "ln_growth_m": C.vc_log_growth(D, m), "gap": gap},
            "source": "Mohri, Rostamizadeh & Talwalkar 2018 Cor. 3.9 (+ Sauer, Cor. 3.18); "
                      "Bartlett, Harvey, Liaw & Mehrabian 2019 (JMLR) Thm 7"}


def spectral(net: TrainedNet, delta: float, gammas=DEFAULT_GAMMAS) -> dict:
    """NBS 2018 on the net acting on the unwhitened inputs x/scale (||x|| <= 1, Sec. 5.1; B = 1):
    W_1 is folded with the whitening matrix, W_1' = W_1 whitening^T, the same function."""
    shapes = layer_shapes(net.dataset.x_train.shape[1], net.config.width, net.config.depth)
    ws = [np.array(w) for w in unpack(net.theta, shapes)]
    ws[0] = ws[0] @ np.asarray(net.dataset.whitening).T
    margins = np.asarray(net.dataset.y_train) * _outputs(net, net.theta, "train")
    res = nbs_bound(ws, margins, delta, B=1.0, gammas=gammas)
    return {"bound": res["bound"], "a_priori": False, "predictor": "f", "inputs": res,
            "source": "Neyshabur, Bhojanapalli & Srebro 2018, Lemma 1-2 and proof of Thm 1"}


def pac_bayes(net: TrainedNet, s: PB.PacBayesSettings) -> dict:
    """Dziugaite & Roy 2017 on this net (see nlbound.baselines.pacbayes)."""
    cfg, ds = net.config, net.dataset
    x, y = np.asarray(ds.x_train), np.asarray(ds.y_train)
    opt = PB.optimise_posterior(net.theta0, net.theta, x, y, cfg.eps, cfg.width, cfg.depth, s)
    kl = PB.gaussian_kl(opt["mean"], opt["sigma"], net.theta0, opt["lambda"])
    start = time.perf_counter()
    errs = PB.gibbs_errors(opt["mean"], opt["sigma"], x, y, cfg.eps, cfg.width, cfg.depth, s.n_mc, s.seed)
    test_errs = PB.gibbs_errors(opt["mean"], opt["sigma"], np.asarray(ds.x_test), np.asarray(ds.y_test),
                                cfg.eps, cfg.width, cfg.depth, 100, s.seed + 7)
    res = PB.pac_bayes_bound(float(errs.mean()), s.n_mc, kl, opt["j"], int(ds.m), s.delta_pb, s.delta_mc)
    inputs = {**res, "kl": kl, "lambda": opt["lambda"], "j": opt["j"], "n_mc": s.n_mc, "m": int(ds.m),
              "delta_pb": s.delta_pb, "delta_mc": s.delta_mc, "sigma_median": float(np.median(opt["sigma"])),
              "mean_dist_to_init": float(np.linalg.norm(opt["mean"] - net.theta0)),
              "gibbs_test_error_100_samples": float(test_errs.mean()), "optimise_s": opt["optimise_s"],
              "mc_s": time.perf_counter() - start, "logit_scale_k": opt["logit_scale_k"],
              "history": opt["history"]}
    return {"bound": res["bound"], "a_priori": False, "predictor": "stochastic net Q = N(mean, diag sigma^2)",
            "inputs": inputs, "source": "Dziugaite & Roy 2017 (Langford & Seeger 2001; Langford & Caruana 2002)"}


def compare_net(net: TrainedNet, settings: CompareSettings, step: Callable[[str], None] | None = None) -> dict:
    """Every bound on one TrainedNet (no cache); step(name) is called before each (a progress hook)."""
    delta = settings.delta
    jobs = {"theorem_5_2": lambda: theorem_bound(net.row, net.info, delta),
            "linear_counting": lambda: linear_counting(net, delta),
            "network_counting": lambda: network_counting(net, delta),
            "network_vc": lambda: network_vc(net, delta),
            "spectral_nbs2018": lambda: spectral(net, delta, settings.nbs_gammas),
            "pac_bayes_dr2017": lambda: pac_bayes(net, settings.pacbayes)}
    bounds = {}
    for name, job in jobs.items():
        if step is not None:
            step(name)
        bounds[name] = job()
    return {"t": net.t, "key": net.info["key"], "train_risk": net.row["train_risk"], "test_risk": net.row["test_risk"],
            "m": int(net.info["m"]), "delta": delta, "reintegration_error": net.reintegration_error,
            "settings": asdict(settings), "bounds": bounds}


def cache_path(run_dir, config_key: str, t: float, settings: CompareSettings) -> Path:
    return Path(run_dir) / "baselines" / f"{settings.key(config_key, t)[:16]}.json"


def compare_run(run_dir, at: float | None = None, settings: CompareSettings = CompareSettings(), *,
                data_dir=None, cache_dir=None, threads: int | None = None, use_cache: bool = True,
                step: Callable[[str], None] | None = None, form: str = "closed") -> dict:
    """compare_net on the run in run_dir at its recorded time nearest `at`, cached (see module doc);
    step(name) is called before re-integrating the net and before each bound (a progress hook).
    form: Theorem 5.2's form (theorem_bound); the cache holds the paper's ("closed"), another form
    is evaluated from the run's trace row at t on top of it (no re-integration needed)."""
    check_form(form)
    res = _compare_run(run_dir, at, settings, data_dir=data_dir, cache_dir=cache_dir, threads=threads,
                       use_cache=use_cache, step=step)
    if form == "closed":
        return res
    run, _ = checked_run(run_dir)
    j = int(np.flatnonzero(run.trace["t"] == res["t"])[0])
    row = {k: float(v[j]) for k, v in run.trace.items()}
    return {**res, "bounds": {**res["bounds"], "theorem_5_2": theorem_bound(row, run.info, settings.delta, form=form)}}


def _compare_run(run_dir, at, settings, *, data_dir, cache_dir, threads, use_cache, step) -> dict:
    """compare_run with the paper's form (cached)."""
    run, config = checked_run(run_dir)  # run.json must still hash to its key
    t = recorded_time(run.trace["t"], at)
    path = cache_path(run_dir, config.key(), t, settings)
    expect = plain({"key": config.key(), "t": t, "settings": asdict(settings)})
    cached = read_cached(path, expect) if use_cache else None
    if cached is not None:
        return cached
    problem = cache_problem(path)  # before the work: the result is printed, only not cached
    if problem is not None:
        warnings.warn(f"cannot cache the comparison at {path} ({problem}): computing without caching", stacklevel=2)
    if threads is not None:
        torch.set_num_threads(int(threads))
    start = time.perf_counter()
    if step is not None:
        step(f"re-integrating the net to t = {t:.4g}")
    net = trained_net(run_dir, t, data_dir=data_dir, cache_dir=cache_dir, threads=threads)
    result = {**compare_net(net, settings, step), "wall_s": time.perf_counter() - start}
    return plain(result) if problem is not None else write_cached(path, result)
