"""PAC-Bayes bound optimised on the trained net, after Dziugaite & Roy (UAI 2017), implemented with torch.

Source: G. K. Dziugaite, D. M. Roy, "Computing Nonvacuous Generalization Bounds for Deep (Stochastic)
Neural Networks with Many More Parameters than Training Data", UAI 2017 (DR), Sec. 2-4:

* Posterior Q = N(w, diag(sigma^2)) with mean w started at the trained weights theta(t); prior
  P = N(w0, lambda I) centred at the initialisation theta(0) (data-independent: seeded), with
  lambda = c exp(-j / b) on the grid j = 1, 2, ... (b = 100, c = 0.1 as DR).
* PAC-Bayes-kl, as DR state it (quoted from memory of the UAI text, not checked against it; Thm 2.1, after McAllester 1999 and Langford & Seeger 2001): "For
  every delta > 0, m in N, distribution D on R^k x {-1, 1}, and distribution P on H, with probability
  at least 1 - delta over S ~ D^m, for all distributions Q on H,
  kl(e^(Q, S) || e(Q)) <= (KL(Q||P) + log(m / delta)) / (m - 1)"; DR Sec. 4 ("union bound" over the
  prior variance) with a union bound over j with weights
  6 / (pi^2 j^2):  kl(e^(Q) || e(Q)) <= B_RE
  = (KL(Q||P) + 2 ln(b ln(c / lambda)) + ln(pi^2 m / (6 delta_pb))) / (m - 1).
* Optimisation (DR eq. 5): minimise  surrogate(Q) + sqrt(B_RE / 2)  over (w, log sigma, log lambda) with a
  one-sample reparameterised estimate of the empirical surrogate loss (logistic loss of k y f / ln 2,
  an upper bound on the 0-1 loss, with k = logit_scale / rms f_theta(t)(X~): our nets' outputs range
  from ~1e-3 early to ~1, DR's logits are O(1)) on mini-batches; the mean moves at an Adam step of
  lr * rms(theta - theta0) (the weights' own scale); lambda is then rounded to the grid (j integer).
  Surrogate and steps only steer the optimisation: the final bound uses the 0-1 error.
* Sample convergence (Langford & Caruana 2002, DR Sec. 3): with n networks drawn from Q, each evaluated
  on the whole training set, w.p. >= 1 - delta_mc  e^(Q) <= kl^{-1}(Q^_n, ln(2 / delta_mc) / n)
  (DR: n = 150,000 nets, delta' = 0.01; the default here too, as published. Cost measured on 7x7 MNIST,
  m = 60,000, L = 2, width 64, float64, one thread: 15.8 ms CPU per net, so ~2,400 CPU-s (40 min) per
  trained net and time, against 16 s at n = 1,000; PacBayesSettings(n_mc=1000) is the quick setting,
  whose 150x larger ln(2/delta')/n only loosens the bound: on Fig. 1's run at t = 2.528 it gave 0.285
  against 0.243 at 150,000 (issue 21)). Each net's training error lies in [0, 1], not {0, 1}; the
  one-sided Chernoff-kl inequality holds for [0, 1]-valued variables (their moment generating
  function is at most that of a Bernoulli of the same mean, Hoeffding 1963), so ln(2/delta_mc) is
  the conservative two-sided form DR use.
* Final bound: e(Q) <= kl^{-1}(kl^{-1}(Q^_n, ln(2/delta_mc)/n), B_RE), w.p. >= 1 - delta_pb - delta_mc.

The bound is on the stochastic classifier Q (the Gibbs risk), not on the trained net itself (the paper,
Sec. 2, point 5).

Why not the PyPI library `pacbb` (evaluated: version 0.1.2, `pip download --no-deps`): its wheel holds
six modules of a top-level package named `core` that import `core.bound`, `core.distribution` and
`core.layer`, which the wheel does not contain (it cannot be imported), it ships no tests, and it
requires wandb and lightning. So this is implemented here; the kl-inverse is the package's one
(`nlbound.theory.kl`, tested against mpmath).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from nlbound._validate import Integral, Interval, Real, validate_params
from nlbound.networks import forward_many, layer_shapes, unpack
from nlbound.theory.kl import kl_inverse_upper
from nlbound.theory import CONSTRAINTS as THEORY

__all__ = ["PacBayesSettings", "gaussian_kl", "b_re", "lambda_grid_index",
           "mc_error_bound", "pac_bayes_bound", "optimise_posterior", "gibbs_errors"]

_CONSTRAINTS = {
    "q": Interval(Real, 0, 1, closed="both"),
    "delta": THEORY["delta"],
    "m": Interval(Integral, 2, None, closed="left"),
    "n": Interval(Integral, 1, None, closed="left"),
    "steps": Interval(Integral, 0, None, closed="left"),
    "batch": Interval(Integral, 1, None, closed="left"),
    "lr": Interval(Real, 0, None, closed="neither"),
    "logit_scale": Interval(Real, 0, None, closed="neither"),
    "b": Interval(Real, 0, None, closed="neither"),
    "prior_c": Interval(Real, 0, None, closed="neither"),
    "seed": Interval(Integral, 0, None, closed="left"),
}
# PacBayesSettings' fields, each checked under its own name (delta_pb, delta_mc: δ of the theory's table)
_SETTINGS = {**_CONSTRAINTS, "delta_pb": THEORY["delta"], "delta_mc": THEORY["delta"], "n_mc": _CONSTRAINTS["n"]}


@dataclass(frozen=True)
class PacBayesSettings:
    """What determines the PAC-Bayes result (part of its cache key). delta_pb + delta_mc = the total
    failure probability (DR: 0.025 + 0.01; default here 0.04 + 0.01 = the theorem's 0.05)."""

    delta_pb: float = 0.04
    delta_mc: float = 0.01
    b: float = 100.0
    prior_c: float = 0.1
    steps: int = 10000
    batch: int = 500
    lr: float = 1e-2  # Adam step for log sigma and log lambda; the mean's is lr * rms(theta - theta0)
    logit_scale: float = 2.0  # k * rms(f) on the training set
    n_mc: int = 150_000  # DR's sample count (cost: see the module docstring)
    seed: int = 0

    def __post_init__(self) -> None:
        validate_params(_SETTINGS, {"delta_pb": self.delta_pb, "delta_mc": self.delta_mc, "b": self.b,
                                    "prior_c": self.prior_c, "steps": self.steps, "batch": self.batch, "lr": self.lr,
                                    "logit_scale": self.logit_scale, "n_mc": self.n_mc, "seed": self.seed})
        if self.delta_pb + self.delta_mc >= 1:
            raise ValueError(f"delta_pb + delta_mc == {self.delta_pb + self.delta_mc:g}, must be in (0, 1)")

    def as_dict(self) -> dict:
        return asdict(self)


def gaussian_kl(mean: np.ndarray, sigma: np.ndarray, prior_mean: np.ndarray, lam: float) -> float:
    """KL(N(mean, diag sigma^2) || N(prior_mean, lam I))
    = 1/2 sum(sigma^2/lam + (mean - prior_mean)^2/lam - 1 + ln(lam/sigma^2))."""
    s2 = np.asarray(sigma, dtype=np.float64) ** 2
    d2 = (np.asarray(mean, dtype=np.float64) - np.asarray(prior_mean, dtype=np.float64)) ** 2
    return float(0.5 * np.sum(s2 / lam + d2 / lam - 1.0 + np.log(lam / s2)))


def lambda_grid_index(lam: float, b: float, prior_c: float) -> int:
    """j >= 1 of the grid lambda_j = c exp(-j / b) nearest to lam (DR Sec. 4)."""
    return max(1, int(round(b * math.log(prior_c / lam))))


def b_re(kl: float, j: int, m: int, delta_pb: float) -> float:
    """B_RE = (KL + 2 ln j + ln(pi^2 m / (6 delta_pb))) / (m - 1): Langford-Seeger with delta_j =
    6 delta_pb / (pi^2 j^2) (DR eq. 4 with j = b ln(c / lambda))."""
    return (kl + 2.0 * math.log(j) + math.log(math.pi**2 * m / (6.0 * delta_pb))) / (m - 1)


def mc_error_bound(q_hat: float, n: int, delta_mc: float) -> float:
    """Langford & Caruana 2002: e^(Q) <= kl^{-1}(Q^_n, ln(2 / delta_mc) / n)."""
    validate_params(_CONSTRAINTS, {"q": q_hat, "n": n, "delta": delta_mc})
    return float(kl_inverse_upper(q_hat, math.log(2.0 / delta_mc) / n))


def pac_bayes_bound(q_hat: float, n: int, kl: float, j: int, m: int, delta_pb: float, delta_mc: float) -> dict:
    """The final DR bound from its inputs: e(Q) <= kl^{-1}(mc_error_bound, B_RE)."""
    validate_params(_CONSTRAINTS, {"m": m})
    e_up = mc_error_bound(q_hat, n, delta_mc)
    bre = b_re(kl, j, m, delta_pb)
    return {"gibbs_train_error_mc": q_hat, "gibbs_train_error_upper": e_up, "b_re": bre,
            "bound": float(kl_inverse_upper(e_up, bre))}


def _forward(ws: list, x: torch.Tensor, eps: float) -> torch.Tensor:
    a = x
    for w in ws[:-1]:
        a = torch.nn.functional.leaky_relu(a @ w.T, 1.0 - eps)
    return (a @ ws[-1].T).reshape(-1)


def _objective(mean, log_sigma, log_lam, prior_mean, xb, yb, eps, shapes, m, s: PacBayesSettings, noise, k):
    sigma = torch.exp(log_sigma)
    w = mean + sigma * noise
    f = _forward(unpack(w, shapes), xb, eps)
    surrogate = torch.nn.functional.softplus(-k * yb * f).mean() / math.log(2.0)
    lam = torch.exp(log_lam)
    kl = 0.5 * torch.sum(sigma**2 / lam + (mean - prior_mean) ** 2 / lam - 1.0 + torch.log(lam) - 2 * log_sigma)
    j = torch.clamp(s.b * torch.log(s.prior_c / lam), min=1.0)
    bre = (kl + 2 * torch.log(j) + math.log(math.pi**2 * m / (6 * s.delta_pb))) / (m - 1)
    return surrogate + torch.sqrt(bre / 2), kl


def _adam_step(params, grads, moments, lrs, k: int, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam update (Kingma & Ba 2015, Alg. 1), in place. Written out: importing torch.optim loads
    torch._dynamo, which costs ~15 s on this machine."""
    with torch.no_grad():
        for p, g, (m1, m2), lr in zip(params, grads, moments, lrs, strict=True):
            m1.mul_(b1).add_(g, alpha=1 - b1)
            m2.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(lr * (m1 / (1 - b1**k)) / ((m2 / (1 - b2**k)).sqrt() + eps))


def optimise_posterior(theta0: np.ndarray, theta: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float,
                       width: int, depth: int, settings: PacBayesSettings) -> dict:
    """Minimise DR's objective with Adam (see the module doc for steps and surrogate scale).

    Returns mean, sigma (float64 arrays), lambda rounded to the grid, its index j, the history."""
    gen = torch.Generator().manual_seed(settings.seed)
    shapes = layer_shapes(x.shape[1], width, depth)
    xt, yt = torch.from_numpy(np.array(x, dtype=np.float64)), torch.from_numpy(np.array(y, dtype=np.float64))
    prior_mean = torch.from_numpy(np.asarray(theta0, dtype=np.float64))
    mean = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    # initial sigma = rms(theta - theta0) / 10 and lambda = mean (theta - theta0)^2, floored for t = 0
    dist = max(float(np.mean((theta - theta0) ** 2)), 1e-6 * float(np.mean(theta0**2)), 1e-30)
    log_sigma = torch.full_like(mean, 0.5 * math.log(dist) - math.log(10.0)).requires_grad_(True)
    log_lam = torch.tensor(math.log(dist), dtype=torch.float64, requires_grad=True)
    params, lrs = [mean, log_sigma, log_lam], [settings.lr * math.sqrt(dist), settings.lr, settings.lr]
    with torch.no_grad():
        f0 = _forward(unpack(mean, shapes), xt, eps)
    k = settings.logit_scale / max(float(torch.sqrt(torch.mean(f0**2))), 1e-300)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    m = x.shape[0]
    start, history = time.perf_counter(), []
    for step in range(settings.steps):
        idx = torch.randint(0, m, (settings.batch,), generator=gen)
        noise = torch.randn(mean.shape, generator=gen, dtype=torch.float64)
        loss, kl = _objective(mean, log_sigma, log_lam, prior_mean, xt[idx], yt[idx], eps, shapes, m,
                              settings, noise, k)
        grads = torch.autograd.grad(loss, params)
        _adam_step(params, grads, moments, lrs, step + 1)
        if step % max(1, settings.steps // 10) == 0 or step == settings.steps - 1:
            history.append({"step": step, "objective": float(loss.detach()), "kl": float(kl.detach())})
    j = lambda_grid_index(float(torch.exp(log_lam.detach())), settings.b, settings.prior_c)
    return {"mean": mean.detach().numpy().copy(), "sigma": torch.exp(log_sigma).detach().numpy().copy(),
            "j": j, "lambda": settings.prior_c * math.exp(-j / settings.b), "history": history,
            "logit_scale_k": k, "optimise_s": time.perf_counter() - start}


def gibbs_errors(mean: np.ndarray, sigma: np.ndarray, x: np.ndarray, y: np.ndarray, eps: float, width: int,
                 depth: int, n: int, seed: int, chunk: int = 16) -> np.ndarray:
    """Training 0-1 error of each of n nets drawn from N(mean, diag sigma^2) (float64 forward passes)."""
    gen = torch.Generator().manual_seed(seed + 1)
    shapes = layer_shapes(x.shape[1], width, depth)
    xt = torch.from_numpy(np.array(x, dtype=np.float64))
    mu, sd = torch.from_numpy(mean), torch.from_numpy(sigma)
    errors: list[float] = []
    work: dict = {}
    with torch.no_grad():
        for k0 in range(0, n, chunk):
            k = min(chunk, n - k0)
            ws = [unpack(mu + sd * torch.randn(mu.shape, generator=gen, dtype=torch.float64), shapes)
                  for _ in range(k)]
            out = forward_many(ws, xt, eps, work=work).numpy()
            errors.extend(np.mean(np.asarray(y)[None, :] * out < 0, axis=1).tolist())
    return np.asarray(errors)
