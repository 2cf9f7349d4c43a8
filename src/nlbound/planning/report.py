"""The plan as text: the top trained networks, the largest non-vacuous eps per depth, predicted vs realised."""

from __future__ import annotations

import json
import math

import numpy as np

from nlbound.planning.search import Plan, argmin_by, union_price
from nlbound.theory import t_star
from nlbound.theory.bound import KL_FORMS

__all__ = ["top_indices", "eps_frontier", "verify_indices", "record", "tables", "json_lines"]

TOP_COLS = ("depth", "beta", "init", "eps", "t", "t_over_t_star", "gamma", "kappa", "p", "pred_margin_risk",
            "upsilon", "deviation", "precision", "pred_bound")
VERIFY_COLS = ("depth", "beta", "init", "eps", "t", "gamma", "kappa", "p", "pred_margin_risk",
               "realised_margin_risk", "pred_bound", "realised_bound", "test_risk")


def top_indices(plan: Plan, k: int) -> np.ndarray:
    """The best point of each of the k trained networks (depth, beta, init, eps) with the smallest
    predicted bound, best first."""
    c = plan.columns
    return argmin_by(c["bound"], c["group"])[:k]


def eps_frontier(plan: Plan) -> dict[int, tuple[np.ndarray, float | None]]:
    """Per depth: (best point for each eps, in eps order; the largest eps whose best predicted bound
    is < target, or None)."""
    c, out = plan.columns, {}
    for L in plan.grid.depths:
        sel = np.flatnonzero(c["depth"] == L)
        best = sel[argmin_by(c["bound"][sel], c["eps"][sel])]
        best = best[np.argsort(c["eps"][best])]
        ok = [float(c["eps"][i]) for i in best if c["bound"][i] < plan.target]
        out[int(L)] = (best, max(ok) if ok else None)
    return out


def verify_indices(plan: Plan, k: int, source: str) -> np.ndarray:
    """The k points --verify trains: "top" = the k best trained networks; "frontier" = of the best
    point per (depth, eps), the k whose predicted bound is nearest the target (both sides of the
    largest non-vacuous eps: where a prediction error would change the answer)."""
    if source == "top":
        return top_indices(plan, k)
    if source != "frontier":
        raise ValueError(f"verify_from == {source!r}, must be one of top, frontier")
    best = np.concatenate([b for b, _ in eps_frontier(plan).values()])
    gap = np.abs(plan.columns["bound"][best] - plan.target)
    return best[np.argsort(gap, kind="stable")][:k]


def _t_rel(plan: Plan, r: dict) -> float:
    if r["beta"] ** r["depth"] / plan.data.s >= 0.5:
        return math.nan
    return r["t"] / float(t_star(0.5, r["beta"], plan.data.s, r["depth"]))


def record(plan: Plan, i: int, kind: str, extra: dict | None = None) -> dict:
    """Point i as one JSON-ready record: n_points, the chosen parameters, every term, the price."""
    r = plan.row(int(i))
    rec = {"kind": kind, "n_points": plan.n_points, "delta": plan.grid.delta, "delta_point": plan.delta_point,
           "data": plan.data.name, "d": plan.data.d, "m": plan.data.m, "s": plan.data.s,
           "depth": r["depth"], "beta": r["beta"], "init": r["init"], "rho": r["rho"], "eps": r["eps"],
           "gamma": r["gamma"], "t": r["t"], "t_over_t_star": _t_rel(plan, r), "alpha": r["alpha"], "kappa": r["kappa"],
           "p": r["p"], "pred_margin_risk": r["margin_risk"],
           "margin_risk_source": "linear twin (eps=0)" if plan.data.has_twin else "given (--margin-risk)",
           **{k: r[k] for k in ("upsilon", "deviation", "precision", "a_priori", "Delta", "u", "v", "phi", "s_bar", "beta_bar")},
           "union_price": union_price(plan, int(i)), "pred_bound": r["bound"],
           "pred_nonvacuous": bool(r["bound"] < plan.target), "target": plan.target}
    rec.update(extra or {})
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, np.integer)):
        return str(v)
    return "inf" if v == math.inf else f"{v:.4g}"


HEADERS = {"t_over_t_star": "t/t*"}  # table header of a record key, where shorter


def _table(recs: list[dict], cols) -> list[str]:
    cells = [[_fmt(r.get(c)) for c in cols] for r in recs]
    heads = [HEADERS.get(c, c) for c in cols]
    w = [max(len(h), *(len(row[j]) for row in cells)) if cells else len(h) for j, h in enumerate(heads)]
    return ["  ".join(h.rjust(x) for h, x in zip(heads, w, strict=True))] + ["  ".join(v.rjust(x) for v, x in zip(row, w, strict=True))
                                                              for row in cells]


def _header(plan: Plan, best: dict) -> list[str]:
    g, dat = plan.grid, plan.data
    src = (f"PREDICTED by the linear twin (eps = 0, width {g.width}, init seed {g.init_seed}, trained from Y X~^T"
           " alone; its train margin risk at each beta, t, gamma)" if dat.has_twin else
           "GIVEN (--margin-risk, the same at every point: the plan is only as good as that value)")
    return [f"# nlbound plan: {dat.name} (d={dat.d:.6g}, m={dat.m:.6g}, s={dat.s:.4g}), L in {list(g.depths)}, "
            f"target {plan.target:g}",
            f"# N = {plan.n_points:,} grid points; delta = {g.delta:g} for the whole plan, so each point is "
            f"scored at delta/N = {plan.delta_point:.3g} (union bound)",
            f"# price of the search at the best point: Upsilon(delta/N) - Upsilon(delta) = "
            f"{best['union_price']:+.4f} (kappa={best['kappa']}, p={best['p']})",
            f"# margin risk: {src}; Upsilon and the deviation term are exact (Theorem 5.2, eqs. 6-11)",
            f"# form: {plan.form}" + (" (counting step in kl form at the predicted margin risk: upsilon = "
                                      "kl^-1(q) - q, docs/PROOFS.md)" if plan.form in KL_FORMS else ""),
            "# precision: the p-bit proxy's term (docs/PROOFS.md step P), PREDICTED from the twins trained from c "
            "and from c rounded to p bits; --verify charges the trained run's own",
            "# pred_bound = pred_margin_risk + upsilon + deviation + precision: a guarantee only once the margin "
            "risk and the precision term are measured on the trained net (--verify)"]


def tables(plan: Plan, top: int, verified: list[dict]) -> str:
    top_i = top_indices(plan, top)
    lines = _header(plan, record(plan, top_i[0], "top"))
    lines += ["", f"top {len(top_i)} trained networks (depth, beta, init, eps), each at its best t, gamma, kappa, p:"]
    lines += _table([record(plan, i, "top") for i in top_i], TOP_COLS)
    for L, (best, largest) in eps_frontier(plan).items():
        verdict = f"eps = {largest:g}" if largest is not None else "none on the grid"
        lines += ["", f"L={L}: largest eps with a predicted bound < {plan.target:g}: {verdict}; best per eps:"]
        lines += _table([record(plan, i, "eps") for i in best], TOP_COLS)
    if verified:
        lines += ["", "--verify: trained at the planned (gamma, t); realised = Theorem 5.2 on the trained net "
                      "(its measured train margin risk + the same terms at delta/N):"]
        lines += _table(verified, VERIFY_COLS)
    return "\n".join(lines) + "\n"


def json_lines(plan: Plan, top: int, verified: list[dict]) -> str:
    recs = [record(plan, i, "top") for i in top_indices(plan, top)]
    for best, largest in eps_frontier(plan).values():
        recs += [record(plan, i, "eps", {"largest_nonvacuous_eps": largest}) for i in best]
    recs += verified
    return "".join(json.dumps(r, allow_nan=False) + "\n" for r in recs)
