"""Theorem 5.2 on a trained run: the one map from run.json + trace to the bound (docs/PROOFS.md).

Everything that turns a run into a number called a bound goes through `run_bound`: the run's d, m,
s, depth, ε, β and p (never a caller's p: Υ counts the proxies the trace rounded), ρ clamped once
(`run_rho`), the p-bit term from the trace's prox_* columns (theory.precision, PROOFS.md step P),
and the union price of a selection (`union_delta`: each of the n searched points at δ/n, the
planner's rule). `deviation_links` gives the soundness check's measured |f − g̃_κ| and allowance.

form: any of bound_terms' forms (theory.bound.FORMS: closed, ode, kl, so and their combinations), or
"runtime" / "runtime-kl", the run-time (a-posteriori) variant of theory.runtime (Hoeffding / kl
counting step) from the trace's measured weight norms, with its own p-bit term (PROOFS.md,
"Run-time variant with the p-bit proxy"). The paper's form, "closed", is the default everywhere.
"""

from __future__ import annotations

import numpy as np

from nlbound.theory import bound_terms
from nlbound.theory.bound import FORMS, KL_FORMS, base_form
from nlbound.theory.precision import precision_allowance
from nlbound.theory.runtime import runtime_terms
from nlbound.theory.terms import train_share

__all__ = ["PRECISION_COLUMNS", "RUNTIME_FORMS", "RUN_FORMS", "check_form", "clamp_rho", "run_rho", "run_inputs", "union_delta", "margin_column", "run_bound",
           "precision_allowances", "runtime_precision_allowances", "deviation_links", "evaluation_floor"]

UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}

PRECISION_COLUMNS = ("prox_dv", "prox_dv_range", "prox_dv_perp", "prox_nlip", "prox_r")
RUNTIME_FORMS = ("runtime", "runtime-kl")  # theory.runtime with Hoeffding / kl counting
RUN_FORMS = FORMS + RUNTIME_FORMS  # what run_bound and deviation_links take


def check_form(form: str) -> str:
    """form if it is one of RUN_FORMS, else ValueError naming them."""
    if form not in RUN_FORMS:
        raise ValueError(f"form == {form!r}, must be one of {', '.join(RUN_FORMS)}")
    return form


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


RUNTIME_COLUMNS = ("gap_W1X_fro_over_sqrt_m", "W1X_fro_over_sqrt_m", "twin_W1X_fro_over_sqrt_m")


def runtime_precision_allowances(trace: dict, info: dict, kappa: int) -> tuple[np.ndarray, np.ndarray]:
    """(test, train) bounds on |f̃ − g̃_κ| for the run-time variant's proxy f̃ (PROOFS.md, "Run-time
    variant with the p-bit proxy"): its θ⁰ is the p-bit twin, so f̃ = g̃₁ for κ = 1 (nothing to
    charge) and for κ = 2 only the correction's rounding r = w̃' − w̃ remains, E|r·x̃| ≤ ‖r‖ and
    (1/m)Σ|r·x_k| ≤ ‖r‖ (eq. P3): precision_allowance with δv = 0, N = 0 (trace column prox_r)."""
    if "prox_r" not in trace:
        raise ValueError(f"run {info.get('out_dir', '?')} has no trace column 'prox_r': it was trained before the "
                         "p-bit term was recorded; retrain it (remove it from the run cache)")
    r = np.asarray(trace["prox_r"], dtype=np.float64)
    z = np.zeros_like(r)
    return precision_allowance(kappa, int(info["rank"]), z, z, z, z, r)  # eq. P6 with δv = 0, N = 0


def _runtime_norms(trace: dict, info: dict, depth: int) -> dict[str, np.ndarray]:
    """The measured norms runtime_terms takes, from the trace's run-time columns (refused if absent)."""
    need = RUNTIME_COLUMNS + tuple(f"{k}{l}_spec" for l in range(1, depth + 1) for k in ("W", "twin_W", "gap_W"))
    missing = [c for c in need if c not in trace]
    if missing:
        raise ValueError(f"run {info.get('out_dir', '?')} has no trace column {missing[0]!r}: it was trained before "
                         "the run-time variant's columns were recorded; retrain it (remove it from the run cache)")
    stack = lambda k: np.stack([np.asarray(trace[f"{k}{l}_spec"], dtype=np.float64)  # noqa: E731
                                for l in range(1, depth + 1)], axis=-1)
    return dict(gap_spec=stack("gap_W"), w_spec=stack("W"), twin_spec=stack("twin_W"),
                gap_w1x=trace["gap_W1X_fro_over_sqrt_m"], w1x=trace["W1X_fro_over_sqrt_m"],
                twin_w1x=trace["twin_W1X_fro_over_sqrt_m"])


def run_bound(trace: dict, info: dict, *, kappa: int, gamma: float, delta: float, p: int | None = None,
              n_searched: int = 1, form: str = "closed") -> dict[str, np.ndarray]:
    """Theorem 5.2 with step P at every recorded t of a run: margin_risk + upsilon + deviation +
    precision = bound (PROOFS.md, the chain), each point at δ/n_searched (`union_delta`).

    p: the bound's p if a caller names one; it must be the run's (run.json "p"). form: RUN_FORMS (the
    module docstring). Returns arrays t, margin_risk, upsilon, deviation, precision, bound and gamma
    (0-d); the a-priori forms also Delta and bound_as_printed (the paper's sum, never a bound)."""
    x = run_inputs(info)
    check_form(form)
    if p is not None and int(p) != x["p"]:
        raise ValueError(f"p == {p}, must be the run's p == {x['p']}: Υ counts the proxies the trace rounded to p bits")
    t = np.asarray(trace["t"], dtype=np.float64)
    margin = np.asarray(trace[margin_column(gamma)], dtype=np.float64)
    if form in RUNTIME_FORMS:
        return _runtime_bound(trace, info, kappa, gamma, union_delta(delta, n_searched), form, t, margin)
    test, train = precision_allowances(trace, info, kappa)
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


def _runtime_bound(trace, info, kappa, gamma, delta, form, t, margin) -> dict[str, np.ndarray]:
    """run_bound for the run-time forms (theory.runtime.runtime_terms at δ = union_delta's)."""
    x = run_inputs(info)
    r = runtime_terms(x["d"], x["m"], x["depth"], kappa, x["p"], delta, x["eps"], gamma, margin,
                      **_runtime_norms(trace, info, x["depth"]), counting="kl" if form == "runtime-kl" else "hoeffding",
                      precision=runtime_precision_allowances(trace, info, kappa))  # PROOFS.md S3/S4 + P
    out = {k: np.broadcast_to(np.asarray(r[k], dtype=float), t.shape).copy()
           for k in ("upsilon", "deviation", "precision", "bound")}
    out.update(t=t, margin_risk=margin, gamma=np.asarray(gamma))
    return out


def deviation_links(trace: dict, info: dict, kappa: int, form: str = "closed") -> dict[str, np.ndarray]:
    """The soundness links of the deviation steps (D, or the run-time S3/S4) and P at every recorded t:
    measured mean |f − g̃_κ| on the test and training sets (trace columns g{κ}_test_dev /
    g{κ}_train_dev, the p-bit proxy) against the allowances `form` charges: its deviation allowance
    split into the distribution part and the training-set part (test_delta, train_delta; Δε^κ of the
    form split by theory.terms.train_share, or the run-time D_test, D_train, in output units) plus
    its p-bit allowance (test_allowance, train_allowance). A kl form's links are its base form's
    (the kl step changes the counting step only and charges the p-bit term at least as its base does)."""
    check_form(form)
    x = run_inputs(info)
    t = np.asarray(trace["t"], dtype=np.float64)
    if form in RUNTIME_FORMS:
        r = runtime_terms(x["d"], x["m"], x["depth"], kappa, x["p"], 0.5, x["eps"], 1.0, np.zeros_like(t),
                          **_runtime_norms(trace, info, x["depth"]), precision=(0.0, 0.0))  # γ = 1: output units
        d_test, d_train = np.asarray(r["dev_test"]), np.asarray(r["dev_train"])
        p_test, p_train = runtime_precision_allowances(trace, info, kappa)
    else:
        base = base_form(form)
        terms = bound_terms(d=x["d"], m=x["m"], depth=x["depth"], kappa=kappa, p=x["p"], delta=0.5, eps=x["eps"],
                            beta=x["beta"], gamma=1.0, rho=x["rho"], s=x["s"], t=t, precision=0.0, form=base)
        de = np.broadcast_to(np.asarray(terms["deviation"], dtype=float), t.shape)  # Δ ε^κ (eq. 6 with γ = 1)
        share = train_share(x["d"], x["depth"], kappa, x["rho"], so="so" in base.split("-"))
        with np.errstate(invalid="ignore"):
            d_test, d_train = np.where(de == 0, 0.0, de * (1.0 - share)), np.where(de == 0, 0.0, de * share)
        p_test, p_train = precision_allowances(trace, info, kappa)
    return {"t": t, "test_dev": np.asarray(trace[f"g{kappa}_test_dev"]), "train_dev": np.asarray(trace[f"g{kappa}_train_dev"]),
            "test_delta": d_test, "train_delta": d_train,
            "test_allowance": d_test + p_test, "train_allowance": d_train + p_train}


def _gamma(n: int, u: float) -> float:
    """γ_n = nu/(1 − nu) (Higham, Accuracy and Stability, Lemma 3.1): |Π(1 + δ_i)^{±1} − 1| ≤ γ_n, |δ_i| ≤ u."""
    return n * u / (1.0 - n * u)


def evaluation_floor(trace: dict, info: dict, kappa: int, mean_norm: float) -> np.ndarray:
    """A bound, at every recorded t, on |measured − exact| of the deviation column g{κ}_{split}_dev
    whose split has mean input norm mean_norm (PROOFS.md, "The evaluation floor of the check"): the
    recorder evaluates f, g̃₁ and x·w in the run's dtype (unit roundoff u). For the bias-free net,
    inputs, weights, each inner product of length n (any summation order: γ_n, Higham eq. 3.5) and
    each leaky ReLU (slope rounded, one product: γ_2, φ 1-Lipschitz with |φ(z)| ≤ |z|) give
    |fl(f(x)) − f(x)| ≤ γ_K |W_L|⋯|W_1||x| ≤ γ_K Π_l √min(shape_l)‖W_l‖ ‖x‖, K = 1 + Σ_l(n_l + 1) +
    2(L − 1) + 3 (+3: the float64 sum g̃₁ + x·w, the difference and the mean, each ≤ 2^-53 < u),
    likewise for g̃₁ (the twin's norms); κ = 2 adds γ_{d+2}‖w‖‖x‖ for x·w, ‖w‖ ≤ ‖w̃'‖ + ‖r‖ ≤ b + ‖r‖
    (run-time S3: ‖(f − g̃₁)(X̃)‖ ≤ √m b). Needs the run-time columns. The mean over a split is then
    at most the bound at ‖x‖ = mean_norm (training set: √d bounds it exactly, eq. P3)."""
    x = run_inputs(info)
    u = UNIT_ROUNDOFF[str(info.get("dtype", "float32"))]
    L, n_in, width = x["depth"], int(info["d"]), int(info["width"])
    dims = [(width, n_in)] + [(width, width)] * (L - 2) + [(1, width)]
    K = 1 + n_in + 1 + (L - 1) * (width + 1) + 2 * (L - 1) + 3
    norms = _runtime_norms(trace, info, L)
    abs_norm = np.array([np.sqrt(min(r, c)) for r, c in dims])  # ‖|W|‖ ≤ ‖W‖_F ≤ √rank ‖W‖
    with np.errstate(over="ignore"):
        paths = np.prod(norms["w_spec"] * abs_norm, axis=-1) + np.prod(norms["twin_spec"] * abs_norm, axis=-1)
        floor = _gamma(K, u) * paths * mean_norm
        if kappa == 2:
            b = runtime_terms(x["d"], x["m"], L, 1, x["p"], 0.5, x["eps"], 1.0, np.zeros_like(paths),
                              **norms, precision=(0.0, 0.0))["dev_train"]  # κ = 1, γ = 1: b
            w = b + np.asarray(trace["prox_r"], dtype=np.float64)
            floor = floor + _gamma(n_in + 2, u) * w * mean_norm
    return floor
