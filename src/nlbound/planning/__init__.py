"""Planning before training: the a-priori bound of Theorem 5.2 searched over a declared grid, the
margin risk predicted by the linear twin, an honest (union-bound) choice, verification by training."""

from nlbound.planning.grid import INITS, PlanData, PlanGrid, eps_grid, paper_t_factors
from nlbound.planning.search import Plan, argmin_by, make_plan, union_price
from nlbound.planning.twin import init_rho, margin_risk_table, twin_margins, twin_weights

__all__ = [
    "INITS", "PlanData", "PlanGrid", "eps_grid", "paper_t_factors", "Plan", "argmin_by", "make_plan",
    "union_price", "init_rho", "margin_risk_table", "twin_margins", "twin_weights",
]
