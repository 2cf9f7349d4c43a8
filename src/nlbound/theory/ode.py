"""form="ode" of Theorem 5.2: the comparison systems of the proof (eqs. 35, 62, 73-75, 88) solved without loosening.

The proof of Lemma 7.1 bounds the weight norms by the comparison system (g₁, g₂) of eq. 35 (L = 2) /
eq. 73 (L ≥ 3), then loosens it to u (eqs. 38/77: g₂ ≤ u, g₁ ≤ s̄u) and solves the linear ODE of
v (eqs. 62/88) with that u in closed form (eqs. 10, 92-94, with w(β) in place of w(β̄): ERRATA 4).
Here the same inequalities are used, with the loosening steps removed:

- **The bounding function G.** With r = s̄_ρ/s̄ and c = β√(r² − 1), eq. 74's first integral
  g₁² − s̄²g₂² = s̄²c² turns eq. 73 into eq. 75, dg₂/dt = s̄ g₂^{L−2} √(g₂² + c²), g₂(0) = β, and
  h := g₁/s̄ = √(g₂² + c²) (h(0) = β̄). All weight norms are ≤ g₂ ≤ h ≤ u:
  ‖W_l‖ ≤ g₂ (l ≥ 2, eq. 73); ‖W₁‖ ≤ β − β̄ + h ≤ g₂ and ‖W₁X̃‖_F/√m ≤ ρβ − β̄ + h ≤ ρ g₂ (eqs. 79-81
  with s̄∫g₂^{L−1} = h − β̄, and h − g₂ = c²/(h + g₂) ≤ β̄ − β because g₂ grows); h ≤ u by comparison
  (dh/dt = s̄ g₂^{L−1} ≤ s̄ h^{L−1}, h(0) = u(0) = β̄). Eq. 88 is obtained from "every weight norm
  ≤ u" and "g₁ ≤ s̄u" (the coefficient s̄(L−1)u^{L−2}); G = h satisfies both (g₁ = s̄h), so eq. 88 with
  u → h is the same proof. For L = 2 no g₁ enters eq. 62 (eqs. 53-61 use ‖W₂‖, ‖W₁X̃‖_F and the
  constant s̄ only), so G = g₂ there, exactly g₂(t) = β[cosh(s̄t) + r sinh(s̄t)] (eq. 35 solved).
  For L = 3, eq. 75 is separable: g₂(t) = c / sinh(acosh(r) − c s̄ t), h = c·coth(acosh(r) − c s̄ t),
  blowing up at acosh(r)/(c s̄) ≥ 1/(β̄ s̄) (u's blow-up); c = 0 (ρ = 1 or ε = 0) gives h = u.
  For L ≥ 4, eq. 75 has only the implicit solution eq. 76: g₂(t) is found by Newton's method on
  t(q) = (1/s̄)∫_q^{1/β} p^{L−3}/√(1 + c²p²) dp = t(1 + T_SHIFT), q = 1/g₂ (log_g2_numeric), G = h.
- **v.** The linear ODE dv/dt = a(G)v + b(G), v(0) = 0 (eq. 88, = eq. 62 for L = 2), with
  a(G) = (1 + (L−1)ρ)G^{2L−2} + s̄(L−1)G^{L−2} and b(G) = (L−1)G^{L−1}(1̄ + ρG^L), increasing in G, so
  G ≤ u gives v_ode ≤ v_closed by comparison; starting from v(0) = 0 at G(0) (not w(β)) removes
  ERRATA 4's loosening too. v(t) = ∫₀ᵗ b e^{A(t)−A(σ)}dσ, A = ∫a, is evaluated in the variable
  y = log g₂ (dt = dg₂/(s̄ g₂^{L−2} h), eq. 75) by composite Gauss-Legendre panels (uniform, plus a
  grading towards t, where b and dA/dy are largest), A(t) − A(σ) at every node by the panels'
  spectral integration matrix, the sum in log space. (The kernel e^{A(t)−A(σ)} grows as σ moves
  back from t while b shrinks: the integrand is not monotone, so a one-sided Riemann sum is no
  guaranteed bound.) Each point is computed on a panel set and on its halving; it is accepted
  when the two agree to REL_TOL (relative in log v), and then multiplied by e^{|difference|}·(1 +
  MARGIN), which dominates the quadrature's error (the halving's error is far below the difference)
  and the rounding of A(t) − A(σ) (≤ 745 where v is finite: ≤ 1e−12 absolute).
- **τ.** In the time T = s̄t the system (g₂, h) depends on τ only through h(0) = βr; it is
  cooperative, and r, s̄ are non-decreasing in τ, so G and v at τ = ε dominate every τ ∈ [0, ε]
  (as for the closed form).
- **Never above the closed form.** u, v and Δ are then min(ode, closed): both are valid upper
  bounds, so is their minimum; where the quadrature does not converge, or a value is beyond
  float64, the closed form is kept (the same fallback is what makes ρ = 1, where G = u, give the
  closed form exactly).
"""

from __future__ import annotations

import numpy as np

from nlbound.theory import terms as T

N_NODES = 16  # Gauss-Legendre nodes per panel
REL_TOL = 1e-12  # panel set vs its halving: accepted when log v differs by <= REL_TOL·max(1, |log v|)
MARGIN = 1e-9  # relative safety factor on the accepted value, on top of that measured difference
MAX_HALVINGS = 4  # beyond: the closed form is kept for that point
CHUNK = 1024  # points per vectorised quadrature (memory: CHUNK x panels x nodes floats)


def _spectral_rule(n: int):
    """Gauss-Legendre nodes x, weights w on [−1, 1] and S with (S f)_i ≈ ∫_{−1}^{x_i} f (exact for
    polynomials of degree < n): S = Q V⁻¹, V_ik = P_k(x_i), Q_ik = ∫_{−1}^{x_i} P_k."""
    leg = np.polynomial.legendre
    x, w = leg.leggauss(n)
    V = leg.legvander(x, n - 1)
    Q = np.empty((n, n))
    for k in range(n):
        c = np.zeros(n)
        c[k] = 1.0
        Q[:, k] = leg.legval(x, leg.legint(c, lbnd=-1))
    return x, w, Q @ np.linalg.inv(V)


_X, _W, _S = _spectral_rule(N_NODES)


def _base_edges() -> np.ndarray:
    """Panel edges in σ ∈ [0, 1] (σ = 1 is t): 8 uniform panels and a geometric grading 1 − 2^{−k}."""
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, 9), 1.0 - 2.0 ** -np.arange(1, 41), [1.0]]))


def _halve(edges: np.ndarray) -> np.ndarray:
    mid = 0.5 * (edges[:-1] + edges[1:])
    return np.sort(np.concatenate([edges, mid]))


T_PANELS = 48  # panels of the time integral t(q) (eq. 75 in q = 1/g₂), each at most 1.25 wide in log q
T_SHIFT = 1e-12  # g₂ is solved at t(1 + T_SHIFT): dominates the quadrature's and Newton's error


def _time_to(q, L, beta, c, sb):
    """t at which g₂ = 1/q (eq. 75 integrated in p = 1/g₂, then in log p): t(q) = (1/s̄)∫_q^{1/β}
    p^{L−3}/√(1 + c²p²) dp; composite Gauss-Legendre over [max(log q, log(1/β) − 60), log(1/β)]
    (the rest is below e^{−60(L−2)} of it)."""
    hi = -np.log(beta)
    lo = np.maximum(np.log(q), hi - 60.0)
    hw = 0.5 * (hi - lo) / T_PANELS
    centers = lo[:, None] + hw[:, None] * (2.0 * np.arange(T_PANELS)[None, :] + 1.0)
    sp = centers[:, :, None] + hw[:, None, None] * _X[None, None, :]  # log p at the nodes
    f = np.exp((L - 2.0)[:, None, None] * sp) / np.sqrt(1.0 + (c[:, None, None] * np.exp(sp)) ** 2)
    return hw * (f @ _W).sum(axis=1) / sb


def log_g2_numeric(t, L, beta, c, sb, iters=100):
    """log g₂(t) for L ≥ 3 from eq. 75 (implicit, eq. 76) by Newton's method on t(1/g₂) = t(1 + T_SHIFT),
    from q = 1/β: t(q) is decreasing and concave for L ≥ 4, so the iterates decrease monotonically to
    the root; accepted at |t(q) − t(1 + T_SHIFT)| ≤ 1e−13·t, so t(q) > t and g₂(t) ≤ 1/q. +inf past
    the blow-up time t(0); NaN where 100 iterations did not converge. Arrays of equal length (B,)."""
    t, L, beta, c, sb = (np.asarray(a, dtype=np.float64) for a in (t, L, beta, c, sb))
    target = t * (1.0 + T_SHIFT)
    q = 1.0 / beta
    out = np.full(t.shape, np.nan)
    todo = np.arange(t.size)
    with np.errstate(all="ignore"):
        for _ in range(iters):
            F = _time_to(q, L[todo], beta[todo], c[todo], sb[todo]) - target[todo]  # ≤ 0 on the way
            dF = -(q ** (L[todo] - 3.0)) / (sb[todo] * np.sqrt(1.0 + (c[todo] * q) ** 2))
            step = F / dF
            done = (np.abs(F) <= 1e-13 * target[todo]) | (np.abs(step) <= 1e-15 * q)  # or q at rounding
            out[todo[done]] = -np.log(q[done]) + 1e-14  # + 1e-14: covers q's last bits
            q = q - step
            blown = ~done & (q <= 0)
            out[todo[blown]] = np.inf
            keep = ~done & ~blown & np.isfinite(q)
            todo, q = todo[keep], q[keep]
            if todo.size == 0:
                break
    return out


def g_end(t, L, beta, r, c, sb):
    """(log g₂(t), log G(t)) (module docstring): L = 2 eq. 35 solved, G = g₂ = β[cosh x + r sinh x],
    x = s̄t; L = 3 eq. 75 solved, g₂ = c/sinh(acosh r − c s̄ t), G = h = √(g₂² + c²) (c = 0:
    g₂ = h = β/(1 − βs̄t), eq. 78); L ≥ 4 eq. 75 solved numerically (log_g2_numeric), G = h.
    +inf past the blow-up (L ≥ 3)."""
    t, L, beta, r, c, sb = (np.asarray(a, dtype=np.float64) for a in (t, L, beta, r, c, sb))
    with np.errstate(all="ignore"):
        x = sb * t
        lg2_two = np.log(beta) + x + np.log(0.5 * (1.0 + r) + 0.5 * (1.0 - r) * np.exp(-2.0 * x))  # eq. 35
        arg = np.arcsinh(c / beta) - c * sb * t  # acosh(r) = asinh(√(r² − 1)), accurate near r = 1
        z3 = np.where(c > 0, c / np.sinh(arg), beta / (1.0 - beta * sb * t))  # eq. 75, L = 3
        blown = np.where(c > 0, arg <= 0, beta * sb * t >= 1.0)
        lg2_three = np.where(blown, np.inf, np.log(z3))
        lg2 = np.where(L == 2, lg2_two, lg2_three)
        lG = np.where(L == 2, lg2, 0.5 * np.log(np.exp(2.0 * lg2) + c * c))
        lG = np.where((L == 3) & (c > 0) & ~blown, np.log(c) - np.log(np.tanh(arg)), lG)  # h = c·coth(arg)
        deep = np.broadcast_to(L >= 4, np.broadcast_shapes(*(np.shape(a) for a in (t, L, beta, c, sb))))
        if deep.any():  # eq. 75 has only the implicit solution eq. 76: Newton's method
            lg2, lG = np.array(np.broadcast_to(lg2, deep.shape)), np.array(np.broadcast_to(lG, deep.shape))
            args = (np.broadcast_to(a, deep.shape)[deep] for a in (t, L, beta, c, sb))
            lg2[deep] = log_g2_numeric(*args)
            lG[deep] = 0.5 * np.logaddexp(2.0 * lg2[deep], 2.0 * np.log(np.broadcast_to(c, deep.shape)[deep]))
    return lg2, lG


def _log_integrands(y, L, c, sb, rho, ob):
    """(dA/dy, log of the v integrand's y-density) at y = log g₂: dt/dy = g₂^{3−L}/(s̄ h) (eq. 75);
    a, b of eq. 88 at G (g₂ for L = 2, h for L = 3)."""
    z = np.exp(y)
    h = np.sqrt(z * z + c * c)
    G = np.where(L == 2, z, h)
    dtdy = z ** (3.0 - L) / (sb * h)  # eq. 75
    a = (1.0 + (L - 1.0) * rho) * G ** (2.0 * L - 2.0) + sb * (L - 1.0) * G ** (L - 2.0)  # eq. 88
    log_b = np.log(L - 1.0) + (L - 1.0) * np.log(G) + np.log(ob + rho * G**L)  # eq. 88
    return a * dtdy, log_b + np.log(dtdy)


def _log_v_panels(edges, y0, y1, L, c, sb, rho, ob):
    """log v(t) = log ∫ b e^{A(t)−A} dt over y ∈ [y0, y1] on the given panels (all args (B, 1))."""
    lo, hi = edges[:-1], edges[1:]
    hw = 0.5 * (hi - lo)[None, :, None] * (y1 - y0)[:, :, None]  # (B, P, 1) half-widths in y
    sig = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * _X[None, :]  # (P, n)
    y = y0[:, :, None] + sig[None] * (y1 - y0)[:, :, None]
    ex = lambda p: p[:, :, None]  # noqa: E731  (B, 1) -> (B, 1, 1)
    alpha, log_phi = _log_integrands(y, ex(L), ex(c), ex(sb), ex(rho), ex(ob))
    tot = hw[..., 0] * (alpha @ _W)  # ∫ over each panel of dA/dy
    right = hw * ((alpha @ _W)[..., None] - alpha @ _S.T)  # ∫ from the node to the panel's top
    later = np.cumsum(tot[:, ::-1], axis=1)[:, ::-1] - tot  # panels above
    D = later[..., None] + right  # A(t) − A(node) ≥ 0
    e = np.log(hw * _W) + log_phi + D
    mx = e.max(axis=(1, 2))
    return mx + np.log(np.exp(e - mx[:, None, None]).sum(axis=(1, 2)))


def _log_v_quadrature(y0, y1, L, c, sb, rho, ob):
    """log v with the halving check, plus the measured difference and MARGIN (an upper bound); NaN
    where MAX_HALVINGS halvings did not reach REL_TOL."""
    args = [np.asarray(a, dtype=np.float64)[:, None] for a in (y0, y1, L, c, sb, rho, ob)]
    out = np.full(len(y0), np.nan)
    todo = np.arange(len(y0))
    edges = _base_edges()
    prev = _log_v_panels(edges, *args)
    for _ in range(MAX_HALVINGS):
        edges = _halve(edges)
        cur = _log_v_panels(edges, *(a[todo] for a in args))
        diff = np.abs(cur - prev)
        ok = diff <= REL_TOL * np.maximum(1.0, np.abs(cur))  # |log v| ≤ 745 where v is finite
        out[todo[ok]] = cur[ok] + diff[ok] + np.log1p(MARGIN)
        todo, prev = todo[~ok], cur[~ok]
        if todo.size == 0:
            break
    return out


def refine(A: dict, out: dict, n: int) -> None:
    """Replace u, v, Delta, deviation, a_priori in the flat arrays `out` (bound.evaluate's, length n)
    by the form="ode" values (module docstring), each min(ode, closed). A: the flat or 0-d inputs."""
    get = lambda k: np.broadcast_to(A[k], (n,)).astype(np.float64)  # noqa: E731
    L, eps, beta, rho, s, t = (get(k) for k in ("depth", "eps", "beta", "rho", "s", "t"))
    kappa, gamma = get("kappa"), get("gamma")
    P = T._u_parts(t, L, eps, beta, rho, s)
    sb, ob = P["s_bar"], P["one_bar"]
    with np.errstate(all="ignore"):
        r = np.exp(P["log_bbar_ratio"])
        c = beta * np.sqrt(np.expm1(P["log_bbar_ratio"]) * (r + 1.0))  # β√(r² − 1)
        lg2, lG = g_end(t, L, beta, r, c, sb)
        log_v = np.full(n, np.nan)
        sel = np.flatnonzero((t > 0) & np.isfinite(lG) & np.isfinite(sb) & np.isfinite(ob)
                             & (lg2 > np.log(beta)))
        for i in range(0, sel.size, CHUNK):
            j = sel[i:i + CHUNK]
            log_v[j] = _log_v_quadrature(np.log(beta[j]), lg2[j], L[j], c[j], sb[j], rho[j], ob[j])
        log_v = np.where(t == 0, -np.inf, log_v)
        log_v = np.where(np.isnan(log_v), np.inf, log_v)  # not computed: the closed form is kept below
        log_G = np.where(np.isnan(lG), np.inf, lG)
        log_delta = T._log_delta(out["phi"], log_v, L, log_G)  # eq. 7 with G, v of the comparison systems
        dev = T._deviation(log_delta, kappa, eps, gamma)  # eq. 6
        new = dict(u=np.exp(log_G), v=np.exp(log_v), Delta=np.exp(log_delta), deviation=dev,
                   a_priori=out["upsilon"] + dev)
    for k, x in new.items():  # min(ode, closed): both are upper bounds
        np.minimum(out[k], x, out=out[k])
