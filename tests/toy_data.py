"""Test helpers, no tests here: a tiny whitened random dataset with the Dataset attributes train() reads, and the [fixed] table of the tiny sweeps.

It calls itself "synthetic" with size None (d = 6 is not a square), which train() accepts for any
config size (see training.run._check_dataset)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TINY_SWEEP_FIXED", "ToyDataset", "toy_dataset"]

# The [fixed] table of the tests' tiny sweeps (a spec's text starts with it; each test adds its own lines)
TINY_SWEEP_FIXED = """
[fixed]
dataset = "synthetic"
size = 7
depth = 2
width = 8
beta = 0.01
"""


@dataclass(frozen=True)
class ToyDataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    d: int
    rank: int
    s: float
    m: int
    m_test: int
    name: str = "synthetic"
    size: int | None = None


def toy_dataset(m: int = 400, d: int = 6, m_test: int = 200, seed: int = 0, rank: int | None = None) -> ToyDataset:
    """Labels from a noisy nonlinear rule; inputs whitened with the training second moment so that
    x_train.T @ x_train / m is exactly the projector on a rank-`rank` subspace (I if rank == d)."""
    rng = np.random.default_rng(seed)
    rank = d if rank is None else rank
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0][:, :rank]
    z = rng.standard_normal((m + m_test, rank)) * np.linspace(1.0, 3.0, rank)
    w = rng.standard_normal(rank)
    y = np.sign(z @ w + 0.8 * np.abs(z[:, 0]) - 0.5 + 0.5 * rng.standard_normal(m + m_test))
    y[y == 0] = 1.0
    ev, U = np.linalg.eigh(z[:m].T @ z[:m] / m)
    z = z @ (U @ np.diag(ev**-0.5) @ U.T)
    x = z @ basis.T
    s = float(np.linalg.norm(y[:m] @ x[:m] / m))
    return ToyDataset(x[:m], y[:m], x[m:], y[m:], d, rank, s, m, m_test)
