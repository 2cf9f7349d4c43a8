"""`run_sweep`: expand a spec, train what the cache lacks, write results.csv, summary.csv and sweep.json."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from nlbound._io import atomic_write_columns, atomic_write_json
from nlbound._validate import ParameterError
from nlbound.execution.backends import LocalBackend
from nlbound.execution.cost import estimated_cost
from nlbound.execution.execute import default_train
from nlbound.execution.runner import dedupe, is_done, run_all
from nlbound.sweep.expand import SOf, SweepRun, dataset_s, expand
from nlbound.sweep.spec import SweepSpec
from nlbound.sweep.tables import tables
from nlbound.tables import SWEEP_TABLES, to_frame


@dataclass
class SweepResult:
    """The outcome of one `run_sweep` (for the CLI and tests)."""

    runs: list[SweepRun]
    dirs: dict[str, Path]
    results: dict[str, list]
    summary: dict[str, list]
    paths: dict[str, Path]
    meta: dict[str, Any]

    def frame(self, table: str = "summary") -> Any:
        """results or summary as a pandas DataFrame (nlbound.tables.to_frame; pandas is optional)."""
        if table not in SWEEP_TABLES:
            raise ValueError(f"table == {table!r}, must be one of {', '.join(SWEEP_TABLES)}")
        return to_frame(getattr(self, table))


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    cache_dir: str | Path,
    *,
    backend: Any = None,
    data_dir: str | None = None,
    progress: bool = True,
    train_fn: Callable | None = None,
    s_of: SOf | None = None,
    log: Callable[[str], None] = print,
    runs: list[SweepRun] | None = None,
) -> SweepResult:
    """Expand the spec (unless its `runs` are given: expand's result), train what the cache lacks on
    `backend` (default: local, 2 processes), then write results.csv, summary.csv and sweep.json under out_dir."""
    if runs is None:
        runs = expand(spec, s_of or (lambda config: dataset_s(config, data_dir)))
    configs = dedupe(r.config for r in runs)
    cached = sum(is_done(cache_dir, c) for c in configs)
    log(f"{len(runs)} runs, {len(configs)} distinct: {cached} cached, {len(configs) - cached} to train")
    start = time.perf_counter()
    dirs = run_all([r.config for r in runs], cache_dir, train_fn=train_fn or default_train, data_dir=data_dir,
                   progress=progress, cost=estimated_cost, backend=backend or LocalBackend())
    wall = time.perf_counter() - start
    results, summary = tables(runs, dirs, spec)
    out = Path(out_dir)
    paths = {"results": out / "results.csv", "summary": out / "summary.csv", "meta": out / "sweep.json"}
    atomic_write_columns(paths["results"], results)
    atomic_write_columns(paths["summary"], summary)
    meta = {"spec": _canonical_spec(spec), "runs": len(runs), "distinct": len(configs), "cached": cached,
            "trained": len(configs) - cached, "wall_s": wall, "backend": repr(backend or LocalBackend()),
            "cache_dir": str(cache_dir), "keys": [r.config.key() for r in runs]}
    atomic_write_json(paths["meta"], meta)
    return SweepResult(runs, dirs, results, summary, paths, meta)


def _canonical_spec(spec: SweepSpec) -> dict[str, Any]:
    return {"name": spec.name, "fixed": dict(spec.fixed), "sweep": {a.name: list(a.values) for a in spec.axes},
            "horizon": dataclasses.asdict(spec.horizon), "bounds": dataclasses.asdict(spec.bounds),
            "resources": dataclasses.asdict(spec.resources)}


def check_plot_axes(spec: SweepSpec, axes: Iterable[str] | None) -> tuple[str, str | None]:
    """The (rows, columns) axes of the small multiples: given ones must be sweep axes; default the
    first two axes of the spec (one row of panels with a single axis)."""
    names = spec.axis_names()
    axes = list(axes) if axes else list(names[:2])
    if not axes:
        raise ValueError(f"plot needs a swept axis, spec {spec.name!r} has none")
    for a in axes:
        if a not in names:
            raise ParameterError("plot axis", a, "one of " + ", ".join(names))
    if len(axes) == 2 and axes[0] == axes[1]:
        raise ParameterError("plot axis", axes[1], f"an axis other than {axes[0]!r}")
    return axes[0], (axes[1] if len(axes) > 1 else None)
