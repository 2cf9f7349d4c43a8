"""Declarative parameter constraints (scikit-learn's `_parameter_constraints` style) and their checker.

One home for validation: each public function or dataclass declares a table
``{"eps": Interval(Real, 0, 1, closed="both"), "kappa": Options(1, 2), ...}`` and calls
``validate_params(table, values)``. A violation raises :class:`ParameterError` (a ValueError)
whose message reads ``"eps == 1.5, must be in [0, 1]"``; the CLI renames the parameter to its
flag with :meth:`ParameterError.renamed` (``"--eps == 1.5, must be in [0, 1]"``) instead of
editing message text. Arrays are checked elementwise (vectorised; the first bad element in flat
order is named). Real intervals reject NaN always and ±inf unless ``finite=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = [
    "Integral", "Real", "Interval", "Options", "ParameterError", "validate_params", "check_param",
    "check_in_range", "check_integer", "check_choice", "allowed",
]  # fmt: skip


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v)) if abs(int(v)) < 10**15 else f"{float(v):g}"  # 1e300, not its 301 digits
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() and abs(float(v)) < 1e15 else f"{v:g}"
    return str(v)


class ParameterError(ValueError):
    """A parameter outside its declared constraint: ``"{name} == {value}, must be {allowed}"``."""

    def __init__(self, name: str, value: Any, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} == {_fmt(value)}, must be {allowed}")

    def renamed(self, name: str) -> "ParameterError":
        """The same violation reported under another name (a CLI flag such as ``--until``)."""
        return ParameterError(name, self.value, self.allowed.replace(f"{self.name} ==", f"{name} =="))


def _numeric(value: Any) -> np.ndarray:
    """np.asarray(value); Python integers beyond int64 (numpy's object arrays) as float64 (10**300 is a number)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "O" and all(isinstance(v, int) and not isinstance(v, bool) for v in arr.reshape(-1)):
        arr = arr.astype(np.float64)
    return arr


def _has_bool(value: Any) -> bool:
    """A Python/numpy bool inside a list or tuple (numpy would turn [True, 0.5] into [1.0, 0.5])."""
    if isinstance(value, (list, tuple)):
        return any(_has_bool(v) for v in value)
    return isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class Interval:
    """Numbers of `kind` (Real or Integral) in an interval; None for an unbounded side.

    closed: "both", "left", "right" or "neither". finite: reject ±inf even where the interval is
    unbounded (the default: an infinite β, t or learning rate is never meaningful).
    """

    kind: type
    lo: float | None
    hi: float | None
    closed: str = "both"
    finite: bool = True

    def __post_init__(self) -> None:
        if self.kind not in (Real, Integral):
            raise TypeError("Interval kind must be numbers.Real or numbers.Integral")
        if self.closed not in ("both", "left", "right", "neither"):
            raise TypeError(f"closed == {self.closed!r}")

    @property
    def description(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.lo is not None else "("
        right = "]" if self.closed in ("both", "right") and self.hi is not None else ")"
        lo = "-inf" if self.lo is None else _fmt(self.lo)
        hi = "inf" if self.hi is None else _fmt(self.hi)
        return f"in {left}{lo}, {hi}{right}"

    def bad_mask(self, arr: np.ndarray) -> np.ndarray:
        """Boolean mask of elements violating the interval (arr already float64)."""
        ok = ~np.isnan(arr)
        if self.lo is not None:
            ok &= (arr >= self.lo) if self.closed in ("both", "left") else (arr > self.lo)
        if self.hi is not None:
            ok &= (arr <= self.hi) if self.closed in ("both", "right") else (arr < self.hi)
        if self.finite:
            ok &= np.isfinite(arr)
        return ~ok

    def check(self, name: str, value: Any) -> np.ndarray:
        arr = _numeric(value)
        if arr.dtype.kind not in "iuf" or _has_bool(value):  # booleans too: `eps = true` is no number
            what = "a real number" if self.kind is Real else "an integer"
            raise ParameterError(name, value, f"{what} {self.description}")
        arr = np.asarray(arr, dtype=np.float64)
        if self.kind is Integral:
            notint = ~np.isfinite(arr) | (np.floor(arr) != arr)
            if notint.any():
                raise ParameterError(name, arr.reshape(-1)[np.argmax(notint.reshape(-1))], "an integer")
        bad = self.bad_mask(arr)
        if bad.any():
            raise ParameterError(name, arr.reshape(-1)[np.argmax(bad.reshape(-1))], self.description)
        return arr


@dataclass(frozen=True, init=False)
class Options:
    """One of a finite set of values (strings or numbers)."""

    choices: tuple

    def __init__(self, *choices: Any):
        object.__setattr__(self, "choices", tuple(choices))

    @property
    def description(self) -> str:
        return "one of " + ", ".join(map(str, self.choices))

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, str) or not isinstance(value, (np.ndarray, list, tuple)):
            values = [value]
        else:
            values = np.asarray(value).reshape(-1).tolist()
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices):
            arr = np.asarray(value)
            if arr.dtype.kind == "b" or _has_bool(value):  # True == 1 is no choice of a numeric option
                raise ParameterError(name, value, self.description)
            if arr.dtype.kind in "iuf":
                arr = arr.astype(np.float64)
                bad = ~np.isin(arr, np.asarray(self.choices, dtype=np.float64))
                if bad.any():
                    raise ParameterError(name, arr.reshape(-1)[np.argmax(bad.reshape(-1))], self.description)
                return arr
        for v in values:
            if isinstance(v, bool) or v not in self.choices:
                raise ParameterError(name, v, self.description)
        return value


@dataclass(frozen=True)
class Boolean:
    """True or False (Python or numpy bools only: 0, 1 and "yes" are refused)."""

    description = "True or False"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterError(name, value, self.description)
        return bool(value)


def allowed(constraint: Any) -> str:
    """The allowed values of a constraint as a help text states them, generated so that --help and the
    check cannot disagree: "in [0, 1]", ">= 1", "integer in [2, 64]", "integer >= 0", "one of 16, 32"."""
    if isinstance(constraint, Interval):
        kind = "integer " if constraint.kind is Integral else ""
        lo_closed, hi_closed = constraint.closed in ("both", "left"), constraint.closed in ("both", "right")
        if constraint.hi is None and constraint.lo is not None:
            return f"{kind}{'>=' if lo_closed else '>'} {_fmt(constraint.lo)}"
        if constraint.lo is None and constraint.hi is not None:
            return f"{kind}{'<=' if hi_closed else '<'} {_fmt(constraint.hi)}"
        return kind + constraint.description
    return constraint.description


def check_param(name: str, value: Any, constraint: Any) -> Any:
    """Check one value against one constraint (Interval, Options); return the checked value."""
    return constraint.check(name, value)


def validate_params(constraints: Mapping[str, Any], values: Mapping[str, Any], *, skip_none: bool = True) -> dict:
    """Check every value named in `values` against its entry of `constraints`.

    Returns a dict of the checked values (float64 arrays for numeric constraints). A name without a
    constraint is a TypeError (a programming error, never silently accepted); a None value is
    skipped when `skip_none`.
    """
    out = {}
    for name, value in values.items():
        if name not in constraints:
            raise TypeError(f"no constraint declared for parameter {name!r}")
        if value is None and skip_none:
            continue
        out[name] = constraints[name].check(name, value)
    return out


# Thin forms kept for one-off checks (same messages as the declarative table).
def check_in_range(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                   lo_open: bool = False, hi_open: bool = False, finite: bool = True) -> np.ndarray:
    closed = {(False, False): "both", (False, True): "left", (True, False): "right", (True, True): "neither"}
    return Interval(Real, lo, hi, closed[(lo_open, hi_open)], finite).check(name, value)


def check_integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    return Interval(Integral, lo, hi, "both").check(name, value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    return Options(*choices).check(name, value)
