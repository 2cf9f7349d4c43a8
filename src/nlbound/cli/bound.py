"""`nlbound bound`: evaluate Theorem 5.2 (eq. 6) over the cartesian product of the given parameter lists.

Every numeric flag takes one number or a comma-separated list; one row per combination (evaluated
vectorised). Give the training time either directly (--t) or as t*_alpha(beta) (--alpha; eq. 15 for
L = 2, eq. 97 for L >= 3). Values beyond float64 (and u, v, Delta for L >= 3 at or after the blow-up
time of u) are +inf: printed "inf" in the table; in --json they are null and listed under "overflow".
NaN is never produced. Bad input: one line naming the flag and its allowed range, exit status 2.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys

import numpy as np

from nlbound.theory import bound_terms
from nlbound.theory._checks import validate
from nlbound.theory.training_time import t_star

# flag -> (default or None if required, allowed range shown in --help)
INPUTS = {
    "d": (None, "input dimension (rank of X), integer >= 1"),
    "m": (None, "number of training samples, integer >= d"),
    "depth": ("2", "number of layers L, integer >= 2 (paper default 2)"),
    "kappa": ("2", "proxy order kappa in {1, 2} (paper default 2)"),
    "p": ("32", "floating point precision in bits, >= 1 (paper default 32)"),
    "delta": ("0.05", "failure probability, in (0, 1) (default 0.05)"),
    "eps": (None, "leaky-ReLU nonlinearity epsilon, in [0, 1] (paper experiments: 0.001, 0.01)"),
    "beta": (None, "initial spectral norm bound beta, > 0"),
    "gamma": (None, "margin gamma, > 0"),
    "rho": (None, "sqrt of the stable rank of W1(0), >= 1 (1 for a rank-one input layer)"),
    "s": (None, "s = ||Y X~^+||, in (0, 1] (a dataset statistic)"),
}
INTEGER_INPUTS = ("d", "m", "depth", "kappa")  # written as JSON integers (p too when integer-valued)
OUTPUTS = ["upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation", "a_priori"]
TABLE_OUTPUTS = ["upsilon", "u", "v", "Delta", "deviation", "a_priori"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, (default, text) in INPUTS.items():
        req = default is None
        parser.add_argument(f"--{name}", required=req, default=default, metavar="X[,X...]",
                            help=text + ("" if req else f" [default {default}]") + (" (required)" if req else ""))
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--t", metavar="T[,T...]", help="training time t >= 0")
    g.add_argument("--alpha", metavar="A[,A...]",
                   help="evaluate at t = t*_alpha(beta); alpha in (beta^L/s, 1)")
    parser.add_argument("--margin-risk", metavar="R[,R...]", default=None,
                        help="empirical margin risk in [0, 1]; adds the column bound = R + a_priori (eq. 6)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: every input under its flag name and every term; "
                             "+inf values become null and their keys are listed in \"overflow\"")


def _parse_list(flag: str, text: str) -> list[float]:
    out = []
    for item in str(text).split(","):
        item = item.strip()
        try:
            out.append(float(item))
        except ValueError:
            raise ValueError(f"--{flag} == {item!r}, must be a number (or a comma-separated list of numbers)") from None
    return out


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:.6g}"


def run(args: argparse.Namespace) -> int:
    names = list(INPUTS)
    lists = {n: _parse_list(n, getattr(args, n)) for n in names}
    tname = "t" if args.t is not None else "alpha"
    lists[tname] = _parse_list(tname, args.t if args.t is not None else args.alpha)
    if args.margin_risk is not None:
        lists["margin_risk"] = _parse_list("margin-risk", args.margin_risk)
    keys = list(lists)
    for k in keys:  # per-flag range checks, before the product (clear one-line messages)
        try:
            for v in lists[k]:
                validate(**{k: v})
        except ValueError as exc:
            raise ValueError(f"--{k.replace('_', '-')} == {str(exc).split(' == ', 1)[1]}") from None
    grid = np.array(list(itertools.product(*(lists[k] for k in keys))), dtype=np.float64)
    cols = {k: grid[:, i] for i, k in enumerate(keys)}
    p = {n: cols[n] for n in names}
    try:
        validate(d=p["d"], m=p["m"])
    except ValueError as exc:
        raise ValueError("--" + str(exc).replace("d == ", "--d == ")) from None
    if tname == "alpha":
        try:
            cols["t"] = t_star(cols["alpha"], p["beta"], p["s"], p["depth"])
        except ValueError as exc:
            raise ValueError(f"--{exc}") from None
    terms = bound_terms(t=cols["t"], **p)
    if "margin_risk" in cols:
        terms["bound"] = cols["margin_risk"] + terms["a_priori"]
    in_keys = names + (["alpha"] if tname == "alpha" else []) + ["t"] + (["margin_risk"] if "margin_risk" in cols else [])
    out_keys = OUTPUTS + (["bound"] if "bound" in terms else [])
    n = grid.shape[0]
    if args.json:
        lines = []
        for i in range(n):
            row, over = {}, []
            for k in in_keys:
                v = float(cols[k][i])
                row[k] = int(v) if k in INTEGER_INPUTS or (k == "p" and v.is_integer()) else v
            for k in out_keys:
                v = float(terms[k][i])
                if v == math.inf:
                    over.append(k)
                    v = None
                row[k] = v
            if over:
                row["overflow"] = over
            lines.append(json.dumps(row, allow_nan=False) + "\n")
        return _write("".join(lines))
    varying = [k for k in names if len(lists[k]) > 1]
    fixed = [k for k in names if len(lists[k]) == 1]
    text = ["# " + " ".join(f"{k}={_fmt(lists[k][0])}" for k in fixed) + "\n"]
    head = varying + (["alpha"] if tname == "alpha" else []) + ["t"] + (["margin_risk"] if "margin_risk" in cols else []) \
        + TABLE_OUTPUTS + (["bound"] if "bound" in terms else [])
    table = [[_fmt(float((cols[k] if k in cols else terms[k])[i])) for k in head] for i in range(n)]
    widths = [max(len(h), *(len(r[j]) for r in table)) for j, h in enumerate(head)]
    text.append("  ".join(h.rjust(wd) for h, wd in zip(head, widths)) + "\n")
    for r in table:
        text.append("  ".join(c.rjust(wd) for c, wd in zip(r, widths)) + "\n")
    return _write("".join(text))


def _write(text: str) -> int:
    """Write to stdout; a closed pipe (`nlbound bound ... | head -1`) ends quietly with status 0.

    Standard recipe: after BrokenPipeError, point stdout at /dev/null so that the interpreter's
    final flush does not raise again (and print "Exception ignored ... BrokenPipeError")."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured)
            pass
    return 0
