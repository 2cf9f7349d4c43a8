"""The proof's chain measured on real trajectories: sensitivity runs for τ ∈ {0, ε/2, ε}, lemma ratios,
results/lemmas.json and the slack budget (issue 12, items 2, 3 and 5)."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nlbound._io import atomic_write_json
from nlbound.data import load_dataset
from nlbound.evaluation import lemmas as LM
from nlbound.evaluation.metrics import margin_risk
from nlbound.evaluation.run_bound import clamp_rho
from nlbound.networks import forward, frobenius_spectral_ratio, init_weights, layer_shapes, pack, unpack
from nlbound.theory import bound_terms, t_star, t_star_or_none
from nlbound.training import TrainConfig
from nlbound.training.integrators import integrator_options
from nlbound.training.sensitivity import SensitivityFlow, integrate_sensitivity

__all__ = ["tau_grid", "cache_path", "run_lemmas", "summarize", "write_lemmas_json", "slack_at_optimum", "slack_at_index",
           "bound_theory"]

RATIO_LINKS = ("W_spec", "W1X", "dW_spec", "dW1X", "xi_fro", "xi_x")


def tau_grid(eps: float) -> tuple[float, ...]:
    """τ ∈ {0, ε/2, ε}: the sup over τ ∈ [0, ε] of eqs. 20–21 is sampled there."""
    return (0.0, eps / 2, float(eps))


def cache_path(cache_dir, config, taus: Sequence[float]) -> Path:
    """<cache_dir>/lemmas-<config key[:16]>-<sha256 of the τ grid>[:8].json."""
    tkey = hashlib.sha256(json.dumps([repr(float(t)) for t in taus]).encode()).hexdigest()[:8]
    return Path(cache_dir) / f"lemmas-{config.key()[:16]}-{tkey}.json"


def _times(config, s: float) -> np.ndarray:
    """config.times if given, else 0, 25 log-spaced times over [t_end/1e3, t_end] and t*_0.5 < t_end."""
    if config.times:
        return np.unique(np.asarray([0.0, *config.times, config.t_end]))
    ts = [0.0, *np.geomspace(config.t_end / 1e3, config.t_end, 25)]
    tstar = t_star_or_none(0.5, config.beta, s, config.depth)
    if tstar is not None and tstar < config.t_end:
        ts.append(tstar)
    return np.unique(np.asarray(ts))


def _net(theta: np.ndarray, shapes, x: torch.Tensor, eps: float) -> np.ndarray:
    with torch.no_grad():
        return forward([torch.from_numpy(w) for w in unpack(theta, shapes)], x, eps).numpy()


def bound_theory(t: np.ndarray, p: LM.ChainParams, m: int) -> dict:
    """u(t), v(t), Φ_κ, Δ_κ,β(t) (eqs. 7–10) from nlbound.theory; and the form="ode" solution where
    bound_terms offers it (issue 12 item 4, another module), else None."""
    kw = dict(d=p.d, m=m, depth=p.depth, kappa=p.kappa, p=32, delta=0.01, eps=p.eps, beta=p.beta,
              gamma=1.0, rho=p.rho, s=p.s, t=np.asarray(t, dtype=np.float64))
    closed = bound_terms(**kw)
    try:
        ode = bound_terms(**kw, form="ode")
    except TypeError:  # no `form` keyword yet: the closed-forms-vs-ODE factor stays pending
        ode = None
    out: dict[str, Any] = {k: np.asarray(closed[k]) for k in ("u", "v", "phi", "Delta")}
    out["ode"] = None if ode is None else {k: np.asarray(ode[k]) for k in ("u", "v", "Delta")}
    return out


def _integrate(config, ds, theta0: np.ndarray, times: np.ndarray, taus) -> dict:
    """τ -> [(t, θ^τ(t), ∂θ^τ/∂τ(t))] and integrator statistics, one sensitivity run per τ."""
    opts = integrator_options(config)  # the options the run's own integrator takes, and only those
    runs, stats = {}, {}
    for tau in taus:
        flow = SensitivityFlow(ds.x_train, ds.y_train, tau, config.width, config.depth)
        runs[tau], st = integrate_sensitivity(flow, theta0, times, integrator=config.integrator, **opts)
        stats[repr(tau)] = st.as_dict()
    return {"runs": runs, "stats": stats}


def _per_time(i: int, runs: dict, taus, ctx: dict) -> dict:
    """Every measured quantity at recorded time index i (all τ)."""
    x, xt, shapes, eps = ctx["x"], ctx["xt"], ctx["shapes"], ctx["eps"]
    rec: dict[str, Any] = {"norms": [], "xi": []}
    for tau in taus:
        t, theta, psi = runs[tau][i]
        norms = LM.layer_norms(unpack(theta, shapes), unpack(psi, shapes), ctx["x_np"])
        rec["norms"].append(norms)
        rec["xi"].append(LM.xi_norms(ctx["y"], _net(theta, shapes, x, tau), ctx["x_np"]))  # Ξ^τ, eq. 30
    th_eps, th_0 = runs[taus[-1]][i][1], runs[taus[0]][i][1]
    f = {"train": _net(th_eps, shapes, x, eps), "test": _net(th_eps, shapes, xt, eps)}  # f^ε_{θ^ε}
    g1 = {"train": _net(th_0, shapes, x, eps), "test": _net(th_0, shapes, xt, eps)}  # f^ε_{θ^0}
    w = (f["train"] - g1["train"]) @ ctx["x_np"] / x.shape[0]  # eq. 25 correction, X̃⁺ = X̃ᵀ/m
    g2 = {"train": g1["train"] + ctx["x_np"] @ w, "test": g1["test"] + ctx["xt_np"] @ w}
    rec["f_train"] = f["train"]
    rec["dev"] = {k: {s: LM.measured_deviation(f[s], g[s], eps, k) for s in ("train", "test")}
                  for k, g in ((1, g1), (2, g2))}
    return rec


def run_lemmas(config, ds, *, taus: Sequence[float] | None = None, cache_dir=None, kappas=(1, 2)) -> dict:
    """Integrate the sensitivity flow for each τ of the grid and record every link of the chain at the
    recording times. Cached (atomically written JSON) under cache_dir when given."""
    taus = tuple(tau_grid(config.eps) if taus is None else taus)
    path = None if cache_dir is None else cache_path(cache_dir, config, taus)
    if path is not None and path.exists():
        return json.loads(path.read_text())
    x_np, xt_np = np.array(ds.x_train, dtype=np.float64), np.array(ds.x_test, dtype=np.float64)
    m, d = x_np.shape
    w0 = init_weights(d, config.width, config.depth, config.beta, rank_one=config.rank_one, seed=config.init_seed)

    rho = clamp_rho(frobenius_spectral_ratio(w0[0]))
    times = _times(config, float(ds.s))
    integ = _integrate(config, ds, pack(w0), times, taus)
    ctx: dict[str, Any] = {"x": torch.from_numpy(x_np), "xt": torch.from_numpy(xt_np), "x_np": x_np, "xt_np": xt_np,
           "y": np.asarray(ds.y_train, dtype=np.float64), "shapes": layer_shapes(d, config.width, config.depth),
           "eps": float(config.eps)}
    recs = [_per_time(i, integ["runs"], taus, ctx) for i in range(len(times))]
    result = {"config": config.as_dict(), "key": config.key(), "taus": list(taus), "t": times.tolist(),
              "m": m, "rank": int(ds.rank), "s": float(ds.s), "rho": rho,
              "mean_x_test": float(np.linalg.norm(xt_np, axis=1).mean()), "stats": integ["stats"],
              "records": [], "kappas": list(kappas)}
    result["records"] = [_assemble(rec, result, config, kappas) for rec in recs]
    result["margin"] = {repr(g): [margin_risk(ctx["y"], r["f_train"], g) for r in recs] for g in config.gammas}
    if path is not None:
        atomic_write_json(path, result)
    return result


def _assemble(rec: dict, res: dict, config, kappas) -> dict:
    """JSON-ready record of one time: norms per τ, ratios per link and τ, deviations, chain RHS."""
    out = {"norms": [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in n.items()}
                     for n in rec["norms"]],
           "xi": [list(x) for x in rec["xi"]], "dev": {str(k): rec["dev"][k] for k in kappas}}
    out["rhs"] = {str(k): LM.deviation_rhs(rec["norms"], res["mean_x_test"], k) for k in kappas}
    out["rhs_sqrt_d"] = {str(k): LM.deviation_rhs(rec["norms"], math.sqrt(res["rank"]), k) for k in kappas}
    out["U"], out["V"] = LM.uniform_norms(rec["norms"], res["rho"])
    return out


def _params(res: dict, kappa: int) -> LM.ChainParams:
    c = res["config"]
    return LM.ChainParams(depth=c["depth"], eps=c["eps"], beta=c["beta"], rho=res["rho"], s=res["s"],
                          d=res["rank"], kappa=kappa)


def link_ratios(res: dict, kappa: int = 1) -> dict:
    """link -> array (n_t, n_tau) of measured/bound (deviation links: (n_t, 1))."""
    p = _params(res, kappa)
    th = bound_theory(np.asarray(res["t"]), p, res["m"])
    out = {k: np.zeros((len(res["t"]), len(res["taus"]))) for k in RATIO_LINKS}
    for k in ("dev_train_rhs", "dev_test_rhs", "dev_Delta"):
        out[k] = np.zeros((len(res["t"]), 1))
    for i, rec in enumerate(res["records"]):
        for j, n in enumerate(rec["norms"]):
            norms = {**n, "W_spec": np.asarray(n["W_spec"]), "dW_spec": np.asarray(n["dW_spec"])}
            links = LM.lemma_links(norms, tuple(rec["xi"][j]), float(th["u"][i]), float(th["v"][i]), p, res["m"])
            for k, (meas, bnd) in links.items():
                out[k][i, j] = LM.ratio(meas, bnd)
        dev, rhs = rec["dev"][str(kappa)], rec["rhs"][str(kappa)]
        out["dev_train_rhs"][i, 0] = LM.ratio(dev["train"], rhs["train"])  # eq. 21 / eq. 48
        out["dev_test_rhs"][i, 0] = LM.ratio(dev["test"], rhs["test"])  # eq. 20 / eq. 46
        out["dev_Delta"][i, 0] = LM.ratio(dev["train"] + dev["test"], float(th["Delta"][i]))  # eq. 7
    return out


def summarize(res: dict, kappas=(1, 2)) -> dict:
    """Per κ and link: the max ratio over t and τ, where it occurs, and the count of ratios > 1."""
    out = {}
    for kappa in kappas:
        rows = {}
        for k, r in link_ratios(res, kappa).items():
            i, j = np.unravel_index(int(np.argmax(r)), r.shape)
            rows[k] = {"max_ratio": float(r[i, j]), "t": res["t"][i], "tau": res["taus"][j] if r.shape[1] > 1 else None,
                       "violations": int(np.sum(r > 1.0)), "points": int(r.size), "what": LM.LINKS[k]}
        out[str(kappa)] = rows
    return out


def slack_at_optimum(res: dict, kappa: int = 1, gamma: float | None = None) -> dict:
    """The slack budget at the recorded time minimising R̂_γ(t) + Δ_κ,β(t) ε^κ/γ (Υ_κ is constant in t),
    over the config's γ (or the given one); t = 0 excluded (no deviation yet)."""
    p = _params(res, kappa)
    t = np.asarray(res["t"])
    th = bound_theory(t, p, res["m"])
    best = None
    for g in ([gamma] if gamma is not None else res["config"]["gammas"]):
        b = np.asarray(res["margin"][repr(float(g))]) + th["Delta"] * p.eps ** kappa / g
        b[t <= 0] = np.inf
        i = int(np.argmin(b))
        if best is None or b[i] < best[0]:
            best = (float(b[i]), i, float(g))
    if best is None:
        raise ValueError(f"gammas == {res['config']['gammas']!r}, must hold at least one gamma")
    out = slack_at_index(res, best[1], kappa)
    return {**out, "gamma": best[2], "bound": best[0]}


def slack_at_index(res: dict, i: int, kappa: int = 1) -> dict:
    """The slack budget (evaluation.lemmas.slack_budget) at recorded time index i (e.g. −1: t_end)."""
    p = _params(res, kappa)
    t = np.asarray(res["t"])
    th = bound_theory(t, p, res["m"])
    i = int(i) % t.size
    rec, ode = res["records"][i], th["ode"]
    budget = LM.slack_budget(rec["dev"][str(kappa)], rec["rhs"][str(kappa)], rec["rhs_sqrt_d"][str(kappa)],
                             float(np.broadcast_to(th["phi"], t.shape)[i]), rec["U"], rec["V"],
                             float(th["u"][i]), float(th["v"][i]), float(th["Delta"][i]), p.depth,
                             None if ode is None else (float(ode["u"][i]), float(ode["v"][i]), float(ode["Delta"][i])))
    return {"t": float(t[i]), "kappa": kappa, "deviation": rec["dev"][str(kappa)], "Delta": float(th["Delta"][i]),
            "factors": budget}


def write_lemmas_json(results: Sequence[dict], path, kappas=(1, 2)) -> Path:
    """results/lemmas.json: per run (config key, eps, size, depth, ...): per κ and link the max ratio
    over t and τ and the count of violations, and the slack budget per κ."""
    runs = []
    for res in results:
        c = res["config"]
        runs.append({"key": res["key"], "dataset": c["dataset"], "size": c["size"], "depth": c["depth"],
                     "width": c["width"], "eps": c["eps"], "beta": c["beta"], "rank_one": c["rank_one"],
                     "taus": res["taus"], "t_end": c["t_end"], "links": summarize(res, kappas),
                     "slack": {str(k): slack_at_optimum(res, k) for k in kappas},
                     "slack_at_t_end": {str(k): slack_at_index(res, -1, k) for k in kappas}})
    return atomic_write_json(path, {"runs": runs, "links": LM.LINKS})


def main(argv: Sequence[str] | None = None) -> int:
    """python -m nlbound.analysis.lemma_runs --eps 0.001 0.01 [--size 7 --beta 1e-3 --width 64 --rtol 1e-5
    --points 12 --threads 1 --cache runs/lemmas --out results/lemmas.json]: runs to t*_0.5."""
    ap = argparse.ArgumentParser(prog="python -m nlbound.analysis.lemma_runs")
    ap.add_argument("--eps", type=float, nargs="+", required=True)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--size", type=int, default=7)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--beta", type=float, default=1e-3)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="runs/lemmas")
    ap.add_argument("--out", default="results/lemmas.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = load_dataset(a.dataset, a.size)
    t_end = float(t_star(0.5, a.beta, float(ds.s), a.depth))
    times = tuple(float(t) for t in np.geomspace(t_end / 100, t_end, a.points))
    results = []
    for eps in a.eps:
        cfg = TrainConfig(dataset=a.dataset, size=a.size, depth=a.depth, width=a.width, eps=eps, beta=a.beta,
                          dtype="float64", rtol=a.rtol, t_end=t_end, times=times)
        results.append(run_lemmas(cfg, ds, cache_dir=a.cache))
        print(json.dumps({"eps": eps, "links": summarize(results[-1]),
                          "slack": {k: slack_at_optimum(results[-1], k) for k in (1, 2)}}, default=float))
    write_lemmas_json(results, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
