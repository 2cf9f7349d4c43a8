"""Atomic file writing: a result file is either absent or complete, never half-written."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file in the same directory and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_write_csv(
    path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return atomic_write_text(path, buf.getvalue())


def atomic_write_columns(path: str | os.PathLike, columns: Mapping[str, Sequence[Any]]) -> Path:
    """Write a tidy CSV from a mapping column name -> equal-length sequence."""
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: { {n: len(columns[n]) for n in names} }")
    n = lengths.pop() if lengths else 0
    return atomic_write_csv(path, names, ([columns[c][i] for c in names] for i in range(n)))


def _csv_cell(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "ndim", None) == 0:  # numpy scalar -> Python scalar
        v = v.item()
    if isinstance(v, float):
        return repr(float(v))  # round-trips float64 exactly ("0.1", "inf", "nan")
    return v


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
