"""`nlbound bound`: evaluate Theorem 5.2 (eq. 6) over the cartesian product of the given parameter lists.

Every numeric flag takes one number or a comma-separated list; one row per combination, the last
flag varying fastest. Give the training time either directly (--t) or as t*_alpha(beta) (--alpha;
eq. 15 for L = 2, eq. 97 for L >= 3). --form ode evaluates the same theorem with the comparison
ODEs of its proof solved exactly (nlbound.theory.ode; never larger; the same columns); --form kl
(or ode-kl) takes the counting step in kl form (never larger than Hoeffding's; needs --margin-risk;
its upsilon column is the counting term it charges at that margin risk); a "-so" suffix (so, ode-so,
kl-so, ode-kl-so) takes the centred second-order step (docs/PROOFS.md; L = 2, kappa = 2). Rows are
evaluated and printed in chunks (constant memory);
grids of more than 10^7 rows are refused. Values beyond float64 (and u, v, Delta for L >= 3 at or
after the blow-up time of u) are +inf: printed "inf" in the table; in --json they are null and
their keys are listed under "overflow". NaN is never produced, and a row's values do not depend
on the other rows. Bad input: one line naming the flag and its allowed range, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from nlbound._limits import MAX_ROWS, check_count, grid_count
from nlbound._validate import ParameterError, allowed
from nlbound.cli._output import write_stdout
from nlbound.theory._checks import CONSTRAINTS, check_alpha_above, check_m_ge_d, validate
from nlbound.theory.bound import KL_FORMS, OUT_KEYS, evaluate_charged
from nlbound.theory.training_time import _t_star

# flag -> (default or None if required, what it is, a note); --help states each range from
# nlbound.theory.CONSTRAINTS (the table `validate` checks), so the two cannot disagree
INPUTS = {
    "d": (None, "input dimension (rank of X)", ""),
    "m": (None, "number of training samples", ", and >= d"),
    "depth": ("2", "number of layers L", " (the paper's)"),
    "kappa": ("2", "proxy order kappa", ""),
    "p": ("32", "floating point precision in bits", ""),
    "delta": ("0.05", "failure probability", ""),
    "eps": (None, "leaky-ReLU nonlinearity epsilon", " (paper experiments: 0.001, 0.01)"),
    "beta": (None, "initial spectral norm bound beta", ""),
    "gamma": (None, "margin gamma", ""),
    "rho": (None, "sqrt of the stable rank of W1(0)", " (1 for a rank-one input layer)"),
    "s": (None, "s = ||Y X~^+||", " (a dataset statistic)"),
}
INTEGER_INPUTS = ("d", "m", "depth", "kappa")  # written as JSON integers (p too when integer-valued)
OUTPUTS = [k for k in OUT_KEYS if k != "a_priori"] + ["precision", "a_priori", "a_priori_as_printed"]
TABLE_OUTPUTS = ["upsilon", "u", "v", "Delta", "deviation", "precision", "a_priori"]
CHUNK = 1 << 16  # rows evaluated and printed at a time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, (default, what, note) in INPUTS.items():
        req = default is None
        parser.add_argument(f"--{name}", required=req, default=default, metavar="X[,X...]",
                            help=f"{what}, {allowed(CONSTRAINTS[name])}{note}" + (" (required)" if req else ""))
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--t", metavar="T[,T...]", help=f"training time t, {allowed(CONSTRAINTS['t'])}")
    g.add_argument("--alpha", metavar="A[,A...]",
                   help="evaluate at t = t*_alpha(beta); alpha in (beta^L/s, 1)")
    parser.add_argument("--margin-risk", metavar="R[,R...]", default=None,
                        help=f"empirical margin risk, {allowed(CONSTRAINTS['margin_risk'])}; adds the column bound = R + a_priori (eq. 6)")
    parser.add_argument("--precision-allowance", metavar="A[,A...]", default=None,
                        help="allowance for the p-bit rounding of the proxy, output units >= 0 (docs/PROOFS.md "
                             "step P: the test + train bounds from a run's prox_* trace columns); not known a "
                             "priori, so without it the precision term and a_priori are +inf "
                             "(a_priori_as_printed, the paper's uncharged sum, is not a bound)")
    parser.add_argument("--form", default="closed", metavar="{closed,ode,kl,ode-kl,so,ode-so,kl-so,ode-kl-so}",
                        help="closed: the paper's closed forms of u and v (eqs. 9-10); ode: the same theorem with "
                             "the comparison ODEs of its proof solved exactly (eqs. 35/75, 62/88), never larger; "
                             "kl, ode-kl: closed / ode with the counting step (eq. 24) in kl form, never larger, "
                             "needs --margin-risk; -so: the centred second-order step (L = 2, kappa = 2: "
                             "Phi = (1+rho)(sqrt(d)+1)), never larger")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: every input under its flag name and every term; "
                             "+inf values become null and their keys are listed in \"overflow\"")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _parse_list(flag: str, text: str) -> list[float]:
    out = []
    for item in str(text).split(","):
        item = item.strip()
        try:
            out.append(float(item))
        except ValueError:
            raise ValueError(f"{flag} == {item!r}, must be a number (or a comma-separated list of numbers)") from None
    return out


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:.6g}"


def _read_lists(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The parsed and range-checked list of every flag, in grid order (the last varies fastest)."""
    lists = {n: _parse_list(_flag(n), getattr(args, n)) for n in INPUTS}
    tname = "t" if args.t is not None else "alpha"
    lists[tname] = _parse_list(_flag(tname), args.t if args.t is not None else args.alpha)
    if args.margin_risk is not None:
        lists["margin_risk"] = _parse_list("--margin-risk", args.margin_risk)
    if args.precision_allowance is not None:
        prec = np.array(_parse_list("--precision-allowance", args.precision_allowance), dtype=np.float64)
        if not np.all(np.isfinite(prec) & (prec >= 0)):
            raise ValueError(f"--precision-allowance == {args.precision_allowance}, must be finite and >= 0")
    try:
        validate(form=args.form)
    except ParameterError as exc:
        raise exc.renamed("--form") from None
    if args.form in KL_FORMS and args.margin_risk is None:
        raise ValueError(f"--form {args.form} needs --margin-risk (the kl counting step inverts the binomial kl "
                         "at the empirical margin risk)")
    out = {}
    out_p = {} if args.precision_allowance is None else {"precision_allowance": prec}
    for k, values in lists.items():
        try:
            out[k] = validate(**{k: np.array(values)})[k]
        except ParameterError as exc:
            raise exc.renamed(_flag(k)) from None
    return out | out_p


def _check_grid(lists: dict[str, np.ndarray]) -> int:
    """Cross-parameter checks and the row count, before any work. Returns the number of rows."""
    sizes = " x ".join(f"{len(v)} ({_flag(k)})" for k, v in lists.items() if len(v) > 1)
    rows = check_count("the grid", grid_count(len(v) for v in lists.values()), MAX_ROWS, "rows", sizes)
    check_m_ge_d(lists["d"][:, None], lists["m"][None, :], names=("--d", "--m"))
    if "alpha" in lists:  # every (alpha, beta, s, depth) combination is a row: check the extremes
        with np.errstate(under="ignore", over="ignore"):
            lower = (lists["beta"][:, None] ** lists["depth"][None, :]).max() / lists["s"].min()
        try:
            check_alpha_above(lists["alpha"].min(), lower, name="--alpha")
        except ParameterError as exc:
            raise exc.renamed("--alpha") from None
    return rows


def _chunk(lists: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Columns of rows start..stop-1 of the cartesian product (itertools.product order)."""
    idx = np.arange(start, stop)
    cols, stride = {}, 1
    for k in reversed(list(lists)):
        v = lists[k]
        cols[k] = v[(idx // stride) % len(v)]
        stride *= len(v)
    return {k: cols[k] for k in lists}


def _terms(cols: dict[str, np.ndarray], form: str = "closed") -> dict[str, np.ndarray]:
    if "alpha" in cols:  # t may be +inf here (t*_alpha beyond float64): u, v, Delta are then +inf
        cols["t"] = _t_star(cols["alpha"], cols["beta"], cols["s"], cols["depth"])
    keys = (*INPUTS, "t") + (("margin_risk",) if "margin_risk" in cols else ())
    # eq. 6 with step P (docs/PROOFS.md); with margin_risk: bound = R + a_priori
    return evaluate_charged({k: cols[k] for k in keys}, cols.get("precision_allowance"), form=form)


def _json_column(key: str, values: np.ndarray) -> list[str]:
    """JSON text of one column: integers for the integer inputs (and integer-valued p), the float's
    repr otherwise (what json.dumps writes), null for +inf (NaN never occurs: see nlbound.theory)."""
    if values.size > 1 and values.min() == values.max():  # a constant column: format once
        return _json_column(key, values[:1]) * values.size
    vals = values.tolist()
    if key in INTEGER_INPUTS:
        return [str(int(v)) for v in vals]
    if key == "p":
        return [str(int(v)) if v.is_integer() else repr(v) for v in vals]
    return ["null" if v == math.inf else repr(v) for v in vals]


def _json_lines(cols, terms, in_keys, out_keys) -> str:
    """One JSON object per row; the keys of the +inf (null) values listed under "overflow"."""
    keys = in_keys + out_keys
    arrs = [cols[k] if k in cols else terms[k] for k in keys]
    texts = [_json_column(k, a) for k, a in zip(keys, arrs, strict=True)]
    template = "{" + ", ".join(f"{json.dumps(k)}: %s" for k in keys)
    over = np.stack([a == math.inf for a in arrs], axis=1)
    lines = [template % row for row in zip(*texts, strict=True)]
    for i in np.flatnonzero(over.any(axis=1)):
        lines[i] += ', "overflow": ' + json.dumps([k for k, f in zip(keys, over[i], strict=True) if f])
    return "}\n".join(lines) + "}\n"


def _table_column(values: np.ndarray) -> list[str]:
    if values.size > 1 and values.min() == values.max():  # a constant column: format once
        return [_fmt(float(values[0]))] * values.size
    return [_fmt(v) for v in values.tolist()]


def _table_rows(cols, terms, head, widths):
    """The table's header and rows; column widths from the first chunk (a later, wider value widens
    only its own row)."""
    texts = [_table_column(cols[k] if k in cols else terms[k]) for k in head]
    if widths is None:
        widths = [max(len(h), *(len(x) for x in col)) for h, col in zip(head, texts, strict=True)]
    header = "  ".join(h.rjust(wd) for h, wd in zip(head, widths, strict=True)) + "\n"
    body = "".join("  ".join(c.rjust(wd) for c, wd in zip(r, widths, strict=True)) + "\n" for r in zip(*texts, strict=True))
    return header, body, widths


def run(args: argparse.Namespace) -> int:
    lists = _read_lists(args)
    rows = _check_grid(lists)
    tname = "alpha" if "alpha" in lists else "t"
    extra = [k for k in ("margin_risk", "precision_allowance") if k in lists]
    in_keys = list(INPUTS) + (["alpha"] if tname == "alpha" else []) + ["t"] + extra
    out_keys = OUTPUTS + (["bound"] if "margin_risk" in lists else [])
    varying = [k for k in INPUTS if len(lists[k]) > 1]
    head = varying + (["alpha"] if tname == "alpha" else []) + ["t"] + extra + TABLE_OUTPUTS \
        + (["bound"] if "margin_risk" in lists else [])
    widths = None
    if not args.json:
        fixed = [k for k in INPUTS if len(lists[k]) == 1]
        if not write_stdout("# " + " ".join(f"{k}={_fmt(float(lists[k][0]))}" for k in fixed) + "\n"):
            return 0
    for start in range(0, rows, CHUNK):
        cols = _chunk(lists, start, min(start + CHUNK, rows))
        terms = _terms(cols, args.form)
        if args.json:
            text = _json_lines(cols, terms, in_keys, out_keys)
        else:
            header, text, widths_new = _table_rows(cols, terms, head, widths)
            text = (header if widths is None else "") + text
            widths = widths_new
        if not write_stdout(text):
            return 0
    return 0
