"""The leaky-ReLU MLP: eps = 0 linear, eps = 1 ReLU, hand-written gradients == autograd == finite differences."""

import numpy as np
import pytest
import torch

from nlbound.networks import (
    autograd_loss_and_grads, forward, forward_many, frobenius_spectral_ratio, init_weights, layer_shapes,
    loss_and_grads, pack, unpack,
)


def _weights(d=5, n=7, L=3, beta=0.9, seed=1):
    return [torch.from_numpy(w) for w in init_weights(d, n, L, beta, seed=seed)]


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_init_spectral_norm_and_shapes(depth):
    ws = init_weights(9, 8, depth, 0.003, seed=4)
    assert [w.shape for w in ws] == layer_shapes(9, 8, depth)
    for w in ws:
        assert np.linalg.norm(w, 2) == pytest.approx(0.003, rel=1e-12)
    assert frobenius_spectral_ratio(ws[0]) > 1.5  # random init: rho > 1
    again = init_weights(9, 8, depth, 0.003, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(ws, again, strict=True))


def test_init_matches_pytorch_default_linear_layer_up_to_scale():
    gen = torch.Generator().manual_seed(3)
    ref = torch.empty(8, 9, dtype=torch.float64).uniform_(-1 / 3, 1 / 3, generator=gen).numpy()
    w = init_weights(9, 8, 2, 1.0, seed=3)[0]
    np.testing.assert_allclose(w, ref / np.linalg.norm(ref, 2), rtol=1e-13)


def test_rank_one_input_layer():
    w1 = init_weights(9, 8, 2, 0.01, rank_one=True, seed=0)[0]
    assert np.linalg.matrix_rank(w1) == 1
    assert frobenius_spectral_ratio(w1) == pytest.approx(1.0, abs=1e-12)
    assert np.linalg.norm(w1, 2) == pytest.approx(0.01, rel=1e-12)


def test_pack_unpack_roundtrip():
    ws = init_weights(4, 3, 3, 1.0)
    back = unpack(pack(ws), layer_shapes(4, 3, 3))
    assert all(np.array_equal(a, b) for a, b in zip(ws, back, strict=True))


def test_eps0_is_exactly_linear():
    ws = _weights()
    g = torch.Generator().manual_seed(0)
    x, z = torch.randn(10, 5, generator=g, dtype=torch.float64), torch.randn(10, 5, generator=g, dtype=torch.float64)
    lhs = forward(ws, 2.5 * x - 0.7 * z, 0.0)
    rhs = 2.5 * forward(ws, x, 0.0) - 0.7 * forward(ws, z, 0.0)
    torch.testing.assert_close(lhs, rhs, rtol=1e-13, atol=1e-15)


def test_eps1_is_relu_network():
    ws = _weights()
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.relu(torch.relu(x @ ws[0].T) @ ws[1].T) @ ws[2].T
    torch.testing.assert_close(forward(ws, x, 1.0), ref.reshape(-1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("depth", [2, 3])
def test_forward_many_matches_forward_blockwise(depth):
    """K nets at once, in row blocks that do not divide m, equal separate forward() calls."""
    x = torch.randn(23, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    models = [_weights(L=depth, seed=s) for s in (1, 2, 3)]
    out = forward_many(models, x, 0.3, block=7)
    assert out.shape == (3, 23)
    for k, ws in enumerate(models):
        torch.testing.assert_close(out[k], forward(ws, x, 0.3), rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("eps", [0.0, 0.01, 0.5, 1.0])
def test_handwritten_gradients_match_autograd(depth, eps):
    ws = _weights(L=depth)
    g = torch.Generator().manual_seed(depth)
    x = torch.randn(50, 5, generator=g, dtype=torch.float64)
    y = torch.sign(torch.randn(50, generator=g, dtype=torch.float64))
    loss, out, grads = loss_and_grads(ws, x, y, eps)
    loss_r, out_r, grads_r = autograd_loss_and_grads(ws, x, y, eps)
    assert abs(float(loss - loss_r)) < 1e-12
    for a, b in zip(grads, grads_r, strict=True):
        assert float((a - b).abs().max()) < 1e-12


def test_autograd_matches_finite_differences():
    ws = [w.clone().requires_grad_(True) for w in _weights(L=3)]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(20, 5, generator=g, dtype=torch.float64)
    y = torch.sign(torch.randn(20, generator=g, dtype=torch.float64))

    def loss(*w):
        a = x
        for wl in w[:-1]:
            h = a @ wl.T
            a = h - 0.3 * torch.clamp(h, max=0.0)
        return ((y - (a @ w[-1].T).reshape(-1)) ** 2).sum() / 40

    assert torch.autograd.gradcheck(loss, tuple(ws), eps=1e-6, atol=1e-7)


def test_float32_gradients_close_to_float64():
    ws = _weights(L=2)
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.sign(x[:, 0])
    _, _, g64 = loss_and_grads(ws, x, y, 0.1)
    _, _, g32 = loss_and_grads([w.float() for w in ws], x.float(), y.float(), 0.1)
    for a, b in zip(g64, g32, strict=True):
        assert float((a - b.double()).abs().max()) < 1e-5 * float(a.abs().max())


@pytest.mark.parametrize("m, d, n, depth", [(20000, 196, 256, 3), (30000, 49, 64, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_and_grads_bitwise_independent_of_thread_count(m, d, n, depth, dtype):
    """Sizes where torch.dot splits its sum over threads (the loss differed with 1 and 2 threads)."""
    g = torch.Generator().manual_seed(m)
    x = torch.randn(m, d, generator=g, dtype=dtype) / d**0.5
    y = torch.sign(torch.randn(m, generator=g, dtype=dtype))
    ws = [w.to(dtype) for w in _weights(d=d, n=n, L=depth, beta=0.5)]
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(loss_and_grads(ws, x, y, 0.3))
    finally:
        torch.set_num_threads(before)
    (l1, o1, g1), (l2, o2, g2) = results
    assert torch.equal(l1, l2) and torch.equal(o1, o2)
    assert all(torch.equal(a, b) for a, b in zip(g1, g2, strict=True))
