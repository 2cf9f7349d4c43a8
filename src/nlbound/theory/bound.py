"""Theorem 5.2 (eqs. 6-11) as exact, vectorised float64 functions: Upsilon, Phi, s-bars, u, w, v, Delta."""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import special

from nlbound.theory._checks import validate

# ---------------------------------------------------------------------------------------------
# Conventions. Every function broadcasts over every argument and returns float64 arrays.
# `depth` is L >= 2 (may vary elementwise). Term functions do NOT validate (use bound_terms).
# ---------------------------------------------------------------------------------------------

_EULER_GAMMA = 0.57721566490153286061


def _f(x):
    return np.asarray(x, dtype=np.float64)


def upsilon(d, m, kappa, p, delta):
    """Υ_κ = sqrt((κ p d ln 2 + ln(1/δ)) / (2m))  (eq. 7)."""
    d, m, kappa, p, delta = map(_f, (d, m, kappa, p, delta))
    return np.sqrt((kappa * p * d * np.log(2.0) - np.log(delta)) / (2.0 * m))  # eq. 7


def phi(d, depth, kappa, rho):
    """Φ_κ (eq. 8): L√d + 1 + (L−1)ρ for κ = 1; (L−1)[(L+1+(L−1)ρ)√d + 2(1+(L−1)ρ)] for κ = 2."""
    d, L, kappa, rho = map(_f, (d, depth, kappa, rho))
    sd = np.sqrt(d)
    phi1 = L * sd + 1.0 + (L - 1.0) * rho  # eq. 8, κ = 1
    phi2 = (L - 1.0) * ((L + 1.0 + (L - 1.0) * rho) * sd + 2.0 * (1.0 + (L - 1.0) * rho))  # eq. 8, κ = 2
    return np.where(kappa == 1, phi1, phi2)


def one_bar(depth, beta, rho):
    """1̄ = 1 + ρβ^L (definition under eq. 8; Lemma 7.4).

    Paper inconsistency: the theorem, Lemma 7.4 and eq. 62 use 1 + ρβ^L; eq. 88 (and s̄_ρ in eqs.
    73/77) use 1 + β^L. Decision: 1 + ρβ^L everywhere, because Lemma 7.4's proof bounds
    m‖Ξ(0)‖_F ≤ ‖Y‖_F + ‖W₁(0)X̃‖_F ∏‖W_l(0)‖ ≤ √m (1 + ρβ^L); for ρ ≥ 1 this is the larger,
    i.e. the conservative, value, so the bound stays a bound.
    """
    L, beta, rho = map(_f, (depth, beta, rho))
    return 1.0 + rho * beta**L  # definition under eq. 8


def s_bar_r(r, depth, eps, beta, rho, s):
    """s̄_r = (1−ε)(s + ρβ^L) + ε r (L−1)(1 + ρβ^L) (definition under eq. 8, read as in eqs. 73/77).

    Paper inconsistency: Theorem 5.2 prints ε·√r·(L−1)(1+ρβ^L), while eqs. 73, 77, 82-83 use r
    linearly. Decision: r linearly, because g₁(0) in eq. 73 bounds
    (1−τ)‖ΞX̃ᵀ‖‖W₁(0)‖ + τ(L−1)‖Ξ‖ ‖W₁(0)X̃‖_F with ‖W₁(0)X̃‖_F/√m = ‖W₁(0)‖_F = ρ‖W₁(0)‖ ≤ ρβ;
    √ρ ≤ ρ for ρ ≥ 1, so the printed version is too small (not a bound) for ρ > 1; both agree at ρ = 1.
    The τ of the proof is replaced by its worst case ε: s̄_r is non-decreasing in τ because
    s + ρβ^L ≤ 1 + ρβ^L ≤ r(L−1)(1 + ρβ^L) for s ≤ 1, r ≥ 1, L ≥ 2 (tested).
    """
    r, L, eps, beta, rho, s = map(_f, (r, depth, eps, beta, rho, s))
    bL = rho * beta**L
    return (1.0 - eps) * (s + bL) + eps * r * (L - 1.0) * (1.0 + bL)  # def. under eq. 8 / eq. 73


def s_bar(depth, eps, beta, rho, s):
    """s̄ = s̄₁ (definition under eq. 8)."""
    return s_bar_r(1.0, depth, eps, beta, rho, s)


def s_hat(depth, eps, beta, rho, s):
    """ŝ = L s̄ / (1 + (L−1)ρ) (definition under eq. 8)."""
    L, rho = _f(depth), _f(rho)
    return L * s_bar(depth, eps, beta, rho, s) / (1.0 + (L - 1.0) * rho)  # def. under eq. 8


def _log_beta_bar_ratio(depth, eps, beta, rho, s):
    """log(β̄/β) = log(s̄_ρ/s̄₁) = log1p((s̄_ρ − s̄₁)/s̄₁), with s̄_ρ − s̄₁ = ε(ρ−1)(L−1)(1+ρβ^L) exactly."""
    L, eps, beta, rho = map(_f, (depth, eps, beta, rho))
    sb = s_bar(depth, eps, beta, rho, s)
    diff = eps * (rho - 1.0) * (L - 1.0) * (1.0 + rho * beta**L)
    return np.log1p(diff / sb)


def beta_bar(depth, eps, beta, rho, s):
    """β̄ = β s̄_ρ / s̄₁ (definition under eq. 8)."""
    return _f(beta) * np.exp(_log_beta_bar_ratio(depth, eps, beta, rho, s))


def t_blow(depth, eps, beta, rho, s):
    """Blow-up time of u for L ≥ 3: β̄^{2−L} / ((L−2) s̄) (Sec. 5.3, below eq. 78); +inf for L = 2."""
    L = _f(depth)
    with np.errstate(divide="ignore", over="ignore"):
        tb = beta_bar(depth, eps, beta, rho, s) ** (2.0 - L) / ((L - 2.0) * s_bar(depth, eps, beta, rho, s))
    return np.where(L == 2, np.inf, tb)


def _log_u_over(t, depth, eps, beta, rho, s, lower_is_beta_bar=False):
    """log(u_β(t)/β) (or log(u/β̄)) computed without cancellation; +inf at and after blow-up.

    eq. 9: L = 2: u = β̄ e^{s̄t}; L ≥ 3: u = (β̄^{2−L} − (L−2)s̄t)^{1/(2−L)} = β̄ (1 − z)^{−1/(L−2)},
    z = (L−2) s̄ t β̄^{L−2} = t / t_blow.
    """
    t, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (t, depth, eps, beta, rho, s)))
    sb = s_bar(L, eps, beta, rho, s)
    lbb = _log_beta_bar_ratio(L, eps, beta, rho, s)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_bbar = np.log(beta) + lbb
        z = (L - 2.0) * sb * t * np.exp((L - 2.0) * log_bbar)
        deep = -np.log1p(-np.minimum(z, 1.0)) / np.where(L == 2, 1.0, L - 2.0)  # eq. 9, L ≥ 3
        grow = np.where(L == 2, sb * t, np.where(z >= 1.0, np.inf, deep))  # eq. 9
    return grow if lower_is_beta_bar else grow + lbb


def u_beta(t, depth, eps, beta, rho, s):
    """u_β(t) (eq. 9). For L ≥ 3, u blows up at t_blow = β̄^{2−L}/((L−2)s̄): returns +inf for t ≥ t_blow."""
    lu = _log_u_over(t, depth, eps, beta, rho, s)
    with np.errstate(over="ignore"):
        return _f(beta) * np.exp(lu)  # eq. 9


def gamma_upper(a, x):
    """Upper incomplete gamma Γ(a, x) = ∫_x^∞ y^{a−1} e^{−y} dy for a > −1, x > 0 (footnote 1).

    a > 0: Γ(a) Q(a, x); a = 0: E₁(x); −1 < a < 0: recurrence Γ(a,x) = (x^a e^{−x} − Γ(a+1,x))/(−a)
    (scipy's gammaincc needs a > 0).
    """
    a, x = np.broadcast_arrays(_f(a), _f(x))
    with np.errstate(all="ignore"):
        ap = np.where(a > 0, a, a + 1.0)
        g_pos = special.gamma(ap) * special.gammaincc(ap, x)
        g_neg = (x**a * np.exp(-x) - g_pos) / (-np.where(a < 0, a, -1.0))
        return np.where(a > 0, g_pos, np.where(a == 0, special.exp1(x), g_neg))


def w(u, depth, eps, beta, rho, s):
    """w(u) = −(1̄/s̄) Γ((2−L)/L, u^L/ŝ) − ρ(ŝ/s̄) Γ(2/L, u^L/ŝ)  (eq. 11 = eq. 94).

    Plain evaluation of the formula; v_β never forms w(u) − w(β) from it (cancellation).
    """
    u, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (u, depth, eps, beta, rho, s)))
    sb, sh, ob = s_bar(L, eps, beta, rho, s), s_hat(L, eps, beta, rho, s), one_bar(L, beta, rho)
    x = u**L / sh
    return -(ob / sb) * gamma_upper((2.0 - L) / L, x) - rho * (sh / sb) * gamma_upper(2.0 / L, x)  # eq. 11


# ----------------------------------------------------------------------------------------------
# log D_c = log ∫_{xb}^{xu} x^{c−1} e^{−x} dx with xu = xb e^Y, for c ∈ (−1, 1], computed with
# relative accuracy whatever the length of the interval (no Γ(c,xu) − Γ(c,xb) cancellation).
#
# Performance layout (numbers for 10⁶ points on 2 cores): the series branch (xu ≤ 2) is evaluated
# with a FIXED number of terms K per element, chosen from xu alone (rigorous bound below), after a
# stable sort of the elements by (group, K) so that every run of equal (c, K) is contiguous and c
# is a Python scalar (no per-term division array, no per-iteration compaction or masking). Long
# runs are cut into blocks of _BLOCK elements (cache-resident) that worker threads evaluate in
# parallel (numpy and scipy.special ufuncs release the GIL).
# ----------------------------------------------------------------------------------------------

_BLOCK = 1 << 15  # elements per block of work (8 arrays of 256 KiB stay in L2)
_SERIES_TOL = 2e-19
# K terms (k = 0..K−1) suffice when xu^K/K! ≤ _SERIES_TOL: the k-th term is (−1)^k/k! ∫x^{c+k−1}dx,
# at most xu^k/k! times the k = 0 term, the tail is ≤ e^{xu} xu^K/K! times it and the sum is
# ≥ e^{−xu} times it, so the relative truncation error is ≤ e^{2xu} xu^K/K! ≤ e⁴ · 2e−19 ≈ 1e−17.
_KS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 17, 21, 26)
_XMAX = np.array([math.exp((math.log(_SERIES_TOL) + math.lgamma(k + 1.0)) / k) for k in _KS])
_XMAX[-1] = max(_XMAX[-1], 2.0)  # 2^26/26! = 1.7e−19 ≤ _SERIES_TOL: K = 26 covers all of xu ≤ 2
_COEF = {}  # (c, K) -> tuple of the scalars (−1)^k/(k!(c+k)), k = 1..K−1

_POOL = None
_POOL_LOCK = threading.Lock()


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run_tasks(fn, tasks, workers):
    """fn(task) for every task, on min(workers, len(tasks)) threads (in the caller when 1)."""
    global _POOL
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            fn(task)
        return
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nlbound-theory")
        pool = _POOL
    for f in [pool.submit(fn, task) for task in tasks]:
        f.result()


def _blocks(n, block=_BLOCK):
    return [slice(i, min(i + block, n)) for i in range(0, n, block)]


def _coefs(c, K):
    key = (c, K)
    if key not in _COEF:
        _COEF[key] = tuple((-1.0) ** k / (math.factorial(k) * (c + k)) for k in range(1, K))
    return _COEF[key]


def _series_neg(c, K, xb, lxb, Y, xu):
    """c ≤ 0, K terms: log ∫ = c log xb + log[expm1(cY)/c + Σ_{k=1}^{K−1} (−1)^k G_k/(k!(c+k))],
    G_k = xb^k expm1((c+k)Y) > 0, G_{k+1} = xu G_k + xb^k (xu − xb)  (expm1(cY)/c := Y at c = 0)."""
    acc = Y.copy() if c == 0 else np.expm1(c * Y) / c
    if K > 1:
        g = np.where(Y < 1.0, xb * np.expm1((c + 1.0) * Y), np.exp(lxb + (c + 1.0) * Y) - xb)
        gap = xb * np.expm1(Y)  # xu − xb without cancellation
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


def _series_pos(c, K, xb, lxb, Y, xu):
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


def _series_sorted(cvals, gid, xb, lxb, Y, xu, workers):
    """Series branch (every xu ≤ 2, Y > 0) for elements of groups gid (ints in [0, len(cvals))),
    group g having the scalar exponents cvals[g] (a tuple). Returns one array per tuple position."""
    n = xb.size
    nb = len(_KS)
    nkey = len(cvals) * nb
    key = (gid * nb).astype(np.int16 if nkey < 32767 else np.intp)  # int16: stable sort is a radix sort
    for th in _XMAX[:-1]:  # + index of the first _XMAX ≥ xu (faster than searchsorted here)
        np.add(key, xu > th, out=key, casting="unsafe")
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=nkey)
    xb_s, lxb_s, Y_s, xu_s = xb[order], lxb[order], Y[order], xu[order]
    npos = len(cvals[0]) if cvals else 0
    outs_s = [np.empty(n) for _ in range(npos)]
    tasks = []
    start = 0
    for kk in np.flatnonzero(counts):
        g, b = divmod(int(kk), nb)
        stop = start + int(counts[kk])
        for i in range(start, stop, _BLOCK):
            tasks.append((slice(i, min(i + _BLOCK, stop)), cvals[g], _KS[b]))
        start = stop

    def work(task):
        sl, cs, K = task
        with np.errstate(all="ignore"):
            args = (xb_s[sl], lxb_s[sl], Y_s[sl], xu_s[sl])
            for j, c in enumerate(cs):
                outs_s[j][sl] = (_series_neg if c <= 0 else _series_pos)(c, K, *args)

    _run_tasks(work, tasks, workers)
    outs = []
    for o_s in outs_s:
        o = np.empty(n)
        o[order] = o_s
        outs.append(o)
    return outs


def _logaddexp(a, b):
    """np.logaddexp(a, b) = max + log1p(exp(−|a − b|)) (same formula; numpy's ufunc is ~50 ns/element).
    Both −inf (or both +inf) give the max."""
    mx = np.maximum(a, b)
    d = np.subtract(a, b)
    np.abs(d, out=d)
    np.negative(d, out=d)
    np.fmax(d, -np.inf, out=d)  # NaN (inf − inf) -> −inf -> adds log1p(0) = 0
    np.exp(d, out=d)
    np.log1p(d, out=d)
    return np.add(mx, d, out=d)


def _gamma_blocks(c_list, xb, xu, lxb, Y, workers):
    """_log_interval_gamma for every c array in c_list, in blocks on worker threads."""
    outs = [np.empty(xb.size) for _ in c_list]

    def work(sl):
        for c, o in zip(c_list, outs):
            o[sl] = _log_interval_gamma(c[sl], xb[sl], xu[sl], lxb[sl], Y[sl])

    _run_tasks(work, _blocks(xb.size, _BLOCK // 4), workers)
    return outs


def _log_gamma_interval(c, log_xb, Y, workers=1):
    c, log_xb, Y = (np.array(x, dtype=np.float64) for x in np.broadcast_arrays(_f(c), _f(log_xb), _f(Y)))
    shape = c.shape
    c, log_xb, Y = c.reshape(-1), log_xb.reshape(-1), Y.reshape(-1)
    out = np.full(c.shape, -np.inf)
    with np.errstate(all="ignore"):
        xb = np.exp(log_xb)
        xu = np.exp(log_xb + Y)
    pos = Y > 0
    ser = np.flatnonzero(pos & (xu <= 2.0))
    gam = np.flatnonzero(pos & ~(xu <= 2.0))
    if ser.size:
        cu, gid = np.unique(c[ser], return_inverse=True)
        out[ser] = _series_sorted([(float(v),) for v in cu], gid.reshape(-1), xb[ser], log_xb[ser], Y[ser],
                                  xu[ser], workers)[0]
    if gam.size:
        out[gam] = _gamma_blocks([c[gam]], xb[gam], xu[gam], log_xb[gam], Y[gam], workers)[0]
    return out.reshape(shape)


def _log_interval_series(c, xb, log_xb, Y):
    """xu ≤ 2: power series of e^{−x}, each power difference kept relative-accurate with expm1.

    c ≤ 0: ∫ x^{c−1}e^{−x} = xb^c [expm1(cY)/c + Σ_{k≥1} (−1)^k G_k/(k!(c+k))], G_k = xb^k expm1((c+k)Y),
           G_{k+1} = xu G_k + xb^k (xu − xb)  (expm1(cY)/c := Y at c = 0);
    c > 0: ∫ x^{c−1}e^{−x} = xu^c Σ_{k≥0} (−xu)^k/k! · F_k/(c+k), F_k = −expm1(−(c+k)Y),
           F_{k+1} = F_k e^{−Y} − expm1(−Y).
    Every intermediate is bounded (no overflow for tiny xb / long intervals); the alternating sum
    loses at most a factor e^{xb+xu} ≤ e³. Terms: see _XMAX (fixed per element, from xu).
    """
    c, xb, log_xb, Y = (np.asarray(x, dtype=np.float64).reshape(-1) for x in np.broadcast_arrays(c, xb, log_xb, Y))
    with np.errstate(all="ignore"):
        xu = np.exp(log_xb + Y)
    cu, gid = np.unique(c, return_inverse=True)
    return _series_sorted([(float(v),) for v in cu], gid.reshape(-1), xb, log_xb, Y, xu, 1)[0]


def _log_interval_gamma(c, xb, xu, log_xb, Y):
    """xu > 2 (so the interval is long, xu ≥ 2xb since xb ≤ 1 for the bound): Γ(c,xb) − Γ(c,xu).

    c < 0 uses Γ(c,x) = (x^c e^{−x} − Γ(c+1,x))/(−c), factored by xb^c so that nothing overflows;
    c = 0 uses E₁ (E₁(x) = −γ_E − ln x + x for x < 1e−10, from log x: no underflow).
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


def _log_v(t, depth, eps, beta, rho, s, lower="beta"):
    """log v_β(t) (eq. 10 = eq. 93), combined in log space:

    v = (L−1)/L ŝ^{(2−L)/L} u^{L−1} [w(u) − w(β)] e^{u^L/ŝ}, and with x = y^L/ŝ
    w(u) − w(β) = (1̄/s̄) ∫_{xb}^{xu} x^{a−1}e^{−x}dx + ρ(ŝ/s̄) ∫_{xb}^{xu} x^{a}e^{−x}dx, a = (2−L)/L,
    xb = β^L/ŝ, xu = u^L/ŝ (eq. 92). Returns (log v, log u).

    Paper inconsistency: the ODE for u starts at β̄ (eqs. 38/77) and eq. 65 integrates from β̄, but
    eqs. 10, 66, 92 use w(β). Decision: keep w(β) (lower="beta"), because w is increasing and
    β ≤ β̄, so v with w(β) ≥ the ODE solution (eq. 88 from v(0)=0): conservative; equal when ρ = 1
    or ε = 0. lower="beta_bar" gives the exact ODE solution (used by the tests).
    """
    t, L, eps, beta, rho, s = np.broadcast_arrays(*map(_f, (t, depth, eps, beta, rho, s)))
    sb, sh, ob = s_bar(L, eps, beta, rho, s), s_hat(L, eps, beta, rho, s), one_bar(L, beta, rho)
    a = (2.0 - L) / L
    log_u = np.log(beta) + _log_u_over(t, L, eps, beta, rho, s)
    if lower == "beta":
        log_low = np.log(beta)
        Y = L * _log_u_over(t, L, eps, beta, rho, s)
    elif lower == "beta_bar":
        log_low = np.log(beta) + _log_beta_bar_ratio(L, eps, beta, rho, s)
        Y = L * _log_u_over(t, L, eps, beta, rho, s, lower_is_beta_bar=True)
    else:
        raise ValueError(f"lower == {lower!r}, must be one of beta, beta_bar")
    log_sh = np.log(sh)
    log_xb = L * log_low - log_sh
    with np.errstate(all="ignore"):
        log_dw = np.logaddexp(
            np.log(ob / sb) + _log_gamma_interval(a, log_xb, Y),  # Γ((2−L)/L, ·) part of eq. 11
            np.log(rho * sh / sb) + _log_gamma_interval(a + 1.0, log_xb, Y),  # Γ(2/L, ·) part of eq. 11
        )
        xu = np.exp(L * log_u - log_sh)
        log_v = np.log((L - 1.0) / L) + a * log_sh + (L - 1.0) * log_u + log_dw + xu  # eq. 10
        log_v = np.where(np.isinf(log_u) & (log_u > 0), np.inf, log_v)
    return log_v, log_u


def v_beta(t, depth, eps, beta, rho, s, lower="beta"):
    """v_β(t) (eq. 10); +inf when not representable or (L ≥ 3) for t ≥ t_blow. See _log_v."""
    log_v, _ = _log_v(t, depth, eps, beta, rho, s, lower)
    with np.errstate(over="ignore"):
        return np.exp(log_v)


def delta_term(t, d, depth, kappa, eps, beta, rho, s):
    """Δ_κ,β(t) = Φ_κ v_β(t) u_β^{L−1}(t) (eq. 7), combined in log space; +inf beyond float64."""
    L = _f(depth)
    log_v, log_u = _log_v(t, depth, eps, beta, rho, s)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(np.log(phi(d, depth, kappa, rho)) + log_v + (L - 1.0) * log_u)  # eq. 7


def _deviation_from_log_delta(log_delta, kappa, eps, gamma):
    """Δ ε^κ / γ (last term of eq. 6). For ε = 0 it is exactly 0 (the network is linear and equals
    its proxy), even where Δ = +inf."""
    with np.errstate(all="ignore"):
        val = np.exp(log_delta + kappa * np.log(eps) - np.log(gamma))  # eq. 6
    return np.where(eps == 0, 0.0, val)


_OUT_KEYS = ("upsilon", "phi", "s_bar", "s_hat", "beta_bar", "one_bar", "u", "v", "Delta", "deviation", "a_priori")
_IN_KEYS = ("d", "m", "depth", "kappa", "p", "delta", "eps", "beta", "gamma", "rho", "s", "t")


def bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t, *, workers=None) -> dict:
    """Every term of Theorem 5.2 (eqs. 6-11) at the broadcast parameters; validates its input.

    Returns a dict of broadcast float64 arrays: upsilon (eq. 7), phi (eq. 8), s_bar, s_hat, beta_bar,
    one_bar (defs under eq. 8), u (eq. 9), v (eq. 10), Delta (eq. 7), deviation = Δ ε^κ/γ,
    a_priori = upsilon + deviation. Values beyond float64, and u, v, Δ for L ≥ 3 at t ≥ t_blow, are
    +inf (deviation is 0 whenever ε = 0). Raises ValueError like "eps == 1.5, must be in [0, 1]".

    workers: threads used for large inputs (default: the CPUs available; 1 = the calling thread
    only). The result does not depend on it. Same formulas as u_beta/_log_v/phi/upsilon, fused:
    shared subexpressions (β^L, s̄, ŝ, logs) are computed once, block by block.
    """
    P = validate(d=d, m=m, depth=depth, kappa=kappa, p=p, delta=delta, eps=eps, beta=beta,
                 gamma=gamma, rho=rho, s=s, t=t)
    workers = _default_workers() if workers is None else max(1, int(workers))
    shape = np.broadcast_shapes(*(P[k].shape for k in _IN_KEYS))
    n = math.prod(shape)
    A = {}
    for k in _IN_KEYS:  # scalars stay 0-d (broadcast inside the ufuncs); others become flat length-n
        x = P[k]
        A[k] = x.reshape(()) if x.size == 1 else (x.reshape(-1) if x.shape == shape else
                                                  np.broadcast_to(x, shape).reshape(-1))
    out = {k: np.empty(n) for k in _OUT_KEYS}
    W = {k: np.empty(n) for k in ("log_u", "Y", "lxb", "xu", "xu_v", "log_sh", "l1", "l2")}
    blocks = _blocks(n) if workers > 1 else _blocks(n, 1 << 16)

    def g(k, sl):
        x = A[k]
        return x if x.ndim == 0 else x[sl]

    def stage1(sl):  # β^L, s̄, ŝ, 1̄, log(β̄/β), log u, Y = L log(u/β), log x_b, x_u
        with np.errstate(all="ignore"):
            L, eps_, beta_, rho_, s_, t_ = (g(k, sl) for k in ("depth", "eps", "beta", "rho", "s", "t"))
            Lm1 = L - 1.0
            bL = rho_ * beta_**L
            ob = 1.0 + bL  # 1̄, def. under eq. 8
            sb = (1.0 - eps_) * (s_ + bL) + eps_ * Lm1 * ob  # s̄ = s̄₁, def. under eq. 8 / eq. 73
            sh = L * sb / (1.0 + Lm1 * rho_)  # ŝ
            lbb = np.log1p(eps_ * (rho_ - 1.0) * Lm1 * ob / sb)  # log(β̄/β)
            lb = np.log(beta_)
            if L.ndim == 0 and L == 2:  # eq. 9, L = 2
                lu_over = sb * t_ + lbb
            else:  # eq. 9, L ≥ 3 via z = t / t_blow (see _log_u_over)
                Lm2 = L - 2.0
                z = Lm2 * sb * t_ * np.exp(Lm2 * (lb + lbb))
                two = np.equal(L, 2.0).astype(np.float64)  # exact 0/1 blend (np.where is ~10 ns/element)
                deep = -np.log1p(-np.minimum(z, 1.0)) / (Lm2 + two)  # z ≥ 1 (blown up): +inf
                lu_over = (deep * (1.0 - two) + sb * t_ * two) if L.ndim else deep
                lu_over = lu_over + lbb
            log_u = lb + lu_over
            log_sh = np.log(sh)
            lxb = L * lb - log_sh
            Y = L * lu_over
            out["s_bar"][sl] = sb
            out["s_hat"][sl] = sh
            out["one_bar"][sl] = ob
            out["beta_bar"][sl] = beta_ * np.exp(lbb)
            out["u"][sl] = np.exp(log_u)
            W["log_u"][sl] = log_u
            W["log_sh"][sl] = log_sh
            W["lxb"][sl] = lxb
            W["Y"][sl] = Y
            W["xu"][sl] = np.exp(lxb + Y)
            W["xu_v"][sl] = np.exp(L * log_u - log_sh)

    _run_tasks(stage1, blocks, workers)

    # ∫ x^{a−1}e^{−x} and ∫ x^{a}e^{−x} over [x_b, x_u], a = (2−L)/L (eq. 92), in log space
    Y, xu, lxb = W["Y"], W["xu"], W["lxb"]
    W["l1"].fill(-np.inf)
    W["l2"].fill(-np.inf)
    pos = Y > 0
    small = xu <= 2.0
    ser = np.flatnonzero(pos & small)
    gam = np.flatnonzero(pos & ~small & (Y < np.inf))  # Y = +inf: u blew up, v = +inf below
    W["l1"][Y == np.inf] = np.inf
    L = A["depth"]
    with np.errstate(all="ignore"):
        if ser.size:
            if L.ndim == 0:
                gid, Ls = np.zeros(ser.size, dtype=np.intp), [float(L)]
            else:
                Lser = L[ser]
                lo, hi = (Lser.min(), Lser.max()) if Lser.size else (2.0, 2.0)
                if hi - lo < 256:
                    gid, Ls = (Lser - lo).astype(np.intp), [lo + i for i in range(int(hi - lo) + 1)]
                else:
                    Lu, gid = np.unique(Lser, return_inverse=True)
                    gid, Ls = gid.reshape(-1), [float(v) for v in Lu]
            cvals = [((2.0 - Lg) / Lg, (2.0 - Lg) / Lg + 1.0) for Lg in Ls]
            xb_ser = np.exp(lxb[ser])
            W["l1"][ser], W["l2"][ser] = _series_sorted(cvals, gid, xb_ser, lxb[ser], Y[ser], xu[ser], workers)
        if gam.size:
            Lg = L if L.ndim == 0 else L[gam]
            a = np.broadcast_to((2.0 - Lg) / Lg, gam.shape)
            lxg = lxb[gam]
            W["l1"][gam], W["l2"][gam] = _gamma_blocks([a, a + 1.0], np.exp(lxg), xu[gam], lxg, Y[gam], workers)

    def stage2(sl):  # eq. 10 (in log space), eq. 8, eq. 7, eq. 6
        with np.errstate(all="ignore"):
            L, kappa_, rho_, eps_, d_, m_, p_, delta_, gamma_ = (
                g(k, sl) for k in ("depth", "kappa", "rho", "eps", "d", "m", "p", "delta", "gamma"))
            sb, sh, ob = out["s_bar"][sl], out["s_hat"][sl], out["one_bar"][sl]
            log_u, log_sh = W["log_u"][sl], W["log_sh"][sl]
            Lm1 = L - 1.0
            log_dw = _logaddexp(np.log(ob / sb) + W["l1"][sl], np.log(rho_ * sh / sb) + W["l2"][sl])  # eq. 11
            log_v = np.log(Lm1 / L) + (2.0 - L) / L * log_sh + Lm1 * log_u + log_dw + W["xu_v"][sl]  # eq. 10
            log_v[np.flatnonzero(log_u == np.inf)] = np.inf
            sd = np.sqrt(d_)
            r1 = Lm1 * rho_
            phi1 = L * sd + 1.0 + r1  # eq. 8, κ = 1
            phi2 = Lm1 * ((L + 1.0 + r1) * sd + 2.0 * (1.0 + r1))  # eq. 8, κ = 2
            if kappa_.ndim == 0:
                ph = phi1 if kappa_ == 1 else phi2
            else:
                k1 = np.equal(kappa_, 1.0).astype(np.float64)  # exact blend of finite values
                ph = phi1 * k1 + phi2 * (1.0 - k1)
            log_delta = np.log(ph) + log_v + Lm1 * log_u  # eq. 7
            up = np.sqrt((kappa_ * p_ * d_ * np.log(2.0) - np.log(delta_)) / (2.0 * m_))  # eq. 7
            dev = np.exp(log_delta + kappa_ * np.log(eps_) - np.log(gamma_))  # eq. 6
            if eps_.ndim:
                dev[np.flatnonzero(eps_ == 0)] = 0.0  # ε = 0: linear network, exactly 0
            elif eps_ == 0:
                dev[:] = 0.0
            dev = np.broadcast_to(dev, np.shape(log_delta))
            out["phi"][sl] = ph
            out["v"][sl] = np.exp(log_v)
            out["Delta"][sl] = np.exp(log_delta)
            out["upsilon"][sl] = up
            out["deviation"][sl] = dev
            out["a_priori"][sl] = up + dev

    _run_tasks(stage2, blocks, workers)
    return {k: out[k].reshape(shape) for k in _OUT_KEYS}


def full_bound(margin_risk, d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t):
    """Right-hand side of eq. 6: R̂^ε_γ(t) + Υ_κ + Δ_κ,β(t) ε^κ / γ, given the empirical margin risk."""
    mr = validate(margin_risk=margin_risk)["margin_risk"]
    return mr + bound_terms(d, m, depth, kappa, p, delta, eps, beta, gamma, rho, s, t)["a_priori"]  # eq. 6
