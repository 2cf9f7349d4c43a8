"""Theorem 5.2 with the counting step in Hoeffding (eq. 24) vs kl form (and the centred second-order step, "so") on the main runs of Figs. 1-5.

Usage: python scripts/kl_counting_table.py CACHE_DIR [--train] [--figures fig1,fig2,...] [--ode]

Trains (with --train) the figures' main runs (seed 0, no GD cross-check) into CACHE_DIR through the
package's runner, then prints one Markdown row per (figure, run, bound variant with all terms): the
minimum over the recorded times of the bound in each form (the time, margin risk and counting term
at that minimum). The minimum over t is a SELECTION, not priced here: the same for both forms, so
the columns compare the forms; neither is a bound for the selected t without the union price.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from nlbound.analysis.bounds import bound_curve
from nlbound.paper.figures import Context, build
from nlbound.execution.runner import run_all
from nlbound.analysis.traces import load_run_dir


def _best(curve: dict) -> tuple[float, int]:
    b = np.where(np.isfinite(curve["bound"]), curve["bound"], np.inf)
    i = int(np.argmin(b))
    return float(b[i]), i


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--figures", default="fig1,fig2,fig3,fig4,fig5")
    ap.add_argument("--ode", action="store_true", help="also the ode and ode-kl-so forms")
    args = ap.parse_args()
    exps = build(args.figures.split(","), Context())
    mains = [(e, r) for e in exps for r in e.main_runs()]
    if args.train:
        run_all([r.config for _, r in mains], args.cache, processes=1, progress=False)
    forms = ("closed", "kl", "so", "kl-so") + (("ode", "ode-kl-so") if args.ode else ())
    head = ["figure", "run", "variant", "γ"] + [f"B {f}" for f in forms] + ["t (kl)", "R̂_γ (kl)", "Υ", "Υ kl"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for exp, spec in mains:
        run = load_run_dir(f"{args.cache}/{spec.config.key()}", spec.config)
        for v in exp.bounds:
            if v.terms != "full" or v.p != spec.config.p:  # each run at the p it was trained with
                continue
            curves = {f: bound_curve(run, v, form=f) for f in forms}
            best = {f: _best(c) for f, c in curves.items()}
            bk, ik = best["kl"]
            ck = curves["kl"]
            row = [exp.name, spec.label, v.label, f"{float(ck['gamma']):.3g}"]
            row += [f"{best[f][0]:.4f}" for f in forms]
            row += [f"{ck['t'][ik]:.3g}", f"{ck['margin_risk'][ik]:.4f}",
                    f"{curves['closed']['upsilon'][ik]:.4f}", f"{ck['upsilon'][ik]:.4f}"]
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
