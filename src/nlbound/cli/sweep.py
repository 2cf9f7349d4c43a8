"""Run a sweep defined in a TOML spec: train each distinct run once (cached, resumable; locally or as
Ray tasks), evaluate Theorem 5.2 on every run, write results.csv and summary.csv (see README, Sweeps)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nlbound._validate import Integral, Interval, ParameterError, validate_params

_CONSTRAINTS = {"processes": Interval(Integral, 1, 256, closed="both")}
SUMMARY_SHOWN = ("min_bound", "union_price", "t_at_min", "test_risk_at_min")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.toml",
                        help="sweep spec: tables fixed, sweep, horizon [, bounds, resources]")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="local processes (default) or one Ray task per run")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join ('auto', 'ray://HOST:10001'); default: start a local Ray runtime")
    parser.add_argument("--processes", type=int, default=2,
                        help="local training processes, or the CPUs of the local Ray runtime (default 2)")
    parser.add_argument("--cache", default=None,
                        help="run cache shared with `reproduce` (default: $NLBOUND_RUNS or ./runs); "
                             "on a Ray cluster a path every node sees")
    parser.add_argument("--out", default=None,
                        help="results.csv, summary.csv, sweep.json (default: sweeps/<spec name>)")
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files (default: see README)")
    parser.add_argument("--plot", action="store_true", help="also draw bound-vs-t small multiples (sweep.png)")
    parser.add_argument("--plot-axes", nargs=2, default=None, metavar=("ROWS", "COLS"),
                        help="the two swept axes of the small multiples (default: the first two)")
    parser.add_argument("--dry-run", action="store_true", help="validate the spec, print the runs, train nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from nlbound.experiments.backends import make_backend
    from nlbound.experiments.sweep import check_plot_axes, load_spec, plot_sweep, run_sweep

    try:
        validate_params(_CONSTRAINTS, {"processes": args.processes})
    except ParameterError as exc:
        raise exc.renamed("--processes") from None
    spec = load_spec(args.spec)
    try:
        axes = check_plot_axes(spec, args.plot_axes) if args.plot or args.plot_axes else None
    except ParameterError as exc:
        raise exc.renamed("--plot-axes") from None
    if args.address is not None and args.backend != "ray":
        raise ValueError(f"--address == {args.address!r}, needs --backend ray")
    backend = make_backend(args.backend, processes=args.processes, address=args.address,
                           num_cpus=spec.resources.num_cpus, max_retries=spec.resources.max_retries)
    out = Path(args.out or Path("sweeps") / spec.name)
    cache = Path(args.cache or os.environ.get("NLBOUND_RUNS", "runs"))
    if cache.resolve() == out.resolve() or out.resolve() in cache.resolve().parents:
        raise ValueError(f"--cache == {str(cache)!r}, must not lie inside the output directory {str(out)!r}")
    print(f"sweep {spec.name}: {spec.describe()}, backend {args.backend}, cache {cache}", flush=True)
    if args.dry_run:
        return 0
    res = run_sweep(spec, out, cache, backend=backend, data_dir=args.data_dir, progress=not args.no_progress,
                    log=lambda line: print(line, flush=True))
    if axes is not None:
        res.paths["plot"] = plot_sweep(res, spec, axes, out / "sweep.png")
    print(format_summary(res.summary, spec.axis_names()))
    print(f"wrote {', '.join(str(p) for p in res.paths.values())}; training took {res.meta['wall_s']:.1f} s "
          f"({res.meta['trained']} runs trained, {res.meta['cached']} cached)")
    return 0


def format_summary(summary: dict[str, list], axes: tuple[str, ...]) -> str:
    """summary.csv as an aligned text table (axis values and the columns of SUMMARY_SHOWN)."""
    names = [*axes, *SUMMARY_SHOWN]
    cells = [[_cell(v) for v in summary[n]] for n in names]
    widths = [max(len(n), *(len(c) for c in col)) for n, col in zip(names, cells, strict=True)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    for i in range(len(summary["key"])):
        lines.append("  ".join(col[i].rjust(w) for col, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)


def _cell(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
