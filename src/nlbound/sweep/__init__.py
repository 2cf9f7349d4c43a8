"""`nlbound sweep`: a researcher's TOML spec, its runs, Theorem 5.2 tabulated on every run, and its plot.

The public names, from the modules by job: spec (the spec as values), parse (reading TOML), expand (its
runs), tables (results.csv, summary.csv), run (`run_sweep`), plot (`nlbound plot`).
"""

from nlbound.sweep.expand import SweepRun, dataset_s, expand
from nlbound.sweep.parse import load_spec, parse_spec
from nlbound.sweep.run import SweepResult, check_plot_axes, run_sweep
from nlbound.sweep.spec import SpecError, SweepSpec

__all__ = ["SpecError", "SweepResult", "SweepRun", "SweepSpec", "check_plot_axes", "dataset_s", "expand",
           "load_spec", "parse_spec", "run_sweep"]
