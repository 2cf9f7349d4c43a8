"""Closed-form side of the paper: Theorem 5.2, the training time t*_alpha, the beta -> 0 limits."""

from nlbound.theory._checks import CONSTRAINTS
from nlbound.theory.bound import bound_terms, full_bound
from nlbound.theory.limits import deviation_at_t_star, deviation_limit
from nlbound.theory.terms import (
    beta_bar,
    gamma_upper,
    one_bar,
    phi_kappa,
    s_bar,
    s_bar_r,
    s_hat,
    t_blow,
    u_beta,
    upsilon,
    v_beta,
    w,
)
from nlbound.theory.training_time import t_star, t_star_or_none, t_star_time

__all__ = [
    "CONSTRAINTS",
    "beta_bar", "bound_terms", "full_bound", "gamma_upper", "one_bar", "phi_kappa", "s_bar",
    "s_bar_r", "s_hat", "t_blow", "u_beta", "upsilon", "v_beta", "w", "t_star", "t_star_or_none", "t_star_time",
    "deviation_limit", "deviation_at_t_star",
]
