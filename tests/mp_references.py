"""Independent references at 60 digits (mpmath) shared by the tests: the binary kl and its upper inverse."""

from __future__ import annotations

import mpmath


def mp_kl(q, p):
    """kl(q‖p) = q ln(q/p) + (1 − q) ln((1 − q)/(1 − p)) at mpmath's working precision (0 ln 0 = 0)."""
    q, p = mpmath.mpf(q), mpmath.mpf(p)
    a = q * mpmath.log(q / p) if q > 0 else mpmath.mpf(0)
    b = (1 - q) * mpmath.log((1 - q) / (1 - p)) if q < 1 else mpmath.mpf(0)
    return a + b


def mp_kl_inverse(q, c):
    """sup{p ∈ [q, 1]: kl(q‖p) ≤ c} at 60 digits: q = 0 in closed form (kl(0‖p) = −ln(1−p)), else
    500 bisection steps on [q, 1 − 10^-50] (a bracket of width 2^-500, far below float64's resolution;
    a root above 1 − 10^-50 is 1 in float64)."""
    with mpmath.workdps(60):
        if q == 0:
            return -mpmath.expm1(-mpmath.mpf(c))
        lo, hi = mpmath.mpf(q), 1 - mpmath.mpf(10) ** -50
        if mp_kl(q, hi) <= c:
            return mpmath.mpf(1)
        for _ in range(500):
            mid = (lo + hi) / 2
            if mp_kl(q, mid) <= c:
                lo = mid
            else:
                hi = mid
        return hi
