"""Finished runs as the figures read them (RunData) and what a plot function gets (Inputs): never trains.

Reading and checking a run directory has one home, nlbound.training.rundir.read_run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlbound.analysis.spec import Experiment
from nlbound.training.rundir import read_run


@dataclass
class RunData:
    """One finished run: its trace columns (float64 arrays sorted by t, column "t" first) and run.json."""

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

    def get(self, key: str) -> Any:
        """A run.json field; a missing one is a KeyError naming it and the run directory."""
        try:
            return self.info[key]
        except KeyError:
            raise KeyError(f"run.json of {self.path} has no field {key!r}") from None


@dataclass
class Inputs:
    """What a plot function or a claim reads: the experiment, its runs by label, dataset baselines."""

    exp: Experiment
    runs: dict[str, RunData]
    baselines: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    form: str = "closed"  # the form of Theorem 5.2 the figures draw (reproduce --form); claims use the paper's

    def baseline(self, run: RunData) -> dict[str, float]:
        return self.baselines.get((str(run.get("dataset")), int(run.get("size"))), {})


def gamma_col(prefix: str, gamma: float) -> str:
    """Trace column name for a margin quantity at gamma (format fixed by ARCHITECTURE.md)."""
    return f"{prefix}@{gamma:.6g}"


def load_run_dir(path: str | Path, config: Any = None) -> RunData:
    """A complete, consistent run directory (read_run; `config` given: run.json must match it)."""
    trace, info = read_run(path, complete=True, config=config)
    return RunData(trace=trace, info=info, path=Path(path))
