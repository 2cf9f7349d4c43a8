"""Fake MNIST files for the tests: random 28x28 'digits' written as the four IDX files (plain or .gz)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file written by hand: 0, 0, type code, ndim, big-endian dims, big-endian values."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float64): 0x0E}
    code = codes[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def fake_mnist(seed: int = 0, n_train: int = 400, n_test: int = 120):
    """Random 28x28 uint8 'digits' with a blank border (like MNIST) and class labels 0-9."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n_train + n_test, 28, 28)).astype(np.uint8)
    imgs[:, :2, :] = 0  # two always-zero rows of pixels
    labels = rng.integers(0, 10, size=n_train + n_test).astype(np.uint8)
    return imgs[:n_train], labels[:n_train], imgs[n_train:], labels[n_train:]


def write_idx_dir(directory: Path, data, gz: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in zip(IDX_NAMES, data, strict=True):
        raw = idx_bytes(arr)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return directory
