"""A sweep spec as values: the tables `fixed`, `sweep` (axes), `horizon`, `bounds`, `resources`, and
SpecError, which lists every mistake found in one (parsing: sweep/parse.py).

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

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from nlbound._validate import ParameterError
from nlbound.analysis.spec import BoundVariant

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
