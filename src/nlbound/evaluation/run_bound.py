"""Theorem 5.2 on a trained run: the one map from run.json + trace to the bound (docs/PROOFS.md).

Everything that turns a run into a number called a bound goes through `run_bound`: the run's d, m,
s, depth, ε, β and p (never a caller's p: Υ counts the proxies the trace rounded), ρ clamped once
(`run_rho`), the p-bit term from the trace's prox_* columns (theory.precision, PROOFS.md step P),
and the union price of a selection (`union_delta`: each of the n searched points at δ/n, the
planner's rule). `deviation_links` gives the soundness check's measured |f − g̃_κ| and allowance.
"""

from __future__ import annotations

import numpy as np

from nlbound.theory import bound_terms
from nlbound.theory.bound import KL_FORMS
from nlbound.theory.precision import deviation_split, precision_allowance

__all__ = ["PRECISION_COLUMNS", "clamp_rho", "run_rho", "run_inputs", "union_delta", "margin_column", "run_bound",
           "precision_allowances", "deviation_links"]

PRECISION_COLUMNS = ("prox_dv", "prox_dv_range", "prox_dv_perp", "prox_nlip", "prox_r")


def clamp_rho(rho: float) -> float:
    """ρ = ‖W₁(0)‖_F / ‖W₁(0)‖ (eq. 8) clamped to ≥ 1: true exactly, but a rank-one W₁(0) measures
    1 − 1e-16 in floating point. The one place the clamp is written."""
    return max(1.0, float(rho))


def run_rho(info: dict) -> float:
    """ρ of run.json (measured at initialisation), clamped (clamp_rho)."""
    return clamp_rho(info["rho"])


def run_inputs(info: dict) -> dict:
    """The quantities of Theorem 5.2 a run fixes: d = the data's rank (effective dimension), m, s,
    ρ (clamped), depth, ε, β and the p its proxies were rounded to."""
    return {"d": int(info["rank"]), "m": int(info["m"]), "s": float(info["s"]), "rho": run_rho(info),
            "depth": int(info["depth"]), "eps": float(info["eps"]), "beta": float(info["beta"]),
            "p": int(info["p"])}


def union_delta(delta: float, n_searched: int) -> float:
    """The failure probability each of n_searched points is evaluated at when a minimum over them is
    reported as a bound: δ/n (union bound; eq. 7's ln(1/δ) grows by ln n). Used by the planner,
    sweeps, claims, compare and the figures' marked minima alike."""
    if not (0 < delta < 1) or int(n_searched) != n_searched or n_searched < 1:
        raise ValueError(f"delta == {delta!r}, n_searched == {n_searched!r}: must be in (0, 1) and an integer >= 1")
    return float(delta) / int(n_searched)


def margin_column(gamma: float) -> str:
    return f"train_margin_risk@{gamma:.6g}"


def precision_allowances(trace: dict, info: dict, kappa: int) -> tuple[np.ndarray, np.ndarray]:
    """(test, train) bounds on |g_κ − g̃_κ| at every recorded t (PROOFS.md eqs. P5/P6) from the
    trace's prox_* columns. A trace without them (trained before they were recorded) is refused."""
    missing = [c for c in PRECISION_COLUMNS if c not in trace]
    if missing:
        raise ValueError(f"run {info.get('out_dir', '?')} has no trace column {missing[0]!r}: it was trained "
                         "before the p-bit term was recorded; retrain it (remove it from the run cache)")
    return precision_allowance(kappa, int(info["rank"]), *(trace[c] for c in PRECISION_COLUMNS))


def run_bound(trace: dict, info: dict, *, kappa: int, gamma: float, delta: float, p: int | None = None,
              n_searched: int = 1, form: str = "closed") -> dict[str, np.ndarray]:
    """Theorem 5.2 with step P at every recorded t of a run: margin_risk + upsilon + deviation +
    precision = bound (PROOFS.md, the chain), each point at δ/n_searched (`union_delta`).

    p: the bound's p if a caller names one; it must be the run's (run.json "p"). Returns arrays t,
    margin_risk, upsilon, deviation, precision, Delta, bound, bound_as_printed (the paper's sum,
    never a bound) and gamma (0-d)."""
    x = run_inputs(info)
    if p is not None and int(p) != x["p"]:
        raise ValueError(f"p == {p}, must be the run's p == {x['p']}: Υ counts the proxies the trace rounded to p bits")
    t = np.asarray(trace["t"], dtype=np.float64)
    test, train = precision_allowances(trace, info, kappa)
    margin = np.asarray(trace[margin_column(gamma)], dtype=np.float64)
    terms = bound_terms(d=x["d"], m=x["m"], depth=x["depth"], kappa=kappa, p=x["p"],
                        delta=union_delta(delta, n_searched), eps=x["eps"], beta=x["beta"], gamma=gamma,
                        rho=x["rho"], s=x["s"], t=t, precision=test + train, form=form,
                        margin_risk=margin if form in KL_FORMS else None)  # eqs. 6-11 + P7
    out = {k: np.broadcast_to(np.asarray(terms[k], dtype=float), t.shape).copy()
           for k in ("upsilon", "deviation", "precision", "Delta")}
    out.update(t=t, margin_risk=margin, gamma=np.asarray(gamma),
               bound=margin + np.broadcast_to(terms["a_priori"], t.shape),  # eq. 6 with step P
               bound_as_printed=margin + np.broadcast_to(terms["a_priori_as_printed"], t.shape))
    return out


def deviation_links(trace: dict, info: dict, kappa: int) -> dict[str, np.ndarray]:
    """The soundness links of steps D and P at every recorded t: measured mean |f − g̃_κ| on the test
    and training sets (trace columns g{κ}_test_dev / g{κ}_train_dev, the p-bit proxy) against the
    allowances the bound charges, Δε^κ split by eq. 8's parts (theory.precision.deviation_split) plus
    the p-bit allowance; and the same Δ parts alone (the paper's allowance, without step P)."""
    x = run_inputs(info)
    t = np.asarray(trace["t"], dtype=np.float64)
    terms = bound_terms(d=x["d"], m=x["m"], depth=x["depth"], kappa=kappa, p=x["p"], delta=0.5, eps=x["eps"],
                        beta=x["beta"], gamma=1.0, rho=x["rho"], s=x["s"], t=t, precision=0.0)
    de = np.asarray(terms["Delta"], dtype=float) * x["eps"] ** kappa  # Δ ε^κ (eq. 6 with γ = 1)
    ph_test, ph_train = deviation_split(x["d"], x["depth"], kappa, x["rho"])
    phi = np.asarray(terms["phi"], dtype=float)
    with np.errstate(invalid="ignore"):
        d_test, d_train = np.where(de == 0, 0.0, de * ph_test / phi), np.where(de == 0, 0.0, de * ph_train / phi)
    p_test, p_train = precision_allowances(trace, info, kappa)
    return {"t": t, "test_dev": np.asarray(trace[f"g{kappa}_test_dev"]), "train_dev": np.asarray(trace[f"g{kappa}_train_dev"]),
            "test_delta": d_test, "train_delta": d_train,
            "test_allowance": d_test + p_test, "train_allowance": d_train + p_train}
