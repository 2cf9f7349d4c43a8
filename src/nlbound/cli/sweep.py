"""Run a sweep defined in a TOML spec: train each distinct run once (cached, resumable; locally or as
Ray tasks), evaluate Theorem 5.2 on every run, write results.csv and summary.csv (see README, Sweeps)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nlbound._io import check_output_dir, check_output_file
from nlbound._validate import Integral, Interval, ParameterError, validate_params
from nlbound.cli._common import add_runs_flag, runs_dir
from nlbound.cli._output import write_stdout
from nlbound.cli._progress import Status, progress_enabled
from nlbound.execution.backends import make_backend
from nlbound.sweep import check_plot_axes, dataset_s, expand, load_spec, run_sweep
from nlbound.sweep.plot import BEST, plot_sweep_dir

_CONSTRAINTS = {"processes": Interval(Integral, 1, 256, closed="both")}
SUMMARY_SHOWN = ("min_bound", "union_price", "t_at_min", "test_risk_at_min")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.toml",
                        help="sweep spec: tables fixed, sweep, horizon [, bounds, resources]")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="local processes (default) or one Ray task per run")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join from one of its nodes ('auto', or HOST:6379); default: start a local Ray runtime")
    parser.add_argument("--processes", type=int, default=2,
                        help="local training processes, or the CPUs of the local Ray runtime (default 2)")
    add_runs_flag(parser, ", shared with `reproduce`; on a Ray cluster a path every node sees")
    parser.add_argument("--out", default=None,
                        help="results.csv, summary.csv, sweep.json (default: sweeps/<spec name>)")
    parser.add_argument("--data-dir", default=None, help="directory of MNIST IDX files (default: see README)")
    parser.add_argument("--plot", action="store_true", help="also draw bound-vs-t small multiples, each run's best variant (sweep.png; "
                             "re-draw or pick a variant later with `nlbound plot`)")
    parser.add_argument("--plot-axes", nargs=2, default=None, metavar=("ROWS", "COLS"),
                        help="the two swept axes of the small multiples (default: the first two)")
    parser.add_argument("--dry-run", action="store_true", help="validate the spec, print the runs (one line per point), train nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _say(line: str) -> None:
    """A line of the sweep's report on stdout; a reader that has gone (`sweep | head`) does not stop the
    sweep: it trains and writes its results on, quietly."""
    write_stdout(line + "\n")


def _check_paths(out: Path, cache: Path, plot: bool, cache_name: str = "--runs") -> None:
    """Every output path, before any work: one line naming the path (nlbound._io)."""
    check_output_dir(cache, cache_name)
    check_output_dir(out, "--out")
    for name in ("results.csv", "summary.csv", "sweep.json", *(("sweep.png",) if plot else ())):
        check_output_file(out / name, "--out")
    if cache.resolve() == out.resolve() or out.resolve() in cache.resolve().parents:
        raise ValueError(f"{cache_name} == {str(cache)!r}, must not lie inside the output directory {str(out)!r}")


def _default_out(spec_path: str, name: str) -> Path:
    """sweeps/<spec name>; a name that would leave sweeps/ ('..', '.', empty) is refused."""
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"spec == {spec_path!r}: its name {name!r} cannot name a directory under sweeps/; "
                         "rename the file or give --out")
    return Path("sweeps") / name


def run(args: argparse.Namespace) -> int:
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
    out = Path(args.out) if args.out else _default_out(args.spec, spec.name)
    cache_arg, cache_name = runs_dir(args)
    cache = Path(cache_arg)
    _check_paths(out, cache, axes is not None, cache_name)
    _say(f"sweep {spec.name}: {spec.describe()}, backend {args.backend}, cache {cache}")
    with Status(progress_enabled(args.no_progress), "sweep") as status:
        status.step("expanding the spec (each dataset's s, for t*)")  # until the first log line: the count
        runs = expand(spec, lambda config: dataset_s(config, args.data_dir), source=args.spec)
        if args.dry_run:  # the runs it promises: one line per point of the grid
            status.close()
            for point in spec.points():
                _say("  " + " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()))
            _say(f"spec valid: {len(runs)} runs, {len({r.config.key() for r in runs})} distinct; nothing trained")
            return 0

        def log(line: str) -> None:
            status.close()  # the runner's own bar follows
            _say(line)

        res = run_sweep(spec, out, cache, backend=backend, data_dir=args.data_dir, progress=not args.no_progress,
                        log=log, runs=runs)
    if axes is not None:
        res.paths["plot"] = plot_sweep_dir(out, BEST, tuple(a for a in axes if a), out / "sweep.png")["png"]
    _say(format_summary(res.summary, spec.axis_names()))
    _say(f"wrote {', '.join(str(p) for p in res.paths.values())}; training took {res.meta['wall_s']:.1f} s "
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
