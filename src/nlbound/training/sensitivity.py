"""Forward sensitivity of the gradient flow (eq. 4) to the nonlinearity: the state z = [θ^τ, ∂θ^τ/∂τ].

θ^τ(t) are the weights trained with activation φ^τ(x) = x − τ·min(0, x) (eq. 3 with ε → τ). The
proof of Lemma 7.1 (Sec. 7.3, App. C.3) bounds ∂W_l^τ/∂τ; here it is integrated exactly (up to the
integrator's error) alongside the flow:

    dθ/dt = F(θ, τ),   d/dt ∂θ/∂τ = ∂F/∂θ · ∂θ/∂τ + ∂F/∂τ,   ∂θ/∂τ(0) = 0   (the init does not
    depend on τ), with F = −∇_θ L, L = ‖Y − f^τ_θ(X̃)‖²/2m (eq. 4).

Two implementations of the same forward-mode product (F, ∂F/∂θ·ψ + ∂F/∂τ), in float64 or float32
(`dtype`: the passes over the data; state and returned field float64):
- "jvp": `torch.func.jvp` of the field (θ, τ) ↦ F(θ, τ) (itself `torch.func.grad` of the literal
  eq. 2–3 loss) along (ψ, 1) -- the reference;
- "manual" (default): the tangent pushed by hand through the hand-written forward/backward pass of
  `networks.loss_and_grads` (the dual-number rules below), activations stored transposed so that
  the first layer's two forward and two backward products fuse into one each, reusable buffers.
  Measured (m = 60,000, d = 49, width 64, one thread, loaded machine; BENCHMARKS.md, "Sensitivity
  runs"): "manual" ~2.4x a NetFlow evaluation of the same dtype, "jvp" ~8-9x (torch.func overhead).
Caveat: this is the a.e. derivative (D = (φ^τ)' piecewise constant). For τ > 0 the field jumps
across each kink h = 0, so where pre-activations cross zero ∂θ^τ/∂τ has jump terms this tangent
omits (measured: 0.75 % at τ = 0.01, 3 % at τ = 0.05 on a 200-sample synthetic case; ≤ 4.7e-4 on
7×7 MNIST at ε = 0.01 to t*, where each jump is O(τ/m); docs/ARCHITECTURE.md).
The tangent is part of the integrated state, so the adaptive integrator's error control covers it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.func import grad, jvp

from nlbound._validate import Integral, Interval, Options, Real, validate_params
from nlbound.networks import layer_shapes, unpack
from nlbound.theory import CONSTRAINTS as THEORY
from nlbound.training.integrators import get_integrator

__all__ = ["SensitivityFlow", "split_state", "initial_state", "field_and_tangent", "manual_field_and_tangent",
           "manual_primal", "manual_jacobian_product", "integrate_sensitivity"]

_CONSTRAINTS = {
    "tau": Interval(Real, 0, 1, closed="both"),
    "width": Interval(Integral, 1, None, closed="left"),
    "depth": THEORY["depth"],
    "tangent_scale": Interval(Real, 0, None, closed="neither"),
    "mode": Options("manual", "jvp"),
    "dtype": Options("float32", "float64"),
}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _loss(theta: torch.Tensor, tau: torch.Tensor, x: torch.Tensor, y: torch.Tensor, shapes) -> torch.Tensor:
    """L(θ; τ) = ‖Y − f^τ_θ(X̃)‖²/2m (eq. 4) with f of eq. 2 and φ^τ(h) = h − τ min(0, h) (eq. 3)."""
    ws = unpack(theta, shapes)
    a = x
    for w in ws[:-1]:
        h = a @ w.T
        a = h - tau * torch.clamp(h, max=0.0)  # eq. 3
    r = (a @ ws[-1].T).reshape(-1) - y
    return r.dot(r) / (2 * x.shape[0])


def field_and_tangent(theta: torch.Tensor, tangent: torch.Tensor, tau: torch.Tensor,
                      x: torch.Tensor, y: torch.Tensor, shapes) -> tuple[torch.Tensor, torch.Tensor]:
    """(F(θ, τ), ∂F/∂θ·ψ + ∂F/∂τ) for F = −∇_θ L (eq. 4), by forward-mode AD over reverse mode."""
    def field(th, ta):
        return -grad(_loss)(th, ta, x, y, shapes)

    out = jvp(field, (theta, tau), (tangent, torch.ones_like(tau)))  # (F, its tangent)
    return out[0], out[1]


def initial_state(theta0: np.ndarray) -> np.ndarray:
    """z(0) = [θ(0), c·∂θ/∂τ(0)] = [θ(0), 0]: the initialisation does not depend on τ (so the
    tangent's scale c does not enter)."""
    theta0 = np.asarray(theta0, dtype=np.float64)
    return np.concatenate([theta0, np.zeros_like(theta0)])


def split_state(z: np.ndarray, tangent_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(θ, ∂θ/∂τ) from the integrated state z = [θ, c·∂θ/∂τ] (copies)."""
    n = z.size // 2
    return np.array(z[:n]), np.array(z[n:]) / tangent_scale


def _lrelu_bwd(g: torch.Tensor, h: torch.Tensor, slope: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """D ⊙ g with D = (φ^τ)'(h) = 1 where h > 0, slope = 1 − τ elsewhere (one fused pass)."""
    if out is None:
        return torch.ops.aten.leaky_relu_backward(g, h, slope, False)
    return torch.ops.aten.leaky_relu_backward.grad_input(g, h, slope, False, grad_input=out)


def _buffer(work: dict | None, key, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """work[key] if it has this shape and dtype, else a new (and, with work, kept) tensor."""
    buf = None if work is None else work.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = torch.empty(shape, dtype=dtype)
        if work is not None:
            work[key] = buf
    return buf


def _dual_forward(ws, dws, x: torch.Tensor, slope: float, buf, dtau: bool) -> tuple[list, list, list]:
    """The forward half of manual_field_and_tangent: activations a_l, their dots ȧ_l (transposed,
    (n, m)) and the pre-activations h_l of the hidden layers (eqs. 2–3, dual-number rules there)."""
    n1 = ws[0].shape[0]
    hh = torch.mm(torch.cat([ws[0], dws[0]]), x.T, out=buf("hh", 2 * n1))  # [h_1; ḣ_1] in one product
    h, dh = hh[:n1], hh[n1:]
    acts: list[torch.Tensor] = [x.T]
    dacts: list[Any] = [None]
    hs: list[torch.Tensor] = []
    for l in range(len(ws) - 1):
        n = ws[l].shape[0]
        if l > 0:  # ḣ = Ẇ_l a_{l−1} + W_l ȧ_{l−1} (ȧ_0 = 0)
            h = torch.mm(ws[l], acts[-1], out=buf(("h", l), n))
            dh = torch.mm(dws[l], acts[-1], out=buf(("dh", l), n)).addmm_(ws[l], dacts[-1])
        hs.append(h)
        # ȧ = D ⊙ ḣ − min(0, h): ∂φ^τ/∂τ = −min(0, h) (eq. 3); D ⊙ · fused by leaky_relu_backward
        da = _lrelu_bwd(dh, h, slope, out=dh)
        dacts.append(da.sub_(torch.clamp(h, max=0.0, out=buf(("neg", l), n))) if dtau else da)
        acts.append(torch.ops.aten.leaky_relu.out(h, slope, out=buf(("a", l), n)))  # φ^τ(h) = D ⊙ h (eq. 3)
    return acts, dacts, hs


def manual_field_and_tangent(ws, dws, x: torch.Tensor, y: torch.Tensor, tau: float, work: dict | None = None,
                             dtau: bool = True):
    """(F, Ḟ) per layer, F_l = −∂L/∂W_l (eq. 4), Ḟ_l = its derivative along (Ẇ = dws, τ̇ = 1); with
    dtau=False along (Ẇ = dws, τ̇ = 0), i.e. Ḟ = ∂F/∂θ · dws alone (the two ∂/∂τ terms are not formed).

    Dual-number rules of eqs. 2–3 (written row-major a_l (m, n_l); stored transposed): h_l = a_{l−1} W_lᵀ, D_l = 1 − τ[h_l ≤ 0],
    a_l = D_l ⊙ h_l, ȧ_l = D_l ⊙ ḣ_l − min(0, h_l) (∂φ^τ(h)/∂τ = −min(0, h)); backward δ_l = D_l ⊙
    (δ_{l+1} W_{l+1}), δ̇_l = D_l ⊙ (δ̇_{l+1} W_{l+1} + δ_{l+1} Ẇ_{l+1}) − [h_l ≤ 0] ⊙ (δ_{l+1} W_{l+1}),
    ∂L/∂W_l = δ_lᵀ a_{l−1} and its dot δ̇_lᵀ a_{l−1} + δ_lᵀ ȧ_{l−1}. D is piecewise constant in h, so
    its θ-derivative vanishes a.e. (the kinks h = 0 have measure zero along the flow).
    `work` (optional dict kept between calls): the (n, m) blocks are written into reusable buffers
    (fresh 15 MB temporaries per call cost page faults comparable to the products themselves)."""
    m, L, slope, n1 = x.shape[0], len(ws), 1.0 - tau, ws[0].shape[0]

    def buf(key, n: int) -> torch.Tensor:  # activations are stored transposed, (n, m): halves of a
        return _buffer(work, key, (n, m), x.dtype)  # (2n, m) block are contiguous, so products fuse

    acts, dacts, hs = _dual_forward(ws, dws, x, slope, buf, dtau)
    out = ws[-1] @ acts[-1]
    dout = torch.addmm(dws[-1] @ acts[-1], ws[-1], dacts[-1])
    e, de = (out.reshape(-1) - y).reshape(1, -1) / m, dout / m  # dL/df and its dot, (1, m)
    F: list[Any] = [None] * L
    dF: list[Any] = [None] * L
    F[-1], dF[-1] = -(e @ acts[-1].T), -torch.addmm(e @ dacts[-1].T, de, acts[-1].T)
    for l in range(L - 2, -1, -1):  # layer l+1 (1-based), slopes of activation l+1
        n = ws[l].shape[0]
        g = torch.mm(ws[l + 1].T, e, out=buf(("g", l), n))
        dg = torch.mm(dws[l + 1].T, e, out=buf(("dg", l), n)).addmm_(ws[l + 1].T, de)
        both: Any = buf("both", 2 * n1) if l == 0 else None  # [δ_1; δ̇_1], then one product with x
        e = _lrelu_bwd(g, hs[l], slope, out=both[:n1] if l == 0 else buf(("e", l), n))
        de = _lrelu_bwd(dg, hs[l], slope, out=both[n1:] if l == 0 else dg)
        # − [h ≤ 0] ⊙ g (∂D/∂τ = −[h ≤ 0]) as g − [h > 0] ⊙ g, exact (masked_fill_ was 5-10x slower)
        if dtau:
            pos_g = torch.ops.aten.threshold_backward.grad_input(g, hs[l], 0.0, grad_input=buf(("pg", l), n))
            de.sub_(torch.sub(g, pos_g, out=pos_g))
        if l == 0:
            both = both @ x
            F[0], dF[0] = -both[:n1], -both[n1:]
        else:
            F[l], dF[l] = -(e @ acts[l].T), -torch.addmm(e @ dacts[l].T, de, acts[l].T)
    return F, dF


def manual_primal(ws, x: torch.Tensor, y: torch.Tensor, tau: float) -> tuple[list, list, list]:
    """The part of manual_field_and_tangent that depends on θ alone, for many products ∂F/∂θ·v at one
    θ (NetFlow.linearize): pre-activations h_l and activations a_l (stored transposed, a_0 = X̃ᵀ) of
    eq. 2, and the back-propagated errors δ_l = D_l ⊙ (W_{l+1}ᵀ δ_{l+1}), δ_L = dL/df (1, m) (eq. 4)."""
    m, L, slope = x.shape[0], len(ws), 1.0 - tau
    hs, acts = [], [x.T]
    for w in ws[:-1]:
        hs.append(w @ acts[-1])
        acts.append(torch.nn.functional.leaky_relu(hs[-1], slope))  # eq. 3
    deltas: list[Any] = [None] * (L - 1) + [((ws[-1] @ acts[-1]).reshape(-1) - y).reshape(1, -1) / m]
    for l in range(L - 2, -1, -1):
        deltas[l] = _lrelu_bwd(ws[l + 1].T @ deltas[l + 1], hs[l], slope)
    return hs, acts, deltas


def manual_jacobian_product(ws, dws, tau: float, primal: tuple[list, list, list], work: dict | None = None) -> list:
    """∂F/∂θ · dws per layer (F = −∇_θ L, eq. 4), the a.e. product (activation pattern held fixed), from
    manual_primal's (h, a, δ) at θ: manual_field_and_tangent's dual-number rules with τ̇ = 0, without
    recomputing the primal pass. ȧ_l = D_l ⊙ (Ẇ_l a_{l−1} + W_l ȧ_{l−1}), δ̇ = D ⊙ (Ẇᵀ δ + Wᵀ δ̇),
    −dF_l = δ_l ȧ_{l−1}ᵀ + δ̇_l a_{l−1}ᵀ. `work`: reusable (n, m) buffers, as there."""
    hs, acts, deltas = primal
    L, slope, m = len(ws), 1.0 - tau, acts[0].shape[1]

    def buf(key, n: int) -> torch.Tensor:
        return _buffer(work, key, (n, m), acts[0].dtype)

    dacts: list[Any] = [None]
    for l in range(L - 1):
        dh = torch.mm(dws[l], acts[l], out=buf(("dh", l), ws[l].shape[0]))
        if l > 0:
            dh.addmm_(ws[l], dacts[l])
        dacts.append(_lrelu_bwd(dh, hs[l], slope, out=dh))
    de = torch.addmm(dws[-1] @ acts[-1], ws[-1], dacts[-1]) / m  # the dot of dL/df, (1, m)
    dF: list[Any] = [None] * L
    dF[-1] = -torch.addmm(deltas[-1] @ dacts[-1].T, de, acts[-1].T)
    for l in range(L - 2, -1, -1):
        dg = torch.mm(dws[l + 1].T, deltas[l + 1], out=buf(("dg", l), ws[l].shape[0])).addmm_(ws[l + 1].T, de)
        de = _lrelu_bwd(dg, hs[l], slope, out=dg)
        dF[l] = -(de @ acts[0].T) if l == 0 else -torch.addmm(deltas[l] @ dacts[l].T, de, acts[l].T)
    return dF


class SensitivityFlow:
    """z = [θ, c·∂θ/∂τ] ↦ dz/dt for the flow of eq. 4 at activation φ^τ (a callable like NetFlow).

    c (`tangent_scale`, default 1) rescales the tangent inside the state; the integrator's global
    error norm weighs ‖δθ‖ and c‖δ(∂θ/∂τ)‖ alike, so c sets how much of the tolerance the tangent
    gets (the dynamics are linear in the tangent, so c changes nothing else). dtype: of the passes
    over the data (float64 default; float32 as NetFlow's float32 runs), the state is float64.
    `evals` counts field evaluations (each is one forward-over-reverse pass over the data)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, tau: float, width: int, depth: int,
                 tangent_scale: float = 1.0, mode: str = "manual", dtype: str = "float64"):
        validate_params(_CONSTRAINTS, {"tau": tau, "width": width, "depth": depth,
                                       "tangent_scale": tangent_scale, "mode": mode, "dtype": dtype})
        self.mode, self.dtype = mode, _DTYPES[dtype]
        self.x = torch.from_numpy(np.array(x, dtype=np.float64)).to(self.dtype)
        self.y = torch.from_numpy(np.array(y, dtype=np.float64)).to(self.dtype)
        self.tau = float(tau)
        self.scale = float(tangent_scale)
        self.shapes = layer_shapes(self.x.shape[1], int(width), int(depth))
        self.n = sum(a * b for a, b in self.shapes)
        self.evals = 0
        self.work: dict = {}  # reusable (m, n) buffers of the manual pass

    def __call__(self, z: np.ndarray) -> np.ndarray:
        self.evals += 1
        zt = torch.from_numpy(np.asarray(z, dtype=np.float64)).to(self.dtype)
        theta, tangent = zt[:self.n], zt[self.n:] / self.scale
        if self.mode == "jvp":
            f, df = field_and_tangent(theta, tangent, torch.tensor(self.tau, dtype=self.dtype),
                                      self.x, self.y, self.shapes)
            return np.concatenate([f.numpy(), self.scale * df.numpy()]).astype(np.float64)
        with torch.no_grad():
            F, dF = manual_field_and_tangent(unpack(theta, self.shapes), unpack(tangent, self.shapes),
                                             self.x, self.y, self.tau, self.work)
            out = torch.cat([*(f.reshape(-1) for f in F), *(d.reshape(-1) for d in dF)]).to(torch.float64)
        if self.scale != 1.0:
            out[self.n:] *= self.scale
        return out.numpy()


def integrate_sensitivity(flow: SensitivityFlow, theta0: np.ndarray, times, *, integrator: str = "adaptive",
                          **integrator_options):
    """Integrate z = [θ, c·∂θ/∂τ] from [θ(0), 0] with a registered integrator; returns
    ([(t, θ(t), ∂θ/∂τ(t)) at each requested time], IntegratorStats). `integrator_options` are the
    integrator's own declared options (adaptive: rtol, atol, method, h_min, ...; gd: lr), passed
    through unchanged: the registry rejects any it does not declare."""
    states: list = []

    def record(*args) -> None:  # (t, z) or (i, t, z): the recorder's index is not needed here
        t, z = args[-2], args[-1]
        states.append((float(t), *split_state(z, flow.scale)))

    stats = get_integrator(integrator)(flow, initial_state(theta0), times, record,
                                       **integrator_options)
    return states, stats
