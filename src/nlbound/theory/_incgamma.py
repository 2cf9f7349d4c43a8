"""Kernels for log ∫_{x_b}^{x_u} x^{c−1} e^{−x} dx (the Γ differences of eq. 92), relative-accurate.

With x_u = x_b e^Y and c ∈ (−1, 1], two methods, both free of the Γ(c, x_b) − Γ(c, x_u)
cancellation whatever the length of the interval:

- `log_int_by_series` (x_u ≤ 2): the power series of e^{−x}, each power difference kept
  relative-accurate with expm1, a FIXED number of terms K per element chosen from x_u alone;
- `log_int_by_gammaincc` (x_u > 2, so the interval is long): differences of scipy's regularised
  Q(c, x) (c > 0), of E₁ (c = 0) or of the recurrence Γ(c,x) = (x^c e^{−x} − Γ(c+1,x))/(−c) (c < 0).

`log_w_integrals` chooses between them per element, for the exponent pair c = a, a + 1 with
a = (2−L)/L of eq. 11.

Performance layout (10⁶ points on 2 cores): the series elements are stable-sorted by (group, K)
so that every run of equal (c, K) is contiguous and c is a Python scalar (no per-term division
array, no per-iteration compaction or masking); long runs are cut into blocks that worker threads
evaluate in parallel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from nlbound.theory._threads import BLOCK, blocks, run_tasks

_EULER_GAMMA = 0.57721566490153286061
SERIES_TOL = 2e-19
# K terms (k = 0..K−1) suffice when xu^K/K! ≤ SERIES_TOL: the k-th term is (−1)^k/k! ∫x^{c+k−1}dx,
# at most xu^k/k! times the k = 0 term, the tail is ≤ e^{xu} xu^K/K! times it and the sum is
# ≥ e^{−xu} times it, so the relative truncation error is ≤ e^{2xu} xu^K/K! ≤ e⁴ · 2e−19 ≈ 1e−17.
KS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 17, 21, 26)
XMAX = np.array([math.exp((math.log(SERIES_TOL) + math.lgamma(k + 1.0)) / k) for k in KS])
XMAX[-1] = max(XMAX[-1], 2.0)  # 2^26/26! = 1.7e−19 ≤ SERIES_TOL: K = 26 covers all of xu ≤ 2
_COEF: dict[tuple[float, int], tuple[float, ...]] = {}  # (c, K) -> tuple of the scalars (−1)^k/(k!(c+k)), k = 1..K−1


def _coefs(c, K):
    key = (c, K)
    if key not in _COEF:
        _COEF[key] = tuple((-1.0) ** k / (math.factorial(k) * (c + k)) for k in range(1, K))
    return _COEF[key]


def series_neg(c, K, xb, lxb, Y, xu):
    """c ≤ 0, K terms: log ∫ = c log xb + log[expm1(cY)/c + Σ_{k=1}^{K−1} (−1)^k G_k/(k!(c+k))],
    G_k = xb^k expm1((c+k)Y) > 0, G_{k+1} = xu G_k + xb^k (xu − xb)  (expm1(cY)/c := Y at c = 0)."""
    acc = Y.copy() if c == 0 else np.expm1(c * Y) / c
    if K > 1:
        g = np.where(Y < 1.0, xb * np.expm1((c + 1.0) * Y), np.exp(lxb + (c + 1.0) * Y) - xb)
        gap = xb * np.expm1(Y)  # xu − xb without cancellation
        gap = np.where(np.isfinite(gap), gap, xu - xb)  # 0·inf when e^Y overflows: then xu − xb is exact
        xbk = xb.copy()
        tmp = np.empty_like(acc)
        co = _coefs(c, K)
        for k in range(1, K):
            np.multiply(g, co[k - 1], out=tmp)
            acc += tmp
            if k < K - 1:
                g *= xu
                np.multiply(xbk, gap, out=tmp)
                g += tmp
                xbk *= xb
    np.log(acc, out=acc)
    acc += c * lxb
    return acc


def series_pos(c, K, xb, lxb, Y, xu):
    """c > 0, K terms: log ∫ = c log xu + log Σ_{k=0}^{K−1} (−xu)^k/k! F_k/(c+k),
    F_k = −expm1(−(c+k)Y), F_{k+1} = F_k e^{−Y} − expm1(−Y)."""
    f = -np.expm1(-c * Y)
    acc = f / c
    if K > 1:
        e_Y, em1 = np.exp(-Y), -np.expm1(-Y)
        pk = xu.copy()
        tmp = np.empty_like(acc)
        co = _coefs(c, K)
        for k in range(1, K):
            f *= e_Y
            f += em1
            np.multiply(pk, f, out=tmp)
            tmp *= co[k - 1]
            acc += tmp
            if k < K - 1:
                pk *= xu
    np.log(acc, out=acc)
    acc += c * (lxb + Y)
    return acc


def _sort_by_group_and_terms(gid, xu, ngroups):
    """Stable order of the elements by (group, K(xu)) and the (group, K-bin) of each run."""
    nb = len(KS)
    nkey = ngroups * nb
    key = (gid * nb).astype(np.int16 if nkey < 32767 else np.intp)  # int16: stable sort is a radix sort
    for th in XMAX[:-1]:  # + index of the first XMAX ≥ xu (faster than searchsorted here)
        np.add(key, xu > th, out=key, casting="unsafe")
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=nkey)
    return order, counts


def log_int_by_series(cvals, gid, xb, lxb, Y, xu, workers=1):
    """Series method (every xu ≤ 2, Y > 0) for elements of groups gid (ints in [0, len(cvals))),
    group g having the scalar exponents cvals[g] (a tuple). Returns one array per tuple position.

    c ≤ 0: series_neg; c > 0: series_pos. Every intermediate is bounded (no overflow for tiny xb or
    long intervals); the alternating sum loses at most a factor e^{xb+xu} ≤ e³. Terms: K from XMAX.
    """
    n = xb.size
    order, counts = _sort_by_group_and_terms(gid, xu, len(cvals))
    xb_s, lxb_s, Y_s, xu_s = xb[order], lxb[order], Y[order], xu[order]
    outs_s = [np.empty(n) for _ in range(len(cvals[0]) if cvals else 0)]
    tasks = []
    start = 0
    for kk in np.flatnonzero(counts):
        g, b = divmod(int(kk), len(KS))
        stop = start + int(counts[kk])
        for i in range(start, stop, BLOCK):
            tasks.append((slice(i, min(i + BLOCK, stop)), cvals[g], KS[b]))
        start = stop

    def work(task):
        sl, cs, K = task
        with np.errstate(all="ignore"):
            args = (xb_s[sl], lxb_s[sl], Y_s[sl], xu_s[sl])
            for j, c in enumerate(cs):
                outs_s[j][sl] = (series_neg if c <= 0 else series_pos)(c, K, *args)

    run_tasks(work, tasks, workers)
    outs = []
    for o_s in outs_s:
        o = np.empty(n)
        o[order] = o_s
        outs.append(o)
    return outs


def log_int_by_gammaincc(c, xb, xu, log_xb, Y):
    """xu > 2 (a long interval: xu ≥ 2xb since xb ≤ 1 in the bound): log(Γ(c,xb) − Γ(c,xu)).

    c > 0: Γ(c)(Q(c,xb) − Q(c,xu)); c = 0: E₁(xb) − E₁(xu) (E₁(x) = −γ_E − ln x + x for x < 1e−10,
    from log x: no underflow); c < 0: Γ(c,x) = (x^c e^{−x} − Γ(c+1,x))/(−c), factored by xb^c so
    that nothing overflows.
    """
    out = np.empty_like(c)
    with np.errstate(all="ignore"):
        p = c > 0
        if p.any():
            cp = c[p]
            out[p] = np.log(special.gamma(cp) * (special.gammaincc(cp, xb[p]) - special.gammaincc(cp, xu[p])))
        z = c == 0
        if z.any():
            lx = log_xb[z]
            e1b = np.where(xb[z] < 1e-10, -_EULER_GAMMA - lx + xb[z], special.exp1(xb[z]))
            out[z] = np.log(e1b - special.exp1(xu[z]))
        n = c < 0
        if n.any():
            cn, xbn, xun, lxn, Yn = c[n], xb[n], xu[n], log_xb[n], Y[n]
            c1 = cn + 1.0
            g1 = special.gamma(c1) * (special.gammaincc(c1, xbn) - special.gammaincc(c1, xun))
            bracket = (np.exp(-xbn) - np.exp(cn * Yn - xun) - g1 * np.exp(-cn * lxn)) / (-cn)
            out[n] = cn * lxn + np.log(bracket)
    return out


def _depth_groups(L):
    """Group ids and the depth of each group, for a flat float array of integer depths."""
    lo, hi = (L.min(), L.max()) if L.size else (2.0, 2.0)
    if hi - lo < 256:
        return (L - lo).astype(np.intp), [lo + i for i in range(int(hi - lo) + 1)]
    Lu, gid = np.unique(L, return_inverse=True)
    return gid.reshape(-1), [float(v) for v in Lu]


def log_w_integrals(L, log_xb, Y, workers=1):
    """(log ∫ x^{a−1}e^{−x}dx, log ∫ x^{a}e^{−x}dx) over [x_b, x_b e^Y], a = (2−L)/L (eq. 92 with
    x = y^L/ŝ), for flat arrays log_xb, Y and L flat or 0-d. Y ≤ 0 (empty interval): −inf;
    Y = +inf (u blew up): +inf; x_u ≤ 2: log_int_by_series; else log_int_by_gammaincc."""
    n = Y.size
    l1, l2 = np.full(n, -np.inf), np.full(n, -np.inf)
    with np.errstate(all="ignore"):
        xu = np.exp(log_xb + Y)
        pos = Y > 0
        small = xu <= 2.0
        ser = np.flatnonzero(pos & small)
        gam = np.flatnonzero(pos & ~small & (Y < np.inf))
        blown = Y == np.inf
        l1[blown] = np.inf
        l2[blown] = np.inf
        if ser.size:
            if L.ndim == 0:
                gid, Ls = np.zeros(ser.size, dtype=np.intp), [float(L)]
            else:
                gid, Ls = _depth_groups(L[ser])
            cvals = [((2.0 - Lg) / Lg, (2.0 - Lg) / Lg + 1.0) for Lg in Ls]
            l1[ser], l2[ser] = log_int_by_series(cvals, gid, np.exp(log_xb[ser]), log_xb[ser], Y[ser], xu[ser],
                                                 workers)
        if gam.size:
            Lg = L if L.ndim == 0 else L[gam]
            a = np.broadcast_to((2.0 - Lg) / Lg, gam.shape)
            lxg, xg, xug, Yg = log_xb[gam], np.exp(log_xb[gam]), xu[gam], Y[gam]
            o1, o2 = np.empty(gam.size), np.empty(gam.size)

            def work(sl):
                o1[sl] = log_int_by_gammaincc(a[sl], xg[sl], xug[sl], lxg[sl], Yg[sl])
                o2[sl] = log_int_by_gammaincc(a[sl] + 1.0, xg[sl], xug[sl], lxg[sl], Yg[sl])

            run_tasks(work, blocks(gam.size, BLOCK // 4), workers)
            l1[gam], l2[gam] = o1, o2
    return l1, l2
