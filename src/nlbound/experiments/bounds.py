"""The bounds evaluated post hoc along a trace: Theorem 5.2 (eq. 6) and the optimistic eq. 41."""

from __future__ import annotations

import numpy as np

from nlbound.evaluation import metrics as M
from nlbound.experiments.spec import BoundVariant
from nlbound.experiments.traces import RunData, gamma_col

PROXIES = ("g1", "g2", "glin")


def run_params(run: RunData) -> dict:
    """The quantities of Theorem 5.2 a run fixes: d = dataset rank (effective dimension), m, s,
    rho measured at initialisation, and the config's depth, eps, beta."""
    return {
        "d": int(run.get("rank")),
        "m": int(run.get("m")),
        "s": float(run.get("s")),
        # ||W||_F / ||W|| >= 1 exactly; a rank-one W1(0) measures 1 - 1e-16 in floating point
        "rho": max(1.0, float(run.get("rho"))),
        "depth": int(run.get("depth")),
        "eps": float(run.get("eps")),
        "beta": float(run.get("beta")),
    }


def t_star_of(run: RunData, alpha: float = 0.5) -> float:
    """t*_alpha(beta) of eq. 15 (L = 2) / eq. 97 (L >= 3) for this run's beta, s, depth."""
    from nlbound.theory import t_star

    p = run_params(run)
    return float(t_star(alpha, p["beta"], p["s"], p["depth"]))


def bound_curve(run: RunData, variant: BoundVariant) -> dict[str, np.ndarray]:
    """Theorem 5.2 at every recorded time: R_gamma-hat(t) + Upsilon_kappa + Delta(t) eps^kappa / gamma.

    `variant.terms` == "no_upsilon" / "no_deviation" drops that component (Fig. 4). Returns the
    arrays t, margin_risk, upsilon, deviation, bound, and gamma (a scalar array).
    """
    from nlbound.theory import bound_terms

    p = run_params(run)
    gamma = variant.gamma(p["beta"])
    t = run.t
    margin = run.col(gamma_col("train_margin_risk", gamma))
    terms = bound_terms(
        d=p["d"], m=p["m"], depth=p["depth"], kappa=variant.kappa, p=variant.p, delta=variant.delta,
        eps=p["eps"], beta=p["beta"], gamma=gamma, rho=p["rho"], s=p["s"], t=t,
    )
    upsilon = np.broadcast_to(np.asarray(terms["upsilon"], dtype=float), t.shape).copy()
    deviation = np.broadcast_to(np.asarray(terms["deviation"], dtype=float), t.shape).copy()
    bound = margin.copy()
    if variant.terms != "no_upsilon":
        bound = bound + upsilon
    if variant.terms != "no_deviation":
        bound = bound + deviation
    return {
        "t": t, "margin_risk": margin, "upsilon": upsilon, "deviation": deviation,
        "bound": bound, "gamma": np.asarray(gamma),
    }


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
