"""Train a nearly-linear network by gradient flow (eq. 4) and write its run directory.

--until tstar trains to t*_alpha(beta) (eq. 15 / 97, with the dataset's s); a number trains to that time."""

from __future__ import annotations

import argparse
import json
import sys

from nlbound.training.config import DATASETS, DTYPES, PRECISIONS, TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--size", type=int, default=7, help="image side (7, 14, 28)")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--eps", type=float, default=0.01, help="nonlinearity: slope 1 - eps")
    parser.add_argument("--beta", type=float, default=1e-3, help="spectral norm of each layer at t = 0")
    parser.add_argument("--until", default="tstar", help="'tstar' (t*_alpha) or a time")
    parser.add_argument("--alpha", type=float, default=0.5, help="alpha of t*_alpha for --until tstar")
    parser.add_argument("--integrator", default="adaptive", choices=("gd", "adaptive"))
    parser.add_argument("--lr", type=float, default=1e-3, help="GD step")
    parser.add_argument("--rtol", type=float, default=1e-5, help="adaptive relative tolerance")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--rank-one", action="store_true", help="rank-one input layer (rho = 1)")
    parser.add_argument("--p", type=int, default=32, choices=PRECISIONS, help="proxy precision in bits")
    parser.add_argument("--dtype", default="float32", choices=DTYPES, help="dtype of gradient passes")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=None, help="run directory (default runs/<config key[:12]>)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    parser.add_argument("--no-progress", action="store_true")


def _t_end(args, ds) -> float:
    if args.until == "tstar":
        from nlbound.training.run import t_star_default

        t = t_star_default(args.beta, float(ds.s), args.depth, alpha=args.alpha)
        if t is None:
            raise ValueError(f"until == 'tstar' is undefined for alpha == {args.alpha:g}, beta == {args.beta:g}")
        return t
    try:
        return float(args.until)
    except ValueError:
        raise ValueError(f"until == {args.until!r}, must be 'tstar' or a positive number") from None


def run(args: argparse.Namespace) -> int:
    from nlbound.training import RunOptions, train
    from nlbound.training.run import _load_dataset

    common = dict(dataset=args.dataset, size=args.size, depth=args.depth, width=args.width, eps=args.eps,
                  beta=args.beta, rank_one=args.rank_one, init_seed=args.seed, data_seed=args.data_seed,
                  integrator=args.integrator, lr=args.lr, rtol=args.rtol, dtype=args.dtype, p=args.p)
    TrainConfig(**common)  # validate before loading data
    options = RunOptions(out_dir=args.out, progress=not args.no_progress, threads=args.threads,
                         data_dir=args.data_dir, cache_dir=args.cache_dir)
    ds = _load_dataset(TrainConfig(**common), options)
    config = TrainConfig(**common, t_end=_t_end(args, ds))
    result = train(config, ds, options)
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
    return 0
