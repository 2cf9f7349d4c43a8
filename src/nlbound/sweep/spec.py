"""`nlbound sweep`: a researcher's sweep spec (TOML), its runs, and Theorem 5.2 tabulated on every run.

A spec has the tables `fixed` (TrainConfig fields), `sweep` (axes: lists, or ranges
``{log = [lo, hi], num = N}`` / ``{lin = [lo, hi], num = N}``), `horizon` (``t_star_multiple``
[with ``alpha``]: t_end = multiple × t*_α(β) of eq. 15 / 97 from the dataset's s, rounded to
3 digits as the figures do; or an absolute ``t_end``), optional `bounds` (the grid of bound
variants: κ, p, γ rules, q, terms, δ) and optional `resources` (Ray: ``num_cpus`` per run,
``max_retries``). Every mistake in a spec is reported, one line each, before anything runs.

Outputs: ``results.csv`` (one row per run × recorded t × bound variant) and ``summary.csv``
(per run: the least full bound over the fixed grid {recorded times} × {full variants}, paid for
with a union bound over that grid, i.e. δ → δ/N in Υ_κ of eq. 7, and the test risk there).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import time
import tomllib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable

import numpy as np

from nlbound._io import atomic_write_columns, atomic_write_json
from nlbound._limits import MAX_ROWS, MAX_RUNS, MAX_VARIANTS, check_count, grid_count
from nlbound._validate import Integral, Interval, Options, ParameterError, Real, check_param
from nlbound.data.npz import canonical_positive
from nlbound.analysis.spec import GAMMA_RULES, TERMS, BoundVariant
from nlbound.tables import SWEEP_TABLES, to_frame

TABLES = ("fixed", "sweep", "horizon", "bounds", "resources")
NOT_IN_SPEC = {"data_sha256": "it is the sha256 of the npz:PATH file, read from it", "t_end": "it is set by [horizon]", "times": "the recording times are the default grid of "
               "nlbound.training.recording_times (0, log- and evenly spaced up to t_end, t*_0.5)"}
FIXED_ONLY = ("gammas", "positive")  # margin thresholds (the bounds' γ are added); an npz file's +1 labels
RANGE_KINDS = ("log", "lin")

_HORIZON = {
    "t_star_multiple": Interval(Real, 0, None, closed="neither"),
    "alpha": Interval(Real, 0, 1, closed="neither"),
    "t_end": Interval(Real, 0, None, closed="neither"),
}
_BOUNDS = {
    "kappa": Options(1, 2),
    "p": Options(16, 32, 64),
    "delta": Interval(Real, 0, 1, closed="neither"),
    "gamma_rule": Options(*GAMMA_RULES),
    "q": Interval(Real, 0, None, closed="neither"),
    "terms": Options(*TERMS),
    "alpha": Interval(Real, 0, 1, closed="neither"),
}
_BOUND_LISTS = ("kappa", "p", "gamma_rule", "q", "terms")  # the grid's axes; delta and alpha are scalars
_RESOURCES = {
    "num_cpus": Interval(Real, 0, None, closed="neither"),
    "max_retries": Interval(Integral, 0, None, closed="left"),
}
_RANGE = {"num": Interval(Integral, 1, MAX_RUNS, closed="both"), "log": Interval(Real, 0, None, closed="neither"),
          "lin": Interval(Real, None, None)}


SHOWN_ERRORS = 20  # lines of a SpecError message (every one is in .errors)


class SpecError(ValueError):
    """Every mistake found in a sweep spec, one line each."""

    def __init__(self, source: str, errors: Iterable[str]):
        self.source, self.errors = source, tuple(errors)
        n = len(self.errors)
        head = f"{source}: " + (self.errors[0] if n == 1 else f"{n} errors in the sweep spec")
        shown = [*self.errors[:SHOWN_ERRORS], *([f"... and {n - SHOWN_ERRORS} more"] if n > SHOWN_ERRORS else [])]
        super().__init__(head if n == 1 else "\n  ".join([head, *shown]))


class _Errors:
    """Collects one message per mistake instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def check(self, where: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ParameterError as exc:
            self.add(str(exc.renamed(where)))
        except (ValueError, TypeError) as exc:
            self.add(f"{where}: {exc}")
        return None


@dataclass(frozen=True)
class Horizon:
    """t_end = t_star_multiple × t*_alpha(β) (eq. 15 / 97), or the absolute t_end."""

    t_star_multiple: float | None = None
    alpha: float = 0.5
    t_end: float | None = None


@dataclass(frozen=True)
class BoundGrid:
    """The bound variants evaluated on every run: the product kappa × p × gamma_rule × q × terms. A
    variant is evaluated on the runs trained with its p only (Υ counts the proxies the run rounded to
    p bits; `applicable`)."""

    kappa: tuple = (2,)
    p: tuple = (32,)
    gamma_rule: tuple = ("beta2",)
    q: tuple = (1.0, 10.0, 100.0)
    terms: tuple = ("full",)
    delta: float = 0.05
    alpha: float = 0.5

    def variants(self) -> tuple[BoundVariant, ...]:
        out = []
        for kappa, p, rule, q, terms in itertools.product(self.kappa, self.p, self.gamma_rule, self.q, self.terms):
            label = f"kappa={kappa} p={p} gamma={rule}/{q:g}" + ("" if terms == "full" else f" {terms}")
            out.append(BoundVariant(label, kappa=int(kappa), p=int(p), delta=self.delta, gamma_rule=rule,
                                    q=float(q), alpha=self.alpha, terms=terms))
        return tuple(out)


@dataclass(frozen=True)
class Resources:
    """What one run asks of a Ray cluster (the local backend runs one run per process)."""

    num_cpus: float = 1.0
    max_retries: int = 2


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's results (paths and backends do not belong here)."""

    name: str
    fixed: tuple[tuple[str, Any], ...]
    axes: tuple[Axis, ...]
    horizon: Horizon
    bounds: BoundGrid = BoundGrid()
    resources: Resources = Resources()

    @property
    def n_points(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the axes' values, in spec order (the last axis varies fastest)."""
        names = self.axis_names()
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(a.values for a in self.axes))]

    def describe(self) -> str:
        axes = " × ".join(f"{len(a.values)} {a.name}" for a in self.axes) or "no axes"
        return f"{self.n_points} run{'s' if self.n_points != 1 else ''} ({axes})"


# ----------------------------------------------------------------------------- parsing

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
    from nlbound.training import TrainConfig

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
    from nlbound.training import TrainConfig
    from nlbound.training.config import LIMITS

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


# ----------------------------------------------------------------------------- runs

SOf = Callable[[Any], float]  # TrainConfig -> s = ||Y X~+|| of its dataset


@dataclass(frozen=True)
class SweepRun:
    """One point of the sweep: its axis values, its TrainConfig (the cache key) and t*_α."""

    point: tuple[tuple[str, Any], ...]
    config: Any  # nlbound.training.TrainConfig
    t_star: float | None


def dataset_s(config: Any, data_dir: str | None = None) -> float:
    """s = ||Y X~+|| of the dataset a run trains on (Sec. 5.3; ERRATA 5)."""
    from nlbound.data import dataset_for

    return float(dataset_for(config, data_dir=data_dir).s)


def _t_star(alpha: float, beta: float, s: float, depth: int) -> float:
    """t*_alpha(beta): eq. 15 (L = 2), eq. 97 (L >= 3); ValueError where it is undefined."""
    from nlbound.theory import t_star

    value = float(t_star(alpha, beta, s, depth))
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"t*_{alpha:g} == {value:g} is not a positive finite time")
    return value


def expand(spec: SweepSpec, s_of: SOf | None = None, source: str | None = None) -> list[SweepRun]:
    """The runs of a spec, in spec order. t_end follows [horizon]; gammas = [fixed] gammas ∪ the
    γ of every bound variant at the run's β (so every variant's margin column is recorded).

    The one validation of a spec's runs: `sweep --dry-run` and the real sweep both call it. Each
    point's TrainConfig is built whole (fields, t_end, gammas), so every cross-field rule of
    TrainConfig is checked here; SpecError names, per mistake, the table, the field, the allowed
    range and (for a swept field or the horizon) the point; `source` (the spec's file) heads it."""
    from nlbound.training import TrainConfig

    s_of = s_of or dataset_s
    fixed, variants, err, runs = dict(spec.fixed), spec.bounds.variants(), _Errors(), []
    defaults = TrainConfig()
    for point in spec.points():
        fields = {**fixed, **point}
        get = partial(_field, fields, defaults)
        at = "at " + ", ".join(f"{k} == {v!r}" for k, v in point.items()) if point else ""
        t_star, t_end = None, spec.horizon.t_end
        if spec.horizon.t_star_multiple is not None:
            s = s_of(SimpleNamespace(dataset=get("dataset"), size=get("size"), data_seed=get("data_seed"),
                                     positive=get("positive")))
            try:
                t_star = _t_star(spec.horizon.alpha, get("beta"), s, get("depth"))
            except ValueError as exc:
                err.add(f"[horizon] t_star_multiple: t*_{spec.horizon.alpha:g} is undefined {at}: {exc}")
                continue
            t_end = float(f"{spec.horizon.t_star_multiple * t_star:.3g}")  # as the figures round
        gammas = set(fixed.get("gammas", ())) | {v.gamma(get("beta")) for v in variants}
        try:
            cfg = TrainConfig(**{**fields, "t_end": t_end, "gammas": tuple(sorted(gammas))})
        except ParameterError as exc:
            err.add(_config_error(exc, spec, point, at, t_star))
            continue
        runs.append(SweepRun(tuple(point.items()), cfg, t_star))
    if err.items:
        raise SpecError(source or spec.name, dict.fromkeys(err.items))  # one line per distinct mistake
    return runs


def _field(fields: dict, defaults: Any, name: str) -> Any:
    """A point's value of a TrainConfig field: given in [fixed] / [sweep], else TrainConfig's default."""
    return fields.get(name, getattr(defaults, name))


def _config_error(exc: ParameterError, spec: SweepSpec, point: dict, at: str, t_star: float | None) -> str:
    """A TrainConfig refusal as "[table] field == value, must be ..." (+ the point where it depends on one)."""
    if exc.name == "t_end":
        h = spec.horizon
        how = (f" (t_star_multiple {h.t_star_multiple:g} x t*_{h.alpha:g} == {t_star:g})" if t_star else "")
        return f"[horizon] {'t_star_multiple' if t_star else 't_end'}: t_end == {_num(exc.value)}{how}, " \
               f"must be {exc.allowed} {at}".rstrip()
    from nlbound.training.config import LIMITS

    if exc.name == "number of gammas":
        return f"[fixed] gammas: {_num(exc.value)} with the γ of the [bounds] variants, must be at most {LIMITS['gammas']}"
    name = exc.name
    if name in point:
        return f"[sweep] {exc.renamed(name)} {at}"
    return f"[fixed] {exc.renamed(name)}"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# ----------------------------------------------------------------------------- tables

RESULT_COLUMNS = ("t", "t_over_t_star", "train_risk", "test_risk", "variant", "kappa", "bound_p",
                  "gamma_rule", "q", "terms", "gamma", "margin_risk", "upsilon", "deviation", "precision", "bound")


def applicable(variants: Iterable[BoundVariant], data: Any) -> list[BoundVariant]:
    """The variants with the run's p (evaluation.run_bound refuses another); ValueError if none."""
    p = int(data.info["p"])
    out = [v for v in variants if v.p == p]
    if not out:
        raise ValueError(f"bounds.p == {sorted({v.p for v in variants})}, must include the p == {p} the run "
                         "was trained with (Υ counts the proxies it rounded to p bits)")
    return out
SUMMARY_COLUMNS = ("t_star", "t_end", "grid_size", "delta", "min_bound", "union_price", "variant_at_min",
                   "gamma_at_min", "t_at_min", "train_risk_at_min", "test_risk_at_min", "final_test_risk")


def run_results(run: SweepRun, data: Any, variants: Iterable[BoundVariant]) -> dict[str, list]:
    """Rows of results.csv for one run: every recorded t × every bound variant (eq. 6 terms)."""
    from nlbound.analysis.bounds import bound_curve

    cols: dict[str, list] = {k: [] for k in ("key", *dict(run.point), *RESULT_COLUMNS)}
    t = data.t
    ratio = t / run.t_star if run.t_star else np.full_like(t, np.nan)
    for v in applicable(variants, data):
        c = bound_curve(data, v)
        fixed = {"key": run.config.key(), **dict(run.point), "variant": v.label, "kappa": v.kappa, "bound_p": v.p,
                 "gamma_rule": v.gamma_rule, "q": v.q, "terms": v.terms, "gamma": float(c["gamma"])}
        arrays = {"t": t, "t_over_t_star": ratio, "train_risk": data.col("train_risk"),
                  "test_risk": data.col("test_risk"), "margin_risk": c["margin_risk"],
                  "upsilon": c["upsilon"], "deviation": c["deviation"], "precision": c["precision"],
                  "bound": c["bound"]}
        for k in cols:
            cols[k].extend(arrays[k].tolist() if k in arrays else [fixed[k]] * len(t))
    return cols


def run_summary(run: SweepRun, data: Any, variants: Iterable[BoundVariant]) -> dict[str, Any]:
    """The least bound over the fixed grid G = {recorded t} × {full variants}, valid w.p. ≥ 1 − δ
    simultaneously for all of G by the union bound: each point is evaluated with δ/|G| (eq. 7's
    ln(1/δ) grows by ln|G|); union_price is what that adds to Υ_κ at the minimiser."""
    from nlbound.analysis.bounds import bound_curve

    full = [v for v in applicable(variants, data) if v.terms == "full"]
    t, n = data.t, len(data.t) * len(full)
    row = {"key": run.config.key(), **dict(run.point), "t_star": run.t_star, "t_end": run.config.t_end,
           "grid_size": n, "delta": full[0].delta if full else math.nan}
    if not full:
        return {**row, **{k: math.nan for k in SUMMARY_COLUMNS if k not in row}, "variant_at_min": ""}
    union = [bound_curve(data, v, n_searched=n) for v in full]  # each point at delta/n (union_delta)
    grid = np.stack([np.where(np.isnan(u["bound"]), np.inf, u["bound"]) for u in union])
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    plain = bound_curve(data, full[i])
    return {**row, "min_bound": float(grid[i, j]),
            "union_price": float(union[i]["upsilon"][j] - plain["upsilon"][j]),
            "variant_at_min": full[i].label, "gamma_at_min": float(union[i]["gamma"]), "t_at_min": float(t[j]),
            "train_risk_at_min": float(data.col("train_risk")[j]),
            "test_risk_at_min": float(data.col("test_risk")[j]),
            "final_test_risk": float(data.col("test_risk")[-1])}


def tables(runs: list[SweepRun], dirs: dict[str, Path], spec: SweepSpec) -> tuple[dict, dict]:
    """(results, summary) as column dicts, in run order, read from the finished run directories."""
    from nlbound.analysis.traces import load_run_dir

    variants = spec.bounds.variants()
    results: dict[str, list] = {}
    summary: dict[str, list] = {}
    for run in runs:
        data = load_run_dir(dirs[run.config.key()])
        for target, cols in ((results, run_results(run, data, variants)),
                             (summary, {k: [v] for k, v in run_summary(run, data, variants).items()})):
            for k, v in cols.items():
                target.setdefault(k, []).extend(v)
    return results, summary


# ----------------------------------------------------------------------------- driver

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
    from nlbound.execution.backends import LocalBackend
    from nlbound.paper.reproduce import estimated_cost
    from nlbound.execution.runner import dedupe, default_train, is_done, run_all

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
