"""`nlbound compare RUN_DIR`: Theorem 5.2 and every baseline bound on the same trained net at the same t.

Baselines (nlbound.baselines): counting bound of the linear twin (Upsilon_1), p-bit counting and the
VC bound (Bartlett, Harvey, Liaw & Mehrabian 2019) for the whole net, the spectral PAC-Bayes margin
bound (Neyshabur, Bhojanapalli & Srebro 2018) and a PAC-Bayes bound optimised on the net (Dziugaite &
Roy 2017). The net's weights are re-integrated from the run's config; results are cached under
RUN_DIR/baselines/. Bad input: one line naming the flag and its allowed range, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from nlbound._io import check_output_dir
from nlbound._validate import Interval, ParameterError, Real, allowed, check_param
from nlbound.baselines import CompareSettings, PacBayesSettings, compare_run
from nlbound.cli._common import add_data_flags
from nlbound.cli._output import write_stdout
from nlbound.cli._progress import Status, progress_enabled
from nlbound.evaluation.run_bound import RUN_FORMS

# the theory's delta in (0, 1), above the 0.01 that PAC-Bayes gives its Monte-Carlo step (delta_mc)
_DELTA = Interval(Real, 0.01, 1, closed="neither")
ORDER = ("theorem_5_2", "linear_counting", "network_counting", "network_vc", "spectral_nbs2018", "pac_bayes_dr2017")
_KEY_INPUTS = {
    "theorem_5_2": ("gamma", "kappa", "margin_risk", "upsilon", "deviation"),
    "linear_counting": ("emp_risk", "n_params", "p", "m", "gap"),
    "network_counting": ("emp_risk", "n_params", "p", "m", "gap"),
    "network_vc": ("emp_risk", "vc_dim", "m", "gap"),
    "spectral_nbs2018": ("gamma", "margin_risk", "beta", "kl", "union_events"),
    "pac_bayes_dr2017": ("gibbs_train_error_mc", "kl", "lambda", "n_mc", "m", "b_re"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `nlbound train`")
    parser.add_argument("--at", type=float, default=None,
                        help="time t (the recorded time nearest to it is used; default: the last one)")
    parser.add_argument("--delta", type=float, default=0.05,
                        help=f"failure probability shared by every bound, {allowed(_DELTA)} (default 0.05); "
                             "PAC-Bayes splits it as delta - 0.01 (PAC-Bayes-kl) + 0.01 (Monte Carlo)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of the re-integration and the PAC-Bayes optimisation (default: torch's own choice)")
    add_data_flags(parser)
    parser.add_argument("--form", default="closed",
                        help="Theorem 5.2's form: closed (the paper's, default), ode, kl, ode-kl, so, ode-so, kl-so, "
                             "ode-kl-so, or runtime / runtime-kl (the run-time variant, a-posteriori); "
                             "docs/PROOFS.md")
    parser.add_argument("--no-cache", action="store_true", help="recompute even if a cached result exists")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no status line on stderr")


def _settings(delta: float):
    try:
        check_param("delta", delta, _DELTA)
    except ParameterError as exc:
        raise exc.renamed("--delta") from None
    return CompareSettings(delta=delta, pacbayes=PacBayesSettings(delta_pb=delta - 0.01, delta_mc=0.01))


def _inputs(name: str, rec: dict) -> str:
    src = rec if name == "theorem_5_2" else rec.get("inputs", {})
    parts = []
    for k in _KEY_INPUTS[name]:
        v = src.get(k)
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def _table(res: dict) -> str:
    lines = [f"t = {res['t']:.6g}   train risk {res['train_risk']:.4f}   test risk {res['test_risk']:.4f}   "
             f"m = {res['m']}   delta = {res['delta']:g}",
             f"{'bound':<18} {'value':>9}  {'a-priori':<8}  inputs"]
    for name in ORDER:
        rec = res["bounds"][name]
        lines.append(f"{name:<18} {rec['bound']:>9.4f}  {'yes' if rec['a_priori'] else 'no':<8}  {_inputs(name, rec)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "run.json").is_file() or not (run_dir / "trace.csv").is_file():
        raise ValueError(f"RUN_DIR == {str(run_dir)!r}, must be a run directory (with run.json and trace.csv)")
    if args.at is not None and not (math.isfinite(args.at) and args.at >= 0):
        raise ParameterError("--at", args.at, "in [0, inf) (a recorded time of the run)")
    if args.threads is not None and args.threads < 1:
        raise ParameterError("--threads", args.threads, "an integer >= 1")
    if args.form not in RUN_FORMS:
        raise ParameterError("--form", args.form, f"one of {', '.join(RUN_FORMS)}")
    settings = _settings(args.delta)
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir", writable=False)
    try:
        with Status(progress_enabled(args.no_progress), "compare") as status:
            res = compare_run(run_dir, args.at, settings, data_dir=args.data_dir, cache_dir=args.cache_dir,
                              threads=args.threads, use_cache=not args.no_cache, step=status.step, form=args.form)
    except ParameterError as exc:
        raise (exc.renamed("--at") if exc.name == "at" else exc) from None
    write_stdout((json.dumps(res, indent=2) if args.json else _table(res)) + "\n")  # `| head`: quietly
    return 0
