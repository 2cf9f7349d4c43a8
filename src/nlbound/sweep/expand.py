"""A sweep's runs: every point of the spec's axes as a TrainConfig (the cache key) with its horizon."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any, Callable

from nlbound._validate import ParameterError
from nlbound.data import dataset_for
from nlbound.sweep.spec import SpecError, SweepSpec, _Errors
from nlbound.theory import t_star_time
from nlbound.training import TrainConfig
from nlbound.training.config import LIMITS

SOf = Callable[[Any], float]  # TrainConfig -> s = ||Y X~+|| of its dataset


@dataclass(frozen=True)
class SweepRun:
    """One point of the sweep: its axis values, its TrainConfig (the cache key) and t*_α."""

    point: tuple[tuple[str, Any], ...]
    config: Any  # nlbound.training.TrainConfig
    t_star: float | None


def dataset_s(config: Any, data_dir: str | None = None) -> float:
    """s = ||Y X~+|| of the dataset a run trains on (Sec. 5.3; ERRATA 5)."""
    return float(dataset_for(config, data_dir=data_dir).s)


def expand(spec: SweepSpec, s_of: SOf | None = None, source: str | None = None) -> list[SweepRun]:
    """The runs of a spec, in spec order. t_end follows [horizon]; gammas = [fixed] gammas ∪ the
    γ of every bound variant at the run's β (so every variant's margin column is recorded).

    The one validation of a spec's runs: `sweep --dry-run` and the real sweep both call it. Each
    point's TrainConfig is built whole (fields, t_end, gammas), so every cross-field rule of
    TrainConfig is checked here; SpecError names, per mistake, the table, the field, the allowed
    range and (for a swept field or the horizon) the point; `source` (the spec's file) heads it."""
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
                t_star = t_star_time(spec.horizon.alpha, get("beta"), s, get("depth"))
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
    if exc.name == "number of gammas":
        return f"[fixed] gammas: {_num(exc.value)} with the γ of the [bounds] variants, must be at most {LIMITS['gammas']}"
    name = exc.name
    if name in point:
        return f"[sweep] {exc.renamed(name)} {at}"
    return f"[fixed] {exc.renamed(name)}"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
