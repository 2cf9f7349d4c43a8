"""Run directories: their one layout, the writer lock, atomic publication, the reader and its checks.

A run directory holds `trace.csv` (one row per recorded time) and `run.json` (the config, what was
measured and `status`). It is consistent at every instant:

- A writer (`train()`) first takes the lock `<out>.lock` (fcntl.flock, exclusive, non-blocking; a
  second writer on the same directory gets `RunDirLockedError` naming the holder's pid). The kernel
  releases a flock when its process dies, so a lock file left by a killed writer is never stale in
  effect: the next writer simply takes it. The file is removed on release.
- It writes into the fresh sibling `<out>.tmp-<token>` and renames it into place when done (complete,
  interrupted, diverged or failed). An existing directory is first renamed to `.<name>.old-<token>` and
  removed after the new one is in place, so `<out>` is at every instant the old run, absent (between
  the two renames) or the new run -- never a mix. <token> is `process_token()`, `<pid>-<8 random hex>`.
  A SIGKILL leaves `<out>` as it was; the next writer (holding the lock) removes the leftover siblings
  whose names carry such a token (`<out>.tmp-<token>`, `.<name>.old-<token>`) and nothing else: a
  user's `<out>.tmp-mine` is never touched.
- `status` says what the directory holds (STATUSES). run.json is written once, at the end, just
  before the rename: a `.tmp-` directory without it is a writer at work (or killed).

The reader (`read_run`) checks that run.json and trace.csv agree: `recorded` equals the row count,
every cell is finite for a complete run (train() records only finite states), status is "complete"
when completeness is required, and the config fields in run.json are those of an expected config.
Every problem is a `RunDirError` (a ValueError) naming the file or directory.
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from nlbound._validate import ParameterError
from nlbound.data.npz import dataset_identity

DEFAULT_RUNS = "runs"  # the run cache without --out / --runs / $NLBOUND_RUNS (read by cli._common only)

__all__ = [
    "TRACE_FILE", "INFO_FILE", "STATUSES", "RunDirError", "RunDirLockedError", "run_dir", "RunDirLock",
    "temporary_dir", "publish", "read_trace", "read_info", "check_run", "read_run", "pid_alive", "process_token",
]  # fmt: skip

TRACE_FILE = "trace.csv"
INFO_FILE = "run.json"
STATUSES = {
    "complete": "the trace holds every recording time up to t_end",
    "interrupted": "SIGINT/SIGTERM: the rows recorded before the interruption",
    "diverged": "non-finite weights or outputs: the rows recorded before that time",
    "failed": "the integrator gave up (run.json['error']): the rows recorded before",
}


class RunDirError(ValueError):
    """A run directory that cannot be used: missing, damaged or inconsistent files (path named)."""


class RunDirLockedError(RunDirError):
    """Another live process is writing the same run directory."""


def run_dir(root: str | os.PathLike, config: Any) -> Path:
    """The one layout of run directories: `<root>/<config.key()>` (the full sha256 hex key)."""
    return Path(root) / config.key()


def pid_alive(pid: int) -> bool:
    """Whether a live process with this id exists on this machine (signal 0; EPERM means it
    exists). A zombie (killed, not yet reaped by its parent) is dead: it will never write again."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:  # "pid (comm) state ...": comm may hold spaces
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (or the process just ended): trust signal 0


def process_token() -> str:
    """This process's unique token for the names of its temporaries: `<pid>-<8 random hex digits>` (a pid
    alone repeats across nodes and after reuse). Fresh in a forked child (its pid differs)."""
    global _TOKEN
    if _TOKEN is None or not _TOKEN.startswith(f"{os.getpid()}-"):
        _TOKEN = f"{os.getpid()}-{secrets.token_hex(4)}"
    return _TOKEN


_TOKEN: str | None = None  # set once per process by process_token (state, not configuration)
TOKEN_PATTERN = r"\d+-[0-9a-f]{8}"


def _sibling(out_dir: Path, suffix: str) -> Path:
    return out_dir.with_name(out_dir.name + suffix)


class RunDirLock:
    """Exclusive writer lock on a run directory: flock on the sibling file `<out>.lock`.

    Acquired on __enter__ (RunDirLockedError if another process holds it), released and removed on
    __exit__. After taking the flock the file's inode is compared with the path's, so a lock file
    removed by a releasing writer in between is never mistaken for the current one."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.path = _sibling(self.out_dir, ".lock")
        self.fd: int | None = None

    def __enter__(self) -> "RunDirLock":
        for _ in range(100):
            fd = _open_dir_file(self.path, self.out_dir)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunDirLockedError(f"run directory {str(self.out_dir)!r} is being written by another "
                                        f"process (pid {holder}, lock {self.path})") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self.fd = fd
                return self
            os.close(fd)  # the file was removed by a releasing writer: take the new one
        raise RunDirLockedError(f"could not take the lock {self.path}")  # pragma: no cover

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None


def _open_dir_file(path: Path, out_dir: Path) -> int:
    """Open (create) a file next to the run directory. An unusable out_dir is a ParameterError
    named "out_dir" (the CLI reports it under its flag with renamed("--out"))."""
    _check_out_dir(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ParameterError("out_dir", str(out_dir), f"a writable directory ({exc.strerror or exc})") from None


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError("out_dir", str(out_dir), "a directory (it is a file)")
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ParameterError("out_dir", str(out_dir), f"a directory (it lies under the file {parent})")
            return


def temporary_dir(out_dir: Path) -> Path:
    """A fresh `<out>.tmp-<token>` (call with the lock held: leftovers of killed writers, the siblings
    named with a writer's token, are removed; nothing else)."""
    name = re.escape(out_dir.name)
    ours = re.compile(rf"^(?:{name}\.tmp-|\.{name}\.old-){TOKEN_PATTERN}$")
    for stale in out_dir.parent.iterdir() if out_dir.parent.is_dir() else ():
        if ours.match(stale.name) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    tmp = _sibling(out_dir, f".tmp-{process_token()}")
    try:
        tmp.mkdir()
    except OSError as exc:
        raise ParameterError("out_dir", str(out_dir), f"a writable directory ({exc.strerror or exc})") from None
    return tmp


def publish(tmp: Path, out_dir: Path) -> None:
    """Rename the finished `tmp` into place as `out_dir` (replacing an existing run directory)."""
    old = None
    if out_dir.is_dir():
        old = out_dir.with_name(f".{out_dir.name}.old-{process_token()}")
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_info(path: str | os.PathLike) -> dict:
    """run.json as a dict; missing, empty or invalid files are a RunDirError naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise RunDirError(f"{path}: empty")
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict):
        raise RunDirError(f"{path}: must hold a JSON object")
    return info


def read_trace(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """trace.csv as {column: float64 array}, rows sorted by t (stable), blank lines skipped.

    Strict: a cell that is not a number, a row of the wrong length, a missing or empty file or a
    file without a "t" column is a RunDirError naming the file (never a silent NaN)."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = [row for row in csv.reader(fh) if row]
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: cannot be read ({exc})") from None
    if not rows:
        raise RunDirError(f"{path}: empty")
    header, body = rows[0], rows[1:]
    if "t" not in header or len(set(header)) != len(header):
        raise RunDirError(f"{path}: header must name distinct columns including 't', got {header[:4]}...")
    data = np.empty((len(body), len(header)))
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise RunDirError(f"{path}: row {i + 2} has {len(row)} cells, the header {len(header)}")
        data[i] = [_cell(path, v, i + 2) for v in row]
    order = np.argsort(data[:, header.index("t")], kind="stable")
    return {name: data[order, j] for j, name in enumerate(header)}


def _cell(path: Path, v: str, line: int) -> float:
    try:
        return float(v)
    except ValueError:
        raise RunDirError(f"{path}: line {line}: cell == {v!r}, must be a number") from None


def check_run(path: Path, info: dict, trace: dict[str, np.ndarray], *, complete: bool = True,
              config: Any = None) -> None:
    """Raise RunDirError (naming `path`) unless run.json and trace.csv agree (see the module doc)."""
    status = info.get("status")
    if status not in STATUSES:
        raise RunDirError(f"{path}: status == {status!r}, must be one of {', '.join(STATUSES)}")
    if complete and status != "complete":
        raise RunDirError(f"{path}: status == {status!r}, must be 'complete' (an unfinished run)")
    rows = len(trace["t"])
    if info.get("recorded") != rows:
        raise RunDirError(f"{path}: run.json records {info.get('recorded')!r} rows, trace.csv holds {rows}")
    if status == "complete":
        bad = [k for k, v in trace.items() if not np.all(np.isfinite(v))]
        if bad or rows == 0:
            raise RunDirError(f"{path}: a complete run must hold finite rows; " +
                              (f"column {bad[0]!r} is not finite" if bad else "trace.csv has none"))
        _check_end(path, info, trace)
    if config is not None:
        _check_config(path, info, config)


def _check_end(path: Path, info: dict, trace: dict[str, np.ndarray]) -> None:
    """A complete run not stopped early (run.json "stopped") recorded t_end itself, always its last time
    (training.recording_times): a trace cut short, with `recorded` edited to match, is refused."""
    t_end = info.get("t_end")
    if "stopped" in info or isinstance(t_end, bool) or not isinstance(t_end, (int, float)):
        return
    if float(trace["t"][-1]) != float(t_end):
        raise RunDirError(f"{path}: a complete run ends at t_end == {t_end!r}, trace.csv ends at "
                          f"t == {float(trace['t'][-1])!r} (truncated?)")


def _check_config(path: Path, info: dict, config: Any) -> None:
    """run.json's fields against what config's key names (an npz dataset by content, not path)."""
    fields = config.key_fields() if hasattr(config, "key_fields") else config.as_dict()
    info = {**info, "dataset": dataset_identity(info.get("dataset", "<missing>"))}
    for name, value in fields.items():
        got = info.get(name, "<missing>")
        if not _same(got, value):
            raise RunDirError(f"{path}: run.json has {name} == {got!r}, its key needs {value!r}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def read_run(path: str | os.PathLike, *, complete: bool = True, config: Any = None
             ) -> tuple[dict[str, np.ndarray], dict]:
    """(trace, info) of a run directory, checked by check_run; RunDirError names what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: " + ("not a directory" if path.exists() else "no such run directory"))
    info = read_info(path / INFO_FILE)
    trace = read_trace(path / TRACE_FILE)
    check_run(path, info, trace, complete=complete, config=config)
    return trace, info
