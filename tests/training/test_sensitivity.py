"""Forward sensitivity ∂θ^τ/∂τ of the gradient flow (training/sensitivity.py) against finite
differences in τ, the closed form of ∂F/∂τ, and finite differences of the field."""

import numpy as np
import pytest

from nlbound.data import synthetic_dataset
from nlbound.networks import init_weights, pack, unpack
from nlbound.training.flows import NetFlow
from nlbound.training.sensitivity import (SensitivityFlow, initial_state, integrate_sensitivity,
                                          split_state)

WIDTH = 8


@pytest.fixture(scope="module")
def small():
    ds = synthetic_dataset(m=300, m_test=50, size=7, seed=0)
    return np.array(ds.x_train), np.array(ds.y_train)


def _theta(d, depth, beta=0.5, seed=0):
    return pack(init_weights(d, WIDTH, depth, beta, seed=seed))


def _rand_state(theta, seed=1):
    z = initial_state(theta)
    z[theta.size:] = np.random.default_rng(seed).normal(size=theta.size)
    return z


@pytest.mark.parametrize("depth", [2, 3])
def test_manual_tangent_equals_torch_func_jvp(small, depth):
    x, y = small
    th = _theta(x.shape[1], depth)
    z = _rand_state(th)
    a = SensitivityFlow(x, y, 0.3, WIDTH, depth)(z)
    b = SensitivityFlow(x, y, 0.3, WIDTH, depth, mode="jvp")(z)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * np.abs(b).max())


def test_field_part_equals_netflow(small):
    x, y = small
    th = _theta(x.shape[1], 2)
    out = SensitivityFlow(x, y, 0.2, WIDTH, 2)(_rand_state(th))
    ref = NetFlow(x, y, 0.2, WIDTH, 2, "float64")(th)
    np.testing.assert_allclose(out[:th.size], ref, rtol=0, atol=1e-14 * np.abs(ref).max())


@pytest.mark.parametrize("depth", [2, 3])
def test_jvp_of_field_matches_finite_difference(small, depth):
    """(c) Ḟ = ∂F/∂θ ψ + ∂F/∂τ vs (F(θ + hψ, τ + h) − F(θ − hψ, τ − h)) / 2h."""
    x, y = small
    th = _theta(x.shape[1], depth)
    z = _rand_state(th)
    psi = z[th.size:]
    tau, h = 0.3, 1e-6
    dF = SensitivityFlow(x, y, tau, WIDTH, depth)(z)[th.size:]
    plus = NetFlow(x, y, tau + h, WIDTH, depth, "float64")(th + h * psi)
    minus = NetFlow(x, y, tau - h, WIDTH, depth, "float64")(th - h * psi)
    fd = (plus - minus) / (2 * h)
    assert np.linalg.norm(dF - fd) <= 1e-6 * np.linalg.norm(fd)


def _dF_dtau_closed_form(w1, w2, x, y, tau):
    """∂F/∂τ at ψ = 0 for L = 2, written out sample by sample in numpy (eqs. 2-4, 29-30):
    F_{W2} = −(1/m) Σ_k r_k a_kᵀ, F_{W1} = −(1/m) Σ_k r_k (D_k ⊙ W2ᵀ) x_kᵀ with r = f − y,
    a = φ^τ(h), D = (φ^τ)'(h); ∂a/∂τ = −min(0, h), ∂D/∂τ = −[h ≤ 0], ∂r/∂τ = W2 ∂a/∂τ."""
    m = x.shape[0]
    hmat = x @ w1.T
    neg = hmat <= 0
    a = np.where(neg, (1 - tau) * hmat, hmat)
    D = np.where(neg, 1 - tau, 1.0)
    da = -np.minimum(hmat, 0.0)
    r = a @ w2.ravel() - y
    dr = da @ w2.ravel()
    dW2 = -(dr @ a + r @ da) / m
    dW1 = -(((dr[:, None] * D) + (r[:, None] * -neg.astype(float))) * w2.ravel()[None, :]).T @ x / m
    return np.concatenate([dW1.ravel(), dW2.ravel()])


@pytest.mark.parametrize("tau", [0.0, 0.25])
def test_dF_dtau_closed_form(small, tau):
    """(b) with ψ = 0 the tangent field is ∂F/∂τ alone; at τ = 0 (the linear net, eq. 4 with ε = 0)
    and at τ > 0 it equals the hand-derived closed form above."""
    x, y = small
    th = _theta(x.shape[1], 2)
    z = initial_state(th)
    out = SensitivityFlow(x, y, tau, WIDTH, 2)(z)[th.size:]
    w1, w2 = unpack(th, [(WIDTH, x.shape[1]), (1, WIDTH)])
    ref = _dF_dtau_closed_form(w1, w2, x, y, tau)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    assert np.abs(ref).max() > 1e-3  # the check is not vacuous


def test_tangent_scale_changes_nothing_but_the_state(small):
    x, y = small
    th = _theta(x.shape[1], 2)
    z = _rand_state(th)
    a = SensitivityFlow(x, y, 0.3, WIDTH, 2)(z)
    zc = z.copy()
    zc[th.size:] *= 7.0
    b = SensitivityFlow(x, y, 0.3, WIDTH, 2, tangent_scale=7.0)(zc)
    np.testing.assert_allclose(b[:th.size], a[:th.size], rtol=1e-15, atol=0)
    # atol: an entry formed by cancellation (4e-16 of a ~1e-2 vector) is rounding, not a scale effect
    np.testing.assert_allclose(b[th.size:], 7.0 * a[th.size:], rtol=1e-13, atol=1e-14 * np.abs(a).max())
    t, p = split_state(zc, 7.0)
    np.testing.assert_allclose(p, z[th.size:], rtol=1e-15)


def _fd_check(x, y, th0, times, tau, h, **integ):
    """Max over recorded t > 0 of ‖ψ(t) − (θ^{τ+h}(t) − θ^{τ−h}(t))/2h‖ / ‖FD‖, and min ‖FD‖/‖θ‖."""
    states, _ = integrate_sensitivity(SensitivityFlow(x, y, tau, WIDTH, 2), th0, times, **integ)
    ends = {}
    for sign in (+1, -1):
        st, _ = integrate_sensitivity(SensitivityFlow(x, y, tau + sign * h, WIDTH, 2), th0, times, **integ)
        ends[sign] = [s[1] for s in st]
    rels, sizes = [], []
    for i, (t, theta, psi) in enumerate(states):
        fd = (ends[1][i] - ends[-1][i]) / (2 * h)
        if t == 0.0:
            assert np.all(psi == 0) and np.all(fd == 0)
            continue
        rels.append(np.linalg.norm(psi - fd) / np.linalg.norm(fd))
        sizes.append(np.linalg.norm(fd) / np.linalg.norm(theta))
    return max(rels), min(sizes)


def test_tangent_matches_central_difference_in_tau_fixed_steps(small):
    """(a) ∂θ^τ/∂τ(t) integrated with the flow vs (θ^{τ+h}(t) − θ^{τ−h}(t)) / 2h. With fixed steps
    (the "gd" integrator = forward Euler) the integrated tangent is exactly the τ-derivative of the
    discrete trajectory, so only the O(h²) difference error and kinks remain: relative ≤ 1e-4.
    h is small (1e-7) because τ ↦ θ^τ(t) of the discrete map has kinks where a pre-activation changes
    sign within a step (measured here: one ~1e-6 from τ = 0.2 at t = 1), which h must not straddle."""
    x, y = small
    th0 = _theta(x.shape[1], 2, beta=0.3)
    rel, size = _fd_check(x, y, th0, [0.0, 1.0, 3.0], 0.2, 1e-7,
                          integrator="gd", lr=1e-2)
    assert rel <= 1e-4, rel
    assert size > 1e-3  # the tangent has grown: not vacuous


def test_adaptive_tangent_matches_extrapolated_euler(small):
    """The adaptive integrator (tangent inside its error norm) vs Richardson-extrapolated forward
    Euler (2 ψ_{lr/2} − ψ_lr, whose tangent is exact for its own trajectory, see above). A central
    difference in τ of two adaptive runs is not a derivative: their step sequences (and forced steps
    at h_min at the kinks) depend on τ -- measured 7-24 % off at h = 1e-4..1e-5 -- hence Euler here."""
    x, y = small
    th0 = _theta(x.shape[1], 2, beta=0.3)
    flow = SensitivityFlow(x, y, 0.2, WIDTH, 2)
    ad, _ = integrate_sensitivity(flow, th0, [0.0, 1.0], rtol=1e-9, atol=1e-16, method="dopri5")
    eu = {lr: integrate_sensitivity(flow, th0, [0.0, 1.0], integrator="gd", lr=lr)[0][-1]
          for lr in (2e-3, 1e-3)}
    rich_psi = 2 * eu[1e-3][2] - eu[2e-3][2]
    rel = np.linalg.norm(ad[-1][2] - rich_psi) / np.linalg.norm(rich_psi)
    assert rel <= 1e-3, rel  # measured 1.8e-4 (plain Euler at lr 1e-3: 6.8e-4)


def test_tau_zero_linear_net_tangent_grows_from_zero(small):
    """At τ = 0 the flow is the linear net's; its tangent is driven by ∂F/∂τ ≠ 0 alone, so it starts
    at 0 and grows linearly: ψ(t) ≈ t ∂F/∂τ(θ(0)) for small t (Taylor, error O(t²))."""
    x, y = small
    th0 = _theta(x.shape[1], 2, beta=0.3)
    flow = SensitivityFlow(x, y, 0.0, WIDTH, 2)
    slope0 = flow(initial_state(th0))[th0.size:]
    errs = []
    for t in (1e-2, 2e-2):
        st, _ = integrate_sensitivity(flow, th0, [0.0, t], rtol=1e-11, atol=1e-16, method="dopri5", h_min=0.0)
        errs.append(np.linalg.norm(st[-1][2] - t * slope0) / np.linalg.norm(t * slope0))
    assert errs[0] < 0.05
    assert 1.6 < errs[1] / errs[0] < 2.4  # relative remainder O(t²)/t: doubles with t


def test_validation(small):
    x, y = small
    with pytest.raises(ValueError, match="tau == 1.5"):
        SensitivityFlow(x, y, 1.5, WIDTH, 2)
    with pytest.raises(ValueError, match="mode"):
        SensitivityFlow(x, y, 0.5, WIDTH, 2, mode="reverse")
