"""The parameter constraints of Theorem 5.2 as one declarative table, plus the two cross-parameter checks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from nlbound._validate import Interval, Options, ParameterError, validate_params

# The forms of bound_terms: the paper's closed forms, or the comparison ODEs solved; "-kl": the counting
# step in kl form; "-so": the centred second-order step (docs/PROOFS.md)
FORMS = ("closed", "ode", "kl", "ode-kl", "so", "ode-so", "kl-so", "ode-kl-so")

# One entry per parameter of the theory layer's public functions (bound_terms, full_bound, t_star
# and the term functions). Every real interval rejects NaN and ±inf. The shared table of the paper's
# parameters (nlbound.theory.CONSTRAINTS): other layers take their entries from it (delta, kappa, alpha)
# and check them under their own field names.
CONSTRAINTS = {
    "d": Interval(Integral, 1, None, closed="left"),  # input dimension (rank of X)
    "m": Interval(Integral, 1, None, closed="left"),  # training samples; m >= d: check_m_ge_d
    "depth": Interval(Integral, 2, None, closed="left"),  # L
    "kappa": Options(1, 2),
    "p": Interval(Real, 1, None, closed="left"),  # floating point precision in bits
    "delta": Interval(Real, 0, 1, closed="neither"),
    "eps": Interval(Real, 0, 1, closed="both"),
    "beta": Interval(Real, 0, None, closed="neither"),
    "gamma": Interval(Real, 0, None, closed="neither"),
    "rho": Interval(Real, 1, None, closed="left"),
    "s": Interval(Real, 0, 1, closed="right"),
    "t": Interval(Real, 0, None, closed="left"),
    "alpha": Interval(Real, 0, 1, closed="neither"),  # and alpha > beta^L/s: check_alpha_above
    "margin_risk": Interval(Real, 0, 1, closed="both"),
    "r": Interval(Real, 1, None, closed="left"),  # the index of s̄_r (r ∈ {1, ρ})
    "u": Interval(Real, 0, None, closed="neither"),  # argument of w(u)
    "a": Interval(Real, -1, None, closed="neither"),  # Γ(a, x): a > −1
    "x": Interval(Real, 0, None, closed="neither"),  # Γ(a, x): x > 0
    "q": Interval(Real, 0, None, closed="neither"),  # γ = α/q in the β → 0 limits
    "lower": Options("beta", "beta_bar"),  # lower limit of w in v_β (ERRATA 4)
    "form": Options(*FORMS),  # bound_terms' forms (FORMS)
}


def validate(**values) -> dict:
    """Check the named parameters against CONSTRAINTS; return them as float64 arrays (None skipped).

    Raises ParameterError (a ValueError) such as "eps == 1.5, must be in [0, 1]". When both d and m
    are given, also m >= d (check_m_ge_d).
    """
    out = {k: v if isinstance(v, str) else np.asarray(v, dtype=np.float64)
           for k, v in validate_params(CONSTRAINTS, values).items()}
    if "d" in out and "m" in out:
        check_m_ge_d(out["d"], out["m"])
    return out


def check_m_ge_d(d, m, names: tuple[str, str] = ("d", "m")) -> None:
    """m >= d elementwise (the bound needs at least as many samples as input dimensions).

    `names` are the names reported (the CLI passes its flags): "m == 10, must be >= d == 49".
    """
    dd, mm = np.broadcast_arrays(np.asarray(d, dtype=np.float64), np.asarray(m, dtype=np.float64))
    bad = mm < dd
    if bad.any():
        i = np.argmax(bad.reshape(-1))
        raise ParameterError(names[1], mm.reshape(-1)[i], f">= {names[0]} == {dd.reshape(-1)[i]:g}")


def check_alpha_above(alpha, lower, name: str = "alpha") -> None:
    """alpha > beta^L/s elementwise (t*_alpha is defined only there; `lower` = beta^L/s)."""
    a, lo = np.broadcast_arrays(np.asarray(alpha, dtype=np.float64), np.asarray(lower, dtype=np.float64))
    bad = a <= lo
    if bad.any():
        i = np.argmax(bad.reshape(-1))
        low = lo.reshape(-1)[i]
        if low >= 1:  # the interval is empty: no alpha works, the fix is beta (or an explicit t)
            raise ValueError(f"{name} == {a.reshape(-1)[i]:g}: t*_alpha(beta) is undefined for every alpha, since "
                             f"beta^L/s == {low:g} >= 1 (the network starts past the top mode it would learn); "
                             f"take a smaller beta, or give the time t directly{' (--t)' if name.startswith('--') else ''}")
        raise ParameterError(name, a.reshape(-1)[i], f"in (beta^L/s, 1) == ({low:g}, 1)")
