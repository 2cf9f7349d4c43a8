"""Reading a TOML sweep spec: every table checked (TrainConfig's own validation for its fields), every
mistake reported, one line each, before anything runs."""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from functools import partial
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nlbound._limits import MAX_ROWS, MAX_RUNS, MAX_VARIANTS, check_count, grid_count
from nlbound._validate import Integral, Interval, Options, Real, check_param
from nlbound.analysis.spec import GAMMA_RULES, TERMS
from nlbound.data.npz import canonical_positive
from nlbound.sweep.spec import Axis, BoundGrid, Horizon, Resources, SpecError, SweepSpec, _Errors
from nlbound.training import TrainConfig
from nlbound.training.config import LIMITS
from nlbound.theory import CONSTRAINTS as THEORY

TABLES = ("fixed", "sweep", "horizon", "bounds", "resources")
NOT_IN_SPEC = {"data_sha256": "it is the sha256 of the npz:PATH file, read from it", "t_end": "it is set by [horizon]", "times": "the recording times are the default grid of "
               "nlbound.training.recording_times (0, log- and evenly spaced up to t_end, t*_0.5)"}
FIXED_ONLY = ("gammas", "positive")  # margin thresholds (the bounds' γ are added); an npz file's +1 labels
RANGE_KINDS = ("log", "lin")

_HORIZON = {
    "t_star_multiple": Interval(Real, 0, None, closed="neither"),
    "alpha": THEORY["alpha"],
    "t_end": Interval(Real, 0, None, closed="neither"),
}
_BOUNDS = {
    "kappa": THEORY["kappa"],
    "p": Options(16, 32, 64),
    "delta": THEORY["delta"],
    "gamma_rule": Options(*GAMMA_RULES),
    "q": Interval(Real, 0, None, closed="neither"),
    "terms": Options(*TERMS),
    "alpha": THEORY["alpha"],
}
_BOUND_LISTS = ("kappa", "p", "gamma_rule", "q", "terms")  # the grid's axes; delta and alpha are scalars
_RESOURCES = {
    "num_cpus": Interval(Real, 0, None, closed="neither"),
    "max_retries": Interval(Integral, 0, None, closed="left"),
}
_RANGE = {"num": Interval(Integral, 1, MAX_RUNS, closed="both"), "log": Interval(Real, 0, None, closed="neither"),
          "lin": Interval(Real, None, None)}


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a TOML sweep spec; raises SpecError (a ValueError) listing every mistake."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ValueError(f"spec == {str(path)!r}, must be an existing TOML file") from None
    except IsADirectoryError:
        raise ValueError(f"spec == {str(path)!r}, must be a TOML file, not a directory") from None
    except OSError as exc:
        raise ValueError(f"spec == {str(path)!r}, cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), [f"not UTF-8 text (byte {exc.start}), TOML must be UTF-8"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), [f"not valid TOML: {exc}"]) from None
    if not data:
        raise SpecError(str(path), ["empty: a spec needs the tables [sweep] and [horizon] (see README, Sweeps)"])
    return parse_spec(data, name=path.stem, source=str(path))


def parse_spec(data: dict, name: str = "sweep", source: str = "<spec>") -> SweepSpec:
    """Validate the tables of a parsed spec and build a SweepSpec; SpecError lists every mistake."""
    err = _Errors()
    for table in data:
        if table not in TABLES:
            err.add(f"unknown table [{table}]" + _did_you_mean(table, TABLES) + f"; tables: {', '.join(TABLES)}")
    for table in TABLES:
        if table in data and not isinstance(data[table], dict):
            err.add(f"[{table}] must be a table, got {type(data[table]).__name__}")
    tables = {t: data.get(t, {}) if isinstance(data.get(t, {}), dict) else {} for t in TABLES}
    fixed = _parse_fixed(tables["fixed"], err)
    axes = _parse_axes(tables["sweep"], set(tables["fixed"]), err)
    horizon = _parse_horizon(tables["horizon"], "horizon" in data, err)
    bounds = _parse_scalars("bounds", tables["bounds"], _BOUNDS, BoundGrid, err, lists=_BOUND_LISTS)
    resources = _parse_scalars("resources", tables["resources"], _RESOURCES, Resources, err)
    _check_sizes(axes, bounds, err)
    if err.items:
        raise SpecError(source, err.items)
    return SweepSpec(name, tuple(sorted(fixed.items())), tuple(axes), horizon, bounds, resources)


# recording times of a sweep run: 0, t_end, 25 log- and 25 evenly spaced ones, t*_0.5 (training.recording_times)
TIMES_PER_RUN = 53


def _check_sizes(axes: list[Axis], bounds: BoundGrid, err: _Errors) -> None:
    """The work caps (nlbound._limits), from the sizes alone, before any run or variant is made."""
    runs = grid_count(len(a.values) for a in axes)
    variants = grid_count(len(getattr(bounds, k)) for k in _BOUND_LISTS)
    checks = [("[sweep]", runs, MAX_RUNS, "runs", " x ".join(f"{len(a.values)} {a.name}" for a in axes),
               "split it into several sweeps sharing one cache"),
              ("[bounds]", variants, MAX_VARIANTS, "variants",
               " x ".join(f"{len(getattr(bounds, k))} {k}" for k in _BOUND_LISTS), "give fewer values"),
              ("results.csv", runs * variants * TIMES_PER_RUN, MAX_ROWS, "rows",
               f"{runs:,} runs x {variants:,} variants x {TIMES_PER_RUN} recorded times", "give fewer values")]
    for args in checks:
        try:
            check_count(*args)
        except ValueError as exc:
            err.add(str(exc))
            return


def _train_fields() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(TrainConfig))


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _field_error(table: str, key: str, fields: tuple[str, ...]) -> str | None:
    if key in NOT_IN_SPEC:
        return f"[{table}] {key}: not allowed, {NOT_IN_SPEC[key]}"
    if key not in fields:
        allowed = [f for f in fields if f not in NOT_IN_SPEC]
        return f"[{table}] {key}: unknown field{_did_you_mean(key, allowed)}; TrainConfig fields: {', '.join(allowed)}"
    if table == "sweep" and key in FIXED_ONLY:
        return f"[sweep] {key}: cannot be swept, set it in [fixed]"
    return None


def _check_value(where: str, key: str, value: Any, err: _Errors) -> Any:
    """One field's value checked by TrainConfig's own validation (its constraints live there)."""
    if key == "positive":  # labels ("0,1" or [0, 1]); checked against dataset npz:PATH's file by expand()
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, (int, str)) for v in value))
        if not ok:
            err.add(f"{where} == {value!r}, must be a list of labels or a string L1,L2,...")
            return None
        return err.check(where, lambda: canonical_positive(value))
    if key in FIXED_ONLY:
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not ok or not value:
            err.add(f"{where} == {value!r}, must be a non-empty list of numbers")
            return None
        if len(value) > LIMITS["gammas"]:
            err.add(f"{where} has {len(value)} values, must have at most {LIMITS['gammas']}")
            return None
    elif isinstance(value, (list, dict)):
        err.add(f"{where} == {value!r}, must be a single value")
        return None
    config = err.check(where, lambda: TrainConfig(**{key: value}))
    return None if config is None else getattr(config, key)


def _parse_fixed(table: dict, err: _Errors) -> dict[str, Any]:
    fields, out = _train_fields(), {}
    for key, value in table.items():
        problem = _field_error("fixed", key, fields)
        if problem:
            err.add(problem)
            continue
        checked = _check_value(f"[fixed] {key}", key, value, err)
        if checked is not None:
            out[key] = checked
    return out


def _parse_axes(table: dict, fixed_keys: set[str], err: _Errors) -> list[Axis]:
    fields, axes = _train_fields(), []
    for key, raw in table.items():
        problem = _field_error("sweep", key, fields)
        if problem is None and key in fixed_keys:
            problem = f"[sweep] {key}: also set in [fixed]; set it in one of them"
        if problem:
            err.add(problem)
            continue
        values = _axis_values(key, raw, err)
        if values is None:
            continue
        checked = [_check_value(f"[sweep] {key}", key, v, err) for v in values]
        if any(c is None for c in checked):
            continue
        dupes = sorted({repr(c) for c in checked if checked.count(c) > 1})
        if dupes:
            err.add(f"[sweep] {key}: repeated value {', '.join(dupes)}; each value must appear once")
            continue
        axes.append(Axis(key, tuple(checked)))
    return axes


def _axis_values(key: str, raw: Any, err: _Errors) -> list | None:
    where = f"[sweep] {key}"
    if isinstance(raw, list):
        if not raw:
            err.add(f"{where} == [], must be a non-empty list or a range {{log = [lo, hi], num = N}}")
            return None
        if len(raw) > MAX_RUNS:
            err.add(f"{where} has {len(raw):,} values, more than the limit of {MAX_RUNS:,} runs of a sweep")
            return None
        return raw
    if isinstance(raw, dict):
        return _range_values(where, raw, err)
    err.add(f"{where} == {raw!r}, must be a non-empty list or a range {{log = [lo, hi], num = N}} "
            f"(a single value belongs in [fixed])")
    return None


def _range_values(where: str, raw: dict, err: _Errors) -> list | None:
    """{log = [lo, hi], num = N}: N log-spaced values (numpy.geomspace); {lin = ...}: evenly spaced.
    Values are rounded to 12 significant digits, so 1e-3..1e-1 gives exactly 0.001, 0.01, 0.1."""
    kinds = [k for k in raw if k in RANGE_KINDS]
    unknown = [k for k in raw if k not in (*RANGE_KINDS, "num")]
    if unknown or len(kinds) != 1 or "num" not in raw:
        err.add(f"{where} == {raw!r}, must be a range {{log = [lo, hi], num = N}} or {{lin = [lo, hi], num = N}}")
        return None
    kind, ends = kinds[0], raw[kinds[0]]
    if not (isinstance(ends, list) and len(ends) == 2):
        err.add(f"{where}.{kind} == {ends!r}, must be [lo, hi]")
        return None
    num = err.check(f"{where}.num", lambda: check_param(f"{where}.num", raw["num"], _RANGE["num"]))
    lohi = err.check(f"{where}.{kind}", lambda: check_param(f"{where}.{kind}", ends, _RANGE[kind]))
    if num is None or lohi is None:
        return None
    if lohi[0] > lohi[1]:
        err.add(f"{where}.{kind} == {ends!r}, must have lo <= hi")
        return None
    space = np.geomspace if kind == "log" else np.linspace
    return [float(f"{v:.12g}") for v in space(lohi[0], lohi[1], int(num))]


def _parse_horizon(table: dict, present: bool, err: _Errors) -> Horizon:
    if not present:
        err.add("missing table [horizon]: give t_star_multiple (with optional alpha) or t_end")
        return Horizon(t_star_multiple=1.0)
    h = _parse_scalars("horizon", table, _HORIZON, Horizon, err)
    if ("t_star_multiple" in table) == ("t_end" in table):
        err.add("[horizon] needs exactly one of t_star_multiple, t_end")
    if h.t_end is not None and "alpha" in table:
        err.add("[horizon] alpha: only used with t_star_multiple")
    return h


def _parse_scalars(name: str, table: dict, constraints: dict, cls: type, err: _Errors,
                   lists: tuple[str, ...] = ()) -> Any:
    """A table of scalars (and, for `lists`, non-empty lists) checked against its constraint table."""
    values = {}
    for key, value in table.items():
        where = f"[{name}] {key}"
        if key not in constraints:
            err.add(f"{where}: unknown field{_did_you_mean(key, constraints)}; fields: {', '.join(constraints)}")
            continue
        if key in lists:
            value = value if isinstance(value, list) else [value]
            if not value:
                err.add(f"{where} == [], must be a non-empty list")
                continue
        elif isinstance(value, (list, dict)):
            err.add(f"{where} == {value!r}, must be a single value")
            continue
        checked = err.check(where, partial(check_param, where, value, constraints[key]))
        if checked is not None:
            values[key] = _plain(value if isinstance(constraints[key], Options) else checked,
                                 constraints[key], key in lists)
    return cls(**values)


def _plain(value: Any, constraint: Any, as_tuple: bool) -> Any:
    """A checked value back to Python: ints for Integral intervals, floats for Real ones, the
    given values themselves for Options (kappa, p stay ints, rules stay strings)."""
    if isinstance(constraint, Options):
        items = list(value) if as_tuple else [value]
    else:
        cast = int if constraint.kind is Integral else float
        items = [cast(v) for v in np.asarray(value, dtype=np.float64).reshape(-1)]
    return tuple(items) if as_tuple else items[0]
