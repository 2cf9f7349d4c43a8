"""Comparisons that cross code paths or machines (docs/ARCHITECTURE.md, "Tolerance policy"): ULPs."""

from __future__ import annotations

import numpy as np

# Theorem 5.2's terms, one point computed along two code paths (alone vs inside a grid, the driver's
# blocks vs whole arrays): each elementary function (pow, exp, log, log1p) of numpy's SIMD loops and of
# the C library differ by ≤ 2 ULP (measured: 2,000 hypothesis grids of tests/theory/test_theory.py on an
# AVX-512 CPU, X86_V4/AVX512_ICL loops; bitwise at the baseline dispatch); a term composes a few of
# them (x4), and a term formed as exp(ℓ) inherits ℓ's absolute error (assert_ulp_close's log_scaled).
GRID_ULPS = 8


def ulp_distance(a, b) -> np.ndarray:
    """|a − b| in units of the last place of the larger magnitude (float64), elementwise: 0 where the
    two are equal (equal infinities included) or both NaN, +inf where exactly one is non-finite."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    finite = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore", over="ignore"):
        dist = np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)))
    return np.where(same, 0.0, np.where(finite, dist, np.inf))


def assert_ulp_close(a, b, ulps: float, *, log_scaled: bool = False, what: object = "") -> None:
    """a and b agree to `ulps` ULPs; with log_scaled, to ulps·(1 + |ln|b||): a value formed as exp(ℓ)
    carries ℓ's absolute error, i.e. its own relative error times |ℓ| (exp amplifies it)."""
    b_arr = np.asarray(b, dtype=np.float64)
    allowed = np.full(b_arr.shape, float(ulps))
    if log_scaled:
        with np.errstate(divide="ignore"):
            ell = np.abs(np.log(np.abs(b_arr)))
        allowed = allowed * (1.0 + np.where(np.isfinite(ell), ell, 0.0))
    dist = ulp_distance(a, b)
    bad = dist > allowed
    assert not np.any(bad), (what, np.asarray(a)[bad] if np.ndim(a) else a, b_arr[bad] if b_arr.ndim else b,
                             dist[bad], allowed[bad])


def assert_risk_agrees(got: float, y, f, *, margin: float = 1e-9) -> None:
    """A risk mean(y f < 0) computed elsewhere (another code path: other products, other kernels)
    from predictions that agree with f to far better than `margin` equals this one up to the points
    whose margin |y f| is within `margin` of 0, which either side may count."""
    yf = np.asarray(y, dtype=np.float64) * np.asarray(f, dtype=np.float64)
    lo, hi = float(np.mean(yf < -margin)), float(np.mean(yf < margin))
    assert lo <= got <= hi, (got, lo, hi)


def rounded_3g(value: float, rel: float) -> set[float]:
    """What float(f"{v:.3g}") gives for v within `rel` (relative) of `value`: one number, or the two
    around a rounding boundary (a horizon rounded to 3 digits from a value another path computed)."""
    return {float(f"{value * (1 + e):.3g}") for e in (-rel, 0.0, rel)}
