"""Soundness checks that can fail: every bound against the measured test risk, and every deviation link
of the proof (|f − g̃_κ| on the test and training sets) against the allowance the bound charges."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from nlbound.analysis.bounds import bound_curve, optimistic_bound
from nlbound.analysis.traces import Inputs, RunData
from nlbound.evaluation.run_bound import RUNTIME_COLUMNS, deviation_links, evaluation_floor, run_inputs

__all__ = ["soundness", "deviation_soundness", "run_links"]


def _p_matches(v, run: RunData, inp: Inputs) -> bool:
    """A Theorem 5.2 variant applies to a run trained with its p (if the figure trains that p)."""
    trained = {int(inp.runs[r.label].get("p")) for r in inp.exp.runs if "p" in inp.runs[r.label].info}
    return v.p not in trained or int(run.info.get("p", v.p)) == v.p


def soundness(figs: dict[str, Inputs]) -> dict[str, Any]:
    """For every (run, bound variant) — Theorem 5.2 (with the p-bit term, in each figure's form
    inp.form) and eq. 41 — is bound(t) ≥ test risk(t) at every recorded t? Pairs are deduplicated by run key and variant parameters."""
    seen, violations = set(), []
    counts = {"theorem": [0, 0], "optimistic": [0, 0]}  # [sound, total]
    for inp in figs.values():
        for r in inp.exp.runs:
            run, key = inp.runs[r.label], r.config.key()
            curves: list[tuple[str, tuple, str, Callable[[], np.ndarray]]] = [
                ("theorem", (v.kappa, v.p, v.delta, v.gamma_rule, v.q, v.alpha, v.terms), v.label,
                 partial(_theorem_bound, run, v, inp.form)) for v in inp.exp.bounds
                if v.terms == "full" and _p_matches(v, run, inp)]
            curves += [("optimistic", (proxy, g), f"{proxy} γ={g:g}", partial(_optimistic_bound, run, proxy, g))
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


def _theorem_bound(run: RunData, variant, form: str = "closed") -> np.ndarray:
    return bound_curve(run, variant, form=form)["bound"]


def _optimistic_bound(run: RunData, proxy: str, gamma: float) -> np.ndarray:
    return optimistic_bound(run, proxy, gamma)["bound"]


def _floor(run: RunData, kappa: int) -> np.ndarray | float:
    """The proved bound on the float error of the measured deviation columns (evaluation.run_bound.
    evaluation_floor, PROOFS.md "The evaluation floor of the check") at mean ‖x̃‖ = √d (d the data's
    rank, the bound's effective dimension) on both splits:
    exact on the whitened training set (eq. P3) and, on the test set, the premise E‖x̃‖ ≤ √d that step D's
    allowance itself uses. 0 for a run trained before the run-time columns were recorded (no floor:
    every raw excess then counts as beyond it)."""
    if any(c not in run.trace for c in RUNTIME_COLUMNS):
        return 0.0
    return evaluation_floor(run.trace, run.info, kappa, float(np.sqrt(run_inputs(run.info)["d"])))


def run_links(run: RunData, kappa: int, form: str = "closed") -> dict[str, Any]:
    """One run's deviation links at every recorded t (evaluation.run_bound.deviation_links): points,
    violations of the charged allowance (Δε^κ part + p-bit part) on the test and training sets, the
    worst measured/allowance ratio, the same against the paper's allowance alone (Δ part only), and the
    violations beyond the evaluation floor (a raw excess within the float error of the measured column
    is one the measurement cannot decide; one beyond it is a violation whatever the rounding)."""
    lk = deviation_links(run.trace, run.info, kappa, form=form)
    out: dict[str, Any] = {"points": int(lk["t"].size)}
    floor = _floor(run, kappa)
    for split in ("test", "train"):
        dev, full, paper = lk[f"{split}_dev"], lk[f"{split}_allowance"], lk[f"{split}_delta"]
        out[f"{split}_violations_beyond_floor"] = int(np.sum(dev > full + floor))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(dev == 0, 0.0, dev / full)
            ratio_paper = np.where(dev == 0, 0.0, dev / paper)
        out[f"{split}_violations"] = int(np.sum(dev > full))
        out[f"{split}_worst_ratio"] = float(np.max(ratio))
        out[f"{split}_worst_t"] = float(lk["t"][int(np.argmax(ratio))])
        out[f"{split}_violations_without_precision"] = int(np.sum(dev > paper))
        out[f"{split}_worst_ratio_without_precision"] = float(np.max(ratio_paper))
    return out


def deviation_soundness(figs: dict[str, Inputs], form: str = "closed") -> dict[str, Any]:
    """soundness.json: for every run of every figure (seeds included, each run once), κ ∈ {1, 2} and
    recorded t, the measured mean |f − g̃_κ| (trace g{κ}_test_dev, g{κ}_train_dev: the p-bit proxy)
    against the allowance the bound charges (PROOFS.md steps D and P); counts per figure. A run
    violates if any point of either split exceeds its allowance."""
    seen: set = set()
    figures: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    for name, inp in figs.items():
        fig = figures.setdefault(name, {"curves": 0, "points": 0, "violations": 0, "violations_beyond_floor": 0,
                                        "violations_without_precision": 0})
        for r in inp.exp.runs:
            run = inp.runs[r.label]
            for kappa in (1, 2):
                key = (r.config.key(), kappa)
                links = run_links(run, kappa, form)
                bad = links["test_violations"] + links["train_violations"]
                bad_paper = links["test_violations_without_precision"] + links["train_violations_without_precision"]
                fig["curves"] += 1  # (run, κ) pairs
                fig["points"] += 2 * links["points"]
                fig["violations"] += bad
                fig["violations_beyond_floor"] += (links["test_violations_beyond_floor"]
                                                   + links["train_violations_beyond_floor"])
                fig["violations_without_precision"] += bad_paper
                if key not in seen:
                    seen.add(key)
                    runs.append({"figure": name, "run": r.label, "key": r.config.key(), "kappa": kappa,
                                 "p": int(run.info["p"]), **links})
    total = {"curves": len(runs), "points": sum(2 * r["points"] for r in runs),
             **{k: sum(r[f"test_{k}"] + r[f"train_{k}"] for r in runs)
                for k in ("violations", "violations_beyond_floor", "violations_without_precision")}}
    return {"what": "measured mean |f − g̃_κ| (test, train) ≤ Δε^κ part + p-bit part of the bound, every recorded t; "
                    "violations: raw excesses; violations_beyond_floor: excesses beyond the proved float error of "
                    "the measured column (PROOFS.md, the evaluation floor); the difference cannot be decided",
            "total": total, "figures": figures, "runs": runs}
