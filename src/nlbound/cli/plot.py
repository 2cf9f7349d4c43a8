"""Re-draw a finished sweep from its output directory (results.csv, summary.csv, sweep.json): bound vs t
small multiples, each run's best bound variant by default; never trains."""

from __future__ import annotations

import argparse

from nlbound.sweep.plot import BEST, plot_sweep_dir

PARAM_FLAGS = {"axes": "--axes", "variant": "--variant", "out": "--out"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a sweep's --out directory")
    parser.add_argument("--variant", default=BEST, metavar="NAME|best",
                        help="the bound variant drawn, as in results.csv's variant column; 'best': per run "
                             "the variant of its summary minimum (default)")
    parser.add_argument("--axes", nargs=2, default=None, metavar=("ROWS", "COLS"),
                        help="the two swept axes of the small multiples (default: the spec's first two)")
    parser.add_argument("--out", default=None, help="PNG to write (default: SWEEP_DIR/sweep.png; .pdf and the "
                                                    "plotted data as .csv beside it)")


def run(args: argparse.Namespace) -> int:
    paths = plot_sweep_dir(args.sweep_dir, args.variant, tuple(args.axes) if args.axes else None, args.out)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
