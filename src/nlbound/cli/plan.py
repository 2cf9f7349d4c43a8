"""`nlbound plan`: choose beta, eps, gamma, the stopping time, kappa and p BEFORE training, from the a-priori bound.

Every configuration of a declared grid (per depth and beta: init x t x gamma x eps x kappa x p) is
scored by Theorem 5.2 (eq. 6) in one vectorised call. The margin-risk term is PREDICTED: it is the
train margin risk of the linear twin (eps = 0, same initialisation, trained from Y X~^T alone), or,
for data given only as --d --m --s, the --margin-risk you supply. Upsilon and the deviation term are
exact. Choosing the best of N points is paid for by a union bound: every point is scored at delta/N.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from nlbound._io import check_output_dir, check_output_file
from nlbound._validate import Integral, Interval, Options, Real, allowed, validate_params
from nlbound.cli._common import add_runs_flag, runs_dir
from nlbound.cli._dataset import add_dataset_arguments, dataset_fields, load_kwargs
from nlbound.cli._output import write_stdout
from nlbound.cli._progress import Status, progress_enabled
from nlbound.data import VALID_SIZES, load_dataset
from nlbound.planning import PlanData, PlanGrid, eps_grid, make_plan, report
from nlbound.planning.grid import DATA_CONSTRAINTS, EPS_GRID_CONSTRAINTS, GRID_CONSTRAINTS
from nlbound.planning.plot import plot_plan
from nlbound.planning.report import record
from nlbound.planning.verify import verify

_MAY_BE_NONE = ("--gamma-beta", "--gamma-alpha", "--alpha", "--t-factors")  # "none": leave that family out
# PlanGrid / PlanData / eps_grid parameter -> its flag (cli.main reports a ParameterError under it)
PARAM_FLAGS = {"depths": "--depth", "betas": "--beta", "inits": "--init", "epss": "--eps", "kappas": "--kappa",
               "ps": "--p", "gamma_beta_factors": "--gamma-beta", "gamma_alpha_factors": "--gamma-alpha",
               "gamma_alphas": "--gamma-alpha-of", "alphas": "--alpha", "t_factors": "--t-factors",
               "init_seed": "--seed", "form": "--form"}
FLAGS = {k: v for k, v in PARAM_FLAGS.items() if k not in ("epss", "form")}  # list-valued grid axes read by _grid
_CLI = {"top": Interval(Integral, 1, None), "verify": Interval(Integral, 0, None),
        "target": Interval(Real, 0, None, closed="neither"), "processes": Interval(Integral, 1, 64),
        "threads": Interval(Integral, 1, None), "size": Interval(Integral, 1, None),
        "data_seed": Interval(Integral, 0, None)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    G, D, E = GRID_CONSTRAINTS, DATA_CONSTRAINTS, EPS_GRID_CONSTRAINTS  # --help's ranges: the tables checked
    add_dataset_arguments(parser, "image side (7, 14, 28)")
    a("--data-dir", default=None, help="directory of IDX files (default: see README)")
    a("--data-seed", type=int, default=0, help=f"seed of the synthetic dataset, {allowed(_CLI['data_seed'])} [default 0]")
    a("--d", default=None,
      help=f"data not on disk: input dimension (rank of X~), {allowed(D['d'])}; needs --m --s --margin-risk")
    a("--m", default=None, help=f"data not on disk: number of training samples, {allowed(D['m'])} and >= d")
    a("--s", default=None, help=f"data not on disk: s = ||Y X~^+||, {allowed(D['s'])}")
    a("--margin-risk", default=None,
      help=f"data not on disk: the train margin risk assumed at every point, {allowed(D['margin_risk'])}")
    a("--depth", default="2", help=f"L, comma-separated list, each {allowed(G['depths'])} [default 2]")
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--eps", default=None, help=f"eps, one value or a list, each {allowed(G['epss'])} [default 0.001]")
    g.add_argument("--eps-max", default=None,
                   help=f"log grid of eps from --eps-min to this, 3 per decade; {allowed(E['eps_max'])}")
    a("--eps-min", default="0.001", help=f"smallest eps of the --eps-max grid, {allowed(E['eps_min'])} [default 0.001]")
    a("--beta", default=None, help=f"beta list, each {allowed(G['betas'])} [default 1e-4,3e-4,...,0.3]")
    a("--init", default="default,rank-one", help="W1(0): default (rho measured) and/or rank-one (rho = 1)")
    a("--kappa", default="1,2", help=f"kappa, each {allowed(G['kappas'])} [default 1,2]")
    a("--p", default="16,32", help=f"precision p, each {allowed(G['ps'])} [default 16,32]")
    a("--gamma-beta", default=None, help="gamma = f beta^L for these f ('none': no such gamma), each "
      f"{allowed(G['gamma_beta_factors'])} [default 1e-3,1e-2,0.1,1]")
    a("--gamma-alpha", default=None,
      help=f"gamma = f alpha for these f ('none'), each {allowed(G['gamma_alpha_factors'])} [default 1e-3,1e-2,0.1,1]")
    a("--gamma-alpha-of", default=None, help=f"the alpha of --gamma-alpha, {allowed(G['gamma_alphas'])} [default 0.5]")
    a("--alpha", default=None, help=f"stopping times t*_alpha for these alpha ('none'), each {allowed(G['alphas'])} "
      "[default 0.1,...,0.9,0.95,0.99]")
    a("--t-factors", default=None, help=f"stopping times f t*_0.5 ('none'), each {allowed(G['t_factors'])} "
      "[default: the paper's recording times, see PlanGrid]")
    a("--delta", default="0.05", help=f"failure probability of the whole plan, {allowed(G['delta'])} [default 0.05]")
    a("--width", default="64", help=f"hidden width (the twin and --verify), {allowed(G['width'])} [default 64]")
    a("--seed", default="0", help=f"initialisation seed (the twin and --verify), {allowed(G['init_seed'])} [default 0]")
    a("--target", type=float, default=0.5,
      help=f"a bound below this is non-vacuous, {allowed(_CLI['target'])} [default 0.5]")
    a("--top", type=int, default=10, help=f"how many trained networks to list, {allowed(_CLI['top'])} [default 10]")
    a("--json", action="store_true", help="JSON lines (kind: top, eps, verify) instead of tables")
    a("--plot", default=None, metavar="FILE", help="heat map of the best predicted bound over (beta, eps)")
    a("--verify", type=int, default=0, metavar="K", help="train the K best and print realised vs predicted")
    a("--verify-from", default="top", choices=("top", "frontier"),
      help="top: the K best networks; frontier: the K best-per-eps points nearest the target [default top]")
    add_runs_flag(parser, " for --verify")
    a("--processes", type=int, default=2,
      help=f"training processes for --verify, {allowed(_CLI['processes'])} [default 2]")
    a("--no-progress", action="store_true", help="no status line on stderr (also off with --json)")
    a("--threads", type=int, default=None, help="threads of torch and bound_terms (default: all cores)")
    a("--form", default="closed", help="bound_terms form: closed, ode, kl, ode-kl, so, ode-so, kl-so or ode-kl-so "
                                       "(kl: the counting step in kl form at the predicted margin risk; so: the "
                                       "centred second-order step) [default closed]")


def _floats(flag: str, text) -> list[float]:
    if str(text).strip().lower() == "none" and flag in _MAY_BE_NONE:
        return []
    out = []
    for item in str(text).split(","):
        try:
            out.append(float(item.strip()))
        except ValueError:
            raise ValueError(f"{flag} == {item.strip()!r}, must be a number (or a comma-separated list)") from None
    return out


def _one(flag: str, text) -> float:
    values = _floats(flag, text)
    if len(values) != 1:
        raise ValueError(f"{flag} == {text!r}, must be a single number")
    return values[0]


def _grid(args):
    kw: dict[str, Any] = {"inits": [v.strip().replace("-", "_") for v in args.init.split(",")],
          "delta": _one("--delta", args.delta), "width": _one("--width", args.width),
          "init_seed": _one("--seed", args.seed)}
    for field, flag in FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if field not in kw and value is not None:
            kw[field] = _floats(flag, value)
    if args.eps is not None:
        kw["epss"] = _floats("--eps", args.eps)
    elif args.eps_max is not None:
        kw["epss"] = eps_grid(_one("--eps-max", args.eps_max), _one("--eps-min", args.eps_min))
    return PlanGrid(**kw)


def _data(args):
    given = {k: getattr(args, k) for k in ("d", "m", "s", "margin_risk")}
    if all(v is None for v in given.values()):
        return PlanData.from_dataset(load_dataset(**load_kwargs(dataset_fields(args)), data_dir=args.data_dir,
                                                  seed=args.data_seed))
    missing = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is None]
    if missing:
        raise ValueError(f"{missing[0]} == None, must be given with --d --m --s (data not on disk)")
    if args.verify:
        raise ValueError(f"--verify == {args.verify}, must be 0 for data given as --d --m --s (nothing to train)")
    vals: dict[str, Any] = {k: _one(f"--{k.replace('_', '-')}", v) for k, v in given.items()}  # PlanData checks d, m
    return PlanData(name=f"d={vals['d']:g} m={vals['m']:g} s={vals['s']:g}", d=vals["d"], m=vals["m"],
                    s=vals["s"], n_in=vals["d"], margin_risk=vals["margin_risk"])


def run(args: argparse.Namespace) -> int:
    with Status(progress_enabled(args.no_progress or args.json), "plan") as status:
        return _run(args, status)


def _run(args: argparse.Namespace, status: Status) -> int:
    status.step("checking the flags")
    validate_params({**_CLI, "size": Options(*VALID_SIZES)}, {name: getattr(args, name) for name in _CLI})
    grid = _grid(args)
    if args.plot:
        check_output_file(args.plot, "--plot")  # before any work
    if args.verify:
        check_output_dir(*runs_dir(args))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    status.step("loading the data" if args.d is None else "reading --d --m --s")
    data = _data(args)
    plan = make_plan(grid, data, args.target, workers=args.threads, status=status, form=args.form)
    status.close()  # --verify has the runner's own bar; the tables follow on stdout
    verified = _verify(plan, args, report.verify_indices(plan, args.verify, args.verify_from)) if args.verify else []
    if args.plot:
        plot_plan(plan, args.plot)
    text = report.json_lines(plan, args.top, verified) if args.json else report.tables(plan, args.top, verified)
    write_stdout(text)  # a reader that has gone (| head) is not an error
    return 0


def _runs(args) -> str:
    return runs_dir(args)[0]


def _verify(plan, args, indices) -> list[dict]:
    rows = verify(plan, indices, **dataset_fields(args), cache_dir=_runs(args), data_seed=args.data_seed,
                  data_dir=args.data_dir, processes=args.processes,
                  progress=progress_enabled(args.no_progress or args.json))
    keys = ("realised_margin_risk", "realised_upsilon", "realised_deviation", "realised_precision", "realised_bound",
            "test_risk",
            "train_risk", "run")
    return [record(plan, i, "verify", {k: r[k] for k in keys}) for i, r in zip(indices, rows, strict=True)]
