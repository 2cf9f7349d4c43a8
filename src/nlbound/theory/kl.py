"""The binomial kl divergence and its upper inverse (the Chernoff tail of a [0, 1] mean), over float64 arrays.

One home for the package's kl inversion: the counting step of Theorem 5.2 in kl form
(`bound_terms(form="kl")`, docs/PROOFS.md "Counting step in kl form") and the PAC-Bayes baseline
(`nlbound.baselines.pacbayes`) both call `kl_inverse_upper`.

kl(q‖p) = q ln(q/p) + (1−q) ln((1−q)/(1−p)), with 0 ln 0 = 0. The inverse
kl⁻¹(q, c) = sup{p ∈ [q, 1] : kl(q‖p) ≤ c} is found inside a proved bracket [q, end], end ≤
min(1, q + √(c/2)): kl(q‖p) ≥ 2(p−q)² (Pinsker), so no p beyond q + √(c/2) has kl ≤ c
(`_upper_end`). The search (safeguarded Newton, `_kl_inverse_upper`) keeps kl(q‖lo) ≤ c and (hi = the bracket's end, or kl(q‖hi) > c), and returns hi, so the
result is never below the true inverse (up to the rounding of one kl evaluation, ~1e−16 relative)
and never above q + √(c/2) (the Hoeffding value, as computed).
"""

from __future__ import annotations

import numpy as np

from nlbound._validate import Interval, Real, validate_params

__all__ = ["kl_bernoulli", "kl_inverse_upper"]

_CONSTRAINTS = {
    "q": Interval(Real, 0, 1, closed="both"),
    "p": Interval(Real, 0, 1, closed="both"),
    "c": Interval(Real, 0, None, closed="left", finite=False),
}
MAX_ITERS = 1100  # steps: bisection alone reaches adjacent floats from any bracket within this (2^-1074 is the smallest)


def _xlog_ratio(a, b, diff):
    """a ln(a/b): a log1p(diff/b) where |diff/b| < 1/2 (diff = a − b, exact there by Sterbenz: accurate
    for a ≈ b), a (ln a − ln b) elsewhere; 0 where a = 0, +inf where b = 0 < a."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = diff / b
        val = np.where(np.abs(r) < 0.5, a * np.log1p(r), a * (np.log(a) - np.log(b)))
    return np.where(a == 0.0, 0.0, np.where(b == 0.0, np.inf, val))


def _kl(q, p):
    """kl(q‖p) over valid float64 arrays (q, p ∈ [0, 1]), unvalidated."""
    return _xlog_ratio(q, p, q - p) + _xlog_ratio(1.0 - q, 1.0 - p, p - q)


def _entropy(q):
    """H(q) = −q ln q − (1−q) ln(1−q) (nats)."""
    return -(_xlog_ratio(q, 1.0, q - 1.0) + _xlog_ratio(1.0 - q, 1.0, -q))


def _upper_end(q, c):
    """A proved upper end of {p : kl(q‖p) ≤ c}: the smaller of Pinsker's q + √(c/2) (kl ≥ 2(p−q)²),
    1, and, for q < 1, 1 − exp(−(c + H(q))/(1−q)) (kl(q‖p) ≥ q ln q + (1−q) ln((1−q)/(1−p)) since
    p ≤ 1; equal to the inverse at q = 0), which keeps the end below 1 where Pinsker's is not."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        pinsker = np.minimum(1.0, q + np.sqrt(0.5 * c))
        ent = -np.expm1(-(c + _entropy(q)) / (1.0 - q))
    return np.where(q < 1.0, np.minimum(pinsker, ent), 1.0)


def _newton_point(q, c, b):
    """The Newton step from b for kl(q‖p) = c in y = −ln(1−p): y − (kl(q‖b) − c) b/(b − q) (kl is
    convex in y, as −ln(1 − e^{−y}) is, so from above it lands at or above the root); NaN where
    undefined."""
    with np.errstate(all="ignore"):
        y = -np.log1p(-b) - (_kl(q, b) - c) * b / (b - q)
        return -np.expm1(-y)


def _kl_inverse_upper(q, c):
    """kl⁻¹(q, c) over valid broadcast float64 arrays, unvalidated (module docstring: bracket, invariant).

    Each step tests one point x of the bracket (lo, hi) and moves lo (kl(q‖x) ≤ c) or hi (kl > c) to
    it, so the invariant holds whatever x is. x is the Newton point from hi (`_newton_point`) moved
    up by 4 floats (so rounding does not put it below the root) where that lies inside the bracket,
    the midpoint otherwise. A point is done when the Newton step from hi is within 4 floats of hi
    (hi − root ≤ that step plus its square-order remainder) or the bracket holds no float between."""
    q, c = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))
    shape = q.shape
    q, c = q.reshape(-1), c.reshape(-1)
    hi = _upper_end(q, c)
    below_one = np.nextafter(1.0, 0.0)  # where even this has kl ≤ c, the sup is 1 (no float between)
    hi = np.where((hi == 1.0) & (q < 1.0) & (_kl(q, below_one) > c), below_one, hi)
    lo = q.copy()
    act = np.flatnonzero((hi > lo) & (hi < 1.0) & ~(_kl(q, hi) <= c))  # else hi is the sup already
    for _ in range(MAX_ITERS):
        if act.size == 0:
            break
        a, b, qa, ca = lo[act], hi[act], q[act], c[act]
        xn = _newton_point(qa, ca, b)
        newton = (xn > a) & (xn < b)
        done = (xn > a) & (b - xn <= 4.0 * np.spacing(b))  # xn ≥ b: a step below float resolution
        x = np.where(newton, np.minimum(xn + 4.0 * np.spacing(xn), b), a + 0.5 * (b - a))
        ok = _kl(qa, x) <= ca
        lo[act] = np.where(ok, x, a)
        hi[act] = np.where(ok, b, x)
        act = act[~done & (x > a) & (x < b)]
    return hi.reshape(shape)


def kl_bernoulli(q, p):
    """kl(q‖p) = q ln(q/p) + (1−q) ln((1−q)/(1−p)) for q, p ∈ [0, 1] (broadcast; 0 ln 0 = 0; +inf
    where p ∈ {0, 1} and q ≠ p). Returns a float64 array (0-d for scalar input). Absolute error
    ~1e-16·|p − q| (the two terms cancel to ~(p − q)² when p ≈ q), which moves kl⁻¹ by ~1e-16."""
    P = validate_params(_CONSTRAINTS, {"q": q, "p": p})
    return _kl(np.asarray(P["q"], dtype=np.float64), np.asarray(P["p"], dtype=np.float64))


def kl_inverse_upper(q, c):
    """kl⁻¹(q, c) = sup{p ∈ [q, 1] : kl(q‖p) ≤ c} for q ∈ [0, 1], c ∈ [0, +inf] (broadcast).

    Never below the true inverse (up to one kl evaluation's rounding) and never above
    min(1, q + √(c/2)) (Pinsker); kl⁻¹(q, 0) = q, kl⁻¹(q, +inf) = kl⁻¹(1, c) = 1. Returns a float64
    array (0-d for scalar input)."""
    P = validate_params(_CONSTRAINTS, {"q": q, "c": c})
    return _kl_inverse_upper(P["q"], P["c"])
