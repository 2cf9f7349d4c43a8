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
from nlbound.theory._checks import FORMS as FORMS  # re-exported: the forms bound_terms takes
from nlbound.theory._checks import validate
from nlbound.theory._incgamma import log_w_integrals
from nlbound.theory._threads import blocks, default_workers, run_tasks

OUT_KEYS = ("upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation", "a_priori")
IN_KEYS = ("d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t")
KL_FORMS = ("kl", "ode-kl", "kl-so", "ode-kl-so")  # the counting step in kl form (needs the margin risk)


def _form_parts(form: str) -> tuple[bool, bool, bool]:
    """(ode, kl, so) of a validated form: "closed" or "ode" for u, v; "-kl": the counting step in kl
    form; "-so": the centred second-order step (docs/PROOFS.md)."""
    parts = form.split("-")
    return "ode" in parts, "kl" in parts, "so" in parts


def base_form(form: str) -> str:
    """The form without its "-kl" part ("kl" -> "closed", "ode-kl-so" -> "ode-so"): the Δ terms a
    caller computes before it knows the margin risk (then `kl_counting`)."""
    return "-".join(x for x in form.split("-") if x != "kl") or "closed"


def bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, *, precision=None, form="closed",
                margin_risk=None,
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
    "so", "ode-so", "kl-so", "ode-kl-so": the same with the centred second-order step (docs/PROOFS.md,
    "Second-order step centred by eq. 25's identity"): for L = 2, κ = 2, Φ_κ = (1 + ρ)(√d + 1)
    instead of eq. 8's (3 + ρ)√d + 2(1 + ρ) (key "phi"); unchanged elsewhere.
    "kl" / "ode-kl": Δ as "closed" / "ode", and eq. 24's counting step in kl form (docs/PROOFS.md,
    "Counting step in kl form"): R ≤ kl⁻¹(min(1, R̂_γ + D_train), (κpd ln 2 + ln(1/δ))/m) + D_test,
    D_train + D_test = deviation split as eqs. 21/27 vs 20/26 (terms._train_share). It needs
    margin_risk (R̂_γ). `upsilon` is then the counting term it charges, kl⁻¹(q) − q with
    q = min(1, R̂_γ + D_train), never above the Hoeffding Υ_κ (Pinsker) and dependent on R̂_γ and
    on the deviation; u, v, Delta, deviation are those of the Δ form; a_priori = upsilon + deviation
    = bound − R̂_γ in every form (what is added to the margin risk; under kl it is not computable
    before training, as it depends on R̂_γ).

    margin_risk: the empirical margin risk R̂_γ in [0, 1] (broadcast); when given, the result also
    has bound = margin_risk + a_priori (eq. 6). Required by the kl forms.

    workers: threads used for large inputs (default: the CPUs available; 1 = the calling thread
    only). The result does not depend on it.
    """
    P = validate(d=d, m=m, depth=depth, kappa=kappa, p=p, delta=delta, eps=eps, beta=beta,
                 gamma=gamma, rho=rho, s=s, t=t, form=form, margin_risk=margin_risk)
    if precision is not None and not np.all(np.asarray(precision, dtype=np.float64) >= 0):
        raise ValueError(f"precision == {precision!r}, must be >= 0 (an allowance in output units)")
    return evaluate_charged(P, precision, form=form, workers=workers)


def evaluate_charged(P: dict, precision, *, form: str = "closed", workers=None) -> dict:
    """evaluate (P validated) with the p-bit term charged (charge_precision) and, under the kl forms,
    the counting step in kl form on top of it; bound = margin_risk + a_priori where P has the margin risk."""
    _, kl, so = _form_parts(form)
    if kl and P.get("margin_risk") is None:
        raise ValueError(f"margin_risk is required with form == {form!r} (the kl counting step inverts "
                         "the binomial kl at the empirical margin risk)")
    terms = charge_precision(evaluate(P, workers=workers, form=base_form(form)), precision, P["gamma"])
    if kl:
        terms = _kl_with_precision(terms, P, so)
    if P.get("margin_risk") is not None:
        terms["bound"] = P["margin_risk"] + terms["a_priori"]  # eq. 6 with step P
    return terms


def _kl_with_precision(terms: dict, P: dict, so: bool) -> dict:
    """The counting step in kl form on terms that carry the p-bit term (kl_counting, unvalidated P)."""
    share = T._train_share(P["d"], P["depth"], P["kappa"], P["rho"], so)
    return _kl_step(terms, P["margin_risk"], share)


def _kl_step(terms: dict, margin_risk, share) -> dict:
    """The counting step in kl form (docs/PROOFS.md, "Counting step in kl form"), the p-bit term (if
    terms has one) charged on both sides: kl⁻¹ at q = min(1, R̂_γ + share·deviation + precision) (the
    training-set side, inside kl⁻¹, whose slope may exceed 1) and precision again outside (the test
    side), so bound = kl⁻¹(q, 2Υ²) + (1 − share)·deviation + precision; `precision` reports the 2×
    charge. Where that exceeds the Hoeffding form's Υ + precision, the Hoeffding charge is kept (the kl
    event implies Hoeffding's through Pinsker, so both hold on it): never above the Hoeffding form.
    kl_q holds q."""
    dev = np.asarray(terms["deviation"], dtype=np.float64)
    charged = "precision" in terms
    prec = np.asarray(terms["precision"], dtype=np.float64) if charged else 0.0
    with np.errstate(all="ignore"):
        inside = dev + prec / share if charged else dev
        up = T._upsilon_kl(margin_risk, inside, share, np.asarray(terms["upsilon"], dtype=np.float64))  # eq. 24
        out = dict(terms, upsilon=up, kl_q=T._kl_argument(margin_risk, inside, share))
        if charged:  # the smaller of the kl and the Hoeffding charge: on the kl event both hold (Pinsker)
            ho = np.asarray(terms["upsilon"], dtype=np.float64)
            take = up + 2.0 * prec <= ho + prec
            out["upsilon"] = np.where(take, up, ho)
            out["precision"] = np.where(take, 2.0 * prec, prec)
        out["a_priori"] = out["upsilon"] + dev + (out["precision"] if charged else 0.0)
        out["bound"] = margin_risk + out["a_priori"]  # eq. 6
    return out


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
    bound_terms (already validated); P may hold margin_risk (required by the kl forms)."""
    if form in KL_FORMS and P.get("margin_risk") is None:
        raise ValueError(f"margin_risk is required with form == {form!r} (the kl counting step inverts "
                         "the binomial kl at the empirical margin risk)")
    workers = default_workers() if workers is None else max(1, int(workers))
    ode, kl, so = _form_parts(form)
    keys = IN_KEYS + (("margin_risk",) if P.get("margin_risk") is not None else ())
    shape = np.broadcast_shapes(*(np.shape(P[k]) for k in keys))
    n = math.prod(shape)
    A = {}
    for k in keys:  # scalars stay 0-d (broadcast inside the ufuncs); others become flat length-n
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
    run_tasks(_stage_v(A, out, W, so), blks, workers)
    if ode:
        _ode.refine(A, out, n)  # eqs. 35/75 and 62/88 solved: min(ode, closed) elementwise
    if kl:
        _kl_counting(A, out, n, so)
    res = {k: out[k].reshape(shape) for k in OUT_KEYS}
    if "margin_risk" in A:
        res["bound"] = (A["margin_risk"] + out["a_priori"]).reshape(shape)  # eq. 6
    return res


def _kl_counting(A, out, n, so=False) -> None:
    """Replace upsilon and a_priori in the flat arrays `out` by the kl form of the counting step
    (terms._upsilon_kl; docs/PROOFS.md "Counting step in kl form"), from the final deviation."""
    get = lambda k: np.broadcast_to(A[k], (n,))  # noqa: E731
    share = T._train_share(get("d"), get("depth"), get("kappa"), get("rho"), so)
    up = T._upsilon_kl(get("margin_risk"), out["deviation"], share, out["upsilon"])  # eq. 24, kl form
    out["upsilon"][:] = up
    out["a_priori"][:] = up + out["deviation"]  # eq. 6 without the margin risk


def kl_counting(terms: dict, margin_risk, d, depth, kappa, rho, so=False) -> dict:
    """terms (a bound_terms result of a form without "kl"; so: it has "-so") with the counting step in kl form at the
    empirical margin risk margin_risk (broadcast): upsilon, a_priori and bound as bound_terms(form="kl"
    / "ode-kl") gives them, for a caller that knows the margin risk only after the Δ terms (the
    planner), and kl_q = min(1, R̂_γ + D_train (+ precision)), the argument of kl⁻¹. Validates its
    inputs; returns a new dict."""
    P = validate(margin_risk=margin_risk, d=d, depth=depth, kappa=kappa, rho=rho)
    share = T._train_share(P["d"], P["depth"], P["kappa"], P["rho"], so)
    return _kl_step(terms, P["margin_risk"], share)


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


def _stage_v(A, out, W, so=False):
    """Block work from the Γ integrals on: v (eq. 10), Φ_κ (eq. 8), Δ and Υ_κ (eq. 7), eq. 6."""

    def work(sl):
        L, kappa, rho, eps, d, m, p, delta, gamma = (
            _take(A, k, sl) for k in ("depth", "kappa", "rho", "eps", "d", "m", "p", "delta", "gamma"))
        log_u = W["log_u"][sl]
        rsr = T._rho_s_hat_over_s_bar(L, rho, out["s_hat"][sl], out["s_bar"][sl])
        log_v = T._log_v_from(L, W["q"][sl], rsr, W["log_sh"][sl], log_u, W["l1"][sl], W["l2"][sl])
        ph = T._phi_kappa_so(d, L, kappa, rho) if so else T._phi_kappa(d, L, kappa, rho)  # eq. 8 / (S2)
        log_delta = T._log_delta(ph, log_v, L, log_u)
        up = T._upsilon(d, m, kappa, p, delta)
        dev = T._deviation(log_delta, kappa, eps, gamma)
        with np.errstate(over="ignore"):
            out["v"][sl] = np.exp(log_v)
            out["Delta"][sl] = np.exp(log_delta)
        out["phi"][sl], out["upsilon"][sl], out["deviation"][sl] = ph, up, dev
        out["a_priori"][sl] = up + dev  # eq. 6 without the margin risk

    return work


def full_bound(margin_risk, d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, precision=None, *,
               form="closed"):
    """Right-hand side of eq. 6 with the p-bit term (PROOFS.md): R̂^ε_γ(t) + Υ_κ + Δ_κ,β(t) ε^κ/γ +
    precision/γ, given the empirical margin risk (precision None: +inf, see bound_terms; form: as in
    bound_terms, under the kl forms Υ_κ is the kl counting term)."""
    return bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, precision=precision, form=form,
                       margin_risk=margin_risk)["bound"]  # eq. 6 with step P
