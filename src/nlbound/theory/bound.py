"""The vectorised driver of Theorem 5.2: `bound_terms` evaluates every term (eqs. 6-11) over a grid.

The formulas live in `nlbound.theory.terms` (each once, citing its equation) and the Γ-integral
kernels in `nlbound.theory._incgamma`; this module only validates, flattens, cuts the grid into
blocks and calls them block by block on worker threads (the work is elementwise, so a point's
value never depends on the other points of the grid, nor on the number of threads).
"""

from __future__ import annotations

import math

import numpy as np

from nlbound.theory import ode as _ode
from nlbound.theory import terms as T
from nlbound.theory._checks import validate
from nlbound.theory._incgamma import log_w_integrals
from nlbound.theory._threads import blocks, default_workers, run_tasks

OUT_KEYS = ("upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation", "a_priori")
IN_KEYS = ("d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t")


def bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, *, precision=None, form="closed",
                workers=None) -> dict:
    """Every term of Theorem 5.2 (eqs. 6-11) at the broadcast parameters; validates its input.

    Returns a dict of broadcast float64 arrays: upsilon (eq. 7), phi (Φ_κ, eq. 8), s_bar, s_hat,
    beta_bar, one_bar (defs under eq. 8), u (eq. 9), v (eq. 10), Delta (eq. 7), deviation = Δ ε^κ/γ,
    precision (the p-bit proxy's term, docs/PROOFS.md step P: `precision` / γ), a_priori = upsilon +
    deviation + precision, and a_priori_as_printed = upsilon + deviation (the paper's sum, which
    leaves |g_κ − g̃_κ| uncharged: never a bound by itself).

    precision: the allowance for the p-bit rounding of the proxy, in output units (the test + train
    bounds of theory.precision.precision_allowance, from a run's trace or the planner's twins). It
    is not known a priori, so None (the default) charges +inf: a_priori is then +inf. Values beyond float64, and u, v, Δ for L ≥ 3 at t ≥ t_blow, are
    +inf, never NaN (deviation is 0 whenever ε = 0). Raises ParameterError (a ValueError) like
    "eps == 1.5, must be in [0, 1]".

    form: "closed" (default) evaluates the paper's closed forms (eqs. 9-11); "ode" the same theorem
    with the loosening steps of its proof removed: u is replaced by the exact solution of the
    comparison system (eq. 35 for L = 2, eq. 75 for L >= 3) and v is the
    solution of eq. 62/88 from v(0) = 0 with it, each elementwise <= the closed form
    (`nlbound.theory.ode` says why each step is valid). Only u, v, Delta, deviation and a_priori
    differ; the key "u" then holds the bounding function G.

    workers: threads used for large inputs (default: the CPUs available; 1 = the calling thread
    only). The result does not depend on it.
    """
    P = validate(d=d, m=m, depth=depth, kappa=kappa, p=p, delta=delta, eps=eps, beta=beta,
                 gamma=gamma, rho=rho, s=s, t=t, form=form)
    if precision is not None and not np.all(np.asarray(precision, dtype=np.float64) >= 0):
        raise ValueError(f"precision == {precision!r}, must be >= 0 (an allowance in output units)")
    return charge_precision(evaluate(P, workers=workers, form=form), precision, P["gamma"])


def charge_precision(terms: dict, precision, gamma) -> dict:
    """terms (evaluate's) with the p-bit term charged (docs/PROOFS.md, step P): precision =
    allowance / γ (+inf where the allowance is None), a_priori = Υ + deviation + precision, and the
    paper's uncharged sum kept only as a_priori_as_printed."""
    out = dict(terms)
    printed = out.pop("a_priori")
    allowance = np.inf if precision is None else np.asarray(precision, dtype=np.float64)
    with np.errstate(all="ignore"):
        prec = np.broadcast_to(allowance / np.asarray(gamma, dtype=np.float64), np.shape(printed))
    out["precision"] = np.where(allowance == 0, 0.0, prec) if precision is not None else prec.copy()
    out["a_priori_as_printed"] = printed
    with np.errstate(over="ignore"):
        out["a_priori"] = printed + out["precision"]  # eq. 6 with step P
    return out


def evaluate(P: dict, *, workers=None, form="closed") -> dict:
    """bound_terms on already validated float64 arrays P (keys IN_KEYS). t may be +inf here (the
    limit t → ∞: u, v, Δ = +inf), which the CLI needs where t*_α is beyond float64. form: as in
    bound_terms ("closed" or "ode", already validated)."""
    workers = default_workers() if workers is None else max(1, int(workers))
    shape = np.broadcast_shapes(*(np.shape(P[k]) for k in IN_KEYS))
    n = math.prod(shape)
    A = {}
    for k in IN_KEYS:  # scalars stay 0-d (broadcast inside the ufuncs); others become flat length-n
        x = np.asarray(P[k], dtype=np.float64)
        A[k] = x.reshape(()) if x.size == 1 else (x.reshape(-1) if x.shape == shape else
                                                  np.broadcast_to(x, shape).reshape(-1))
    out = {k: np.empty(n) for k in OUT_KEYS}
    W = {k: np.empty(n) for k in ("log_u", "Y", "lxb", "log_sh", "q", "l1", "l2")}
    blks = blocks(n) if workers > 1 else blocks(n, 1 << 16)
    stage1 = _stage_u(A, out, W)
    run_tasks(stage1, blks, workers)
    L = A["depth"]
    W["l1"][:], W["l2"][:] = log_w_integrals(L, W["lxb"], W["Y"], workers)  # eq. 92, in log space
    run_tasks(_stage_v(A, out, W), blks, workers)
    if form == "ode":
        _ode.refine(A, out, n)  # eqs. 35/75 and 62/88 solved: min(ode, closed) elementwise
    return {k: out[k].reshape(shape) for k in OUT_KEYS}


def _take(A, k, sl):
    x = A[k]
    return x if x.ndim == 0 else x[sl]


def _stage_u(A, out, W):
    """Block work up to u: s̄, ŝ, 1̄, β̄, u and the limits of the Γ integrals (defs. under eq. 8, eqs. 9, 92)."""

    def work(sl):
        L, eps, beta, rho, s, t = (_take(A, k, sl) for k in ("depth", "eps", "beta", "rho", "s", "t"))
        U = T._u_parts(t, L, eps, beta, rho, s)
        with np.errstate(all="ignore"):
            log_sh = np.log(U["s_hat"])
            W["lxb"][sl], W["Y"][sl] = T._w_limits(L, U["log_beta"], U["log_u_over_beta"], log_sh)
            out["beta_bar"][sl] = beta * np.exp(U["log_bbar_ratio"])
            out["u"][sl] = np.exp(U["log_u"])  # eq. 9
        out["s_bar"][sl], out["s_hat"][sl], out["one_bar"][sl] = U["s_bar"], U["s_hat"], U["one_bar"]
        W["log_u"][sl], W["log_sh"][sl], W["q"][sl] = U["log_u"], log_sh, U["q"]

    return work


def _stage_v(A, out, W):
    """Block work from the Γ integrals on: v (eq. 10), Φ_κ (eq. 8), Δ and Υ_κ (eq. 7), eq. 6."""

    def work(sl):
        L, kappa, rho, eps, d, m, p, delta, gamma = (
            _take(A, k, sl) for k in ("depth", "kappa", "rho", "eps", "d", "m", "p", "delta", "gamma"))
        log_u = W["log_u"][sl]
        rsr = T._rho_s_hat_over_s_bar(L, rho, out["s_hat"][sl], out["s_bar"][sl])
        log_v = T._log_v_from(L, W["q"][sl], rsr, W["log_sh"][sl], log_u, W["l1"][sl], W["l2"][sl])
        ph = T._phi_kappa(d, L, kappa, rho)
        log_delta = T._log_delta(ph, log_v, L, log_u)
        up = T._upsilon(d, m, kappa, p, delta)
        dev = T._deviation(log_delta, kappa, eps, gamma)
        with np.errstate(over="ignore"):
            out["v"][sl] = np.exp(log_v)
            out["Delta"][sl] = np.exp(log_delta)
        out["phi"][sl], out["upsilon"][sl], out["deviation"][sl] = ph, up, dev
        out["a_priori"][sl] = up + dev  # eq. 6 without the margin risk

    return work


def full_bound(margin_risk, d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, precision=None):
    """Right-hand side of eq. 6 with the p-bit term (PROOFS.md): R̂^ε_γ(t) + Υ_κ + Δ_κ,β(t) ε^κ/γ +
    precision/γ, given the empirical margin risk (precision None: +inf, see bound_terms)."""
    mr = validate(margin_risk=margin_risk)["margin_risk"]
    return mr + bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t,
                            precision=precision)["a_priori"]  # eq. 6 with step P
