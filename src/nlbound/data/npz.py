"""A researcher's own data: `npz:PATH` dataset names, the file's checks and content hash, ±1 labels.

The file holds four arrays x_train (m, ...), y_train (m,), x_test (m_test, ...), y_test (m_test,).
Features are used as given (each sample flattened row-major, no pooling) and then go through the
paper's transform exactly as MNIST does (nlbound.data.dataset.build_dataset: unit ball, uncentred
whitening on the data's range, the rank as the bound's d, s = ||Y X̃⁺||). Labels are ±1, or any
labels with `positive` naming those mapped to +1 (the rest to −1). A run on such a file is keyed on
the file's content (sha256), never on its path.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlbound._validate import ParameterError
from nlbound.data.errors import DataError

PREFIX = "npz:"
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_HASHES: dict[tuple, str] = {}  # (real path, size, mtime_ns) -> sha256 hex of the file's bytes


def is_npz(name: Any) -> bool:
    """Whether a dataset name names an npz file ("npz:PATH")."""
    return isinstance(name, str) and name.startswith(PREFIX)


def npz_path(name: str) -> str:
    """PATH of "npz:PATH" (ValueError naming `dataset` when PATH is empty)."""
    path = name[len(PREFIX):]
    if not path:
        raise DataError(f"dataset == {name!r}, must name a file: npz:PATH")
    return path


def dataset_identity(name: Any) -> Any:
    """What of a dataset name enters a run's key: the name itself, but only "npz" for an npz file
    (its content hash and positive labels are keyed instead of its path)."""
    return "npz" if is_npz(name) else name


@dataclass(frozen=True)
class DatasetName:
    """The `dataset` constraint (nlbound._validate protocol): one of `choices`, or npz:PATH."""

    choices: tuple

    @property
    def description(self) -> str:
        return "one of " + ", ".join(self.choices) + " or npz:PATH"

    def check(self, name: str, value: Any) -> Any:
        if is_npz(value) and value != PREFIX:
            return value
        if isinstance(value, str) and value in self.choices:
            return value
        raise ParameterError(name, value, self.description)


def file_sha256(name: str) -> str:
    """sha256 of the bytes of the file named by "npz:PATH" (memoised on path, size and mtime)."""
    path = npz_path(name)
    try:
        st = os.stat(path)
        memo = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
        if memo not in _HASHES:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _HASHES[memo] = h.hexdigest()
        return _HASHES[memo]
    except OSError as exc:
        raise DataError(f"dataset == {name!r}: cannot read {path!r} ({exc.strerror or exc})") from None


def canonical_positive(positive: Any) -> tuple[str, ...]:
    """The positive labels as sorted, distinct strings ("0,1" or [1, 0] -> ("0", "1")): one form, one key."""
    if positive is None:
        return ()
    items = positive.split(",") if isinstance(positive, str) else list(positive)
    out = {str(p).strip() for p in items}
    if "" in out or not out:
        raise DataError(f"positive == {positive!r}, must be a comma-separated list of labels, e.g. 0,1,2")
    return tuple(sorted(out, key=lambda s: (_as_number(s) is None, _as_number(s) or 0.0, s)))


def _as_number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def read_npz(name: str) -> dict[str, np.ndarray]:
    """The four arrays of "npz:PATH", checked: each present, numeric, finite, consistent shapes."""
    path = npz_path(name)
    where = f"dataset == {name!r}"
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a plain .npy array
            raise DataError(f"{where}: {path!r} is not an npz archive (save one with numpy.savez)")
        with loaded as f:
            arrays = {k: np.asarray(f[k]) for k in ARRAYS if k in f.files}
            files = list(f.files)
    except OSError as exc:
        raise DataError(f"{where}: cannot read {path!r} ({exc.strerror or exc})") from None
    except (ValueError, zipfile.BadZipFile, EOFError, KeyError, pickle.UnpicklingError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{where}: {path!r} is not a readable npz archive of numeric arrays "
                        f"({' '.join(str(exc).split())[:120]})") from None
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise DataError(f"{where}: missing array {missing[0]!r} (the file holds {', '.join(files) or 'none'}; "
                        f"it must hold {', '.join(ARRAYS)})")
    _check_shapes(where, arrays)
    return arrays


def _check_shapes(where: str, a: dict[str, np.ndarray]) -> None:
    for split in ("train", "test"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.dtype.kind not in "biuf":
            raise DataError(f"{where}: x_{split} has dtype {x.dtype}, must be numeric")
        if x.ndim < 2 or x.shape[0] == 0 or x[0].size == 0:
            raise DataError(f"{where}: x_{split} has shape {x.shape}, must be (samples, features...) with both > 0")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DataError(f"{where}: y_{split} has shape {y.shape}, must be ({x.shape[0]},): one label per "
                            f"row of x_{split}")
        if y.dtype.kind not in "biufUS":
            raise DataError(f"{where}: y_{split} has dtype {y.dtype}, must hold numbers or strings")
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where}: x_{split} holds NaN or inf, must be finite")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise DataError(f"{where}: y_{split} holds NaN or inf, must be finite")
    if a["x_test"][0].size != a["x_train"][0].size:
        raise DataError(f"{where}: x_test has {a['x_test'][0].size} features per sample, x_train "
                        f"{a['x_train'][0].size}: they must agree")


def pm1_labels(name: str, y_train: np.ndarray, y_test: np.ndarray,
               positive: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """±1 float64 labels: given as ±1 (positive empty), or +1 exactly for the labels in `positive`."""
    where = f"dataset == {name!r}"
    seen = np.unique(y_train)
    out: tuple[np.ndarray, np.ndarray]
    if not positive:
        for split, y in (("y_train", y_train), ("y_test", y_test)):
            if y.dtype.kind not in "biuf" or not np.all(np.isin(y.astype(np.float64), (-1.0, 1.0))):
                raise DataError(f"{where}: {split} holds the labels {_show(np.unique(y))}, must be ±1 "
                                "(or name the labels mapped to +1 with positive / --positive L1,L2,...)")
        out = y_train.astype(np.float64), y_test.astype(np.float64)
    else:
        wanted = [_like(p, y_train.dtype, where) for p in positive]
        absent = [p for p, w in zip(positive, wanted, strict=True) if not np.isin(w, seen)]
        if absent:
            raise DataError(f"positive == {','.join(positive)!r}: label {absent[0]} does not occur in y_train "
                            f"(its labels: {_show(seen)})")
        out = np.where(np.isin(y_train, wanted), 1.0, -1.0), np.where(np.isin(y_test, wanted), 1.0, -1.0)
        if np.all(out[0] > 0):
            raise DataError(f"positive == {','.join(positive)!r} names every label of y_train ({_show(seen)}), "
                            "must leave at least one label negative")
    if np.unique(out[0]).size < 2:
        raise DataError(f"{where}: y_train holds one class only, must hold both +1 and -1")
    return out


def _like(label: str, dtype: np.dtype, where: str) -> Any:
    """A --positive label in the labels' own type (int, float or string)."""
    try:
        if dtype.kind in "biu":
            return int(label)
        if dtype.kind == "f":
            return float(label)
    except ValueError:
        raise DataError(f"positive label {label!r} is not a number; the labels of {where} are numeric") from None
    return label


def _show(values: np.ndarray) -> str:
    vals = [str(v) for v in values.tolist()]
    return ", ".join(vals[:10]) + (f", ... ({len(vals)} labels)" if len(vals) > 10 else "")


__all__ = ["PREFIX", "ARRAYS", "DatasetName", "is_npz", "npz_path", "dataset_identity", "file_sha256",
           "canonical_positive", "read_npz", "pm1_labels"]
