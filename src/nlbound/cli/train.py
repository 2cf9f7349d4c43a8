"""Train a nearly-linear network by gradient flow (eq. 4) and write its run directory.

--until tstar trains to t*_alpha(beta) (eq. 15 / 97, with the dataset's s); a number trains to that time."""

from __future__ import annotations

import argparse
import json
import sys

from nlbound import data as data_layer
from nlbound import training  # names looked up at call time (tests substitute TrainConfig, load_dataset)
from nlbound._io import check_output_dir
from nlbound._validate import ParameterError, allowed, validate_params
from nlbound.cli._common import DEFAULT_RUNS, RUNS_ENV, add_data_flags, runs_root
from nlbound.cli._dataset import add_dataset_arguments, dataset_fields, load_kwargs
from nlbound.cli._progress import progress_enabled
from nlbound.theory import t_star
from nlbound.training.adaptive import STIFFNESS
from nlbound.training.config import DTYPES, PRECISIONS, RunOptions, train_constraints
from nlbound.training.rundir import run_dir
from nlbound.theory import CONSTRAINTS as THEORY

# TrainConfig / RunOptions field -> the flag that sets it (others: "--" + field with dashes)
PARAM_FLAGS = {"t_end": "--until", "init_seed": "--seed"}
# without --out: <$NLBOUND_RUNS, else ./runs>/<config key>, the run cache of reproduce / sweep / plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    c = train_constraints()  # each range in --help is generated from the table TrainConfig checks
    add_dataset_arguments(parser, "image side K of the K x K downsampled images (7, 14, 28)")
    parser.add_argument("--depth", type=int, default=2, help=f"number of layers L, {allowed(c['depth'])}")
    parser.add_argument("--width", type=int, default=64, help=f"width of the hidden layers, {allowed(c['width'])}")
    parser.add_argument("--eps", type=float, default=0.01,
                        help=f"nonlinearity: leaky-ReLU slope 1 - eps, eps {allowed(c['eps'])}")
    parser.add_argument("--beta", type=float, default=1e-3,
                        help=f"spectral norm of each layer at t = 0, {allowed(c['beta'])}")
    parser.add_argument("--until", default="tstar",
                        help=f"'tstar' (t*_alpha(beta)) or a training time {allowed(c['t_end'])}")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help=f"alpha of t*_alpha for --until tstar, {allowed(THEORY['alpha'])} and > beta^L/s")
    parser.add_argument("--integrator", default="adaptive", choices=("gd", "adaptive"), help="integrator of the flow")
    parser.add_argument("--lr", type=float, default=1e-3, help=f"step of --integrator gd, {allowed(c['lr'])}")
    parser.add_argument("--rtol", type=float, default=None,
                        help=f"relative tolerance of --integrator adaptive, {allowed(c['rtol'])} (default: 3e-4 for "
                             "eps <= 0.01, 1e-4 above; nlbound.training.config.RTOL_BY_EPS)")
    parser.add_argument("--seed", type=int, default=0, help=f"initialisation seed, {allowed(c['init_seed'])}")
    parser.add_argument("--data-seed", type=int, default=0,
                        help=f"seed of the synthetic dataset, {allowed(c['data_seed'])}")
    parser.add_argument("--rank-one", action="store_true", help="rank-one input layer (rho = 1)")
    parser.add_argument("--sensitivity", action="store_true",
                        help="also integrate the tangent d(theta)/d(tau) at tau = eps and write its norms "
                             "(Lemma 7.1; --integrator adaptive only; about 2x the time, BENCHMARKS.md)")
    parser.add_argument("--stiffness", default="ignore", choices=STIFFNESS,
                        help="Rosenbrock method the adaptive integrator switches to once its steps are "
                             "stability-limited (deep nets past convergence; BENCHMARKS.md) [ignore]")
    parser.add_argument("--p", type=int, default=32, choices=PRECISIONS, help="proxy precision in bits")
    parser.add_argument("--dtype", default="float32", choices=DTYPES, help="dtype of gradient passes")
    parser.add_argument("--threads", type=int, default=RunOptions.threads,
                        help="torch threads (1 is fastest here: see BENCHMARKS.md)")
    add_data_flags(parser)
    parser.add_argument("--out", default=None, help=f"run directory (default: ${RUNS_ENV}/<config key>, else ./{DEFAULT_RUNS}/<config key>)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _until(text: str) -> float | None:
    """--until as a time, or None for 'tstar' (computed once the dataset's s is known)."""
    if text == "tstar":
        return None
    try:
        return float(text)
    except ValueError:
        raise ParameterError("--until", text, "'tstar' or a positive number") from None


def _t_star(args: argparse.Namespace, s: float) -> float:
    """t*_alpha(beta) of eq. 15 / 97; a domain error names --until tstar (a range error, its flag)."""
    try:
        return float(t_star(args.alpha, args.beta, s, args.depth))
    except ParameterError:
        raise
    except ValueError as exc:  # alpha <= beta^L / s: t* is undefined for this dataset
        raise ValueError(f"--until tstar is undefined (s == {s:.6g}): {exc}") from None


def _check_paths(args: argparse.Namespace) -> None:
    """Output and cache paths, before any work (one-line errors naming the flag)."""
    check_output_dir(args.out if args.out is not None else runs_root(), "--out")
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir", writable=False)


def _check_before_data(args: argparse.Namespace, fields: dict, config_cls: type) -> None:
    """Every check that does not need the data, before it is loaded (seconds for 28x28 MNIST): the
    whole config with a stand-in horizon (--until tstar: t = lr, inside gd's lr range; the real t*
    is validated again once s is known) and --alpha in (0, 1)."""
    validate_params({"alpha": THEORY["alpha"]}, {"alpha": args.alpha})
    config_cls(**fields, t_end=args.lr if args.integrator == "gd" and args.lr > 0 else 1.0)


def run(args: argparse.Namespace) -> int:
    _check_paths(args)
    data = dataset_fields(args)
    fields = dict(**data, depth=args.depth, width=args.width, eps=args.eps,
                  beta=args.beta, rank_one=args.rank_one, init_seed=args.seed, data_seed=args.data_seed,
                  integrator=args.integrator, lr=args.lr, rtol=args.rtol, dtype=args.dtype, p=args.p,
                  sensitivity=args.sensitivity, stiffness=args.stiffness)
    t_end = _until(args.until)
    # the whole config is validated before the data is loaded
    if t_end is None:
        _check_before_data(args, fields, training.TrainConfig)
    config = training.TrainConfig(**fields, t_end=t_end) if t_end is not None else None
    ds = data_layer.load_dataset(**load_kwargs(data), data_dir=args.data_dir, cache_dir=args.cache_dir, seed=args.data_seed)
    if config is None:  # eq. 15 (L = 2) / eq. 97 (L >= 3) with the dataset's s
        config = training.TrainConfig(**fields, t_end=_t_star(args, ds.s))
    options = RunOptions(out_dir=args.out or str(run_dir(runs_root(), config)), progress=progress_enabled(args.no_progress),
                         threads=args.threads, data_dir=args.data_dir, cache_dir=args.cache_dir)
    result = training.train(config, ds, options)
    _report(args, config, result)
    return 0


def _report(args: argparse.Namespace, config, result) -> None:
    tr, info = result.trace, result.info
    summary = {"out": str(result.out_dir), "t_end": config.t_end, "grad_evals": info["grad_evals"],
               "wall_s": info["wall_s"], "train_risk": float(tr["train_risk"][-1]),
               "test_risk": float(tr["test_risk"][-1]), "train_loss": float(tr["train_loss"][-1]),
               "test_loss": float(tr["test_loss"][-1]), "status": info["status"], "key": info["key"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"trained to t = {config.t_end:g} in {info['wall_s']:.1f} s ({info['grad_evals']} gradient "
              f"evaluations): train risk {summary['train_risk']:.4f}, test risk {summary['test_risk']:.4f}; "
              f"written to {result.out_dir}", file=sys.stdout)
