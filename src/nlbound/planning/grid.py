"""The declared planning grid (a frozen dataclass) and the data statistics a plan is computed for."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from nlbound._limits import MAX_PLAN_POINTS, check_count, grid_count
from nlbound._validate import Interval, Options, ParameterError, validate_params
from nlbound.theory import t_star
from nlbound.theory import CONSTRAINTS as THEORY

__all__ = ["PlanGrid", "PlanData", "INITS", "paper_t_factors", "eps_grid", "GRID_CONSTRAINTS", "DATA_CONSTRAINTS",
           "EPS_GRID_CONSTRAINTS"]

INITS = ("default", "rank_one")  # W1(0) as PyTorch draws it (rho measured) / rank one (rho = 1, Fig. 3)


def paper_t_factors() -> tuple[float, ...]:
    """Stopping times as multiples of t*_0.5(beta): the recording times of the paper's Figs. 1-5 runs
    (t_end = 3 t*_0.5; 25 log-spaced times over [t_end/1e3, t_end], 25 evenly spaced ones, t*_0.5)."""
    t_end = 3.0
    vals = {*np.geomspace(t_end / 1e3, t_end, 25), *np.linspace(0.0, t_end, 26)[1:], 1.0}
    return tuple(sorted(float(f"{v:.12g}") for v in vals))


def eps_grid(eps_max: float, eps_min: float = 1e-3, per_decade: int = 3) -> tuple[float, ...]:
    """Log grid of eps from eps_min to eps_max (both included), `per_decade` points per decade."""
    P = validate_params(EPS_GRID_CONSTRAINTS, {"eps_max": eps_max, "eps_min": eps_min, "per_decade": per_decade})
    lo, hi = float(P["eps_min"]), float(P["eps_max"])
    if hi <= lo:
        return (hi,)
    n = max(2, int(np.ceil(np.log10(hi / lo) * int(per_decade))) + 1)
    return tuple(float(f"{v:.6g}") for v in np.geomspace(lo, hi, n))


# eps itself is the theory's [0, 1] (THEORY["eps"]: eps = 0, the linear net, can be planned); the ends of
# the log grid are (0, 1], since a log-spaced grid needs a positive smallest point
EPS_GRID_CONSTRAINTS = {
    "eps_max": Interval(Real, 0, 1, closed="right"),
    "eps_min": Interval(Real, 0, 1, closed="right"),
    "per_decade": Interval(Integral, 1, 100),
}

GRID_CONSTRAINTS = {
    "depths": Interval(Integral, 2, 64),
    "betas": Interval(Real, 0, None, closed="neither"),
    "inits": Options(*INITS),
    "epss": THEORY["eps"],
    "kappas": THEORY["kappa"],
    "ps": Options(16, 32, 64),
    "gamma_beta_factors": Interval(Real, 0, None, closed="neither"),
    "gamma_alpha_factors": Interval(Real, 0, None, closed="neither"),
    "gamma_alphas": Interval(Real, 0, 1, closed="neither"),
    "alphas": THEORY["alpha"],
    "t_factors": Interval(Real, 0, None, closed="neither"),
    "delta": THEORY["delta"],
    "width": Interval(Integral, 1, None),
    "init_seed": Interval(Integral, 0, None),
}
_SCALARS = ("delta", "width", "init_seed")
_MAY_BE_EMPTY = ("gamma_beta_factors", "gamma_alpha_factors", "alphas", "t_factors")  # one of each pair suffices
_CAST = {"depths": int, "inits": str, "kappas": int, "ps": int, "width": int, "init_seed": int}


@dataclass(frozen=True)
class PlanGrid:
    """Every configuration the plan scores: the cartesian product, per depth L and beta, of

    init x t x gamma x eps x kappa x p, where
    - t in {t*_alpha(beta) : alpha in alphas with beta^L/s < alpha} (eq. 15 / eq. 97)
        u {f t*_0.5(beta) : f in t_factors}  (default: the paper's recording times, see paper_t_factors);
    - gamma in {f beta^L : f in gamma_beta_factors} u {f alpha : f in gamma_alpha_factors, alpha in gamma_alphas}
      (the paper's rules gamma = beta^2/q (Fig. 1) and alpha/q (Sec. 5.3, nu = 1), q = 1/f);
    - init: "default" (rho = ||W1(0)||_F/||W1(0)|| of the seed's draw) or "rank_one" (rho = 1).
    Defaults: a superset of the grid of the paper's Figs. 1-5 (beta, gamma, t, kappa, p, rho).
    delta: the failure probability of the whole plan; each point is scored at delta / N (union bound).
    """

    depths: tuple = (2,)
    betas: tuple = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
    inits: tuple = INITS
    epss: tuple = (1e-3,)
    kappas: tuple = (1, 2)
    ps: tuple = (16, 32)
    gamma_beta_factors: tuple = (1e-3, 1e-2, 1e-1, 1.0)
    gamma_alpha_factors: tuple = (1e-3, 1e-2, 1e-1, 1.0)
    gamma_alphas: tuple = (0.5,)
    alphas: tuple = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
    t_factors: tuple = field(default_factory=paper_t_factors)
    delta: float = 0.05
    width: int = 64
    init_seed: int = 0

    def __post_init__(self) -> None:
        self._check_size()
        for name in GRID_CONSTRAINTS:
            value, cast = getattr(self, name), _CAST.get(name, float)
            if name in _SCALARS:
                validate_params(GRID_CONSTRAINTS, {name: value})
                object.__setattr__(self, name, cast(value))
                continue
            value = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
            if not value and name not in _MAY_BE_EMPTY:
                raise ParameterError(name, (), "non-empty")
            if value:
                validate_params(GRID_CONSTRAINTS, {name: value})
            object.__setattr__(self, name, tuple(sorted({cast(v) for v in value})))
        if not (self.gamma_beta_factors or (self.gamma_alpha_factors and self.gamma_alphas)):
            raise ParameterError("gamma_beta_factors", (), "non-empty when gamma_alpha_factors is empty")
        if not (self.alphas or self.t_factors):
            raise ParameterError("t_factors", (), "non-empty when alphas is empty")

    def _check_size(self) -> None:
        """The work cap (nlbound._limits), from the lists' lengths alone, before any list is expanded:
        at most depths x betas x inits x (alphas + t_factors) x gammas x epss x kappas x ps points."""
        n = {k: len(v) if isinstance(v, (list, tuple, np.ndarray)) else 1
             for k, v in vars(self).items() if k not in _SCALARS}
        sizes = {"depth": n["depths"], "beta": n["betas"], "init": n["inits"], "t": n["alphas"] + n["t_factors"],
                 "gamma": n["gamma_beta_factors"] + n["gamma_alpha_factors"] * n["gamma_alphas"],
                 "eps": n["epss"], "kappa": n["kappas"], "p": n["ps"]}
        check_count("the plan grid", grid_count(sizes.values()), MAX_PLAN_POINTS, "points",
                    " x ".join(f"{v} {k}" for k, v in sizes.items()), "give fewer values")

    def gammas(self, depth: int, beta: float) -> np.ndarray:
        """The margin thresholds scored for (depth, beta), sorted and unique."""
        g = [f * beta**depth for f in self.gamma_beta_factors]
        g += [f * a for f in self.gamma_alpha_factors for a in self.gamma_alphas]
        return np.unique(np.asarray(g, dtype=np.float64))

    def times(self, depth: int, beta: float, s: float) -> tuple[np.ndarray, np.ndarray]:
        """(t, alpha) for (depth, beta): the stopping times scored, sorted, and the alpha of each
        (NaN for the multiples of t*_0.5). alphas with alpha <= beta^L/s (t* undefined) are left out;
        if t*_0.5 itself is undefined only the valid t*_alpha remain."""
        ok = [a for a in self.alphas if a > beta**depth / s]
        t_a = [float(t_star(a, beta, s, depth)) for a in ok]
        rows = list(zip(t_a, ok, strict=True))
        if 0.5 > beta**depth / s:
            t_half = float(t_star(0.5, beta, s, depth))
            rows += [(f * t_half, float("nan")) for f in self.t_factors]
        rows = sorted((t, a) for t, a in rows if np.isfinite(t) and t > 0)
        t = np.asarray([r[0] for r in rows], dtype=np.float64)
        alpha = np.asarray([r[1] for r in rows], dtype=np.float64)
        t, first = np.unique(t, return_index=True)
        return t, alpha[first]


DATA_CONSTRAINTS = {
    **{k: THEORY[k] for k in ("d", "m", "s", "margin_risk")},
    "n_in": Interval(Integral, 1, None),
}


@dataclass(frozen=True)
class PlanData:
    """What the plan needs to know about the data: d (rank of X~, the bound's d), m, s = ||Y X~^+||,
    n_in (the network's input dimension: pixels) and either the training set (x, y) -- the linear
    twin then predicts the margin risk -- or a margin risk assumed at every grid point."""

    name: str
    d: int
    m: int
    s: float
    n_in: int
    x: np.ndarray | None = field(default=None, repr=False, compare=False)
    y: np.ndarray | None = field(default=None, repr=False, compare=False)
    margin_risk: float | None = None

    def __post_init__(self) -> None:
        validate_params(DATA_CONSTRAINTS, {"d": self.d, "m": self.m, "s": self.s, "n_in": self.n_in,
                                "margin_risk": self.margin_risk})
        for name, cast in (("d", int), ("m", int), ("n_in", int), ("s", float)):
            object.__setattr__(self, name, cast(getattr(self, name)))
        if self.margin_risk is not None:
            object.__setattr__(self, "margin_risk", float(self.margin_risk))
        if self.m < self.d:
            raise ParameterError("m", self.m, f">= d == {self.d}")
        if (self.x is None) == (self.margin_risk is None):
            raise ValueError("margin_risk == None, must be given exactly when no training set (x, y) is")

    @classmethod
    def from_dataset(cls, ds) -> "PlanData":
        """From a nlbound.data.Dataset: d = rank, n_in = pixels, the training set for the twin."""
        return cls(name=f"{ds.name} {ds.size}x{ds.size}" if ds.size else str(ds.name), d=int(ds.rank),
                   m=int(ds.m), s=float(ds.s), n_in=int(ds.d), x=ds.x_train, y=ds.y_train)

    @property
    def has_twin(self) -> bool:
        return self.x is not None
