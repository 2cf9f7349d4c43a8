"""Declared experiments: what determines a figure (runs + bound parameters), hashed stably."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from nlbound._validate import Integral, Interval, Options, Real, validate_params
from nlbound.theory import CONSTRAINTS as THEORY

GAMMA_RULES = ("beta2", "alpha", "fixed")
TERMS = ("full", "no_upsilon", "no_deviation")


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON form (sorted keys, floats by repr): equal inputs, equal hashes."""
    text = json.dumps(_canonical(obj, top=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(obj: Any, top: bool = False) -> Any:
    if not top and hasattr(obj, "key") and callable(obj.key) and not isinstance(obj, dict):
        return {"__key__": obj.key()}  # a TrainConfig is identified by its own cache key
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        return repr(obj) if not math.isfinite(obj) else float(repr(obj))
    if hasattr(obj, "item"):  # numpy scalar
        return _canonical(obj.item())
    return obj


@dataclass(frozen=True)
class BoundVariant:
    """One curve of Theorem 5.2 evaluated post hoc on a trace (no retraining needed).

    gamma = beta**2 / q ("beta2", Fig. 1), alpha / q ("alpha", Sec. 5.3, nu = 1) or q itself
    ("fixed"). `terms` drops a component for Fig. 4.
    """

    label: str
    kappa: int = 2
    p: int = 32
    delta: float = 0.05
    gamma_rule: str = "beta2"
    q: float = 1.0
    alpha: float = 0.5
    terms: str = "full"

    def __post_init__(self) -> None:
        validate_params(_VARIANT_CONSTRAINTS, {k: getattr(self, k) for k in _VARIANT_CONSTRAINTS})

    def gamma(self, beta: float) -> float:
        return gamma_value(self.gamma_rule, self.q, beta, self.alpha)


# Theorem 5.2's parameters as the figures vary them (kappa in {1, 2}, delta in (0, 1), eq. 6); the
# theory layer checks the full grid again when the bound is evaluated.
_VARIANT_CONSTRAINTS = {
    "kappa": THEORY["kappa"],
    "p": Interval(Integral, 1, None, closed="left"),
    "delta": THEORY["delta"],
    "gamma_rule": Options(*GAMMA_RULES),
    "q": Interval(Real, 0, None, closed="neither"),
    "alpha": THEORY["alpha"],
    "terms": Options(*TERMS),
}


def gamma_value(rule: str, q: float, beta: float, alpha: float = 0.5) -> float:
    """The margin threshold of a rule; the same float everywhere, so trace columns match."""
    if rule == "beta2":
        return beta**2 / q
    if rule == "alpha":
        return alpha / q
    return float(q)


ROLES = ("main", "seed", "crosscheck")


@dataclass(frozen=True)
class RunSpec:
    """A training run of a figure: its TrainConfig (the cache key) and how the figure names it.

    role "main": a run the figure and its claims are about (its init seed is the figure's first);
    "seed": the same run with another init seed (`of` = the main run's label; plotted as a band,
    every claim is evaluated on it too); "crosscheck": the main run `of` trained another way (GD).
    """

    label: str
    config: Any  # nlbound.training.TrainConfig (duck-typed: frozen, .key())
    group: str = ""  # e.g. the panel a run belongs to
    role: str = "main"
    of: str = ""

    def __post_init__(self) -> None:
        validate_params({"role": Options(*ROLES)}, {"role": self.role})
        if (self.role == "main") != (self.of == ""):
            raise ValueError(f"of == {self.of!r}, must name the main run exactly when role != 'main'")


@dataclass(frozen=True)
class Experiment:
    """Everything that determines a figure's result. Paths, logging, processes do not belong here."""

    name: str
    title: str
    runs: tuple[RunSpec, ...]
    bounds: tuple[BoundVariant, ...] = ()
    optimistic_gammas: tuple[float, ...] = ()
    alpha: float = 0.5
    quick: bool = False
    notes: str = ""
    params: tuple[tuple[str, Any], ...] = field(default=())  # extra declared constants

    def __post_init__(self) -> None:
        validate_params({"alpha": THEORY["alpha"]}, {"alpha": self.alpha})

    def key(self) -> str:
        return stable_hash(self)

    def configs(self) -> list[Any]:
        return [r.config for r in self.runs]

    def main_runs(self) -> tuple[RunSpec, ...]:
        return tuple(r for r in self.runs if r.role == "main")

    def n_seeds(self) -> int:
        """1 + the largest number of re-seeded copies of a main run."""
        return 1 + max([sum(1 for r in self.runs if r.role == "seed" and r.of == m.label)
                        for m in self.main_runs()] or [0])

    def seed_run(self, label: str, k: int) -> RunSpec:
        """The k-th seed (0: the main run itself) of main run `label`; a run without a k-th seed
        (declared with one seed) is its main run."""
        copies = [r for r in self.runs if r.role == "seed" and r.of == label]
        return self.run(label) if k == 0 or k > len(copies) else copies[k - 1]

    def crosscheck(self, label: str) -> RunSpec | None:
        return next((r for r in self.runs if r.role == "crosscheck" and r.of == label), None)

    def run(self, label: str) -> RunSpec:
        for r in self.runs:
            if r.label == label:
                return r
        raise KeyError(f"{self.name} has no run {label!r}")


@dataclass(frozen=True)
class Output:
    """What does not change results: where to write, where the run cache lives, how to run."""

    out_dir: str = "results"
    cache_dir: str = "runs"
    processes: int = 2
    progress: bool = True
    data_dir: str | None = None

    def __post_init__(self) -> None:
        validate_params({"processes": Interval(Integral, 1, 64)}, {"processes": self.processes})
