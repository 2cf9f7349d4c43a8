"""The paper's input transform (Sec. 5.1, 6): average-pool downsampling, ±1 labels, unit ball, whitening.

All steps are float64, rows are samples (x has shape (m, d); the paper's X is x.T).

Order: pixels k/255 -> average pooling 28x28 -> KxK (K a divisor of 28) -> scaling into the unit
ball (divide train and test by the largest train norm, so ||x|| <= 1 on the training set as
Sec. 5.1 assumes; whitening is invariant to this scale, so it only matters for raw inputs)
-> whitening x -> Sigma_X^{-1/2} x with the *uncentred* Sigma_X = (1/m) X X^T of the training set.
The test set is transformed with the training Sigma_X (Sec. 5.1, "Inference").

Labels (Sec. 6): y = +1 for classes 0-4, y = -1 for classes 5-9 (for Fashion-MNIST the same rule on
the class index: T-shirt, trouser, pullover, dress, coat -> +1; sandal, shirt, sneaker, bag,
ankle boot -> -1).

Rank deficiency: Sec. 5.1 assumes rk X = d. With average pooling that fails at 14x14 (rank 188 of
196) and 28x28 (rank 712 of 784) on MNIST: some border pixels are zero in every image. Whitening
then uses the pseudo-inverse square root on the range of X, X̃ X̃ᵀ = m P with P the orthogonal
projector on that range, and the rank is the effective input dimension (the d of the bound).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from nlbound._blas import one_blas_thread
from nlbound._validate import check_integer
from nlbound.data.errors import DataError, RankDeficiencyWarning

IMAGE_SIDE = 28
VALID_SIZES = tuple(k for k in range(1, IMAGE_SIDE + 1) if IMAGE_SIDE % k == 0)  # 1, 2, 4, 7, 14, 28


def check_size(size: int, side: int = IMAGE_SIDE) -> None:
    """ValueError unless `size` is a positive divisor of the image side (28)."""
    check_integer("size", size, 1, side)
    if side % int(size):
        divisors = ", ".join(str(k) for k in range(1, side + 1) if side % k == 0)
        raise ValueError(f"size == {size}, must be a divisor of {side} ({divisors})")


def average_pool(images: np.ndarray, size: int) -> np.ndarray:
    """Average-pool square images (n, S, S) or flattened (n, S*S) down to (n, size*size), float64.

    Each output pixel is the mean of an f x f block, f = S / size; pixels are flattened row-major.
    """
    x = np.asarray(images, dtype=np.float64)
    n = x.shape[0]
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"images have {x.shape[1]} pixels, not a square number")
        x = x.reshape(n, side, side)
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"images must have shape (n, S, S) or (n, S*S), got {np.shape(images)}")
    side = x.shape[1]
    check_size(size, side)
    f = side // int(size)
    return x.reshape(n, size, f, size, f).mean(axis=(2, 4)).reshape(n, size * size)


def binary_labels(classes: np.ndarray) -> np.ndarray:
    """y = +1 for classes 0-4 and -1 for classes 5-9 (Sec. 6: "0-4 versus 5-9"), float64."""
    c = np.asarray(classes)
    if c.size and (c.min() < 0 or c.max() > 9):
        raise ValueError("class labels must lie in 0-9")
    return np.where(c <= 4, 1.0, -1.0)


def unit_ball_scale(x_train: np.ndarray) -> float:
    """The divisor that puts every training input into the unit ball: the largest train norm."""
    norms = np.linalg.norm(x_train, axis=1)
    scale = float(norms.max()) if norms.size else 0.0
    if not scale > 0:
        raise DataError("every training input is zero; the data cannot be whitened")
    return scale


@dataclass(frozen=True, eq=False)
class Whitening:
    """x̃ = x @ matrix. `basis` (d, rank) is an orthonormal basis of the range of the training inputs."""

    matrix: np.ndarray
    rank: int
    basis: np.ndarray
    tolerance: float  # eigenvalues of Sigma_X at or below this count as zero

    @property
    def projector(self) -> np.ndarray:
        return self.basis @ self.basis.T

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.matrix


@one_blas_thread
def fit_whitening(x_train: np.ndarray, *, name: str = "the training inputs") -> Whitening:
    """Σ_X^{+1/2} of the uncentred Σ_X = (1/m) X Xᵀ (Sec. 5.1), via np.linalg.eigh, on the range of X.

    Rank threshold: an eigenvalue λ of Σ_X counts as zero when λ <= d·eps·λ_max (eps the float64
    machine epsilon), the default tolerance of np.linalg.matrix_rank applied to the symmetric d x d
    matrix Σ_X, i.e. the size of the rounding error of its eigenvalues. On MNIST the gap is wide:
    at 28x28 the smallest kept relative eigenvalue is 2.1e-11, the largest dropped one 2.1e-17
    against a threshold of 1.7e-13 (measured), and the count agrees with an SVD of X.

    Accuracy: Σ_X has condition number up to ~5e10 on its range (28x28), so one pass of eigh leaves
    X̃X̃ᵀ/m - P at ~1e-7. A second eigh of the whitened Gram matrix G = W Σ_X W (≈ P, well
    conditioned on the range) refines W <- W G^{+1/2}, which brings the error to ~1e-14 (measured
    at 28x28). G must be formed from the whitened data X̃ᵀX̃/m: the cheaper d x d product W Σ_X W
    leaves ~4e-7 on a matrix whose singular values spread over 5.5 decades (tests/data/test_data.py).
    """
    x = np.asarray(x_train, dtype=np.float64)
    m, d = x.shape
    sigma = (x.T @ x) / m
    sigma = (sigma + sigma.T) / 2
    lam, vec = np.linalg.eigh(sigma)
    tol = float(lam[-1]) * d * np.finfo(np.float64).eps
    keep = lam > tol
    rank = int(keep.sum())
    if rank == 0:
        raise DataError(f"{name} are all zero; they cannot be whitened")
    v = vec[:, keep]
    w1 = (v / np.sqrt(lam[keep])) @ v.T
    # refinement on the range: G = W1 Σ W1 ≈ P; W = W1 G^{+1/2} restricted to its top-`rank` eigenvectors
    xw = x @ w1
    gram = (xw.T @ xw) / m  # from the data: the d x d product W1 Σ W1 is not accurate enough (tested)
    gram = (gram + gram.T) / 2
    mu, u = np.linalg.eigh(gram)
    mu_r, u_r = mu[d - rank :], u[:, d - rank :]
    if not (np.all(mu_r > 0.5) and np.all(mu_r < 2.0) and (rank == d or mu[d - rank - 1] < 0.5)):
        raise DataError(f"whitening of {name} is numerically unstable (refinement eigenvalues {mu_r.min():.3g}..{mu_r.max():.3g})")
    w = w1 @ ((u_r / np.sqrt(mu_r)) @ u_r.T)
    if rank < d:
        warnings.warn(
            f"{name} have rank {rank} < d = {d}: whitening acts on their {rank}-dimensional range "
            f"(X̃X̃ᵀ = m·P) and the effective input dimension of the bound is {rank}",
            RankDeficiencyWarning,
            stacklevel=3,
        )
    return Whitening(matrix=w, rank=rank, basis=u_r, tolerance=tol)


__all__ = [
    "IMAGE_SIDE", "VALID_SIZES", "check_size", "average_pool", "binary_labels", "unit_ball_scale",
    "Whitening", "fit_whitening",
]  # fmt: skip
