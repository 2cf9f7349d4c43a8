"""The checked cache of `nlbound compare` results (<run dir>/baselines/<key>.json): nothing read back unverified.

A cached result is used only if it is a JSON object naming the run's config key, the time and the
settings it was asked for, and its sha256 digest (over everything else, written with it) still
matches: a file edited, truncated, replaced by garbage or written by an older version is reported
in one warning line naming it and recomputed, never printed as it stands or fatal."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from nlbound._io import _json_default, atomic_write_json, check_output_file

__all__ = ["cache_problem", "digest", "plain", "read_cached", "write_cached"]

DIGEST = "digest"


def digest(result: dict) -> str:
    """sha256 of the result's canonical JSON (sorted keys), its own digest field left out."""
    body = {k: v for k, v in result.items() if k != DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _problem(path: Path, expect: dict[str, Any]) -> str | None:
    """Why the cached file at `path` cannot be used for `expect` (key, t, settings), or None."""
    if not path.is_file():
        return "not a regular file"
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"unreadable ({getattr(exc, 'strerror', None) or exc})"
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get(DIGEST) != digest(data):
        return "its digest does not match its content (edited, damaged or written by an older version)"
    for name, value in expect.items():
        if data.get(name) != value:
            return f"it holds {name} == {data.get(name)!r}, this comparison needs {value!r}"
    return None


def read_cached(path: str | Path, expect: dict[str, Any]) -> dict | None:
    """The cached result at `path` if it exists and passes the checks; else None (with one warning
    naming the file and the reason when a file was there but unusable)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    problem = _problem(path, expect)
    if problem is None:
        return json.loads(path.read_text())
    warnings.warn(f"cached comparison {path} not used, recomputing: {problem}", stacklevel=2)
    return None


def plain(obj: Any) -> Any:
    """obj as JSON gives it back (tuples as lists, numpy scalars as numbers): what a cached file holds."""
    return json.loads(json.dumps(obj, default=_json_default))


def cache_problem(path: str | Path) -> str | None:
    """Why a result cannot be written at `path` (a directory in the way, or one that cannot be made or
    written), or None. Checked before any work."""
    try:
        check_output_file(path, "cache")
    except ValueError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


def write_cached(path: str | Path, result: dict) -> dict:
    """Write `result` with its digest atomically; returns what was written (as read back)."""
    out = {**plain(result), DIGEST: ""}
    out[DIGEST] = digest(out)
    atomic_write_json(path, out)
    return out
