"""The run-time (a-posteriori) variant of Theorem 5.2 next to the a-priori forms, on figure runs.

Usage: python scripts/runtime_table.py CACHE_DIR [--train] [--runs "fig3:ρ=1 p=32,fig1:β=0.001,..."]

Trains (with --train) the named main runs into CACHE_DIR (the recorder writes the run-time columns),
then prints, per run and κ = 2 bound variant of its figure: the minimum over the recorded times of
the bound in the a-priori forms closed, kl, kl-so and the run-time variant (Hoeffding and kl
counting), each with its t; and the soundness check of the run-time deviation allowance at every
recorded t: measured mean |f − g₂| on the test set ≤ (γ D_test/√d)·mean‖x̃‖_test and on the training
set ≤ γ D_train (counts of violations). Minima over t are SELECTIONS (not priced), the same for all
columns, so the columns compare the forms.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from nlbound.data import load_dataset
from nlbound.analysis.bounds import bound_curve, run_params
from nlbound.paper.figures import Context, build
from nlbound.execution.runner import run_all
from nlbound.analysis.traces import gamma_col, load_run_dir
from nlbound.theory.runtime import runtime_terms

DEFAULT = "fig3:ρ=1 p=32,fig1:β=0.001,fig4:ε=0.1,fig3:default init p=32"


def _runtime(run, v, counting):
    p = run_params(run)
    L, gamma = p["depth"], v.gamma(p["beta"])
    col = run.col
    stack = lambda fmt: np.stack([col(fmt.format(l)) for l in range(1, L + 1)], axis=-1)  # noqa: E731
    return runtime_terms(p["d"], p["m"], L, v.kappa, v.p, v.delta, p["eps"], gamma,
                         col(gamma_col("train_margin_risk", gamma)), stack("gap_W{}_spec"), stack("W{}_spec"),
                         stack("twin_W{}_spec"), col("gap_W1X_fro_over_sqrt_m"), col("W1X_fro_over_sqrt_m"),
                         col("twin_W1X_fro_over_sqrt_m"), counting=counting)


def _priced(run, spec):
    """Every recorded (t, γ) and κ ∈ {1, 2} at δ/N (N = 2 n_t n_γ, the union bound over the grid):
    the minimum is then a bound. Returns {form: (bound, t, γ, κ)} for closed, kl-so, run-time kl."""
    from nlbound.theory import bound_terms

    p = run_params(run)
    t, gam = run.t, np.asarray(spec.config.gammas, dtype=float)
    n = 2 * t.size * gam.size
    delta = 0.05 / n
    mr = np.stack([run.col(gamma_col("train_margin_risk", g)) for g in gam], axis=1)  # (n_t, n_γ)
    L = p["depth"]
    stack = lambda fmt: np.stack([run.col(fmt.format(l)) for l in range(1, L + 1)], axis=-1)[:, None, :]  # noqa: E731
    out = {}
    for kappa in (1, 2):
        kw = dict(d=p["d"], m=p["m"], depth=L, kappa=kappa, p=spec.config.p, delta=delta, eps=p["eps"])
        res = {f: bound_terms(**kw, beta=p["beta"], gamma=gam[None, :], rho=p["rho"], s=p["s"], t=t[:, None],
                              form=f, margin_risk=mr)["bound"] for f in ("closed", "kl-so")}
        res["run-time kl"] = runtime_terms(**kw, gamma=gam[None, :], margin_risk=mr, gap_spec=stack("gap_W{}_spec"),
                                           w_spec=stack("W{}_spec"), twin_spec=stack("twin_W{}_spec"),
                                           gap_w1x=run.col("gap_W1X_fro_over_sqrt_m")[:, None],
                                           w1x=run.col("W1X_fro_over_sqrt_m")[:, None],
                                           twin_w1x=run.col("twin_W1X_fro_over_sqrt_m")[:, None],
                                           counting="kl")["bound"]
        for f, b in res.items():
            b = np.where(np.isfinite(b), b, np.inf)
            i, j = np.unravel_index(int(np.argmin(b)), b.shape)
            if f not in out or b[i, j] < out[f][0]:
                out[f] = (float(b[i, j]), float(t[i]), float(gam[j]), kappa)
    return out, n


def _min(t, b):
    b = np.where(np.isfinite(b), b, np.inf)
    i = int(np.argmin(b))
    return f"{b[i]:.4f} (t={t[i]:.3g})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--runs", default=DEFAULT)
    ap.add_argument("--priced", action="store_true",
                    help="instead: the minimum over every recorded (t, γ) and κ ∈ {1, 2}, each point at δ/N "
                         "(union bound: a bound, not a selection)")
    args = ap.parse_args()
    wanted = [tuple(x.split(":", 1)) for x in args.runs.split(",")]
    exps = {e.name: e for e in build(sorted({f for f, _ in wanted}), Context())}
    specs = [(exps[f], exps[f].run(label)) for f, label in wanted]
    if args.train:
        run_all([s.config for _, s in specs], args.cache, processes=1, progress=False)
    if args.priced:
        print("| run | N (grid) | closed | kl-so | run-time kl |")
        print("|---|---|---|---|---|")
        for exp, spec in specs:
            run = load_run_dir(f"{args.cache}/{spec.config.key()}", spec.config)
            out, n = _priced(run, spec)
            risk = dict(zip(run.t.tolist(), run.col("test_risk").tolist(), strict=True))
            cells = [f"{v[0]:.4f} (t={v[1]:.3g}, γ={v[2]:.3g}, κ={v[3]}; test risk {risk[v[1]]:.4f})"
                     for v in (out[f] for f in ("closed", "kl-so", "run-time kl"))]
            print(f"| {exp.name} {spec.label} | {n} | " + " | ".join(cells) + " |")
        return 0
    head = ["run", "variant", "closed", "kl", "kl-so", "run-time", "run-time kl", "violations test/train"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for exp, spec in specs:
        run = load_run_dir(f"{args.cache}/{spec.config.key()}", spec.config)
        ds = load_dataset(spec.config.dataset, size=spec.config.size)
        mean_norm = float(np.mean(np.linalg.norm(ds.x_test, axis=1)))
        d, L = run_params(run)["d"], run_params(run)["depth"]
        # the deviation columns are differences of outputs evaluated in the run's dtype: absolute error
        # <= 16 u max|f| (tests/training/test_recording.py's stated tolerance), max|f| <= prod ||W_l|| max ||x~||
        u = 2.0**-24 if spec.config.dtype == "float32" else 2.0**-53
        fmax = np.prod([run.col(f"W{l}_spec") for l in range(1, L + 1)], axis=0)
        float_tol = {k: 16 * u * fmax * float(np.max(np.linalg.norm(x, axis=1)))
                     for k, x in (("test", ds.x_test), ("train", ds.x_train))}
        for v in exp.bounds:
            if v.terms != "full" or v.kappa != 2 or v.p != spec.config.p:  # each run at the p it was trained with
                continue
            t = run.t
            cells = [_min(t, bound_curve(run, v, form=f)["bound"]) for f in ("closed", "kl", "kl-so")]
            rt, rk = _runtime(run, v, "hoeffding"), _runtime(run, v, "kl")
            cells += [_min(t, rt["bound"]), _min(t, rk["bound"])]
            gamma = v.gamma(run_params(run)["beta"])
            allow = {"test": gamma * rt["dev_test"] / np.sqrt(d) * mean_norm, "train": gamma * rt["dev_train"]}
            raw = [int(np.sum(run.col(f"g2_{k}_dev") > allow[k])) for k in ("test", "train")]
            tol = [int(np.sum(run.col(f"g2_{k}_dev") > allow[k] + float_tol[k])) for k in ("test", "train")]
            print("| " + " | ".join([f"{exp.name} {spec.label}", v.label, *cells,
                                     f"{raw[0]}/{raw[1]} raw, {tol[0]}/{tol[1]} beyond rounding (of {t.size})"]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
