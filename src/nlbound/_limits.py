"""Work caps: the size of an expanded grid or list, counted and refused before anything is allocated."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["MAX_PLAN_POINTS", "MAX_ROWS", "MAX_RUNS", "MAX_VARIANTS", "check_count", "grid_count"]

# Each cap with its reason; a request past one is refused up front with its count, never run out of memory.
# Rows of a table of bound values (`bound`, `plan`, a sweep's results.csv): one row holds ~20-30 float64
# cells plus temporaries, so 10^7 rows are already a few GB of memory (and ~1 GB of CSV / JSON).
MAX_ROWS = 10**7
# Points of a `plan` grid: each holds ~25 float64 columns and bound_terms' temporaries, scored in one call
# (measured: make_plan on 982,400 points peaks at 0.64 GB resident, 0.27 GB of it the imports; ~370 B/point).
MAX_PLAN_POINTS = 10**6
# Training runs of one sweep: each trains a network for minutes to hours (10^4 one-minute runs are a week
# on one core); a larger study is several sweeps sharing one cache.
MAX_RUNS = 10_000
# Bound variants of a sweep's [bounds] grid (kappa x p x gamma_rule x q x terms), evaluated on every run.
MAX_VARIANTS = 1_000


def grid_count(sizes: Iterable[int]) -> int:
    """The number of points of a cartesian product of axes of these sizes (exact: Python integers)."""
    return math.prod(int(n) for n in sizes)


def check_count(what: str, count: int, limit: int, unit: str, parts: str = "",
                advice: str = "split it into several calls") -> int:
    """ValueError in one line when `count` exceeds `limit`:
    "<what> has N <unit> (<parts>), more than the limit of L; <advice>". Returns count.
    Call it with sizes only (grid_count), before the grid or list exists."""
    if count > limit:
        detail = f" ({parts})" if parts else ""
        raise ValueError(f"{what} has {count:,} {unit}{detail}, more than the limit of {limit:,}; {advice}")
    return int(count)
