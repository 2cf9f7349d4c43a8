"""Right-hand sides of the gradient flow of eq. 4 on the flat float64 weight vector: the leaky-ReLU
net (one pass over the data per evaluation) and its linear twin (eps = 0, from data statistics only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from nlbound.networks import layer_shapes, loss_and_grads, unpack
from nlbound.training.sensitivity import manual_jacobian_product, manual_primal

__all__ = ["NetFlow", "LinearTwinFlow", "TWIN_RTOL", "end_to_end"]

# Relative tolerance of every integration of the linear twin (train()'s twin columns and the plan's
# predicted margin risk: one computation, so `plan` predicts what a run records). The twin costs
# microseconds per evaluation, so it is integrated tightly: 1e-10 is the value runs have always
# used (their cached traces stay valid); for the plan it costs about x2 (1.85-2.3 measured, benchmarks/bench_twin_rtol.py) over its former 1e-8 per
# twin (0.09 -> 0.17 s for L = 2, 0.22 -> 0.46 s for L = 3 on MNIST 7x7) and moved no margin risk.
TWIN_RTOL = 1e-10

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class NetFlow:
    """theta -> -dL/dtheta for L = ||Y - f^eps_theta(X~)||^2 / 2m; gradients computed in `dtype`
    (float32 or float64) by the hand-written backward pass, returned as float64.

    linearize(theta): exact (a.e.) Jacobian-vector products of the flow at theta for the stiff
    integrator (see there); each product counts as one evaluation."""

    def __init__(self, x: np.ndarray, y: np.ndarray, eps: float, width: int, depth: int,
                 dtype: str = "float32"):
        self.dtype = _DTYPES[dtype]
        self.x = torch.from_numpy(np.require(x, np.float64, ["C", "W"])).to(self.dtype)
        self.y = torch.from_numpy(np.require(y, np.float64, ["C", "W"])).to(self.dtype)
        self.eps = float(eps)
        self.shapes = layer_shapes(x.shape[1], width, depth)
        self.evals = 0
        self.last_loss = float("nan")
        self.work: dict = {}  # reusable activation buffers
        self._jvp_work: dict = {}  # and those of linearize's products

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        self.evals += 1
        w = unpack(torch.from_numpy(theta).to(self.dtype), self.shapes)
        with torch.no_grad():
            loss, _, grads = loss_and_grads(w, self.x, self.y, self.eps, self.work)
            g = torch.cat([gr.reshape(-1) for gr in grads])
        self.last_loss = float(loss)
        out = g.numpy().astype(np.float64)
        np.negative(out, out=out)
        return out

    def linearize(self, theta: np.ndarray):
        """v -> J(theta) v, J = dF/dtheta the a.e. Jacobian (the activation pattern of theta held fixed),
        exact up to rounding in this flow's dtype: training.sensitivity's dual-number rules along
        (v, tau-dot = 0), the primal pass at theta (activations, errors) done once here and shared by
        every product (manual_primal, manual_jacobian_product).

        Why not differences of F (the previous linearize): a difference quotient over a step delta ~1e-8
        picks up the jump of F at every pre-activation within ~delta of a kink, divided by delta. On
        Fig. 6's L = 3 net past convergence (7.7 million pre-activations, ~120 crossing zero per unit
        time) that made (I - gamma h J) spuriously near-singular: one Rodas3 step of h = 5 was 5e5 x its
        tolerance off the flow with differences, 0.21 x with this product (benchmarks/kink_limit.py,
        BENCHMARKS.md). The primal pass and each product count as one evaluation each (one pass over the
        data; a product's wall against a gradient's: BENCHMARKS.md, kink_limit.py --cost)."""
        ws = unpack(torch.from_numpy(theta).to(self.dtype), self.shapes)
        self.evals += 1  # the primal pass at theta, shared by every product below
        with torch.no_grad():
            primal = manual_primal(ws, self.x, self.y, self.eps)

        def jvp(v: np.ndarray) -> np.ndarray:
            self.evals += 1
            dws = unpack(torch.from_numpy(np.ascontiguousarray(v)).to(self.dtype), self.shapes)
            with torch.no_grad():
                d = manual_jacobian_product(ws, dws, self.eps, primal, self._jvp_work)
                return torch.cat([t.reshape(-1) for t in d]).to(torch.float64).numpy()

        return jvp


def end_to_end(weights: Sequence[np.ndarray]) -> np.ndarray:
    """The linear map of the eps = 0 net: W_L ... W_1 as a (1, d) row."""
    m = weights[0]
    for w in weights[1:]:
        m = w @ m
    return m


class LinearTwinFlow:
    """Gradient flow of the linear net (eps = 0) from data statistics only.

    With f = x @ v, v = (W_L...W_1)^T: L = ||y||^2/2m - c.v + v^T S v / 2 with c = x^T y / m (the
    paper's Y X~^T / m) and S = x^T x / m (= P, the projector on the range of X~, for whitened
    data; I when X~ has full rank). So dL/dv = S v - c and dL/dW_l = (W_L..W_{l+1})^T (dL/dv)^T
    (W_{l-1}..W_1)^T: no pass over the data. Matches NetFlow at eps = 0 to rounding."""

    def __init__(self, c: np.ndarray, S: np.ndarray, width: int, depth: int):
        self.c = np.asarray(c, dtype=np.float64)
        self.S = np.asarray(S, dtype=np.float64)
        self.shapes = layer_shapes(self.c.size, width, depth)
        self.evals = 0

    def linearize(self, theta: np.ndarray):
        """v -> J(theta) v by the complex step, Im F(theta + i h v) / h with h = 1e-30 / ||v||: F is a
        polynomial in theta, so this is its derivative to rounding, with no difference to cancel (the
        stiff integrator's Krylov solves at the twin's rtol 1e-10 need that). One evaluation each."""
        theta = np.asarray(theta, dtype=np.float64)

        def jvp(v: np.ndarray) -> np.ndarray:
            nv = float(np.linalg.norm(v))
            if nv == 0.0:
                return np.zeros_like(theta)
            h = 1e-30 / nv
            return np.imag(self(theta + 1j * h * np.asarray(v, dtype=np.float64))) / h

        return jvp

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        self.evals += 1
        ws = unpack(theta, self.shapes)
        L = len(ws)
        prefix = [None] * L  # prefix[l] = W_l ... W_1 (0-based: W_{l+1}..W_1)
        acc = ws[0]
        prefix[0] = acc
        for l in range(1, L):
            acc = ws[l] @ acc
            prefix[l] = acc
        v = acc.reshape(-1)
        gv = self.S @ v - self.c  # dL/dv, (d,)
        out = np.empty_like(theta)
        grads = unpack(out, self.shapes)
        suffix = np.ones((1, 1))  # W_L ... W_{l+2} as a row (1, n_{l+1})
        for l in range(L - 1, -1, -1):
            right = gv if l == 0 else prefix[l - 1] @ gv  # (W_l..W_1) gv, (n_l,)
            np.multiply(-suffix.reshape(-1, 1), right.reshape(1, -1), out=grads[l])
            suffix = suffix @ ws[l]
        return out
