"""The bias-free leaky-ReLU MLP of eqs. 2-3: initialisation, forward pass, hand-written gradients."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

__all__ = [
    "layer_shapes",
    "init_weights",
    "frobenius_spectral_ratio",
    "pack",
    "unpack",
    "forward",
    "forward_many",
    "loss_and_grads",
    "autograd_loss_and_grads",
]


def layer_shapes(d: int, width: int, depth: int) -> list[tuple[int, int]]:
    """Shapes (n_l, n_{l-1}) of W_1..W_L for input dimension d, hidden width n and scalar output."""
    dims = [d] + [width] * (depth - 1) + [1]
    return [(dims[l + 1], dims[l]) for l in range(depth)]


def init_weights(
    d: int, width: int, depth: int, beta: float, *, rank_one: bool = False, seed: int = 0
) -> list[np.ndarray]:
    """PyTorch's default linear-layer init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), each layer rescaled
    to spectral norm exactly beta (Sec. 6). With rank_one, W_1 = beta * a b^T for unit a, b drawn
    from the same generator (rho = 1, Fig. 3). Returns float64 arrays W_1..W_L."""
    gen = torch.Generator().manual_seed(int(seed))
    weights = []
    for l, (n_out, n_in) in enumerate(layer_shapes(d, width, depth)):
        if l == 0 and rank_one:
            a = torch.randn(n_out, 1, generator=gen, dtype=torch.float64)
            b = torch.randn(n_in, 1, generator=gen, dtype=torch.float64)
            w = (a / a.norm()) @ (b / b.norm()).T
        else:
            bound = 1.0 / math.sqrt(n_in)  # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
            w = torch.empty(n_out, n_in, dtype=torch.float64).uniform_(-bound, bound, generator=gen)
        w = w.numpy()
        weights.append(w * (beta / np.linalg.norm(w, 2)))
    return weights


def frobenius_spectral_ratio(w: np.ndarray) -> float:
    """rho = ||W||_F / ||W||_2, the paper's rho for W_1(0) (Thm. 5.2); the stable rank is its square."""
    return float(np.linalg.norm(w) / np.linalg.norm(w, 2))


def pack(weights: Sequence[np.ndarray]) -> np.ndarray:
    """Flatten W_1..W_L into one float64 vector (the integrator's state)."""
    return np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in weights])


def unpack(theta, shapes: Sequence[tuple[int, int]]) -> list:
    """Views of a flat vector (numpy array or torch tensor) as W_1..W_L."""
    out, i = [], 0
    for n_out, n_in in shapes:
        out.append(theta[i : i + n_out * n_in].reshape(n_out, n_in))
        i += n_out * n_in
    return out


def forward(weights: Sequence[torch.Tensor], x: torch.Tensor, eps: float,
            work: dict | None = None) -> torch.Tensor:
    """f^eps_theta(x) of eq. 2 for row-major inputs x (m, d); returns (m,).

    `work` (optional, any dict kept between calls) holds preallocated activation buffers: fresh
    30 MB temporaries per call cost page faults comparable to the matmuls themselves."""
    a = x
    for l, w in enumerate(weights[:-1]):
        a = torch.nn.functional.leaky_relu_(_mm(a, w.T, work, ("h", l)), 1.0 - eps)  # φ^ε of eq. 3: slope 1 − ε below 0
    return (a @ weights[-1].T).reshape(-1)


def forward_many(models: Sequence[Sequence[torch.Tensor]], x: torch.Tensor, eps: float, *,
                 block: int = 4096, work: dict | None = None) -> torch.Tensor:
    """Outputs (K, m) of K nets (weight lists W_1..W_L with scalar output) on the same inputs x (m, d).

    Row blocks of `block` samples are pushed through every net in turn, so the activations stay in
    cache (no 30 MB temporaries per layer) and each block of x is read from memory once for all K
    nets. Same arithmetic as forward() up to the blocking of the matrix products (float rounding)."""
    m = x.shape[0]
    out = torch.empty((len(models), m), dtype=x.dtype)
    work = {} if work is None else work
    for r0 in range(0, m, block):
        xb = x[r0:r0 + block]
        rows = xb.shape[0]
        for k, weights in enumerate(models):
            a = xb
            for l, w in enumerate(weights[:-1]):
                key = ("blk", l)
                buf = work.get(key)
                if buf is None or buf.shape != (block, w.shape[0]) or buf.dtype != x.dtype:
                    buf = work[key] = torch.empty((block, w.shape[0]), dtype=x.dtype)
                a = torch.nn.functional.leaky_relu_(torch.mm(a, w.T, out=buf[:rows]), 1.0 - eps)
            torch.mv(a, weights[-1].reshape(-1), out=out[k, r0:r0 + rows])
    return out


def _mm(a: torch.Tensor, b: torch.Tensor, work: dict | None, key) -> torch.Tensor:
    """a @ b, written into the buffer work[key] (allocated on first use) when work is given."""
    if work is None:
        return a @ b
    shape = (a.shape[0], b.shape[1])
    buf = work.get(key)
    if buf is None or buf.shape != shape or buf.dtype != a.dtype:
        buf = work[key] = torch.empty(shape, dtype=a.dtype)
    return torch.mm(a, b, out=buf)


def loss_and_grads(
    weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, eps: float, work: dict | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Loss ||Y - f(X)||^2 / 2m, outputs f(X) (m,) and dLoss/dW_l, by a hand-written backward pass.

    Activations are kept post-nonlinearity only: for eps < 1 the slope 1 - eps > 0 preserves signs,
    and for eps = 1 (ReLU) a > 0 <=> h > 0, so leaky_relu_backward(self_is_result=True) is exact.
    The backward pass overwrites dLoss/d(activation) with dLoss/d(pre-activation) in place.
    Sums over the m samples are matrix products only, so results are bitwise independent of the
    number of threads (tested). `work`: optional dict of reusable buffers (see forward)."""
    m = x.shape[0]
    slope = 1.0 - eps
    acts = [x]
    for l, w in enumerate(weights[:-1]):
        acts.append(torch.nn.functional.leaky_relu_(_mm(acts[-1], w.T, work, ("h", l)), slope))
    out = (acts[-1] @ weights[-1].T).reshape(-1)
    resid = out - y
    # as a (1, m) x (m, 1) product, like every other sum over the samples here: the BLAS splits a
    # product over its output, never over the samples, so no result depends on the thread count
    # (torch.dot does split the sum over threads: tests/networks/test_networks.py)
    loss = (resid.reshape(1, -1) @ resid.reshape(-1, 1)).reshape(()) / (2 * m)
    e = resid.mul_(1.0 / m).reshape(-1, 1)  # dLoss/df, (m, 1)
    grads: list[torch.Tensor] = [None] * len(weights)  # type: ignore[list-item]
    grads[-1] = e.T @ acts[-1]
    delta = e
    for l in range(len(weights) - 1, 0, -1):
        g = _mm(delta, weights[l], work, ("g", l))  # dLoss/d(a_l), (m, n_l)
        delta = torch.ops.aten.leaky_relu_backward.grad_input(g, acts[l], slope, True, grad_input=g)
        grads[l - 1] = delta.T @ acts[l - 1]
    return loss, out, grads


def autograd_loss_and_grads(
    weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Reference implementation of loss_and_grads by autograd on the literal eq. 3 (tests only)."""
    ws = [w.detach().clone().requires_grad_(True) for w in weights]
    a = x
    for w in ws[:-1]:
        h = a @ w.T
        a = h - eps * torch.clamp(h, max=0.0)
    out = (a @ ws[-1].T).reshape(-1)
    loss = ((y - out) ** 2).sum() / (2 * x.shape[0])
    grads = torch.autograd.grad(loss, ws)
    return loss.detach(), out.detach(), [g.detach() for g in grads]
