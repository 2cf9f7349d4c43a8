"""Results as tables for Python users: a run's trace, a sweep's results/summary, as columns or pandas DataFrames.

Columns are a dict name -> numpy array (float64 where every cell is a number, else strings); with
``as_frame=True`` the same columns become a ``pandas.DataFrame`` (pandas is the optional extra
``nlbound[pandas]``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nlbound.training.rundir import read_run  # the checked reader (imports without torch)

SWEEP_TABLES = ("results", "summary")


def to_frame(columns: Mapping[str, Any]) -> Any:
    """A pandas DataFrame of equal-length columns (ImportError naming the extra when pandas is absent)."""
    try:
        import pandas as pd  # optional dependency (nlbound[pandas]): imported only when a frame is asked for
    except ImportError as exc:
        raise ImportError("pandas is not installed; install it with: pip install 'nlbound[pandas]'") from exc
    return pd.DataFrame({k: np.asarray(v) for k, v in columns.items()})


def read_trace(run_dir: str | os.PathLike, *, as_frame: bool = False, complete: bool = True) -> Any:
    """A run's trace.csv (one row per recorded time, columns as docs/ARCHITECTURE.md lists them),
    read by the one checked reader (nlbound.training.read_run: a damaged or, with complete=True,
    unfinished run is a RunDirError); a DataFrame with as_frame=True."""
    trace, _ = read_run(run_dir, complete=complete)
    return to_frame(trace) if as_frame else trace


def read_sweep(out_dir: str | os.PathLike, table: str = "summary", *, as_frame: bool = False) -> Any:
    """The results.csv or summary.csv that `nlbound sweep` / run_sweep wrote into out_dir (its columns:
    nlbound.sweep.tables.RESULT_COLUMNS / SUMMARY_COLUMNS and the sweep's axes)."""
    if table not in SWEEP_TABLES:
        raise ValueError(f"table == {table!r}, must be one of {', '.join(SWEEP_TABLES)}")
    path = Path(out_dir) / f"{table}.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise ValueError(f"out_dir == {str(out_dir)!r}: cannot read {path} ({exc.strerror or exc}); "
                         "is it the --out of a finished sweep?") from None
    if not rows:
        raise ValueError(f"{path} is empty, must hold a header row (written by nlbound sweep)")
    header, body = rows[0], rows[1:]
    if any(len(r) != len(header) for r in body):
        raise ValueError(f"{path}: a row has another number of cells than the header")
    columns = {name: _column([r[j] for r in body]) for j, name in enumerate(header)}
    return to_frame(columns) if as_frame else columns


def _column(cells: list[str]) -> np.ndarray:
    """float64 where every cell parses as a number (empty cells: NaN), else the strings as given."""
    try:
        return np.array([float(c) if c != "" else np.nan for c in cells], dtype=np.float64)
    except ValueError:
        return np.array(cells, dtype=object)


__all__ = ["to_frame", "read_trace", "read_sweep", "SWEEP_TABLES"]
