"""Real-data tests of nlbound.data: MNIST at 7/14/28 (Sec. 6) and Fashion-MNIST; skip only when no source is reachable."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from nlbound.cli.main import main
from nlbound.data import (
    RankDeficiencyWarning,
    SourceUnavailableError,
    clear_cache,
    dataset_statistics,
    load_dataset,
)
from nlbound.data import sources
from tolerances import assert_risk_agrees

pytestmark = pytest.mark.slow

# Measured with this package (eigh of Σ_X, tolerance d·eps·λ_max; the same count as an SVD of X):
# the rank of the average-pooled MNIST training inputs at 7x7, 14x14, 28x28.
MNIST_RANK = {7: 49, 14: 188, 28: 712}
# Published class counts of the MNIST training set (digits 0..4: 5923, 6742, 5958, 6131, 5842).
MNIST_TRAIN_POSITIVES = 5923 + 6742 + 5958 + 6131 + 5842


@pytest.fixture(scope="module")
def mnist():
    clear_cache()
    out, caught = {}, {}
    try:
        for size in (7, 14, 28):
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                out[size] = load_dataset("mnist", size=size)
            caught[size] = [w for w in rec if issubclass(w.category, RankDeficiencyWarning)]
    except SourceUnavailableError as exc:
        pytest.skip(f"no MNIST source reachable: {exc}")
    return out, caught


def test_mnist_shapes_labels_and_rank(mnist):
    datasets, caught = mnist
    for size, ds in datasets.items():
        assert (ds.m, ds.m_test, ds.d, ds.size) == (60000, 10000, size * size, size)
        assert ds.rank == MNIST_RANK[size]
        assert ds.positive_fraction == MNIST_TRAIN_POSITIVES / 60000
        np.testing.assert_array_equal(ds.y_train, np.where(ds.classes_train <= 4, 1.0, -1.0))
        assert len(caught[size]) == (0 if ds.rank == ds.d else 1)
        if ds.rank < ds.d:
            assert f"rank {ds.rank} < d = {ds.d}" in str(caught[size][0].message)


@pytest.mark.parametrize("size", [7, 14, 28])
def test_mnist_whitening_identity_on_the_range(mnist, size):
    ds = mnist[0][size]
    basis = ds.range_basis
    assert np.abs(basis.T @ basis - np.eye(ds.rank)).max() < 1e-12
    gram = ds.x_train.T @ ds.x_train
    assert np.abs(gram - ds.m * ds.projector).max() / ds.m < 1e-8
    assert ds.s == pytest.approx(np.linalg.norm(ds.x_train.T @ ds.y_train) / ds.m, rel=1e-12)
    assert 0 < ds.s <= 1  # s = ||Y X̃⁺|| <= ||Y|| ||X̃⁺|| = 1 (Sec. 5.3)


def test_mnist_7_statistics_against_least_squares_on_raw_pixels(mnist):
    ds = mnist[0][7]
    raw = sources.load_raw("mnist", sources.resolve_source("mnist", None, None))
    x = raw.train_images.reshape(-1, 7, 4, 7, 4).astype(np.float64).sum(axis=(2, 4)).reshape(-1, 49)
    xs = raw.test_images.reshape(-1, 7, 4, 7, 4).astype(np.float64).sum(axis=(2, 4)).reshape(-1, 49)
    y = np.where(raw.train_labels < 5, 1.0, -1.0)
    ys = np.where(raw.test_labels < 5, 1.0, -1.0)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)  # whitening is invertible at 7x7: same predictions
    st = dataset_statistics(ds)
    assert_risk_agrees(st["linear_train_risk"], y, x @ beta)
    assert_risk_agrees(st["linear_test_risk"], ys, xs @ beta)
    assert st["linear_train_mse"] == pytest.approx(np.sum((y - x @ beta) ** 2) / 120000, rel=1e-9)
    # s = ||Y X̃⁺|| = ||P_X Y|| / sqrt(m) with P_X the projector on the row space of X (least squares)
    assert st["s"] == pytest.approx(np.linalg.norm(x @ beta) / np.sqrt(60000), rel=1e-9)


def test_mnist_cached_in_memory(mnist):
    assert load_dataset("mnist", size=7) is mnist[0][7]


def test_mnist_cli_json(mnist, capsys):
    assert main(["data", "--dataset", "mnist", "--size", "14", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got == dataset_statistics(mnist[0][14])
    assert got["rank"] == MNIST_RANK[14] and got["d"] == 196


@pytest.mark.skipif(
    not Path(sources.FASHION_DEFAULT_DIR).is_dir(),
    reason=f"Fashion-MNIST not installed at {sources.FASHION_DEFAULT_DIR} (apt-get install dataset-fashion-mnist)",
)
def test_fashion_default_location():
    ds = load_dataset("fashion", size=7)
    assert (ds.m, ds.m_test, ds.d, ds.rank) == (60000, 10000, 49, 49)
    assert ds.positive_fraction == 0.5  # published: 6000 training images per class
    assert sources.FASHION_DEFAULT_DIR in ds.source
    assert np.abs(ds.x_train.T @ ds.x_train / ds.m - np.eye(49)).max() < 1e-8
    st = dataset_statistics(ds)
    assert 0 < st["linear_train_risk"] < 0.5 and 0 < st["s"] <= 1
