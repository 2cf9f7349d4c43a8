"""Scoring every configuration of a PlanGrid in one vectorised bound_terms call, and choosing among them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlbound._validate import Interval, Real, validate_params
from nlbound.planning.grid import PlanData, PlanGrid
from nlbound.planning.twin import init_rho, margin_risk_table, rounding_table, twin_margins, twin_weights
from nlbound.theory import bound_terms, upsilon
from nlbound.theory._checks import validate
from nlbound.theory.bound import KL_FORMS, base_form, kl_counting
from nlbound.theory.kl import kl_inverse_upper
from nlbound.theory.precision import correction_bound, precision_allowance, rounding_error_bound

__all__ = ["Plan", "make_plan", "argmin_by", "union_price"]

TERM_KEYS = ("upsilon", "deviation", "precision", "a_priori", "a_priori_as_printed", "u", "v", "Delta", "phi", "s_bar", "s_hat", "beta_bar", "one_bar")


@dataclass(frozen=True)
class Plan:
    """Every grid point with its terms (flat float64 columns of length n_points) and what it was made from.

    columns: depth, beta, init (index into grid.inits), rho, t, alpha (NaN: t is a multiple of
    t*_0.5), gamma, eps, kappa, p, group (one id per trained network: depth, beta, init, eps),
    margin_risk (PREDICTED: the linear twin's train margin risk, or data.margin_risk), every term of
    bound_terms at delta / n_points, precision (the p-bit term, PREDICTED from the twins trained
    from c and from its p-bit rounding, docs/PROOFS.md step P; +inf without data for p < 64), and
    bound = margin_risk + a_priori (eq. 6 with step P; +inf where a term is).
    form: bound_terms' form; under "kl" / "ode-kl" upsilon is the kl counting term at the predicted
    margin risk (docs/PROOFS.md "Counting step in kl form", the p-bit term charged inside kl⁻¹ and
    outside) and the column kl_q holds its argument q.
    """

    grid: PlanGrid
    data: PlanData
    target: float
    columns: dict = field(repr=False)
    form: str = "closed"

    @property
    def n_points(self) -> int:
        return int(self.columns["bound"].size)

    @property
    def delta_point(self) -> float:
        """The failure probability each point is scored at: delta / N (union bound over the grid)."""
        return self.grid.delta / self.n_points

    def row(self, i: int) -> dict:
        """Point i as a dict of Python scalars (init as its name)."""
        out = {k: float(v[i]) for k, v in self.columns.items()}
        out["init"] = self.grid.inits[int(out["init"])]
        for k in ("depth", "kappa", "p", "group"):
            out[k] = int(out[k])
        return out


def _block(grid: PlanGrid, data: PlanData, depth: int, beta: float, rhos: np.ndarray) -> dict:
    """Columns for one (depth, beta): the product init x t x gamma x eps x kappa x p, flattened."""
    t, alpha = grid.times(depth, beta, data.s)
    gam = grid.gammas(depth, beta)
    axes = [np.arange(len(grid.inits)), np.arange(t.size), np.arange(gam.size), np.asarray(grid.epss),
            np.asarray(grid.kappas, dtype=float), np.asarray(grid.ps, dtype=float)]
    mesh = np.meshgrid(*axes, indexing="ij")
    i_init, i_t, i_g = (a.reshape(-1) for a in mesh[:3])
    eps, kappa, p = (a.reshape(-1) for a in mesh[3:])
    n = i_init.size
    e_idx = np.searchsorted(np.asarray(grid.epss), eps)
    return {"depth": np.full(n, float(depth)), "beta": np.full(n, beta), "init": i_init.astype(float),
            "rho": rhos[i_init], "t": t[i_t], "alpha": alpha[i_t], "gamma": gam[i_g], "eps": eps,
            "kappa": kappa, "p": p, "_it": i_t, "_ig": i_g, "_e": e_idx, "_nt": t.size, "_ng": gam.size,
            "_times": t, "_gammas": gam}


def _predicted_margin_risk(grid: PlanGrid, data: PlanData, blk: dict, a_priori: np.ndarray) -> np.ndarray:
    """The twin's train margin risk at every point of one block (NaN where the bound is +inf anyway:
    the twin is not integrated past the last stopping time with a finite a-priori term)."""
    if data.x is None or data.y is None:  # no training set: PlanData requires the margin risk
        return np.full(blk["t"].size, float(data.margin_risk))  # type: ignore[arg-type]
    x, y = data.x, data.y
    finite = np.isfinite(a_priori)
    out = np.full(blk["t"].size, np.nan)
    if not finite.any():
        return out
    nt_used = int(blk["_it"][finite].max()) + 1
    times = blk["_times"][:nt_used]
    depth, beta = int(blk["depth"][0]), float(blk["beta"][0])
    for i, init in enumerate(grid.inits):
        v = twin_weights(x, y, depth, grid.width, beta, init, grid.init_seed, times)
        table = margin_risk_table(twin_margins(x, y, v), blk["_gammas"])  # (nt_used, ng)
        sel = (blk["init"] == i) & (blk["_it"] < nt_used)
        out[sel] = table[blk["_it"][sel], blk["_ig"][sel]]
    return out


def _predicted_allowance(grid: PlanGrid, data: PlanData, blk: dict, uv: dict, printed: np.ndarray) -> np.ndarray:
    """The p-bit allowance (test + train, output units; theory.precision) at every point of one block:
    δv, N from the twins from c and from c rounded to p bits (planning.twin.rounding_table), ‖r‖ by
    its a-priori bound u_p‖w̃'‖ + η_p√d (eqs. P8, P9). +inf for p < 64 without data (no twins) and
    where the printed bound is +inf anyway (the twins are not integrated there)."""
    n = blk["t"].size
    out = np.where(blk["p"] == 64, 0.0, np.inf)
    finite = np.isfinite(printed)
    if data.x is None or data.y is None or not finite.any():  # no training set: no twins
        return out
    nt_used = int(blk["_it"][finite].max()) + 1
    depth, beta = int(blk["depth"][0]), float(blk["beta"][0])
    for i, init in enumerate(grid.inits):
        for p in grid.ps:
            sel = (blk["init"] == i) & (blk["p"] == p) & (blk["_it"] < nt_used)
            if p == 64 or not sel.any():
                continue
            tab = rounding_table(data.x, data.y, depth, grid.width, beta, init, grid.init_seed,
                                 blk["_times"][:nt_used], int(p))
            it, eps = blk["_it"][sel], blk["eps"][sel]
            n_lip = eps * tab["n1"][it]
            w = correction_bound(eps, depth, blk["rho"][sel], uv["u"][sel], uv["v"][sel], tab["dv_range"][it],
                                 n_lip, data.d)
            r = rounding_error_bound(int(p), w, data.d)  # eq. P8 on the d coordinates of the range
            with np.errstate(over="ignore"):  # huge but finite parts past u's blow-up sum to +inf
                test, train = precision_allowance(blk["kappa"][sel], data.d, tab["dv"][it], tab["dv_range"][it],
                                                  tab["dv_perp"][it], n_lip, np.nan_to_num(r, nan=np.inf))
                out[sel] = test + train
    return out[:n]


def make_plan(grid: PlanGrid, data: PlanData, target: float = 0.5, *, workers: int | None = None,
              status: Any = None, form: str = "closed") -> Plan:
    """Score every point of `grid` for `data`: Theorem 5.2's terms (eqs. 6-11) in ONE bound_terms
    call at delta / N, plus the predicted margin risk (linear twin, see twin.py). status: a progress
    hook with step(name, total) and advance() (nlbound.cli._progress.Status), one unit per
    (depth, beta) block of the twin. form: as in bound_terms; the kl forms take the counting step in
    kl form at the predicted margin risk."""
    validate_params({"target": Interval(Real, 0, None, closed="neither")}, {"target": target})
    validate(form=form)
    # W1(0) is drawn first whatever the depth, so rho depends on the init rule and seed only
    rhos = np.array([init_rho(data.n_in, grid.width, 2, init, grid.init_seed) for init in grid.inits])
    blocks = [_block(grid, data, L, b, rhos) for L in grid.depths for b in grid.betas]
    cols = {k: np.concatenate([blk[k] for blk in blocks]) for k in
            ("depth", "beta", "init", "rho", "t", "alpha", "gamma", "eps", "kappa", "p")}
    n = cols["t"].size
    if n == 0:
        raise ValueError(f"alphas == {grid.alphas}, must hold an alpha > beta^L/s for some beta (no grid point)")
    terms = bound_terms(d=data.d, m=data.m, depth=cols["depth"], kappa=cols["kappa"], p=cols["p"],
                        delta=grid.delta / n, eps=cols["eps"], beta=cols["beta"], gamma=cols["gamma"],
                        rho=cols["rho"], s=data.s, t=cols["t"], workers=workers,
                        form=base_form(form))  # eqs. 6-11, every point
    starts = np.cumsum([0] + [blk["t"].size for blk in blocks])
    printed = terms["a_priori_as_printed"]
    if status is not None:
        status.step("margin risk predicted by the linear twin, (depth, beta) blocks", total=len(blocks))
    parts = []
    for blk, a, b in zip(blocks, starts[:-1], starts[1:], strict=True):
        parts.append(_predicted_margin_risk(grid, data, blk, printed[a:b]))
        if status is not None:
            status.advance()
    mr = np.concatenate(parts)
    allowance = np.concatenate([_predicted_allowance(grid, data, blk, {k: terms[k][a:b] for k in ("u", "v")},
                                                     printed[a:b]) for blk, a, b in zip(blocks, starts[:-1], starts[1:], strict=True)])
    with np.errstate(invalid="ignore", over="ignore"):
        terms["precision"] = np.where(allowance == 0, 0.0, allowance / cols["gamma"])  # eq. P7
        terms["a_priori"] = printed + terms["precision"]
    group = np.concatenate([(k * len(grid.inits) + blk["init"]) * len(grid.epss) + blk["_e"]
                            for k, blk in enumerate(blocks)])
    cols["group"] = group.astype(float)
    cols["margin_risk"] = mr
    finite = np.isfinite(terms["a_priori"])  # mr is NaN only where a_priori is +inf (not predicted there)
    if form in KL_FORMS:
        terms = kl_counting(terms, np.where(finite, mr, 1.0), data.d, cols["depth"], cols["kappa"], cols["rho"],
                            so=form.endswith("-so"))
        cols["kl_q"] = np.where(finite, terms["kl_q"], np.nan)
    cols.update({k: terms[k] for k in TERM_KEYS})
    with np.errstate(invalid="ignore"):
        cols["bound"] = np.where(finite, mr + terms["a_priori"], np.inf)  # eq. 6
    return Plan(grid=grid, data=data, target=float(target), columns=cols, form=form)


def argmin_by(values: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Index of the smallest value in every group of equal keys, the groups ordered by that value
    (ties: the first point in grid order)."""
    order = np.argsort(values, kind="stable")
    if not keys:
        return order[:1]
    _, gid = np.unique(np.stack([np.asarray(k, dtype=float) for k in keys], axis=1), axis=0, return_inverse=True)
    _, first = np.unique(gid.reshape(-1)[order], return_index=True)
    best = order[first]
    return best[np.argsort(values[best], kind="stable")]


def union_price(plan: Plan, i: int) -> float:
    """Upsilon_kappa at delta/N minus Upsilon_kappa at delta (eq. 7), at point i: what the search cost
    (under the kl forms: the kl counting term at delta/N minus the one at delta, the same q)."""
    c = plan.columns
    naive = float(upsilon(plan.data.d, plan.data.m, c["kappa"][i], c["p"][i], plan.grid.delta))  # eq. 7
    if plan.form in KL_FORMS:
        q = float(c["kl_q"][i])
        naive = min(naive, float(kl_inverse_upper(q, 2.0 * naive * naive)) - q)  # eq. 24 in kl form at delta
    return float(c["upsilon"][i]) - naive
