"""Validation of user input at the public boundary, with scikit-learn-style messages."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def _fmt(v: Any) -> str:
    return repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, (int, float, np.floating, np.integer)) else str(v)


def check_in_range(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    """Raise ValueError "name == v, must be in [lo, hi]" unless every element of value lies in range.

    NaN is always rejected. `value` may be a scalar or an array (every element is checked).
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} == {value!r}, must be a real number")
    interval = (
        ("(" if lo_open else "[")
        + ("-inf" if lo is None else _fmt(lo))
        + ", "
        + ("inf" if hi is None else _fmt(hi))
        + (")" if hi_open or hi is None else "]")
    )
    flat = arr.reshape(-1).astype(float)
    bad = np.isnan(flat)
    if lo is not None:
        bad |= (flat <= lo) if lo_open else (flat < lo)
    if hi is not None:
        bad |= (flat >= hi) if hi_open else (flat > hi)
    if bad.any():
        v = flat[np.argmax(bad)]
        raise ValueError(f"{name} == {_fmt(v)}, must be in {interval}")


def check_integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> None:
    """Raise ValueError unless every element of value is an integer within [lo, hi]."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or (
        arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (np.floor(arr) == arr))
    ):
        raise ValueError(f"{name} == {value!r}, must be an integer")
    check_in_range(name, arr, lo, hi)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = list(choices)
    for v in np.asarray(value).reshape(-1).tolist() if not isinstance(value, str) else [value]:
        if v not in choices:
            raise ValueError(f"{name} == {_fmt(v)}, must be one of {', '.join(map(str, choices))}")


def check_finite(name: str, value: Any) -> None:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")


__all__ = ["check_in_range", "check_integer", "check_choice", "check_finite"]
