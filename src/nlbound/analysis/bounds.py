"""The bounds evaluated post hoc along a trace: Theorem 5.2 (eq. 6, via evaluation.run_bound) and the optimistic eq. 41."""

from __future__ import annotations

import numpy as np

from nlbound.analysis.spec import BoundVariant
from nlbound.analysis.traces import RunData, gamma_col
from nlbound.evaluation import metrics as M
from nlbound.evaluation import run_bound as RB
from nlbound.theory import t_star_or_none

PROXIES = ("g1", "g2", "glin")


def run_params(run: RunData) -> dict:
    """The quantities of Theorem 5.2 a run fixes (evaluation.run_bound.run_inputs: d = the data's
    rank, m, s, rho clamped once, depth, eps, beta, p)."""
    return RB.run_inputs(run.info)


def t_star_of(run: RunData, alpha: float = 0.5) -> float:
    """t*_alpha(beta) of eq. 15 (L = 2) / eq. 97 (L >= 3) for this run's beta, s, depth; nan where
    it is undefined (beta^L / s >= alpha: the net starts past that fraction of the top mode)."""
    p = run_params(run)
    value = t_star_or_none(alpha, p["beta"], p["s"], p["depth"])
    return float("nan") if value is None else value


def bound_curve(run: RunData, variant: BoundVariant, form: str = "closed", n_searched: int = 1) -> dict[str, np.ndarray]:
    """Theorem 5.2 with the p-bit term (docs/PROOFS.md) at every recorded time, by
    evaluation.run_bound.run_bound: R_gamma-hat(t) + Upsilon_kappa + Delta(t) eps^kappa / gamma + precision.

    form: "closed" (the paper's closed forms, eqs. 9-11) or "ode" (the same theorem with the proof's
    comparison ODEs solved, bound_terms(form="ode"), elementwise <= "closed"). n_searched: the number
    of points a reported minimum searched (each at delta / n_searched, evaluation.run_bound.union_delta).
    variant.p must be the run's p (the proxies the trace rounded).

    `variant.terms` == "no_upsilon" / "no_deviation" drops that component (Fig. 4; "no_deviation"
    drops the p-bit term with Delta's). Returns the arrays t, margin_risk, upsilon, deviation,
    precision, bound, bound_as_printed and gamma (a scalar array)."""
    c = RB.run_bound(run.trace, run.info, kappa=variant.kappa, gamma=variant.gamma(run_params(run)["beta"]),
                     delta=variant.delta, p=variant.p, n_searched=n_searched, form=form)
    if variant.terms == "no_upsilon":
        c["bound"] = c["margin_risk"] + c["deviation"] + c["precision"]
    elif variant.terms == "no_deviation":
        c["bound"] = c["margin_risk"] + c["upsilon"]
    return c


def priced_minimum(run: RunData, variants, n_extra: int = 1) -> dict:
    """The least bound over the recorded t > 0 and `variants` of one run, reported as a bound: every
    point searched is evaluated at delta / n (n = #t>0 x #variants x n_extra, the union bound,
    evaluation.run_bound.union_delta). Returns B, t, label, n, and price (what the search added to
    Upsilon at the minimiser); B = inf where no point is finite."""
    variants = list(variants)
    pos = run.t > 0
    n = int(pos.sum()) * len(variants) * int(n_extra)
    best = {"B": float("inf"), "t": float("nan"), "label": "", "n": n, "price": float("nan")}
    for v in variants:
        c = bound_curve(run, v, n_searched=max(n, 1))
        ok = pos & np.isfinite(c["bound"])
        if ok.any():
            j = int(np.argmin(np.where(ok, c["bound"], np.inf)))
            if c["bound"][j] < best["B"]:
                plain = bound_curve(run, v)
                best.update(B=float(c["bound"][j]), t=float(c["t"][j]), label=v.label,
                            price=float(c["upsilon"][j] - plain["upsilon"][j]))
    return best


def optimistic_bound(run: RunData, proxy: str, gamma: float) -> dict[str, np.ndarray]:
    """Eq. 41 with the test set standing in for the distribution:

    R_gamma-hat[f] + (R^C_gamma[g] - R^C_gamma-hat[g]) + (E_test|f - g| + E_train|f - g|) / gamma.
    Returns t, margin_risk, gap (proxy generalization gap), deviation (E_test + E_train of |f - g|,
    not divided by gamma) and bound.
    """
    if proxy not in PROXIES:
        raise ValueError(f"proxy == {proxy!r}, must be one of {', '.join(PROXIES)}")
    margin = run.col(gamma_col("train_margin_risk", gamma))
    test_cmr, train_cmr = run.col(gamma_col(f"{proxy}_test_cmr", gamma)), run.col(gamma_col(f"{proxy}_train_cmr", gamma))
    test_dev, train_dev = run.col(f"{proxy}_test_dev"), run.col(f"{proxy}_train_dev")
    return {
        "t": run.t, "margin_risk": margin, "gap": test_cmr - train_cmr, "deviation": test_dev + train_dev,
        "bound": M.optimistic_bound(margin, test_cmr, train_cmr, test_dev, train_dev, gamma),  # eq. 41
    }


def union_price(n_grid: int, m: int, upsilon: float = 0.0) -> float:
    """What taking the minimum over a grid of n_grid thresholds costs: the union bound over the grid
    adds ln(n_grid) / (2m) inside the square root of Upsilon (Upsilon = sqrt(A / (2m)) becomes
    sqrt(A / (2m) + ln(n_grid) / (2m))); returned as the increase. eq. 41 has Upsilon = 0 (the test
    set stands in for the distribution), where the price is sqrt(ln(n_grid) / (2m))."""
    if n_grid < 1 or m < 1 or not upsilon >= 0:
        raise ValueError(f"n_grid == {n_grid}, m == {m}, upsilon == {upsilon}: must be >= 1, >= 1, >= 0")
    return float(np.sqrt(upsilon**2 + np.log(n_grid) / (2 * m)) - upsilon)


def min_over_gamma(curves: np.ndarray, gammas) -> tuple[np.ndarray, np.ndarray]:
    """Per-t minimum of bound curves (one row per gamma, nan/inf rows ignored point-wise) and the
    gamma attaining it at each t (nan where every row is non-finite)."""
    c = np.where(np.isfinite(curves), curves, np.inf)
    j = np.argmin(c, axis=0)
    best = c[j, np.arange(c.shape[1])]
    g = np.asarray(gammas, dtype=float)[j]
    return best, np.where(np.isfinite(best), g, np.nan)


def optimistic_min(run: RunData, proxy: str, gammas) -> dict[str, np.ndarray]:
    """eq. 41 minimised over the grid `gammas` at each recorded t, plus the union-bound price of the
    grid (union_price with m = the training set size): t, bound (price included), gamma (argmin),
    price (a scalar array)."""
    curves = np.stack([optimistic_bound(run, proxy, g)["bound"] for g in gammas])
    best, g = min_over_gamma(curves, gammas)
    price = union_price(len(gammas), int(run.get("m")))
    return {"t": run.t, "bound": best + price, "gamma": g, "price": np.asarray(price)}
