"""The claims of Sec. 6 / App. B (C1-C10), each a precise criterion computed from the traces, and
the soundness count (is every bound >= the measured test risk at every recorded time?).

A claim whose figure was not run (or lacks a run it needs) is reported with holds = None. A claim
that does not hold on our data is reported as failing, with the numbers; nothing is tuned.
Common quantity: B(run, variants) = min over recorded t > 0 and over the variants (the q of
gamma, unless fixed) of the bound of Theorem 5.2 on that run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from nlbound.experiments.bounds import bound_curve, optimistic_bound
from nlbound.experiments.traces import Inputs, RunData

VACUOUS = 0.5  # random-guess risk
PHASE_TOL = 0.01  # risk / loss tolerance when locating the phases of App. B


@dataclass
class Claim:
    id: str
    figure: str
    statement: str  # the paper's
    criterion: str  # ours, precisely
    measured: dict[str, Any] = field(default_factory=dict)
    holds: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def min_bound(run: RunData, variants) -> tuple[float, float, str]:
    """(min over recorded t > 0 and variants of the bound, argmin t, argmin variant label)."""
    best = (float("inf"), float("nan"), "")
    for v in variants:
        c = bound_curve(run, v)
        ok = (c["t"] > 0) & np.isfinite(c["bound"])
        if ok.any():
            j = int(np.argmin(np.where(ok, c["bound"], np.inf)))
            if c["bound"][j] < best[0]:
                best = (float(c["bound"][j]), float(c["t"][j]), v.label)
    return best


def _sel(inp: Inputs, **match: Any) -> list:
    return [v for v in inp.exp.bounds if all(getattr(v, k) == val for k, val in match.items())]


def _r(x: float) -> float:
    return float(f"{x:.4g}")


def c1(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C1", "fig1", "κ=2, ε=0.001: the bound is non-vacuous for β ≤ 0.1 at a properly chosen γ.",
               "for every β ≤ 0.1 of Fig. 1: B = min over recorded t>0 and q∈{1,10,100} (γ=β²/q, p=32) < 0.5")
    if "fig1" in figs:
        inp = figs["fig1"]
        mins = {r.label: min_bound(inp.runs[r.label], _sel(inp, kappa=2)) for r in inp.exp.runs}
        cl.measured = {k: {"B": _r(b), "t": _r(t), "at": lab} for k, (b, t, lab) in mins.items()}
        cl.holds = all(b < VACUOUS for b, _, _ in mins.values())
    return cl


def c2(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C2", "fig1", "The bound converges as β vanishes and increases as β grows.",
               "B(β) (as in C1) is non-decreasing in β (tolerance 0.01) and the two smallest β differ by "
               "≤ 10 % of B at the smallest β")
    if "fig1" in figs:
        inp = figs["fig1"]
        pairs = sorted((float(inp.runs[r.label].get("beta")), min_bound(inp.runs[r.label], _sel(inp, kappa=2))[0])
                       for r in inp.exp.runs)
        bs = [b for _, b in pairs]
        grows = all(b2 >= b1 - 0.01 for b1, b2 in zip(bs, bs[1:]))
        conv = len(bs) >= 2 and abs(bs[1] - bs[0]) <= 0.1 * bs[0]
        cl.measured = {"B_by_beta": {f"{b:g}": _r(v) for b, v in pairs}, "grows": grows, "converges": conv}
        cl.holds = bool(grows and conv)
    return cl


def c3(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C3", "fig2", "The bound for κ=2 is much stronger than that for κ=1.",
               "B(κ=1) / B(κ=2) ≥ 2 (B as in C1, β=ε=0.001)")
    if "fig2" in figs:
        inp = figs["fig2"]
        run = inp.runs[inp.exp.runs[0].label]
        b1, b2 = min_bound(run, _sel(inp, kappa=1))[0], min_bound(run, _sel(inp, kappa=2))[0]
        cl.measured = {"B_kappa1": _r(b1), "B_kappa2": _r(b2), "ratio": _r(b1 / b2)}
        cl.holds = b1 / b2 >= 2
    return cl


def first_time(t: np.ndarray, ok: np.ndarray) -> float:
    idx = np.flatnonzero(ok)
    return float(t[idx[0]]) if idx.size else float("inf")


def c4(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C4", "fig3", "ε=0.01: non-vacuous if ρ=1; ρ=1 converges faster; p=16 slightly better.",
               "B(ρ=1, p=32) < 0.5; ρ=1 reaches the train risk halfway between the default run's initial "
               "and minimal train risk at an earlier recorded t; B(ρ=1, p=16) < B(ρ=1, p=32)")
    if "fig3" in figs:
        inp = figs["fig3"]
        default, rank1 = (inp.runs[r.label] for r in inp.exp.runs)
        b = {(lab, p): min_bound(run, _sel(inp, p=p))[0]
             for lab, run in (("default", default), ("rho1", rank1)) for p in (16, 32)}
        risk = default.col("train_risk")
        target = risk.min() + 0.5 * (risk[0] - risk.min())
        t_def = first_time(default.t, default.col("train_risk") <= target)
        t_r1 = first_time(rank1.t, rank1.col("train_risk") <= target)
        checks = {"nonvacuous": b[("rho1", 32)] < VACUOUS, "faster": t_r1 < t_def,
                  "p16_better": b[("rho1", 16)] < b[("rho1", 32)]}
        cl.measured = {**{f"B_{k[0]}_p{k[1]}": _r(v) for k, v in b.items()},
                       "t_half_default": _r(t_def), "t_half_rho1": _r(t_r1), **checks}
        cl.holds = all(checks.values())
    return cl


def _components_at_min(run: RunData, variants) -> dict[str, float]:
    b, t, lab = min_bound(run, variants)
    v = next(v for v in variants if v.label == lab)
    c = bound_curve(run, v)
    j = int(np.flatnonzero(c["t"] == t)[0])
    return {"B": b, "t": t, "upsilon": float(c["upsilon"][j]), "deviation": float(c["deviation"][j]),
            "margin_risk": float(c["margin_risk"][j])}


def c5(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C5", "fig4", "At ε=0.01 the components are of the same order; for larger ε the last "
               "(deviation) term dominates.",
               "at the minimiser (t, q) of the full bound: 0.1 ≤ deviation/Υ₂ ≤ 10 at ε=0.01, and "
               "deviation > Υ₂ at ε=0.1 (7×7, β=0.001, default init, p=32)")
    if "fig4" in figs:
        inp = figs["fig4"]
        full = _sel(inp, terms="full")
        comp = {r.label: _components_at_min(inp.runs[r.label], full) for r in inp.exp.runs}
        small, large = (comp[r.label] for r in inp.exp.runs[:2])
        ratio_s, ratio_l = small["deviation"] / small["upsilon"], large["deviation"] / large["upsilon"]
        cl.measured = {k: {kk: _r(vv) for kk, vv in v.items()} for k, v in comp.items()}
        cl.measured.update(ratio_eps_small=_r(ratio_s), ratio_eps_large=_r(ratio_l))
        cl.holds = bool(0.1 <= ratio_s <= 10 and ratio_l > 1)
    return cl


def c6(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C6", "fig5", "p=16, ρ=1, ε=0.001: non-vacuous for 14×14; slightly exceeds random guess "
               "for 28×28.", "B(14×14) < 0.5 and 0.5 < B(28×28) ≤ 0.75 (B as in C1 with p=16)")
    if "fig5" in figs:
        inp = figs["fig5"]
        b = {r.label: min_bound(inp.runs[r.label], inp.exp.bounds)[0] for r in inp.exp.runs}
        cl.measured = {f"B_{k}": _r(v) for k, v in b.items()}
        if "14×14" in b and "28×28" in b:
            cl.holds = bool(b["14×14"] < VACUOUS and VACUOUS < b["28×28"] <= 0.75)
    return cl


def c7(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C7", "fig6", "The bound deteriorates considerably with depth.",
               "B(L) strictly increases with L for γ=α/q (Sec. 5.3, ν=1; ERRATA 8); B for γ=β²/q reported")
    if "fig6" in figs:
        inp = figs["fig6"]
        out = {}
        for rule in ("alpha", "beta2"):
            out[rule] = {r.label: _r(min_bound(inp.runs[r.label], _sel(inp, gamma_rule=rule))[0])
                         for r in inp.exp.runs}
        vals = list(out["alpha"].values())
        cl.measured = {"B_gamma_alpha_over_q": out["alpha"], "B_gamma_beta2_over_q": out["beta2"]}
        cl.holds = len(vals) >= 2 and all(b > a for a, b in zip(vals, vals[1:]))
    return cl


def c8(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C8", "fig7", "Assumption 5.1 holds empirically (L_X(t) ≤ L_X(0)) for β large and small "
               "and ε up to 1.", "for every run of Fig. 7 and recorded t: L_X(0) − L_X(t) ≥ −1e-9·L_X(0)")
    if "fig7" in figs:
        inp = figs["fig7"]
        worst = {}
        for r in inp.exp.runs:
            lx = inp.runs[r.label].col("train_loss_X")
            worst[r.label] = float(np.min(lx[0] - lx) / lx[0])
        cl.measured = {"min_relative_decrease": {k: float(f"{v:.3g}") for k, v in worst.items()}}
        cl.holds = all(v >= -1e-9 for v in worst.values())
    return cl


def phases(run: RunData, base: dict[str, float]) -> tuple[float, float]:
    """App. B phases: t1 = first t where the train risk reaches the optimal linear model's (+0.01);
    t2 = first t where the train loss drops below the optimal linear train MSE (−0.01): phase 3."""
    t = run.t
    t1 = first_time(t, run.col("train_risk") <= base["lin_train_risk"] + PHASE_TOL)
    t2 = first_time(t, run.col("train_loss") <= base["lin_train_loss"] - PHASE_TOL)
    return t1, t2


def phase2_fraction(run: RunData, proxy: str, gammas, base) -> dict[str, Any]:
    """max over gamma of the fraction of recorded t in [t1, t2) with optimistic bound < 0.5."""
    t1, t2 = phases(run, base)
    window = (run.t >= t1) & (run.t < t2)
    fracs = {g: float(np.mean(optimistic_bound(run, proxy, g)["bound"][window] < VACUOUS)) if window.any()
             else float("nan") for g in gammas}
    best = max(fracs.values(), default=float("nan"))
    return {"t1": _r(t1) if np.isfinite(t1) else None, "t2": _r(t2) if np.isfinite(t2) else None, "points": int(window.sum()), "best_fraction": best,
            "phase3_reached": bool(np.isfinite(t2))}


def c9(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C9", "fig8", "ε=0.1, 14×14: the optimistic κ=2 bound stays non-vacuous during the first two "
               "phases, while the κ=1 one does not.",
               "window [t1, t2) of App. B (see `phases`): for some γ the g2 bound < 0.5 at every recorded t "
               "in the window, and for no γ does the g1 bound")
    if "fig8" in figs:
        inp = figs["fig8"]
        run = inp.runs[inp.exp.runs[0].label]
        base = inp.baseline(run)
        if "lin_train_risk" in base:
            g2 = phase2_fraction(run, "g2", inp.exp.optimistic_gammas, base)
            g1 = phase2_fraction(run, "g1", inp.exp.optimistic_gammas, base)
            cl.measured = {"g2": g2, "g1": g1}
            cl.holds = bool(g2["points"] > 0 and g2["best_fraction"] == 1.0 and g1["best_fraction"] < 1.0)
    return cl


def c10(figs: dict[str, Inputs]) -> Claim:
    cl = Claim("C10", "fig9", "The optimistic κ=2 bound stays non-vacuous up to ε=0.4 until GF exploits "
               "the nonlinearity.", "for every ε ≤ 0.4 of Fig. 9: for some γ the g2 bound < 0.5 at every "
               "recorded t in [t1, t2) (window non-empty); ε > 0.4 reported")
    if "fig9" in figs:
        inp = figs["fig9"]
        res, ok = {}, []
        for r in inp.exp.runs:
            run = inp.runs[r.label]
            base = inp.baseline(run)
            if "lin_train_risk" not in base:
                return cl
            res[r.label] = phase2_fraction(run, "g2", inp.exp.optimistic_gammas, base)
            if float(run.get("eps")) <= 0.4 + 1e-12:
                ok.append(res[r.label]["points"] > 0 and res[r.label]["best_fraction"] == 1.0)
        cl.measured = res
        cl.holds = bool(ok) and all(ok)
    return cl


CLAIMS: tuple[Callable[[dict[str, Inputs]], Claim], ...] = (c1, c2, c3, c4, c5, c6, c7, c8, c9, c10)


def evaluate_claims(figs: dict[str, Inputs]) -> list[Claim]:
    return [f(figs) for f in CLAIMS]


def soundness(figs: dict[str, Inputs]) -> dict[str, Any]:
    """For every (run, bound variant) — Theorem 5.2 and eq. 41 — is bound(t) ≥ test risk(t) at every
    recorded t? Pairs are deduplicated by run key and variant parameters."""
    seen, violations = set(), []
    counts = {"theorem": [0, 0], "optimistic": [0, 0]}  # [sound, total]
    for inp in figs.values():
        for r in inp.exp.runs:
            run, key = inp.runs[r.label], r.config.key()
            curves = [("theorem", (v.kappa, v.p, v.delta, v.gamma_rule, v.q, v.alpha, v.terms), v.label,
                       lambda v=v: bound_curve(run, v)["bound"]) for v in inp.exp.bounds if v.terms == "full"]
            curves += [("optimistic", (proxy, g), f"{proxy} γ={g:g}",
                        lambda proxy=proxy, g=g: optimistic_bound(run, proxy, g)["bound"])
                       for proxy in ("g1", "g2", "glin") for g in inp.exp.optimistic_gammas]
            for kind, ident, label, fn in curves:
                if (key, ident) in seen:
                    continue
                seen.add((key, ident))
                bad = fn() < run.col("test_risk")
                counts[kind][1] += 1
                counts[kind][0] += int(not bad.any())
                if bad.any():
                    violations.append({"figure": inp.exp.name, "run": r.label, "bound": label,
                                       "points": int(bad.sum()), "of": int(bad.size)})
    return {k: {"sound": v[0], "total": v[1]} for k, v in counts.items()} | {"violations": violations}
