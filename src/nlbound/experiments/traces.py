"""Reading finished runs (trace.csv + run.json) from the run cache: plotting never trains."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RunData:
    """One finished run: its trace columns (float64 arrays, column "t" first) and run.json."""

    trace: dict[str, np.ndarray]
    info: dict[str, Any]
    path: Path | None = None

    @property
    def t(self) -> np.ndarray:
        return self.trace["t"]

    def col(self, name: str) -> np.ndarray:
        try:
            return self.trace[name]
        except KeyError:
            near = sorted(k for k in self.trace if k.split("@")[0] == name.split("@")[0])
            raise KeyError(f"trace has no column {name!r}" + (f" (have {near})" if near else "")) from None

    def has(self, name: str) -> bool:
        return name in self.trace

    def get(self, key: str, default: Any = None) -> Any:
        """A run.json field, falling back to the nested config if run.json nests it."""
        if key in self.info:
            return self.info[key]
        cfg = self.info.get("config")
        if isinstance(cfg, dict) and key in cfg:
            return cfg[key]
        return default


def gamma_col(prefix: str, gamma: float) -> str:
    """Trace column name for a margin quantity at gamma (format fixed by ARCHITECTURE.md)."""
    return f"{prefix}@{gamma:.6g}"


def read_trace(path: str | Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [row for row in reader if row]
    data = np.array([[_num(v) for v in row] for row in rows], dtype=float).reshape(len(rows), len(header))
    return {name: data[:, j].copy() for j, name in enumerate(header)}


def _num(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"trace.csv cell == {v!r}, must be a number") from None


def load_run_dir(path: str | Path) -> RunData:
    path = Path(path)
    trace = read_trace(path / "trace.csv")
    info = json.loads((path / "run.json").read_text())
    order = np.argsort(trace["t"], kind="stable")
    trace = {k: v[order] for k, v in trace.items()}
    return RunData(trace=trace, info=info, path=path)
