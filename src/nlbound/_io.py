"""Atomic file writing (a result file is either absent or complete) and up-front checks of output paths."""

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
            os.fchmod(fh.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; give the mode open() would
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


def _umask() -> int:
    """The process umask: from /proc/self/status (Linux >= 4.7, no side effect), else by setting
    and restoring it (os offers no read-only query)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _dir_problem(path: Path, writable: bool = True) -> str | None:
    """Why a directory cannot be made (or written, if `writable`) at `path`, or None. No lasting side effect."""
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a directory"
    base = path
    while not base.exists():
        if base.is_symlink():
            return f"{base} is a broken symbolic link"
        base = base.parent
    if not base.is_dir():
        return f"{base} is a file, so no directory can be made under it"
    if not writable and base == path:
        return None
    try:  # the real test (os.access says yes to root on a read-only file system)
        tempfile.TemporaryFile(dir=base).close()
    except OSError as exc:
        return f"{base} is not writable ({exc.strerror or exc})"
    return None


def check_output_dir(path: str | os.PathLike, name: str, *, writable: bool = True) -> Path:
    """Check, before any work, that `path` is or can become a writable directory.

    ValueError in one line naming `name` (a CLI flag such as ``--out``) when `path` is an existing
    file, lies under a file, or the nearest existing directory on its way is not writable. With
    `writable` False an existing directory is accepted as it is (a cache that may only be read)."""
    path = Path(path).expanduser()
    problem = _dir_problem(path, writable)
    if problem:
        raise ValueError(f"{name} == {str(path)!r}: {problem}")
    return path


def check_output_file(path: str | os.PathLike, name: str) -> Path:
    """Check, before any work, that a file can be written at `path` (ValueError naming `name`)."""
    path = Path(path).expanduser()
    problem = f"{path} is a directory, not a file" if path.is_dir() else _dir_problem(path.parent)
    if problem:
        raise ValueError(f"{name} == {str(path)!r}: {problem}")
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
